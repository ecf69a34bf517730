"""The HDF5 store: round trip, provenance stamps, atomic writes, version checks."""

from __future__ import annotations

import json
import pickle

import h5py
import numpy as np
import pytest

from nasbench_tools import __version__
from nasbench_tools.errors import NasbenchToolsError, StoreVersionError
from nasbench_tools.groundtruth import GroundTruth, convert, load
from nasbench_tools.groundtruth import store as store_mod
from nasbench_tools.groundtruth.columns import Column, ColumnSet, Key, SpecArray
from nasbench_tools.groundtruth.formats.embedded_csv import (
    COMBINED,
    embedded_path,
    read_combined_csv,
)
from nasbench_tools.groundtruth.store import FORMAT_VERSION, read_store, sha256_of, write_store
from nasbench_tools.spaces.nb101 import ModelSpec

C10 = dict(dataset="cifar10-valid", split="x-valid", epochs=200)


@pytest.fixture(scope="module")
def nb201_cs() -> ColumnSet:
    return read_combined_csv(embedded_path(COMBINED))


def _assert_same(a: ColumnSet, b: ColumnSet):
    assert a.space == b.space
    np.testing.assert_array_equal(a.keys, b.keys)
    assert set(a.columns) == set(b.columns)
    for k in a.columns:
        np.testing.assert_array_equal(a.columns[k].values, b.columns[k].values)
        assert a.columns[k].seeds == b.columns[k].seeds
        assert a.columns[k].unit == b.columns[k].unit
        assert a.columns[k].source == b.columns[k].source


def test_nb201_round_trip_and_stamps(tmp_path, nb201_cs):
    path = write_store(nb201_cs, tmp_path / "nb201.h5", source_sha256="ab" * 32)
    back = read_store(path)
    _assert_same(nb201_cs, back)
    assert back.meta == nb201_cs.meta
    with h5py.File(path) as f:
        assert f.attrs["format_version"] == FORMAT_VERSION == 2
        doc = json.loads(f["meta"][()].tobytes())
    assert doc["provenance"]["package_version"] == __version__
    assert doc["provenance"]["source_sha256"] == "ab" * 32
    prov = GroundTruth.from_store(path).provenance
    assert prov["source_sha256"] == "ab" * 32 and prov["format_version"] == FORMAT_VERSION
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_every_dataset_carries_a_checksum_in_one_chunk(tmp_path, nb201_cs):
    """Fletcher-32 on every dataset, each one chunk: a whole-space vector is one checked read."""
    path = write_store(nb201_cs, tmp_path / "nb201.h5")
    seen = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            seen.append(name)
            assert obj.fletcher32, name
            assert obj.chunks == obj.shape, name
            assert obj.id.get_num_chunks() == 1, name

    with h5py.File(path) as f:
        f.visititems(visit)
    assert "meta" in seen and "axis/keys" in seen and len(seen) == 2 + len(nb201_cs.columns)


def test_store_answers_like_memory(tmp_path, nb201_cs):
    path = write_store(nb201_cs, tmp_path / "s.h5")
    a = GroundTruth.from_store(path)
    b = GroundTruth.from_columnset(nb201_cs)
    np.testing.assert_array_equal(a.vector(**C10), b.vector(**C10))
    assert a.query(0, seed=888, **C10) == pytest.approx(81.616, abs=1e-6)
    assert load("nb201", path=path).query(6111, **C10) == b.query(6111, **C10)
    with pytest.raises(Exception, match="holds nb201 ground truth, not nb101"):
        load("nb101", path=path)


def test_nb101_round_trip_with_specs(tmp_path, nb101_dummy):
    hashes = sorted(nb101_dummy)
    specs = [
        ModelSpec(nb101_dummy[h][0]["module_adjacency"], nb101_dummy[h][0]["module_operations"])
        for h in hashes
    ]
    arr = SpecArray.from_specs(specs)
    vals = np.array(
        [[r["final_validation_accuracy"] * 100 for r in nb101_dummy[h][1][108]] for h in hashes]
    )
    params = np.array([nb101_dummy[h][0]["trainable_parameters"] for h in hashes], dtype=float)
    cs = ColumnSet(
        "nb101",
        hashes,
        {
            Key("cifar10", "valid", 108, "accuracy"): Column(vals, (0, 1, 2), "%"),
            Key("cifar10", "", 0, "params"): Column(params, (), "count"),
        },
        arr,
        {"benchmark": "NAS-Bench-101"},
    )
    path = write_store(cs, tmp_path / "nb101.h5")
    back = read_store(path)
    _assert_same(cs, back)
    gt = GroundTruth.from_store(path)
    for i, h in enumerate(hashes):
        assert gt.archs[i].hash == h
    assert gt.query(
        "ff92c322c5d9d3d587d9c146a63d0807", seed=0, dataset="cifar10", split="valid", epochs=108
    ) == pytest.approx(92.55809187889099, abs=1e-9)


