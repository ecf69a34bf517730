"""Every official format loads through load(), converts to a store, and answers the same there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nasbench_tools.groundtruth import GroundTruth, convert, load
from nasbench_tools.groundtruth.formats import list_readers
from nasbench_tools.groundtruth.formats.embedded_csv import COMBINED, embedded_path

FIX = Path(__file__).parents[1] / "fixtures"
NB201 = FIX / "groundtruth" / "nb201"
C10 = dict(dataset="cifar10-valid", split="x-valid", epochs=200)

CASES = [
    # (benchmark name, path, format it must be recognised as, seed whose value is arch 0's 82.092)
    ("nb201", FIX / "nats" / "NATS-tss-v1_0-3ffb9-simple", "nats-tss-folder", 777),
    ("nb201", NB201 / "NAS-Bench-201-fixture-legacy.pth", "nb201-pth", 777),
    ("nb201", NB201 / "NAS-Bench-201-fixture-zip.pth", "nb201-pth", 777),
    ("nb201", NB201 / "NATS-tss-v1_0-3ffb9-fixture.pickle.pbz2", "nats-tss-pickle", 777),
    ("nb201", NB201 / "nb201_cifar10_full_training.pickle", "naslib-nb201-pickle", -1),
    ("nb101", FIX / "nb101" / "nb101_real30_only108.tfrecord", "nb101-tfrecord", None),
    ("nb101", FIX / "nb101" / "naslib_nb101_dummy.pkl", "naslib-nb101-pickle", None),
    ("nats-sss", FIX / "nats" / "NATS-sss-v1_0-50262-simple", "nats-sss-folder", None),
    ("nb201", embedded_path(COMBINED), "nb201-combined-csv", 777),
]


def test_every_registered_reader_has_an_end_to_end_case():
    assert sorted({c[2] for c in CASES}) == list_readers()


@pytest.mark.parametrize(
    ("name", "path", "fmt", "seed"), CASES, ids=[c[2] + ":" + c[1].name for c in CASES]
)
def test_load_convert_and_agree(name, path, fmt, seed, tmp_path):
    gt = load(name, path=path, progress=False)
    assert gt.provenance["source_format"] == fmt
    store = convert(path, tmp_path / "s.h5", progress=False)
    st = GroundTruth.from_store(store)
    np.testing.assert_array_equal(st.archs.keys, gt.archs.keys)
    assert st.columns == gt.columns
    for key in gt.columns:
        a, b = gt._column(key), st._column(key)
        np.testing.assert_array_equal(a.values, b.values)
        assert a.seeds == b.seeds and a.unit == b.unit
    if name == "nb201":
        assert st.query(0, seed=seed, **C10) == pytest.approx(82.092, abs=1e-4)
    elif name == "nats-sss":  # config 284 = 8:8:40:32:40, the real record's 12-epoch seed mean
        q = dict(dataset="cifar10-valid", split="x-valid", epochs=12)
        assert st.query("8:8:40:32:40", **q) == pytest.approx(79.31466665364583, abs=1e-9)
    else:
        q = dict(dataset="cifar10", split="valid", epochs=108, seed=0)
        assert st.query("ff92c322c5d9d3d587d9c146a63d0807", **q) == pytest.approx(
            92.55809187889099, abs=1e-9
        )
        assert (
            st.archs[st.archs.position("ff92c322c5d9d3d587d9c146a63d0807")].hash
            == "ff92c322c5d9d3d587d9c146a63d0807"
        )


def test_all_nb101_formats_agree_on_every_value():
    a = load("nb101", path=FIX / "nb101" / "nb101_real30_only108.tfrecord", progress=False)
    b = load("nb101", path=FIX / "nb101" / "naslib_nb101_dummy.pkl", progress=False)
    assert a.columns == b.columns
    for key in a.columns:
        np.testing.assert_allclose(a._column(key).values, b._column(key).values, rtol=0, atol=1e-12)


def test_all_nb201_formats_agree_on_shared_columns():
    gts = [load("nb201", path=p, progress=False) for _, p, fmt, _ in CASES[:4]]
    for other in gts[1:]:
        shared = set(gts[0].columns) & set(other.columns)
        assert len(shared) > 20
        for key in shared:
            np.testing.assert_array_equal(gts[0]._column(key).values, other._column(key).values)
    embedded = load("nb201")
    for i in (0, 11, 284):
        for s in (777, 888, 999):
            assert gts[0].query(i, seed=s, **C10, missing="nan") == pytest.approx(
                embedded.query(i, seed=s, **C10, missing="nan"), abs=1e-6, nan_ok=True
            )
