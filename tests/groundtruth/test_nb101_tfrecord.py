"""The NAS-Bench-101 TFRecord reader, on real records and on small files written here.

``nb101_real30_only108.tfrecord`` holds 30 real architectures x 3 repeats (NASLib's real records,
re-framed by an independent pure-Python writer). The values asserted here are literals from those
records, or come from NASLib's pickle of the same 30, never from our own writer. The
``nasbench_full``-style files are written below with a minimal framing writer and ``google.protobuf``
messages built from the ``.proto`` description, so that our decoder is checked against another
implementation.
"""

from __future__ import annotations

import base64
import gzip
import json
import multiprocessing
import shutil
import struct
import zipfile
from pathlib import Path

import crc32c
import numpy as np
import pytest

from nasbench_tools.errors import CorruptFileError, NasbenchToolsError
from nasbench_tools.groundtruth.columns import Key
from nasbench_tools.groundtruth.formats import get_reader, read_any
from nasbench_tools.groundtruth.formats import nb101_tfrecord as tfr
from nasbench_tools.spaces.nb101 import ModelSpec

REAL30 = (
    Path(__file__).resolve().parents[1] / "fixtures" / "nb101" / "nb101_real30_only108.tfrecord"
)
H = "ff92c322c5d9d3d587d9c146a63d0807"
POINTS = ("halfway", "final")
SPLITS = {"train": "train_accuracy", "valid": "validation_accuracy", "test": "test_accuracy"}


@pytest.fixture(scope="module")
def cs():
    return tfr.read(REAL30, progress=False)


def record_offsets(data: bytes) -> list[int]:
    """Start of every record, by walking the framing (test-side, no CRC checks)."""
    out, pos = [], 0
    while pos < len(data):
        out.append(pos)
        pos += 16 + struct.unpack_from("<Q", data, pos)[0]
    return out


def masked_crc(data: bytes) -> int:
    c = crc32c.crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def frame(payload: bytes) -> bytes:
    """One TFRecord record: length, masked CRC of the length, payload, masked CRC of the payload."""
    head = struct.pack("<Q", len(payload))
    return (
        head
        + struct.pack("<I", masked_crc(head))
        + payload
        + struct.pack("<I", masked_crc(payload))
    )


# ----------------------------------------------------------------------------------- real records


def test_real_records_axis_and_literal_values(cs):
    assert cs.space == "nb101"
    assert len(cs) == 30
    keys = cs.keys.tolist()
    assert keys == sorted(keys) and all(isinstance(k, str) for k in keys)
    assert cs.meta == {
        "source_name": "nb101_real30_only108.tfrecord",
        "source_format": "nb101-tfrecord",
        "benchmark": "NAS-Bench-101",
        "n_records": 90,
        "epochs": [108],
        "repeats_missing": {"108": 0},
    }
    i = keys.index(H)
    spec = cs.specs.spec(i)
    assert list(spec.ops) == [
        "input",
        "conv3x3-bn-relu",
        "conv1x1-bn-relu",
        "conv1x1-bn-relu",
        "conv3x3-bn-relu",
        "conv1x1-bn-relu",
        "output",
    ]
    assert spec.hash == H
    params = cs.columns[Key("cifar10", "", 0, "params")]
    assert (params.values[i], params.unit, params.seeds) == (6_315_018, "count", ())
    valid = cs.columns[Key("cifar10", "valid", 108, "accuracy", "final")]
    test = cs.columns[Key("cifar10", "test", 108, "accuracy", "final")]
    assert (valid.seeds, valid.unit, test.unit) == ((0, 1, 2), "%", "%")
    assert valid.values[i, 0] == pytest.approx(92.558, abs=1e-3)
    assert test.values[i, 0] == pytest.approx(92.318, abs=1e-3)
    np.testing.assert_allclose(valid.values[i], [92.558092, 92.798477, 92.467946], atol=1e-6)
    np.testing.assert_allclose(test.values[i], [92.317706, 91.927081, 92.057294], atol=1e-6)
    half = cs.columns[Key("cifar10", "valid", 108, "accuracy", "halfway")]
    np.testing.assert_allclose(half.values[i], [76.382214, 67.548078, 75.661057], atol=1e-6)
    t = cs.columns[Key("cifar10", "train", 108, "time", "final")]
    assert t.unit == "s"
    np.testing.assert_array_equal(
        t.values[i], [1396.137939453125, 1395.739990234375, 1386.18310546875]
    )
    assert "evaluation_data[2].validation_accuracy" in valid.source


