"""The layering rules of shared/design.md, enforced: import-linter contracts and no space-name
comparisons outside ``spaces/``."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nasbench_tools"
CONFIG = ROOT / ".importlinter"
#: Subpackages of the torch-free core: each one present must be a source of the no-torch contract.
CORE = ("spaces", "groundtruth", "scores", "analysis", "search", "report")

#: A comparison of a value with a space's name: ``x == "nb201"``, ``"nb101" != y``,
#: ``x in ("nb201", ...)``.
_NAMES = r"""["'](?:nb101|nb201|nats-sss|nats-tss)["']"""
_COMPARISON = re.compile(
    rf"(?:(?:==|!=)\s*{_NAMES})|(?:{_NAMES}\s*(?:==|!=))|(?:\bin\s*[\(\[\{{]\s*{_NAMES})"
)


def _lint(root: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(exe), "--config", str(root / ".importlinter"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )


def test_no_space_name_comparison_outside_spaces():
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] == "spaces":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if _COMPARISON.search(line.split("#")[0]):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "ask the Space instead of comparing its name:\n" + "\n".join(hits)


def test_the_grep_sees_what_it_guards():
    for bad in ('if space == "nb201":', "x = 'nb101' != y", 'if s in ("nb201", "nb101"):'):
        assert _COMPARISON.search(bad), bad
    for fine in ('register_reader("x", "nb201", sniff)', 'space: str = "nb201"'):
        assert not _COMPARISON.search(fine), fine


def test_every_subpackage_is_placed_in_the_layers():
    text = CONFIG.read_text()
    parts = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    parts |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    missing = sorted(p for p in parts if f"nasbench_tools.{p}" not in text)
    assert not missing, f"name these in .importlinter's layers: {missing}"


def test_every_present_core_package_is_kept_free_of_torch():
    cfg = configparser.ConfigParser()
    cfg.read(CONFIG)
    sources = cfg["importlinter:contract:core-no-torch"]["source_modules"].split()
    present = [c for c in CORE if (PACKAGE / c).is_dir() or (PACKAGE / f"{c}.py").exists()]
    assert sorted(f"nasbench_tools.{c}" for c in present) == sorted(sources)


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(PACKAGE, root / "nasbench_tools", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(CONFIG, root / ".importlinter")
    return root


def test_contracts_hold_on_the_package():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("analysis/ranking.py", "import torch", "never imports torch"),
        ("groundtruth/api.py", "from ..cli import _common", "Layers look down only"),
        ("nn/ops.py", "from .. import analysis", "Layers look down only"),
        ("search/oracle.py", "import torch", "never imports torch"),
        ("search/run.py", "from .. import report", "Layers look down only"),
        ("analysis/ranking.py", "from .. import search", "Layers look down only"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(package_copy, module, line, contract):
    target = package_copy / "nasbench_tools" / module
    original = target.read_text()
    try:
        target.write_text(original + f"\n{line}  # added by the test\n")
        out = _lint(package_copy)
    finally:
        target.write_text(original)
    assert out.returncode != 0
    assert contract in out.stdout and "BROKEN" in out.stdout
