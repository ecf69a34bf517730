"""`nbt info`, `nbt query`, `nbt convert` on the embedded data."""

from __future__ import annotations

import json

import pytest

from nasbench_tools.cli.__main__ import main
from nasbench_tools.groundtruth.formats.embedded_csv import COMBINED, embedded_path
from nasbench_tools.groundtruth.store import FORMAT_VERSION


def _run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_info_json(capsys):
    rc, out, _ = _run(capsys, "info", "nb201", "--json")
    info = json.loads(out)
    assert rc == 0 and info["archs"] == 15625 and info["unique_classes"] == 6466
    assert any(c["seeds"] == "777,888,999" for c in info["columns_detail"])


def test_query_one_and_all(capsys, tmp_path):
    rc, out, _ = _run(
        capsys,
        "query",
        "nb201",
        "0",
        "--dataset",
        "cifar10-valid",
        "--split",
        "x-valid",
        "--epochs",
        "200",
        "--seed",
        "888",
    )
    assert rc == 0 and json.loads(out)["value"] == pytest.approx(81.616, abs=1e-6)
    csv = tmp_path / "all.csv"
    rc, out, _ = _run(
        capsys,
        "query",
        "nb201",
        "all",
        "--dataset",
        "cifar100",
        "--split",
        "ori-test",
        "--epochs",
        "200",
        "--seed",
        "all",
        "-o",
        str(csv),
    )
    assert rc == 0 and len(csv.read_text().splitlines()) == 15626


def test_query_error_points_to_the_right_dataset(capsys):
    rc, _, err = _run(
        capsys,
        "query",
        "nb201",
        "0",
        "--dataset",
        "cifar10",
        "--split",
        "x-valid",
        "--epochs",
        "200",
    )
    assert rc == 2 and "dataset='cifar10-valid'" in err


def test_convert_then_info(capsys, tmp_path):
    out = tmp_path / "nb201.h5"
    rc, text, _ = _run(
        capsys, "convert", str(embedded_path(COMBINED)), "-o", str(out), "--no-progress"
    )
    assert rc == 0 and "15625 archs" in text
    rc, text, _ = _run(capsys, "info", str(out), "--json")
    info = json.loads(text)
    assert info["provenance"]["format_version"] == FORMAT_VERSION and info["archs"] == 15625
    rc, _, err = _run(capsys, "convert", str(embedded_path(COMBINED)), "-o", str(out))
    assert rc == 2 and "already exists" in err


def test_unknown_target(capsys):
    rc, _, err = _run(capsys, "info", "nope.h5")
    assert rc == 2 and "neither an embedded benchmark" in err


def test_query_output_into_a_missing_folder_exits_2_with_one_line(capsys, tmp_path):
    """The first release raised a raw OSError traceback from pandas."""
    out = tmp_path / "no" / "such" / "folder.csv"
    rc, _, err = _run(
        capsys, "query", "nb201", "all", "--dataset", "cifar100", "--split", "ori-test",
        "--epochs", "200", "-o", str(out),
    )  # fmt: skip
    assert rc == 2 and err.count("\n") == 1 and "does not exist; create it first" in err
    assert not (tmp_path / "no").exists()


def test_damaged_store_exits_2_with_one_line_naming_it(capsys, tmp_path):
    import h5py

    out = tmp_path / "nb201.h5"
    assert _run(capsys, "convert", str(embedded_path(COMBINED)), "-o", str(out))[0] == 0
    with h5py.File(out) as f:
        at = f["columns/cifar100|ori-test|200|accuracy|final"].id.get_chunk_info(0).byte_offset
    data = bytearray(out.read_bytes())
    data[at + 100] ^= 0x40
    out.write_bytes(bytes(data))
    rc, _, err = _run(
        capsys, "query", str(out), "0", "--dataset", "cifar100", "--split", "ori-test",
        "--epochs", "200",
    )  # fmt: skip
    assert rc == 2 and err.count("\n") == 1
    assert str(out) in err and "dataset /columns/cifar100|ori-test|200|accuracy|final" in err


def test_convert_of_a_mislabelled_nb101_file_exits_2_with_one_line(capsys, tmp_path, fixtures):
    import struct

    from tests.groundtruth._nb101_files import masked_crc

    data = (fixtures / "nb101" / "nb101_real30_only108.tfrecord").read_bytes()
    (length,) = struct.unpack_from("<Q", data, 0)
    payload = data[12 : 12 + length]
    wrong = payload[:2] + b"0" * 32 + payload[34:]
    src = tmp_path / "mislabelled.tfrecord"
    src.write_bytes(data[:12] + wrong + struct.pack("<I", masked_crc(wrong)) + data[16 + length :])
    out = tmp_path / "s.h5"
    rc, _, err = _run(capsys, "convert", str(src), "-o", str(out), "--verify-hashes")
    assert rc == 2 and err.count("\n") == 1 and f"module {'0' * 32} holds a cell" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mislabelled.tfrecord"]


def test_list_formats_prints_every_registered_reader_and_exits_0():
    import subprocess
    import sys

    from nasbench_tools.groundtruth.formats import list_readers

    out = subprocess.run(
        [sys.executable, "-m", "nasbench_tools.cli", "convert", "--list-formats"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    names = [line.split()[0] for line in out.stdout.splitlines()]
    assert names == list_readers()