def test_real_records_columns_are_exactly_these(cs):
    expected = {Key("cifar10", "", 0, "params")}
    for point in POINTS:
        expected |= {Key("cifar10", s, 108, "accuracy", point) for s in SPLITS}
        expected.add(Key("cifar10", "train", 108, "time", point))
    assert set(cs.columns) == expected
    for key, col in cs.columns.items():
        assert not np.isnan(col.values).any(), key


def test_every_value_agrees_with_naslib_pickle(cs, nb101_dummy):
    assert sorted(nb101_dummy) == cs.keys.tolist()
    for i, h in enumerate(cs.keys.tolist()):
        fixed, computed = nb101_dummy[h]
        assert (
            cs.columns[Key("cifar10", "", 0, "params")].values[i] == fixed["trainable_parameters"]
        )
        v = int(cs.specs.num_vertices[i])
        np.testing.assert_array_equal(cs.specs.matrices[i, :v, :v], fixed["module_adjacency"])
        assert list(cs.specs.spec(i).ops) == list(fixed["module_operations"])
        runs = computed[108]
        assert len(runs) == 3
        for r, run in enumerate(runs):
            for point in POINTS:
                for split, field in SPLITS.items():
                    got = cs.columns[Key("cifar10", split, 108, "accuracy", point)].values[i, r]
                    assert got == run[f"{point}_{field}"] * 100, (h, r, point, split)
                got = cs.columns[Key("cifar10", "train", 108, "time", point)].values[i, r]
                assert got == run[f"{point}_training_time"], (h, r, point)


def test_recomputed_hashes_equal_the_keys(cs):
    for i, h in enumerate(cs.keys.tolist()):
        v = int(cs.specs.num_vertices[i])
        spec = ModelSpec(cs.specs.matrices[i, :v, :v], cs.specs.spec(i).ops)
        assert spec.is_valid and spec.hash == h


def test_fast_decoder_takes_the_real_layout_and_agrees_with_reference(cs, monkeypatch):
    slow_calls = []
    original = tfr._decode_slow
    monkeypatch.setattr(tfr, "_decode_slow", lambda *a: slow_calls.append(a) or original(*a))
    fast = tfr.read(REAL30, progress=False)
    assert slow_calls == []  # every real record went through the vectorised decoder
    reference = tfr.read(REAL30, progress=False, _fast=False)
    assert len(slow_calls) == 90
    assert fast.keys.tolist() == reference.keys.tolist() == cs.keys.tolist()
    for key in reference.columns:
        np.testing.assert_array_equal(fast.columns[key].values, reference.columns[key].values)
    np.testing.assert_array_equal(fast.specs.matrices, reference.specs.matrices)
    np.testing.assert_array_equal(fast.specs.labels, reference.specs.labels)


def test_small_blocks_give_the_same_result(cs, monkeypatch):
    """Records straddling read blocks and decode batches are carried over correctly."""
    monkeypatch.setattr(tfr, "_BLOCK", 1000)
    monkeypatch.setattr(tfr, "_BATCH", 7)
    small = tfr.read(REAL30, progress=False)
    assert small.keys.tolist() == cs.keys.tolist()
    for key in cs.columns:
        np.testing.assert_array_equal(small.columns[key].values, cs.columns[key].values)


