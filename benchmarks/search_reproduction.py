"""The search reproduction on the embedded NB201 data: ``nbt search`` runs, then the report's
search section (tables with intervals, figures) and a predictor-harness table.

Runs (each an ``nbt search`` command, printed; a trajectory file already in ``--out`` is kept, so
the files ``benchmarks/search.py --out DIR`` wrote are reused and an interrupted call resumes):

* the NAS-Bench-201 protocol (12-epoch ``x-valid`` signal, 12,000 simulated s, 500 runs) for
  random search, regularized evolution and REINFORCE on CIFAR-10, CIFAR-100 and ImageNet16-120
  (``--protocol nb201-<dataset>``);
* REINFORCE's learning rate on CIFAR-10 under the same protocol: 0.001, 0.1 and 0.5 beside the
  default 0.01;
* WeakNAS (default predictor), random search and regularized evolution at 1,000 queries under
  WeakNAS's setup (``--protocol weaknas-nb201-cifar10``: 200-epoch ``x-valid`` signal, a seed per
  architecture and run), 100 runs each; the section reads them at 100/150/200/1,000 queries, with
  every query counted and, for WeakNAS, also under WeakNAS's own counting.

Then ``nasbench_tools.search.search_section`` writes ``section.md``, ``numbers.json`` and the
figures into ``--out``/``section``, and ``predictors.md`` holds the predictor harness (tau,
sparse tau, P@top-100 on the architectures not trained on; ``--predictor-repeats`` repeats).

Run: ``python benchmarks/search_reproduction.py --out DIR`` (about 45 CPU minutes on this
machine, most of it WeakNAS; with ``benchmarks/search.py --out DIR`` run first, about 10).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

NB201 = ("cifar10", "cifar100", "imagenet16-120")
AT_QUERIES = (100, 150, 200, 1000)
PREDICTORS = ("mlp-fast", "gbdt", "rf", "gp")
PREDICTOR_NS = (20, 50, 100, 200, 500)
#: REINFORCE learning rates besides the default 0.01 (NB201's GRID-RL.sh sweeps 0.01-0.5).
REINFORCE_LRS = (0.001, 0.1, 0.5)


def commands(runs: int, weaknas_repeats: int) -> list[tuple[str, list[str]]]:
    """``(file stem, nbt search arguments)`` of every run."""
    common = ["--seed", "0", "--no-progress"]
    out = []
    for ds in NB201:
        for s in ("random", "rea", "reinforce"):
            out.append(
                (
                    f"nb201-{ds}-{s}",
                    ["--strategy", s, "--protocol", f"nb201-{ds}", "--repeats", str(runs), *common],
                )
            )
    for lr in REINFORCE_LRS:  # the default, 0.01, is the run above
        out.append(
            (
                f"nb201-cifar10-reinforce-lr{lr}",
                [
                    *("--strategy", "reinforce", "--protocol", "nb201-cifar10"),
                    *("--repeats", str(runs), "--option", f"lr={lr}"),
                    *("--label", f"reinforce lr={lr}", *common),
                ],
            )
        )
    for s in ("weaknas", "random", "rea"):
        out.append(
            (
                f"weaknas-nb201-cifar10-{s}",
                [
                    "--strategy",
                    s,
                    "--protocol",
                    "weaknas-nb201-cifar10",
                    "--budget",
                    "1000",
                    "--repeats",
                    str(weaknas_repeats),
                    *common,
                ],
            )
        )
    return out


def run_all(out: Path, runs: int, weaknas_repeats: int) -> list[Path]:
    files = []
    for stem, args in commands(runs, weaknas_repeats):
        path = out / f"{stem}.npz"
        files.append(path)
        line = "nbt search " + " ".join(args) + f" -o {path}"
        if path.exists():
            print(f"# kept: {line}", file=sys.stderr)
            continue
        print(f"$ {line}", file=sys.stderr, flush=True)
        cmd = [sys.executable, "-m", "nasbench_tools.cli", "search", *args, "-o", str(path)]
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    return files


def predictor_table(repeats: int) -> str:
    from nasbench_tools.search import get_protocol
    from nasbench_tools.search.harness import predictor_curve

    oracle = get_protocol("nb201-cifar10").build()
    lines = [
        "Predictor harness on nb201-cifar10 (target: the search signal, 12-epoch cifar10-valid "
        "x-valid seed mean; one-hot encoding; trained on n architectures drawn uniformly, scored "
        f"on the other {len(oracle.domain):,} - n; P@top-100; mean over {repeats} repeats [95% "
        "CI of the mean])",
        "",
        "| predictor | metric | " + " | ".join(f"n={n}" for n in PREDICTOR_NS) + " |",
        "|---|---|" + "---|" * len(PREDICTOR_NS),
    ]
    for name in PREDICTORS:
        c = predictor_curve(oracle, name, PREDICTOR_NS, repeats=repeats, seed=0, k=100)
        for m in ("kendall_tau", "sparse_kendall_tau", "p_at_top_k"):
            cells = [
                f"{c.mean[m][j]:.3f} [{c.low[m][j]:.3f}, {c.high[m][j]:.3f}]"
                for j in range(len(PREDICTOR_NS))
            ]
            lines.append(f"| {name} | {m} | " + " | ".join(cells) + " |")
        secs = " | ".join(f"{s:.2f}" for s in c.fit_seconds)
        lines.append(f"| {name} | fit + predict (s, mean) | {secs} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder of the trajectory files")
    p.add_argument("--runs", type=int, default=500)
    p.add_argument("--weaknas-repeats", type=int, default=100)
    p.add_argument("--predictor-repeats", type=int, default=5)
    p.add_argument("--n-boot", type=int, default=1000)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    files = run_all(args.out, args.runs, args.weaknas_repeats)

    from nasbench_tools.search import search_section

    sec = args.out / "section"
    sec.mkdir(exist_ok=True)
    md, _, numbers = search_section(files, sec, at_queries=AT_QUERIES, n_boot=args.n_boot)
    (sec / "section.md").write_text(md)
    (sec / "numbers.json").write_text(json.dumps(numbers, indent=1))
    print(md)
    if args.predictor_repeats:
        table = predictor_table(args.predictor_repeats)
        (sec / "predictors.md").write_text(table)
        print(table)


if __name__ == "__main__":
    main()
