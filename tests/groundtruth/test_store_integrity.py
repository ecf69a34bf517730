"""A damaged store never answers: every damage surfaces as StoreCorruptError naming the store
and the dataset (or StoreVersionError when the damage hits the format's own name or version).

The defect this guards: 300 byte flips of a small format-1 store gave 117 silently wrong values
and 97 raw KeyError / RuntimeError / OSError / JSONDecodeError (seed 0 of the fuzz below, counted
on the first release).
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from nasbench_tools.errors import CorruptFileError, StoreCorruptError, StoreVersionError
from nasbench_tools.groundtruth import GroundTruth
from nasbench_tools.groundtruth.formats import read_any
from nasbench_tools.groundtruth.formats.embedded_csv import (
    COMBINED,
    embedded_path,
    read_combined_csv,
)
from nasbench_tools.groundtruth.store import FORMAT_NAME, StoreReader, write_store

from ._nb101_files import REAL30

C10 = dict(dataset="cifar10-valid", split="x-valid", epochs=200)
COL = "cifar10-valid|x-valid|200|accuracy|final"


@pytest.fixture(scope="module")
def small_nb201(tmp_path_factory) -> Path:
    cs = read_combined_csv(embedded_path(COMBINED)).select(list(range(0, 15625, 400)))
    return write_store(cs, tmp_path_factory.mktemp("s") / "nb201.h5", source_sha256="ab" * 32)


@pytest.fixture(scope="module")
def small_nb101(tmp_path_factory) -> Path:
    cs = read_any(REAL30, progress=False)
    return write_store(cs, tmp_path_factory.mktemp("s") / "nb101.h5", source_sha256="cd" * 32)


def _everything(path: Path):
    """All a reader can get from a store: provenance, axis, specs, every column."""
    r = StoreReader(path)
    try:
        cs = r.to_columnset()
        return r.provenance, cs
    finally:
        r.close()


def _same(a, b) -> bool:
    (pa, ca), (pb, cb) = a, b
    if pa != pb or ca.meta != cb.meta or ca.space != cb.space:
        return False
    if not np.array_equal(ca.keys, cb.keys) or set(ca.columns) != set(cb.columns):
        return False
    if (ca.specs is None) != (cb.specs is None):
        return False
    if ca.specs is not None and not all(
        np.array_equal(getattr(ca.specs, f), getattr(cb.specs, f))
        for f in ("matrices", "labels", "num_vertices")
    ):
        return False
    return all(
        np.array_equal(ca.columns[k].values, cb.columns[k].values, equal_nan=True)
        and (ca.columns[k].seeds, ca.columns[k].unit, ca.columns[k].source)
        == (cb.columns[k].seeds, cb.columns[k].unit, cb.columns[k].source)
        for k in ca.columns
    )


def _outcome(path: Path, reference) -> str:
    try:
        got = _everything(path)
    except StoreCorruptError as exc:
        assert str(path) in str(exc)
        return "StoreCorruptError"
    except StoreVersionError as exc:
        assert str(path) in str(exc)
        return "StoreVersionError"
    except Exception as exc:  # what this test exists to catch
        return f"raw {type(exc).__name__}: {exc}"
    return "same" if _same(got, reference) else "WRONG VALUES"


@pytest.mark.parametrize("store", ["small_nb201", "small_nb101"])
def test_damaged_store_never_gives_wrong_values_or_raw_errors(store, request, tmp_path):
    """300 seeded byte flips and 40 truncations: identical values or one of our two errors."""
    path = request.getfixturevalue(store)
    reference = _everything(path)
    data = path.read_bytes()
    rng = np.random.default_rng(0)
    mutant = tmp_path / "mutant.h5"
    outcomes = collections.Counter()
    for _ in range(300):
        b = bytearray(data)
        b[int(rng.integers(len(b)))] ^= int(rng.integers(1, 256))
        mutant.write_bytes(bytes(b))
        outcomes[_outcome(mutant, reference)] += 1
    for n in rng.integers(0, len(data), 40).tolist():
        mutant.write_bytes(data[:n])
        outcomes[_outcome(mutant, reference)] += 1
    assert set(outcomes) <= {"same", "StoreCorruptError", "StoreVersionError"}, outcomes
    assert outcomes["StoreCorruptError"] > 250  # the damage was seen, not merely survived


def _chunk_offset(path: Path, name: str) -> int:
    with h5py.File(path) as f:
        return f[name].id.get_chunk_info(0).byte_offset


def test_flipped_value_byte_fails_its_column_read_naming_store_and_dataset(small_nb201, tmp_path):
    data = bytearray(small_nb201.read_bytes())
    data[_chunk_offset(small_nb201, f"columns/{COL}") + 8 * 7 + 3] ^= 0x10
    path = tmp_path / "flipped.h5"
    path.write_bytes(bytes(data))
    gt = GroundTruth.from_store(path)  # opening reads no column: still lazy
    assert gt.vector(dataset="cifar100", split="ori-test", epochs=200).shape == (40,)
    with pytest.raises(StoreCorruptError) as info:
        gt.vector(**C10)
    msg = str(info.value)
    assert str(path) in msg and f"dataset /columns/{COL}" in msg and "nbt convert" in msg
    assert isinstance(info.value, CorruptFileError)


def test_flipped_axis_byte_fails_the_open(small_nb101, tmp_path):
    data = bytearray(small_nb101.read_bytes())
    data[_chunk_offset(small_nb101, "axis/keys") + 40] ^= 0x01
    path = tmp_path / "keys.h5"
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError, match=r"dataset /axis/keys"):
        GroundTruth.from_store(path)


def _copy(src: Path, tmp_path: Path) -> Path:
    path = tmp_path / "edited.h5"
    path.write_bytes(src.read_bytes())
    return path


def test_missing_dataset_is_a_store_corrupt_error_naming_it(small_nb201, tmp_path):
    path = _copy(small_nb201, tmp_path)
    with h5py.File(path, "a") as f:
        del f[f"columns/{COL}"]
    with pytest.raises(StoreCorruptError, match=rf"missing: \['columns/{COL}'\]"):
        GroundTruth.from_store(path)


def test_dataset_not_in_the_table_of_contents_is_refused(small_nb201, tmp_path):
    path = _copy(small_nb201, tmp_path)
    with h5py.File(path, "a") as f:
        f["columns/cifar10|ori-test|200|accuracy|final"] = np.full(40, 99.0)
    with pytest.raises(StoreCorruptError, match="not in the table of contents"):
        GroundTruth.from_store(path)


def test_crafted_store_with_valid_checksums_is_still_checked(small_nb201, tmp_path):
    """A store written by hand (checksums recomputed) cannot smuggle in an out-of-range value."""
    path = _copy(small_nb201, tmp_path)
    with h5py.File(path, "a") as f:
        values = f[f"columns/{COL}"][()]
        values[3, 1] = -5.5e218
        del f[f"columns/{COL}"]
        f["columns"].create_dataset(COL, data=values, chunks=values.shape, fletcher32=True)
    gt = GroundTruth.from_store(path)
    with pytest.raises(StoreCorruptError, match=r"holds -5\.5e\+218 for architecture"):
        gt.vector(**C10)


def test_crafted_store_with_unsorted_keys_is_refused(small_nb201, tmp_path):
    path = _copy(small_nb201, tmp_path)
    with h5py.File(path, "a") as f:
        keys = f["axis/keys"][()][::-1].copy()
        del f["axis/keys"]
        f["axis"].create_dataset("keys", data=keys, chunks=keys.shape, fletcher32=True)
    with pytest.raises(StoreCorruptError, match="strictly increasing nb201 indices"):
        GroundTruth.from_store(path)


def test_meta_that_is_not_json_is_a_store_corrupt_error(small_nb201, tmp_path):
    path = _copy(small_nb201, tmp_path)
    with h5py.File(path, "a") as f:
        text = f["meta"][()].tobytes().replace(b'"provenance"', b"'provenance'")
        del f["meta"]
        arr = np.frombuffer(text, dtype=np.uint8)
        f.create_dataset("meta", data=arr, chunks=arr.shape, fletcher32=True)
    with pytest.raises(StoreCorruptError, match=r"dataset /meta \(not UTF-8 JSON\)"):
        GroundTruth.from_store(path)


def test_format_1_store_is_refused_with_how_to_reconvert(tmp_path):
    """A store of the first release (contiguous datasets, provenance in attributes)."""
    path = tmp_path / "old.h5"
    with h5py.File(path, "w", libver="latest") as f:
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = 1
        f.attrs["source_name"] = "NAS-Bench-201-v1_0-e61699.pth"
        f.attrs["meta_json"] = json.dumps({"benchmark": "NAS-Bench-201"})
        f["axis/keys"] = np.arange(3)
        f[f"columns/{COL}"] = np.zeros((3, 3))
    with pytest.raises(StoreVersionError) as info:
        GroundTruth.from_store(path)
    msg = str(info.value)
    assert "format version 1" in msg and "reads version 2" in msg
    assert f"nbt convert NAS-Bench-201-v1_0-e61699.pth -o {path} --force" in msg


def test_truncated_store_is_a_store_corrupt_error(small_nb101, tmp_path):
    data = small_nb101.read_bytes()
    path = tmp_path / "cut.h5"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreCorruptError, match="truncated"):
        GroundTruth.from_store(path)


def test_store_reader_hands_out_read_only_arrays(small_nb101):
    """StoreReader caches what it reads, so what it returns must not be writable."""
    r = StoreReader(small_nb101)
    try:
        specs = r.read_specs()
        arrays = [r.raw_keys, r.keys, r.column(r.column_keys[0]).values]
        arrays += [specs.matrices, specs.labels, specs.num_vertices]
        assert not any(a.flags.writeable for a in arrays)
    finally:
        r.close()