def test_read_any_sniffs_the_format(tmp_path, cs):
    via_any = read_any(REAL30, progress=False)
    assert via_any.meta["source_format"] == "nb101-tfrecord"
    assert via_any.keys.tolist() == cs.keys.tolist()
    other_name = tmp_path / "records.bin"  # recognised by its content, not its name
    shutil.copy(REAL30, other_name)
    assert read_any(other_name, progress=False).meta["source_name"] == "records.bin"
    reader = get_reader("nb101-tfrecord")
    assert reader.space == "nb101"
    assert reader.sniff(REAL30, REAL30.read_bytes()[:64])
    not_ours = tmp_path / "table.csv"
    not_ours.write_text("arch,acc\n1,2\n")
    assert not reader.sniff(not_ours, not_ours.read_bytes()[:64])


def test_progress_bar_runs(capsys):
    assert len(tfr.read(REAL30, progress=True)) == 30


# ----------------------------------------------------------------------------------- damaged files


def damaged(tmp_path: Path, name: str, edit) -> tuple[Path, list[int]]:
    data = bytearray(REAL30.read_bytes())
    offsets = record_offsets(bytes(data))
    edit(data, offsets)
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path, offsets


def expect_corrupt(path: Path, *fragments: str) -> str:
    before = sorted(path.parent.iterdir())
    with pytest.raises(CorruptFileError) as info:
        tfr.read(path, progress=False)
    msg = str(info.value)
    assert str(path) in msg
    for fragment in fragments:
        assert fragment in msg, msg
    assert sorted(path.parent.iterdir()) == before  # nothing left behind
    return msg


def test_flipped_byte_in_a_length_crc(tmp_path):
    def edit(data, off):
        data[off[37] + 9] ^= 0x01

    path, off = damaged(tmp_path, "len_crc.tfrecord", edit)
    expect_corrupt(path, "record 37 (0-based)", f"byte offset {off[37]}", "length CRC-32C mismatch")


def test_flipped_byte_in_a_payload_crc(tmp_path):
    def edit(data, off):
        data[off[6] - 2] ^= 0x80  # inside record 5's payload CRC

    path, off = damaged(tmp_path, "payload_crc.tfrecord", edit)
    expect_corrupt(path, "record 5 (0-based)", f"byte offset {off[5]}", "payload CRC-32C mismatch")


def test_flipped_byte_in_a_payload(tmp_path):
    def edit(data, off):
        data[off[60] + 12 + 40] ^= 0x04

    path, off = damaged(tmp_path, "payload.tfrecord", edit)
    expect_corrupt(
        path, "record 60 (0-based)", f"byte offset {off[60]}", "payload CRC-32C mismatch"
    )


def test_damage_in_a_later_block_is_located(tmp_path, monkeypatch):
    monkeypatch.setattr(tfr, "_BLOCK", 1500)

    def edit(data, off):
        data[off[71] + 12 + 100] ^= 0x10

    path, off = damaged(tmp_path, "late.tfrecord", edit)
    expect_corrupt(path, "record 71 (0-based)", f"byte offset {off[71]}", "payload CRC")


def test_truncated_mid_payload(tmp_path):
    data = REAL30.read_bytes()
    off = record_offsets(data)
    path = tmp_path / "cut_payload.tfrecord"
    path.write_bytes(data[: off[89] + 12 + 100])
    expect_corrupt(
        path, "record 89 (0-based)", f"byte offset {off[89]}", "truncated record", "112 bytes"
    )


def test_truncated_mid_header(tmp_path):
    data = REAL30.read_bytes()
    off = record_offsets(data)
    path = tmp_path / "cut_header.tfrecord"
    path.write_bytes(data[: off[42] + 5])
    expect_corrupt(
        path, "record 42 (0-based)", f"byte offset {off[42]}", "5 bytes into the 12-byte"
    )


def test_huge_length_with_a_valid_header_crc(tmp_path):
    data = REAL30.read_bytes()
    off = record_offsets(data)
    head = struct.pack("<Q", 10**12)
    path = tmp_path / "huge.tfrecord"
    path.write_bytes(data[: off[3]] + head + struct.pack("<I", masked_crc(head)) + b"x" * 50)
    expect_corrupt(
        path, "record 3 (0-based)", f"byte offset {off[3]}", "1000000000000 payload bytes"
    )


