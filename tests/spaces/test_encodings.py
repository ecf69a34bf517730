"""Encodings: every registered kind is checked for shape and naming; hand-computed small cases."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_tools.spaces import encodings, nb101, nb201
from nasbench_tools.spaces.encodings import encode, encoding_columns, list_encodings
from nasbench_tools.spaces.nats_sss import SizeConfig
from nasbench_tools.spaces.nb101 import CONV1X1, CONV3X3, MAXPOOL3X3, ModelSpec
from nasbench_tools.spaces.nb201 import Arch

SPEC_A = ModelSpec([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", CONV3X3, "output"])
SPEC_B = ModelSpec(
    [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
    ["input", MAXPOOL3X3, CONV1X1, "output"],
)
SAMPLES = {
    "nb101": [SPEC_A, SPEC_B],
    "nb201": [Arch.from_index(i) for i in (0, 11, 284, 6111, 15624)],
    "nats-sss": [SizeConfig.from_index(i) for i in (0, 11, 284, 32767)],
}


@pytest.mark.parametrize("name", list_encodings())
def test_every_encoding_has_named_unique_columns_and_right_shape(name):
    space, kind = name.split(":")
    cols = encoding_columns(kind, space)
    assert len(cols) == len(set(cols)) > 0
    x = encode(SAMPLES[space], kind)
    assert x.shape == (len(SAMPLES[space]), len(cols))
    assert np.issubdtype(x.dtype, np.integer)
    np.testing.assert_array_equal(x, encode(SAMPLES[space], kind, space=space))
    # row i only depends on architecture i
    np.testing.assert_array_equal(x[1:2], encode(SAMPLES[space][1:2], kind))


def test_registry_lists_both_spaces():
    assert set(list_encodings("nb201")) == {"onehot", "categorical", "path"}
    assert set(list_encodings("nb101")) == {"onehot", "categorical", "path"}


def test_nb201_onehot_and_categorical_hand_case():
    a = Arch.from_ops(
        ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "none"]
    )
    cat = encode([a], "categorical")[0]
    assert cat.tolist() == [0, 1, 2, 3, 4, 0]
    oh = encode([a], "onehot")[0].reshape(6, 5)
    np.testing.assert_array_equal(oh, np.eye(5, dtype=int)[[0, 1, 2, 3, 4, 0]])
    cols = encoding_columns("onehot", "nb201")
    assert cols[:5] == [f"0->1={op}" for op in nb201.OPS]


def test_nb201_path_hand_cases():
    cols = encoding_columns("path", "nb201")
    conv = encode([Arch.from_ops(["nor_conv_3x3"] * 6)], "path")[0]
    on = {cols[i] for i in np.flatnonzero(conv)}
    assert on == {
        "path:nor_conv_3x3",
        "path:nor_conv_3x3>nor_conv_3x3",
        "path:nor_conv_3x3>nor_conv_3x3>nor_conv_3x3",
    }
    # the best arch: 0->3 skip; 0->1 conv3, 1->3 conv3; 0->2 conv3, 2->3 conv1; 0->1 conv3, 1->2 conv3, 2->3 conv1
    best = encode([Arch.from_index(6111)], "path")[0]
    on = {cols[i] for i in np.flatnonzero(best)}
    assert on == {
        "path:skip_connect",
        "path:nor_conv_3x3>nor_conv_3x3",
        "path:nor_conv_3x3>nor_conv_1x1",
        "path:nor_conv_3x3>nor_conv_3x3>nor_conv_1x1",
    }
    # a none edge kills every path through it
    dead = encode(
        [Arch.from_ops(["nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "none", "none", "none"])],
        "path",
    )
    assert dead.sum() == 0


def test_nb201_accepts_strings_and_indices():
    s = Arch.from_index(6111).to_string()
    np.testing.assert_array_equal(encode([6111, s], "onehot")[0], encode([6111, s], "onehot")[1])


def test_nb101_onehot_hand_case():
    x = encode([SPEC_B], "onehot")[0]
    cols = encoding_columns("onehot", "nb101")
    on = {cols[i] for i in np.flatnonzero(x)}
    # padded to 7 vertices: vertices 1, 2 keep their place, output moves to 6
    assert on == {
        "adj[0,1]",
        "adj[0,2]",
        "adj[1,6]",
        "adj[2,6]",
        f"v1={MAXPOOL3X3}",
        f"v2={CONV1X1}",
    }
    cat = encode([SPEC_B], "categorical")[0]
    assert cat[21:].tolist() == [2, 1, -1, -1, -1]


def test_nb101_path_hand_case():
    cols = encoding_columns("path", "nb101")
    x = encode([SPEC_A, SPEC_B], "path")
    assert {cols[i] for i in np.flatnonzero(x[0])} == {"path:(direct)", f"path:{CONV3X3}"}
    assert {cols[i] for i in np.flatnonzero(x[1])} == {f"path:{MAXPOOL3X3}", f"path:{CONV1X1}"}
    assert len(cols) == 364


def test_nb101_encodings_ignore_pruned_vertices():
    dangling = ModelSpec(
        [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
        ["input", CONV3X3, MAXPOOL3X3, "output"],
    )
    chain = ModelSpec([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", CONV3X3, "output"])
    for kind in list_encodings("nb101"):
        np.testing.assert_array_equal(encode([dangling], kind), encode([chain], kind))


def test_errors():
    with pytest.raises(ValueError, match=r"unknown encoding kind='adjacency'.*onehot"):
        encode([Arch.from_index(0)], "adjacency")
    with pytest.raises(ValueError, match="as an NB101 cell"):
        encode([Arch.from_index(0)], "onehot", space="nb101")
    with pytest.raises(Exception, match="several kinds"):
        encode([SPEC_A, Arch.from_index(0)], "onehot")
    bad = ModelSpec(np.eye(8, k=1, dtype=int), ["input"] + [CONV3X3] * 6 + ["output"])
    with pytest.raises(nb101.InvalidSpecError, match="8 vertices"):
        encode([bad], "path")
    with pytest.raises(ValueError, match="at least one"):
        encode([], "onehot")


def test_raw_indices_that_parse_in_two_spaces_need_space():
    with pytest.raises(ValueError, match=r"several spaces \(nats-sss, nb201\); pass space="):
        encode([5, 6], "onehot")
    np.testing.assert_array_equal(
        encode([5, 6], "onehot", space="nb201"),
        encode([Arch.from_index(5), Arch.from_index(6)], "onehot"),
    )


def test_register_twice_is_refused():
    from nasbench_tools.errors import NasbenchToolsError

    with pytest.raises(NasbenchToolsError, match="already registered"):
        encodings.register_encoding("onehot", "nb201", ["x"])(lambda archs: None)
