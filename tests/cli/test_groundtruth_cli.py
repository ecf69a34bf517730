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
