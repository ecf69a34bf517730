"""The committed cpu results (``benchmarks/reproduce/results/``) were computed against the first
Fashion-MNIST build: the ``-v1`` names must open exactly those stores (so ``--ground-truth
ROLE=NAME-v1`` reruns them), and ``results/README.md`` must state their files' sha256.

The oracle is what each run's report recorded of its ground truth (the store's creation time,
the command that wrote it), not the registry under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasbench_tools._io import sha256_of
from nasbench_tools.groundtruth.api import load
from nasbench_tools.groundtruth.benchmarks import get_benchmark
from nasbench_tools.groundtruth.formats.embedded_csv import embedded_path

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "reproduce" / "results"
RUNS = sorted(p.parent for p in RESULTS.glob("*/results.json"))


def _recorded(run: Path) -> dict:
    """role -> the registered name the run's results.json says it read."""
    gts = json.loads((run / "results.json").read_text())["provenance"]["ground_truth"]
    return {r: g["source"]["name"] for r, g in gts.items() if g["source"]["kind"] == "registered"}


def test_there_are_committed_results_to_check():
    assert len(RUNS) >= 6


@pytest.mark.parametrize("run", RUNS, ids=[p.name for p in RUNS])
def test_each_committed_run_read_the_store_its_v1_name_opens(run):
    report = json.loads((run / "report" / "numbers.json").read_text())["provenance"]
    seen = report["ground_truth"]  # the store the run's report ranked against
    provs = [load(f"{name}-v1").provenance for name in _recorded(run).values()]
    match = [p for p in provs if p["source_name"] == seen["source_name"]]
    assert len(match) == 1, (run.name, seen["source_name"])
    for field in ("created_utc", "command"):  # a store's creation time names its build
        assert match[0][field] == seen[field], (run.name, field)


@pytest.mark.parametrize("run", RUNS, ids=[p.name for p in RUNS])
def test_results_readme_states_the_sha256_of_every_v1_store_a_run_read(run):
    text = (RESULTS / "README.md").read_text()
    for name in _recorded(run).values():
        sha = sha256_of(embedded_path(get_benchmark(f"{name}-v1").store))
        assert f"`{name}-v1`" in text and sha in text, (run.name, name)
