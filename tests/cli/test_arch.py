"""`nbt arch`: conversion and canonicalisation from the command line."""

from __future__ import annotations

import json

import pytest

from nasbench_tools.cli.__main__ import main

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def _run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_arch_by_index_json(capsys):
    rc, out, _ = _run(capsys, "arch", "6111", "--json")
    assert rc == 0
    info = json.loads(out)
    assert info["arch_str"] == BEST
    assert info["naslib_op_indices"] == [2, 2, 0, 2, 2, 3]
    assert info["isomorphism_class_size"] == 1


@pytest.mark.parametrize(
    "argv",
    [
        [BEST],
        ["nor_conv_3x3,nor_conv_3x3,nor_conv_3x3,skip_connect,nor_conv_3x3,nor_conv_1x1"],
        ["--naslib", "(2, 2, 0, 2, 2, 3)"],
    ],
)
def test_every_input_form_gives_the_same_index(capsys, argv):
    rc, out, _ = _run(capsys, "arch", *argv, "--json")
    assert rc == 0 and json.loads(out)["index"] == 6111


def test_isomorphism_class_of_index_0(capsys):
    _rc, out, _ = _run(capsys, "arch", "0", "--json", "--encode", "categorical")
    info = json.loads(out)
    assert info["isomorphism_class_size"] == 8
    assert info["encoding:categorical"] == [4, 2, 1, 2, 1, 1]


def test_nb101(capsys):
    _rc, out, _ = _run(
        capsys,
        "arch",
        "--json",
        "--matrix",
        "0111101000001100000010000110000001100000000000000",
        "--ops",
        "input,maxpool3x3,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,output",
    )
    info = json.loads(out)
    assert info["module_hash"] == "4a0ab8bbe2441a002e07b0f445ec2d63"
    assert info["vertices"] == 6 and info["is_valid"]


def test_bad_input_is_a_clean_error(capsys):
    rc, _out, err = _run(capsys, "arch", "99999")
    assert rc == 2
    assert "index 99999 out of range" in err and "Traceback" not in err
    rc, _out, err = _run(capsys, "arch", "--matrix", "0110", "--ops", "input,output")
    assert rc == 2 and "upper-triangular" in err


def test_table_output(capsys):
    rc, out, _ = _run(capsys, "arch", "6111")
    assert rc == 0 and "unique_str" in out and BEST in out
