"""The stores in ``data/builds/`` (pilots and builds not yet shipped in the package): each is
described in ``data/README.md`` by its sha256, and the seed agreement stated there is the
store's own, recomputed here with scipy from its two seeds' validation columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from scipy import stats

from nasbench_tools.groundtruth.api import load
from nasbench_tools.groundtruth.store import sha256_of

ROOT = Path(__file__).resolve().parents[2]
STORES = sorted((ROOT / "data" / "builds").glob("*.h5"))


def _paragraph(name: str) -> str:
    """The paragraph of data/README.md that names ``data/builds/<name>`` first."""
    text = (ROOT / "data" / "README.md").read_text()
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if f"`data/builds/{name}`" in p]
    assert paragraphs, f"data/README.md does not describe data/builds/{name}"
    return " ".join(paragraphs[0].split())


def test_there_are_stores_to_check():
    assert STORES


@pytest.mark.parametrize("path", STORES, ids=[p.name for p in STORES])
def test_data_readme_states_each_stores_sha256_and_seed_agreement(path):
    text = _paragraph(path.name)
    assert sha256_of(path) in text, f"{path.name}: sha256 in data/README.md is stale"
    gt = load("nb201", path=str(path))
    epochs = gt.provenance["protocol"]["epochs"]
    acc = gt.vector(dataset="fashion-mnist", split="valid", epochs=epochs, seed="all").values
    tau = stats.kendalltau(acc[:, 0], acc[:, 1], variant="b").statistic
    stated = re.search(r"seed agreement \(valid, Kendall tau-b\) ([0-9.]+)", text)
    assert stated, f"data/README.md must state {path.name}'s seed agreement"
    assert float(stated.group(1)) == pytest.approx(tau, abs=0.0005)