def test_gzip_given_as_tfrecord(tmp_path):
    path = tmp_path / "nasbench_only108.tfrecord"
    path.write_bytes(gzip.compress(REAL30.read_bytes()))
    msg = expect_corrupt(path, "record 0 (0-based)", "byte offset 0", "gzip")
    assert "uncompressed TFRecord" in msg
    with pytest.raises(CorruptFileError, match="gzip"):
        read_any(path, progress=False)  # sniffed by its name, then refused with the reason


def test_zip_given_as_tfrecord(tmp_path):
    path = tmp_path / "nasbench_full.tfrecord"
    with zipfile.ZipFile(path, "w") as z:
        z.write(REAL30, "nasbench_only108.tfrecord")
    expect_corrupt(path, "record 0 (0-based)", "byte offset 0", "zip archive")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.tfrecord"
    path.write_bytes(b"")
    expect_corrupt(path, "empty file")


def test_trailing_garbage_shorter_than_a_header(tmp_path):
    path = tmp_path / "tail.tfrecord"
    path.write_bytes(REAL30.read_bytes() + b"\x00\x01\x02")
    expect_corrupt(
        path, "record 90 (0-based)", f"byte offset {REAL30.stat().st_size}", "3 bytes into"
    )


# ----------------------------------------------------------------------------------- two processes


def test_two_processes_give_the_same_result(cs, monkeypatch):
    monkeypatch.setattr(tfr, "_BLOCK", 2000)
    two = tfr.read(REAL30, progress=False, workers=2)
    assert multiprocessing.active_children() == []
    assert two.keys.tolist() == cs.keys.tolist()
    assert two.meta == cs.meta
    for key in cs.columns:
        np.testing.assert_array_equal(two.columns[key].values, cs.columns[key].values)
    np.testing.assert_array_equal(two.specs.matrices, cs.specs.matrices)


def test_two_processes_split_at_a_record_boundary():
    data = REAL30.read_bytes()
    with open(REAL30, "rb") as fh:
        split = tfr._find_split(fh, len(data))
    assert split in record_offsets(data) and split >= len(data) // 2


def test_a_split_inside_a_record_falls_back_to_one_reader(cs, monkeypatch):
    data = REAL30.read_bytes()
    inside = record_offsets(data)[45] + 7
    monkeypatch.setattr(tfr, "_find_split", lambda fh, size: inside)
    two = tfr.read(REAL30, progress=False, workers=2)
    assert multiprocessing.active_children() == []
    assert two.keys.tolist() == cs.keys.tolist()
    for key in cs.columns:
        np.testing.assert_array_equal(two.columns[key].values, cs.columns[key].values)


@pytest.mark.parametrize("record", [10, 80])
def test_two_processes_locate_damage_in_either_half(tmp_path, record):
    def edit(data, off):
        data[off[record] + 12 + 30] ^= 0x20

    path, off = damaged(tmp_path, f"damaged{record}.tfrecord", edit)
    with pytest.raises(CorruptFileError) as info:
        tfr.read(path, progress=False, workers=2)
    msg = str(info.value)
    assert f"record {record} (0-based) at byte offset {off[record]}" in msg
    assert str(path) in msg and "payload CRC" in msg
    assert multiprocessing.active_children() == []


def test_two_processes_on_a_truncated_file(tmp_path):
    data = REAL30.read_bytes()
    off = record_offsets(data)
    path = tmp_path / "cut.tfrecord"
    path.write_bytes(data[: off[89] + 20])
    with pytest.raises(CorruptFileError, match=f"record 89 \\(0-based\\) at byte offset {off[89]}"):
        tfr.read(path, progress=False, workers=2)
    assert multiprocessing.active_children() == []


# ----------------------------------------------------------------------------------- small files written here


