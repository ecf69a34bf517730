"""NB101 identity and damage: a key that is not its cell's module hash is refused (a seeded
sample by default, every cell on request), and no damaged TFRecord gives a raw exception or an
out-of-range value (seeded fuzz of the real fixture)."""

from __future__ import annotations

import collections
import pickle
import struct
import warnings

import numpy as np
import pytest

from nasbench_tools.cli.__main__ import main
from nasbench_tools.errors import CorruptFileError, NasbenchToolsError
from nasbench_tools.groundtruth import GroundTruth, convert, load
from nasbench_tools.groundtruth.columns import Column, ColumnSet, Key
from nasbench_tools.groundtruth.formats import read_any
from nasbench_tools.groundtruth.verify import (
    HASH_SAMPLE,
    HASH_SAMPLE_SEED,
    sample_rows,
    verify_module_hashes,
)

from ._nb101_files import REAL30, masked_crc, random_cells

FIX = REAL30.parent
H = "ff92c322c5d9d3d587d9c146a63d0807"


def _offsets(data: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(data):
        out.append(pos)
        pos += 16 + struct.unpack_from("<Q", data, pos)[0]
    return out


def _rekeyed(data: bytes, old: str, new: str) -> bytes:
    """Every record of module ``old`` relabelled ``new``, CRCs recomputed (a consistent lie)."""
    out = bytearray()
    for o in _offsets(data):
        (length,) = struct.unpack_from("<Q", data, o)
        payload = data[o + 12 : o + 12 + length].replace(old.encode(), new.encode())
        out += data[o : o + 12] + payload + struct.pack("<I", masked_crc(payload))
    return bytes(out)


# ----------------------------------------------------------------------------------- hashes
def test_tfrecord_record_whose_key_is_not_its_cells_hash_is_refused(tmp_path):
    wrong = "0123456789abcdef0123456789abcdef"
    path = tmp_path / "relabelled.tfrecord"
    path.write_bytes(_rekeyed(REAL30.read_bytes(), H, wrong))
    with pytest.raises(CorruptFileError) as info:
        read_any(path, progress=False)  # the default: 30 cells < 1,000, so every one checked
    msg = str(info.value)
    assert str(path) in msg and f"module {wrong}" in msg and f"module hash is {H}" in msg


def test_naslib_pickle_entry_whose_key_is_not_its_cells_hash_is_refused(tmp_path, nb101_dummy):
    """The check runs in read_any, so it covers every NB101 reader."""
    wrong = "0" * 31 + "1"
    data = dict(nb101_dummy)
    data[wrong] = data.pop(H)
    path = tmp_path / "nasbench_only108.pkl"
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=2)
    with pytest.raises(
        CorruptFileError, match=f"module {wrong} holds a cell whose module hash is {H}"
    ):
        read_any(path, progress=False)
    assert len(read_any(path, progress=False, verify_hashes="none")) == 30


@pytest.fixture(scope="module")
def cells_1200():
    keys, specs = random_cells(1200, seed=5)
    col = {Key("cifar10", "valid", 108, "accuracy"): Column(np.full((1200, 3), 90.0), (0, 1, 2))}
    return keys, specs, col


def _swap_keys(cells, row_a: int, row_b: int) -> ColumnSet:
    """Cells ``row_a`` and ``row_b`` exchange specs: both keep a key that is not their hash."""
    keys, specs, col = cells
    order = np.arange(len(keys))
    order[[row_a, row_b]] = order[[row_b, row_a]]
    return ColumnSet("nb101", keys, col, specs.take(order))


def test_default_sample_is_seeded_and_every_cell_checked_on_request(cells_1200):
    rows = sample_rows(1200, "sample")
    assert len(rows) == HASH_SAMPLE and (np.diff(rows) > 0).all()
    np.testing.assert_array_equal(rows, sample_rows(1200, "sample"))  # the same every time
    expected = np.sort(
        np.random.default_rng(HASH_SAMPLE_SEED).choice(1200, HASH_SAMPLE, replace=False)
    )
    np.testing.assert_array_equal(rows, expected)
    outside = sorted(set(range(1200)) - set(rows.tolist()))
    cs = _swap_keys(cells_1200, outside[0], outside[1])
    info = verify_module_hashes(cs, "x", "sample")  # both swapped cells lie outside the sample
    assert info == {"mode": "sample", "checked": 1000, "of": 1200, "sample": 1000, "seed": 0}
    with pytest.raises(CorruptFileError, match=f"module {cs.keys[outside[0]]}"):
        verify_module_hashes(cs, "x", "all")
    inside = _swap_keys(cells_1200, int(rows[3]), outside[0])
    with pytest.raises(CorruptFileError, match=f"module {inside.keys[rows[3]]}"):
        verify_module_hashes(inside, "x", "sample")
    assert verify_module_hashes(cs, "x", "none") == {"mode": "none", "checked": 0, "of": 1200}