def test_interrupted_write_leaves_nothing(tmp_path, nb201_cs, monkeypatch):
    real = h5py.Group.create_dataset
    calls = {"n": 0}

    def flaky(self, name, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of a conversion
        return real(self, name, *a, **kw)

    monkeypatch.setattr(h5py.Group, "create_dataset", flaky)
    with pytest.raises(KeyboardInterrupt):
        write_store(nb201_cs, tmp_path / "x.h5")
    assert list(tmp_path.iterdir()) == []


def test_convert_stamps_the_source_hash_and_refuses_to_overwrite(tmp_path):
    src = embedded_path(COMBINED)
    out = convert(src, tmp_path / "nb201.h5", progress=False)
    gt = GroundTruth.from_store(out)
    assert gt.provenance["source_sha256"] == sha256_of(src)
    assert gt.provenance["format_version"] == FORMAT_VERSION
    with pytest.raises(NasbenchToolsError, match="already exists"):
        convert(src, out)
    convert(src, out, overwrite=True)


def test_foreign_and_old_stores_are_refused(tmp_path, nb201_cs):
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(StoreVersionError, match="not an HDF5 file"):
        GroundTruth.from_store(text)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(StoreVersionError, match="not a nasbench_tools store"):
        GroundTruth.from_store(foreign)
    old = write_store(nb201_cs, tmp_path / "old.h5")
    with h5py.File(old, "a") as f:
        f.attrs["format_version"] = 0
    with pytest.raises(StoreVersionError, match="format version 0.*re-run `nbt convert`"):
        GroundTruth.from_store(old)
    with h5py.File(old, "a") as f:
        f.attrs["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(StoreVersionError, match="upgrade nasbench_tools"):
        GroundTruth.from_store(old)


def test_sha256_of_folder_is_order_independent(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "1.bin").write_bytes(b"x")
    (tmp_path / "a" / "2.bin").write_bytes(b"y")
    h1 = sha256_of(tmp_path / "a")
    (tmp_path / "a" / "2.bin").write_bytes(b"z")
    assert sha256_of(tmp_path / "a") != h1


def test_columnset_validation():
    with pytest.raises(NasbenchToolsError, match="strictly increasing"):
        ColumnSet("nb201", [3, 1])
    with pytest.raises(NasbenchToolsError, match="2 rows for 3 archs"):
        ColumnSet("nb201", [0, 1, 2], {Key("d", "s", 1, "accuracy"): Column(np.zeros(2))})
    with pytest.raises(NasbenchToolsError, match=r"per-seed column must be \(n_archs, 2\)"):
        Column(np.zeros((3, 3)), (1, 2))
    assert Key.from_str(Key("a", "b", 3, "c", "halfway").to_str()) == Key(
        "a", "b", 3, "c", "halfway"
    )


def test_store_module_is_pickle_free():
    """The store never pickles: only arrays and strings go in (a store cannot carry code)."""
    import inspect

    assert "pickle" not in inspect.getsource(store_mod).replace("pickle-free", "")
    assert pickle  # the test module itself only uses pickle for the trusted fixture


# ------------------------------------------------------------------ value ranges at read time
@pytest.mark.parametrize(
    ("metric", "value"),
    [("accuracy", -5.5e218), ("accuracy", 100.5), ("time", 2.46e39 * -1), ("params", np.inf)],
)
def test_out_of_range_value_is_refused_naming_source_column_and_arch(metric, value):
    from nasbench_tools.errors import CorruptFileError
    from nasbench_tools.groundtruth.columns import Column, ColumnSet, Key

    vals = np.array([50.0, value, np.nan])
    cs = ColumnSet("nb201", [0, 1, 2], {Key("cifar10", "ori-test", 200, metric): Column(vals)})
    with pytest.raises(CorruptFileError, match=r"bench\.pth.*architecture 1\b"):
        cs.check_values("bench.pth")


def test_missing_values_and_edges_of_the_range_are_accepted():
    from nasbench_tools.groundtruth.columns import Column, ColumnSet, Key

    acc = Column(np.array([[0.0, 100.0], [np.nan, 50.0]]), seeds=(777, 888))
    cs = ColumnSet("nb201", [0, 1], {Key("cifar10", "ori-test", 200, "accuracy"): acc})
    cs.check_values("x")  # no error