@pytest.fixture(scope="module")
def ModelMetrics():
    """``nasbench.ModelMetrics`` from the .proto description, by ``google.protobuf`` (no generated code)."""
    pytest.importorskip("google.protobuf")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="model_metrics.proto", package="nasbench")
    ev = fdp.message_type.add(name="EvaluationData")
    names = [
        "current_epoch",
        "training_time",
        "train_accuracy",
        "validation_accuracy",
        "test_accuracy",
    ]
    for number, name in enumerate(names, start=1):
        ev.field.add(name=name, number=number, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    ev.field.add(name="checkpoint_path", number=6, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    mm = fdp.message_type.add(name="ModelMetrics")
    mm.field.add(
        name="evaluation_data",
        number=1,
        type=F.TYPE_MESSAGE,
        label=F.LABEL_REPEATED,
        type_name=".nasbench.EvaluationData",
    )
    mm.field.add(name="trainable_parameters", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    mm.field.add(name="total_time", number=3, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("nasbench.ModelMetrics"))


# Two cells; their keys are their true module hashes.
CELL_A = ("011001000", "input,conv3x3-bn-relu,output")
CELL_B = ("0101001000010000", "input,maxpool3x3,conv1x1-bn-relu,output")
HASH_A = ModelSpec.from_string(*CELL_A).hash
HASH_B = ModelSpec.from_string(*CELL_B).hash
PARAMS = {HASH_A: 1_234_567, HASH_B: 98_765}

# (hash, cell, epochs, halfway (time, train, valid, test), final (time, train, valid, test)), in
# file order. B has only two repeats at 4 epochs.
RUNS = [
    (HASH_A, CELL_A, 108, (600.0, 0.625, 0.5, 0.375), (1200.0, 1.0, 0.875, 0.75)),
    (HASH_B, CELL_B, 4, (11.0, 0.25, 0.125, 0.0625), (22.0, 0.5, 0.25, 0.125)),
    (HASH_A, CELL_A, 4, (10.0, 0.375, 0.25, 0.125), (20.0, 0.5, 0.4375, 0.3125)),
    (HASH_A, CELL_A, 108, (601.5, 0.6875, 0.5625, 0.4375), (1203.0, 0.96875, 0.90625, 0.84375)),
    (HASH_B, CELL_B, 108, (700.0, 0.5, 0.5, 0.5), (1400.0, 0.75, 0.703125, 0.6875)),
    (HASH_B, CELL_B, 4, (12.0, 0.3125, 0.1875, 0.09375), (24.0, 0.625, 0.375, 0.25)),
    (HASH_A, CELL_A, 4, (10.5, 0.4375, 0.3125, 0.1875), (21.0, 0.5625, 0.5, 0.375)),
    (HASH_A, CELL_A, 108, (599.0, 0.75, 0.625, 0.5), (1198.0, 0.9375, 0.9375, 0.9375)),
    (HASH_B, CELL_B, 108, (702.0, 0.5625, 0.53125, 0.515625), (1404.0, 0.8125, 0.71875, 0.703125)),
    (HASH_B, CELL_B, 108, (698.0, 0.4375, 0.46875, 0.484375), (1396.0, 0.6875, 0.6875, 0.671875)),
    (HASH_A, CELL_A, 4, (9.5, 0.5, 0.375, 0.25), (19.0, 0.625, 0.5625, 0.4375)),
]


def metrics(ModelMetrics, epochs, half, final, params, *, variant="") -> bytes:
    """A serialized ModelMetrics; ``variant`` departs from the release's layout in valid ways."""
    m = ModelMetrics()
    step0 = m.evaluation_data.add()
    if variant != "sparse step 0":
        step0.current_epoch, step0.training_time = 0.0, 0.0
        step0.train_accuracy = step0.validation_accuracy = step0.test_accuracy = 0.1
    else:
        step0.train_accuracy = 0.1
    for epoch, (t, tr, va, te) in ((epochs / 2, half), (float(epochs), final)):
        e = m.evaluation_data.add()
        e.current_epoch, e.training_time = epoch, t
        e.train_accuracy, e.validation_accuracy, e.test_accuracy = tr, va, te
        if variant == "sparse step 0":
            e.checkpoint_path = f"gs://bucket/model/{epoch}"
    m.total_time = final[0] + 1.0
    if variant == "params first":  # protobuf merges concatenated messages
        return ModelMetrics(trainable_parameters=params).SerializeToString() + m.SerializeToString()
    m.trainable_parameters = params
    return m.SerializeToString()


def payload(module, epochs, cell, raw_metrics: bytes, *, compact=False) -> bytes:
    row = [module, epochs, cell[0], cell[1], base64.b64encode(raw_metrics).decode()]
    return json.dumps(row, separators=(",", ":") if compact else (", ", ": ")).encode()


#: Records written in valid layouts other than the release's (record number: how).
VARIANTS = {3: "compact JSON", 5: "params first", 8: "sparse step 0"}


def full_style_file(path: Path, ModelMetrics) -> None:
    out = []
    for i, (h, cell, epochs, half, final) in enumerate(RUNS):
        variant = VARIANTS.get(i, "")
        raw = metrics(ModelMetrics, epochs, half, final, PARAMS[h], variant=variant)
        out.append(frame(payload(h, epochs, cell, raw, compact=variant == "compact JSON")))
    path.write_bytes(b"".join(out))


def test_layout_variants_take_the_right_decoder(tmp_path, ModelMetrics, monkeypatch):
    """JSON or field order other than the release's go to the reference decoder; a sparse step-0
    entry and checkpoint paths stay on the vectorised one."""
    path = tmp_path / "variants.tfrecord"
    full_style_file(path, ModelMetrics)
    slow = []
    original = tfr._decode_slow
    monkeypatch.setattr(
        tfr, "_decode_slow", lambda p, where: slow.append(where.recno) or original(p, where)
    )
    fast = tfr.read(path, progress=False)
    assert slow == [3, 5]
    reference = tfr.read(path, progress=False, _fast=False)
    for key in reference.columns:
        np.testing.assert_array_equal(fast.columns[key].values, reference.columns[key].values)


def test_full_style_file_with_two_budgets(tmp_path, ModelMetrics):
    path = tmp_path / "nasbench_full.tfrecord"
    full_style_file(path, ModelMetrics)
    cs = read_any(path, progress=False)
    assert cs.keys.tolist() == sorted([HASH_A, HASH_B])
    a, b = cs.keys.tolist().index(HASH_A), cs.keys.tolist().index(HASH_B)
    assert cs.meta["epochs"] == [4, 108]
    assert cs.meta["repeats_missing"] == {"4": 1, "108": 0}
    assert cs.meta["n_records"] == 11
    assert len(cs.columns) == 2 * 2 * 4 + 1

    def col(split, epochs, point, metric="accuracy"):
        return cs.columns[Key("cifar10", split, epochs, metric, point)].values

    nan = np.nan
    np.testing.assert_array_equal(col("valid", 108, "final")[a], [87.5, 90.625, 93.75])
    np.testing.assert_array_equal(col("valid", 108, "final")[b], [70.3125, 71.875, 68.75])
    np.testing.assert_array_equal(col("test", 4, "final")[a], [31.25, 37.5, 43.75])
    np.testing.assert_array_equal(col("test", 4, "final")[b], [12.5, 25.0, nan])
    np.testing.assert_array_equal(col("train", 4, "halfway")[b], [25.0, 31.25, nan])
    np.testing.assert_array_equal(col("valid", 108, "halfway")[a], [50.0, 56.25, 62.5])
    np.testing.assert_array_equal(col("train", 108, "final", "time")[b], [1400.0, 1404.0, 1396.0])
    np.testing.assert_array_equal(col("train", 4, "halfway", "time")[a], [10.0, 10.5, 9.5])
    np.testing.assert_array_equal(
        cs.columns[Key("cifar10", "", 0, "params")].values[[a, b]], [1_234_567, 98_765]
    )
    np.testing.assert_array_equal(
        cs.specs.matrices[b, :4, :4], ModelSpec.from_string(*CELL_B).matrix
    )
    assert list(cs.specs.spec(b).ops) == CELL_B[1].split(",")
    assert list(cs.specs.labels[a]) == [-1, 0, -2, -3, -3, -3, -3]


def write_records(path: Path, payloads: list[bytes]) -> list[int]:
    data = [frame(p) for p in payloads]
    path.write_bytes(b"".join(data))
    return [sum(len(d) for d in data[:i]) for i in range(len(data))]


def good_payload(ModelMetrics, epochs=108, *, params=PARAMS[HASH_A], module=HASH_A) -> bytes:
    _, _, _, half, final = RUNS[0]
    return payload(module, epochs, CELL_A, metrics(ModelMetrics, epochs, half, final, params))


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (b'["' + HASH_A.encode() + b'", 108', "not UTF-8 JSON"),
        (b'{"hash": 1}', "must be a JSON array"),
        (b'["ABC", 108, "011001000", "input,conv3x3-bn-relu,output", ""]', "32 lowercase hex"),
        (
            json.dumps([HASH_A, 108, "0110", "input,conv3x3-bn-relu,output", ""]).encode(),
            "3x3 matrix",
        ),
        (
            json.dumps([HASH_A, 108, "011001000", "input,conv5x5,output", ""]).encode(),
            "unknown operation",
        ),
        (
            json.dumps([HASH_A, 108, "011101000", "input,conv3x3-bn-relu,output", ""]).encode(),
            "upper-triangular",
        ),
        (
            json.dumps([HASH_A, 108, "011001000", "input,conv3x3-bn-relu,output", "@@@="]).encode(),
            "base64",
        ),
        (
            json.dumps([HASH_A, 108, "011001000", "input,conv3x3-bn-relu,output", "CgA="]).encode(),
            "evaluation_data entries",
        ),
        (
            json.dumps([HASH_A, 108, "011001000", "input,conv3x3-bn-relu,output", "Cg=="]).encode(),
            "truncated",
        ),
    ],
)
def test_bad_payloads(tmp_path, ModelMetrics, bad, fragment):
    path = tmp_path / "bad.tfrecord"
    offsets = write_records(path, [good_payload(ModelMetrics), bad, good_payload(ModelMetrics)])
    expect_corrupt(path, "record 1 (0-based)", f"byte offset {offsets[1]}", fragment)


def test_budget_outside_the_benchmark(tmp_path, ModelMetrics):
    path = tmp_path / "epochs.tfrecord"
    offsets = write_records(path, [good_payload(ModelMetrics), good_payload(ModelMetrics, 50)])
    expect_corrupt(
        path, "record 1 (0-based)", f"byte offset {offsets[1]}", "epochs 50 is not one of"
    )


def test_a_fourth_repeat(tmp_path, ModelMetrics):
    path = tmp_path / "four.tfrecord"
    p = good_payload(ModelMetrics)
    other = good_payload(ModelMetrics, 4)
    offsets = write_records(path, [p, other, p, p, other, p])
    expect_corrupt(
        path, "record 5 (0-based)", f"byte offset {offsets[5]}", "repeat 4", "records 0, 2, 3"
    )


def test_repeats_that_disagree_on_the_parameter_count(tmp_path, ModelMetrics):
    path = tmp_path / "params.tfrecord"
    offsets = write_records(
        path, [good_payload(ModelMetrics), good_payload(ModelMetrics, params=7)]
    )
    expect_corrupt(
        path, "record 1 (0-based)", f"byte offset {offsets[1]}", "trainable_parameters", "record 0"
    )


def test_missing_accuracy_is_refused_not_zero(tmp_path, ModelMetrics):
    m = ModelMetrics()
    for _ in range(3):
        e = m.evaluation_data.add()
        e.training_time, e.train_accuracy, e.test_accuracy = 1.0, 0.5, 0.5  # no validation_accuracy
    m.trainable_parameters = 10
    path = tmp_path / "missing.tfrecord"
    offsets = write_records(
        path, [good_payload(ModelMetrics), payload(HASH_A, 108, CELL_A, m.SerializeToString())]
    )
    expect_corrupt(
        path, "record 1 (0-based)", f"byte offset {offsets[1]}", "lacks validation_accuracy"
    )


def test_errors_are_nasbench_tools_errors():
    assert issubclass(CorruptFileError, NasbenchToolsError)