def test_what_was_verified_is_recorded_in_the_stores_provenance(tmp_path, capsys):
    out = convert(REAL30, tmp_path / "a.h5", progress=False)
    check = GroundTruth.from_store(out).provenance["hash_check"]
    assert check == {"mode": "sample", "checked": 30, "of": 30, "sample": 1000, "seed": 0}
    for flag, mode in ((["--verify-hashes"], "all"), (["--verify-hashes", "none"], "none")):
        out = tmp_path / f"{mode}.h5"
        assert main(["convert", str(REAL30), "-o", str(out), "--no-progress", *flag]) == 0
        check = GroundTruth.from_store(out).provenance["hash_check"]
        assert check["mode"] == mode and check["checked"] == (30 if mode == "all" else 0)
    assert load("nb101", path=REAL30, progress=False).provenance["hash_check"]["checked"] == 30


def test_bad_verify_hashes_argument_is_refused_before_reading(tmp_path):
    with pytest.raises(NasbenchToolsError, match=r"verify_hashes must be one of"):
        convert(REAL30, tmp_path / "s.h5", verify_hashes="some")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------- fuzz
def _reference():
    return read_any(REAL30, progress=False, verify_hashes="all")


def _same(cs, ref) -> bool:
    return cs.keys.tolist() == ref.keys.tolist() and all(
        np.array_equal(cs.columns[k].values, ref.columns[k].values, equal_nan=True)
        for k in ref.columns
    )


def _outcome(path, ref) -> str:
    try:
        cs = read_any(path, progress=False, verify_hashes="all")
    except CorruptFileError as exc:
        assert str(path) in str(exc)
        return "CorruptFileError"
    except Exception as exc:  # what this test exists to catch
        return f"raw {type(exc).__name__}: {exc}"
    cs.check_values("again")  # nothing out of range slipped through
    return "same" if _same(cs, ref) else "different in-range values"


def test_damaged_tfrecord_never_gives_a_raw_error_or_a_silent_change(tmp_path):
    """300 seeded byte flips and 40 truncations of the real fixture, CRCs left as they are:
    the same values or CorruptFileError, nothing else."""
    ref, data = _reference(), REAL30.read_bytes()
    rng = np.random.default_rng(0)
    path = tmp_path / "mutant.tfrecord"
    outcomes = collections.Counter()
    for _ in range(300):
        b = bytearray(data)
        b[int(rng.integers(len(b)))] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(b))
        outcomes[_outcome(path, ref)] += 1
    for n in rng.integers(0, len(data), 40).tolist():
        path.write_bytes(data[:n])
        outcomes[_outcome(path, ref)] += 1
    assert set(outcomes) <= {"same", "CorruptFileError"}, outcomes


def test_crafted_payloads_with_valid_crcs_never_give_a_raw_error(tmp_path):
    """300 records with 1-3 bytes changed and their CRC recomputed (what a crafted file holds):
    CorruptFileError, or values that are in range and keys that are their cells' hashes."""
    ref, data = _reference(), REAL30.read_bytes()
    offsets = _offsets(data)
    rng = np.random.default_rng(1)
    path = tmp_path / "crafted.tfrecord"
    outcomes = collections.Counter()
    for _ in range(300):
        b = bytearray(data)
        o = offsets[int(rng.integers(len(offsets)))]
        (length,) = struct.unpack_from("<Q", b, o)
        for _ in range(int(rng.integers(1, 4))):
            b[o + 12 + int(rng.integers(length))] ^= int(rng.integers(1, 256))
        struct.pack_into("<I", b, o + 12 + length, masked_crc(bytes(b[o + 12 : o + 12 + length])))
        path.write_bytes(bytes(b))
        outcomes[_outcome(path, ref)] += 1
    assert set(outcomes) <= {"same", "CorruptFileError", "different in-range values"}, outcomes
    assert outcomes["CorruptFileError"] > 250


def test_damaged_double_that_overflows_to_inf_is_refused_by_name(tmp_path):
    """A final validation accuracy of 1e308 (x 100 = inf), CRCs recomputed: refused without a
    numpy overflow warning (the first release printed one)."""
    import base64
    import json

    data = REAL30.read_bytes()
    (length,) = struct.unpack_from("<Q", data, 0)
    row = json.loads(data[12 : 12 + length])
    raw = bytearray(base64.b64decode(row[4]))
    at = raw.index(bytes([0x21]), 2 + 47 + 2 + 27)  # validation_accuracy tag of the final entry
    raw[at + 1 : at + 9] = struct.pack("<d", 1e308)
    row[4] = base64.b64encode(bytes(raw)).decode()
    payload = json.dumps(row).encode()
    head = struct.pack("<Q", len(payload))
    rec = (
        head
        + struct.pack("<I", masked_crc(head))
        + payload
        + struct.pack("<I", masked_crc(payload))
    )
    path = tmp_path / "inf.tfrecord"
    path.write_bytes(rec + data[16 + length :])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warning on the way
        with pytest.raises(CorruptFileError, match=r"holds inf for architecture " + row[0]):
            read_any(path, progress=False)
