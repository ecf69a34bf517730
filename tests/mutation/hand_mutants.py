"""Apply each of the review's hand-made supernet mutants in turn and run the supernet tests.

Not a test module (pytest does not collect it): ``python tests/mutation/hand_mutants.py`` from the
repository root prints, for every mutant, KILLED with the first failing tests, or SURVIVED. Each
mutant is a text replacement that must apply exactly; the file is restored after each run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
T = "nasbench_tools/supernet/train.py"
S = "nasbench_tools/supernet/samplers.py"
R = "nasbench_tools/supernet/recalibrate.py"
TESTS = [
    "tests/supernet/test_train_steps.py",
    "tests/supernet/test_train.py",
    "tests/supernet/test_samplers.py",
    "tests/supernet/test_recalibrate.py",
]
GROUPS = 's.groups(self.sharing == "shared")'

#: (what the review found, file, old text, new text); new None: the sampler named by ``old``
#: ignores its ``sharing`` option.
MUTANTS = [
    (
        "FairNAS gradients averaged instead of summed",
        T,
        "run.scaler.scale(loss).backward()",
        "run.scaler.scale(loss / len(draws)).backward()",
    ),
    (
        "batches='distinct' fed the same batch",
        T,
        "x, y = batches[i % len(batches)]",
        "x, y = batches[0]",
    ),
    (
        "constant learning rate",
        T,
        "lr = cosine_lr(t, run.total_steps, c.lr, c.lr_min)",
        "lr = c.lr",
    ),
    (
        "no gradient clipping",
        T,
        "    if c.grad_clip is None:\n        return\n",
        "    if True:\n        return\n",
    ),
    ("no_wd_on_norm ignored", T, "(is_norm and c.no_wd_on_norm)", "(False)"),
    (
        "evaluate ignores calibration_images",
        R,
        "data if calibration_images is None else calibration_images",
        "data",
    ),
    ("ghost BN never built", T, "ghost_batch_size=c.ghost_batch_size", "ghost_batch_size=None"),
    ("FairNAS sharing ignored", S, 'fairnas sharing")', None),
    ("one-shot sharing ignored", S, 'oneshot sharing")', None),
    (
        "SPOS zero-node rejection in cell 0 only",
        S,
        "            for g in range(G):\n                for blocks in s.node_blocks:",
        "            for g in range(1):\n                for blocks in s.node_blocks:",
    ),
]


def mutate(text: str, old: str, new: str | None) -> str:
    if new is None:  # the first groups(...) call after the sampler's option check
        j = text.index(GROUPS, text.index(old))
        return text[:j] + "s.groups(False)" + text[j + len(GROUPS) :]
    if text.count(old) != 1:
        raise SystemExit(f"mutant does not apply exactly once: {old!r}")
    return text.replace(old, new)


def main() -> int:
    survived = 0
    for name, f, old, new in MUTANTS:
        path = ROOT / f
        orig = path.read_text()
        path.write_text(mutate(orig, old, new))
        try:
            r = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
                cwd=ROOT,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        finally:
            path.write_text(orig)
        failed = [line[7:] for line in r.stdout.splitlines() if line.startswith("FAILED ")]
        verdict = "KILLED" if r.returncode != 0 else "SURVIVED"
        survived += verdict == "SURVIVED"
        print(f"{verdict:8} {name}: {'; '.join(failed[:2])}", flush=True)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
