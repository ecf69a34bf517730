"""The benchmarks the project built itself and ships (``load("nb201-fmnist")`` ...): each opens
by name with no path, says it is a sample, carries the protocol, seeds and command that made it,
and its file is the one ``data/README.md`` names by sha256. The seed agreement ``data/README.md``
states is recomputed here with scipy from the two seeds' columns (so the stated number is the
store's, not a copy of an earlier build's).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nasbench_tools.buildbench import Protocol, preset_with_settings
from nasbench_tools.groundtruth.api import load
from nasbench_tools.groundtruth.benchmarks import BENCHMARKS, get_benchmark
from nasbench_tools.groundtruth.formats.embedded_csv import embedded_path
from nasbench_tools.groundtruth.store import sha256_of
from nasbench_tools.spaces import get_space

ROOT = Path(__file__).resolve().parents[2]
BUILT = BENCHMARKS.filter(lambda b: bool(b.store))

#: What each built benchmark must hold: (space, architectures, seeds, N, preset).
EXPECTED = {
    "nb201-fmnist": ("nb201", 200, [0, 1], 1, "cpu"),
    "nb201-fmnist-n3": ("nb201", 32, [0], 3, "cpu"),
    "nb101-mixpath-fmnist": ("nb101", 34, [0, 1], 1, "cpu"),
    "nb201-fmnist-v1": ("nb201", 200, [0, 1], 1, "cpu-v1"),
    "nb201-fmnist-n3-v1": ("nb201", 32, [0], 3, "cpu-v1"),
    "nb101-mixpath-fmnist-v1": ("nb101", 34, [0, 1], 1, "cpu-v1"),
}


def _data_readme_row(filename: str) -> str:
    rows = [
        line
        for line in (ROOT / "data" / "README.md").read_text().splitlines()
        if line.startswith("|") and f"`groundtruth/embedded/{filename}`" in line
    ]
    assert len(rows) == 1, f"data/README.md must have one table row for {filename}"
    return rows[0]


def test_every_built_benchmark_is_checked_here():
    assert BUILT, "no built benchmark is registered"
    assert set(BUILT) <= set(EXPECTED), f"add the new built benchmark(s) to EXPECTED: {BUILT}"


@pytest.mark.parametrize("name", BUILT)
def test_a_built_benchmark_loads_by_name_with_its_protocol_seeds_and_command(name):
    space, n, seeds, depth, preset = EXPECTED[name]
    gt = load(name)
    assert gt.space == space and len(gt) == n
    assert gt.sample_note and "SAMPLE" in gt.sample_note
    info = gt.info()
    assert info["seeds"] == seeds
    assert info["datasets"] == ["fashion-mnist"]
    assert info["splits"] == ["test", "train", "valid"]
    prov = gt.provenance
    # the preset by its settings (the first build recorded the name "cpu", now "cpu-v1")
    protocol = Protocol(**prov["protocol"])
    assert preset_with_settings(protocol.replace(N=1)) == preset and protocol.N == depth
    assert prov["seeds"] == seeds
    assert "nbt build-bench" in prov["command"]
    assert all("nbt build-bench" in c for c in prov.get("shard_commands", []))
    # one representative per isomorphism class: n distinct classes
    ids = get_space(space).class_ids(gt.archs.keys)
    assert ids is None or len(np.unique(ids)) == n
    epochs = prov["protocol"]["epochs"]
    acc = gt.vector(dataset="fashion-mnist", split="valid", epochs=epochs, seed="all").values
    assert acc.shape == (n, len(seeds)) and np.isfinite(acc).all()
    assert ((acc > 10) & (acc < 100)).all(), "accuracies in percent, above chance (10 classes)"


@pytest.mark.parametrize("name", BUILT)
def test_the_embedded_file_is_the_one_data_readme_names(name):
    path = embedded_path(get_benchmark(name).store)
    row = _data_readme_row(path.name)
    assert sha256_of(path) in row, f"{path.name}: sha256 in data/README.md is stale"
    notice = (embedded_path("NOTICE.md")).read_text()
    assert f"`{path.name}`" in notice, f"{path.name}: no row in embedded/NOTICE.md"


@pytest.mark.parametrize("name", [b for b in BUILT if len(EXPECTED[b][2]) == 2])
def test_the_seed_agreement_data_readme_states_is_the_stores(name):
    gt = load(name)
    epochs = gt.provenance["protocol"]["epochs"]
    acc = gt.vector(dataset="fashion-mnist", split="valid", epochs=epochs, seed="all").values
    tau = stats.kendalltau(acc[:, 0], acc[:, 1], variant="b").statistic
    row = _data_readme_row(embedded_path(get_benchmark(name).store).name)
    stated = re.search(r"seed agreement \(valid, Kendall tau-b\) ([0-9.]+)", row)
    assert stated, f"data/README.md's row for {name} must state its seed agreement"
    assert float(stated.group(1)) == pytest.approx(tau, abs=0.0005)


def test_a_built_benchmark_answers_only_its_own_dataset():
    """Asking the Fashion-MNIST build for CIFAR-10 names the datasets it has."""
    from nasbench_tools.errors import QueryError

    gt = load(BUILT[0])
    with pytest.raises(QueryError, match="fashion-mnist"):
        gt.vector(dataset="cifar10", split="valid")
