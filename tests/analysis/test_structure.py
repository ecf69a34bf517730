"""The analysis layer's shape: public modules import public names; functions stay short."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import nasbench_tools

PKG = Path(nasbench_tools.__file__).parent
#: Modules held to these rules (the analysis layer and the report, score and CLI modules on it).
MODULES = sorted(
    [
        *(PKG / "analysis").glob("*.py"),
        *(PKG / "report").glob("*.py"),
        PKG / "scores.py",
        PKG / "_io.py",
        PKG / "groundtruth" / "target.py",
        *(PKG / "cli" / n for n in ("report.py", "info.py", "query.py", "_common.py")),
    ]
)
IDS = [str(p.relative_to(PKG)) for p in MODULES]
MAX_FUNCTION_LINES = 60


def _package_of(path: Path) -> str:
    return ".".join(path.relative_to(PKG.parent).with_suffix("").parts[:-1])


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    if not node.level:
        return node.module or ""
    base = _package_of(path).split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


@pytest.mark.parametrize("path", MODULES, ids=IDS)
def test_no_private_name_is_imported_from_another_module(path):
    # the defect: rank_report and depth_gap imported _evaluate, _replicates, _Request, _estimate
    # from uncertainty.py, and report.py imported analysis._common
    tree = ast.parse(path.read_text())
    own = _package_of(path)
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.module == "__future__":
            continue
        module = _absolute(node, path)
        bad += [
            f"{module}.{a.name}"
            for a in node.names
            if a.name.startswith("_") and not a.name.endswith("__")
        ]
        # a private module (``analysis._common``) is for the package that holds it
        parts = module.split(".")
        private = [i for i, p in enumerate(parts) if p.startswith("_")]
        holder = ".".join(parts[: private[0]]) if private else own
        if own != holder and not own.startswith(holder + "."):
            bad.append(module)
    assert not bad, bad


@pytest.mark.parametrize("path", MODULES, ids=IDS)
def test_functions_are_short(path):
    # the defect: depth_gap_report had 186 lines, rank_report 121
    long = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        lines = node.end_lineno - node.lineno + 1
        first = node.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            lines -= first.end_lineno - first.lineno + 1  # the docstring
        if lines > MAX_FUNCTION_LINES:
            long.append(f"{node.name}: {lines} lines")
    assert not long, long


def test_modules_are_named_after_what_they_build():
    # the defect: analysis/report.py (one pair's rank summary) beside report.py (the folder)
    assert not (PKG / "analysis" / "report.py").exists()
    from nasbench_tools import analysis

    assert analysis.rank_report.__module__ == "nasbench_tools.analysis.rank_summary"
    assert analysis.MetricResult.__module__ == "nasbench_tools.analysis.results"
    assert analysis.Estimate.__module__ == "nasbench_tools.analysis.results"
    engine = importlib.import_module("nasbench_tools.analysis.bootstrap")
    for name in ("Request", "evaluate", "replicates", "interval", "estimate", "make_request"):
        assert name in engine.__all__
