"""NB201 Arch: conversions against the real NATS-Bench index and NASLib's tuples, isomorphism classes."""

from __future__ import annotations

from collections import defaultdict
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasbench_tools.errors import InvalidArchError, NasbenchToolsError
from nasbench_tools.spaces import nb201
from nasbench_tools.spaces.nb201 import Arch

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_index_6111_is_the_best_cifar10_arch():
    assert Arch.from_index(6111).to_string() == BEST
    assert Arch.from_string(BEST).index == 6111


def test_every_index_round_trips_against_the_real_meta_file(nats_meta_archs):
    assert len(nats_meta_archs) == nb201.NUM_ARCHS == 15625
    for i, s in enumerate(nats_meta_archs):
        a = Arch.from_index(i)
        assert a.to_string() == s
        b = Arch.from_string(s)
        assert b == a and b.index == i
        assert Arch.from_ops(a.ops).index == i
        assert Arch.from_naslib(a.to_naslib()).index == i
    assert [a.to_string() for a in nb201.all_archs()] == nats_meta_archs
    np.testing.assert_array_equal(
        nb201.op_index_matrix(), [Arch.from_string(s).op_indices for s in nats_meta_archs]
    )


def test_naslib_tuples_match_nas_bench_suite_zero():
    """NASLib's op-index tuple and the NB201 index, as recorded side by side in the zero-cost data."""
    path = (
        resources.files("nasbench_tools.groundtruth")
        / "embedded"
        / "nb201_zc_suite_zero_725archs.csv.gz"
    )
    with resources.as_file(path) as p:
        df = pd.read_csv(p, usecols=["index", "arch_str", "naslib_op_indices"])
    assert len(df) > 2000
    for row in df.itertuples():
        t = tuple(int(v) for v in row.naslib_op_indices.strip("()").split(","))
        a = Arch.from_naslib(t)
        assert a.to_string() == row.arch_str
        assert a.index == row.index
        assert a.to_naslib() == t


def test_naslib_example_from_issue_144():
    # (4, 0, 3, 1, 4, 3) -> |a~0|+|b~0|d~1|+|c~0|e~1|f~2| with NASLib's op order
    a = Arch.from_naslib((4, 0, 3, 1, 4, 3))
    assert (
        a.to_string()
        == "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|"
    )


def test_unique_str_gives_6466_classes():
    classes = {a.unique_str() for a in nb201.all_archs()}
    assert len(classes) == 6466


def test_unique_str_matches_nats_bench_for_every_arch():
    genotype_utils = pytest.importorskip("nats_bench.genotype_utils")
    for a in nb201.all_archs():
        theirs = genotype_utils.topology_str2structure(a.to_string()).to_unique_str(
            consider_zero=True
        )
        assert a.unique_str() == theirs


def test_unique_str_example_of_index_0():
    # the value NATS-Bench's get_unique_str returns for index 0
    assert (
        Arch.from_index(0).unique_str()
        == "(0)@avg_pool_3x3+(0)@avg_pool_3x3+(0)@nor_conv_1x1+(0)@nor_conv_1x1"
    )


def test_functional_str_is_coarser_than_unique_str():
    groups = defaultdict(set)
    for a in nb201.all_archs():
        groups[a.unique_str()].add(a.functional_str())
    assert all(len(v) == 1 for v in groups.values())
    assert len({f for v in groups.values() for f in v}) == 5390


def test_functional_str_merges_a_zero_term():
    # node 3 = conv1x1(node 1) with node 1 = conv3x3(x), against the same chain through node 2,
    # whose other input is a none edge: NATS-Bench keeps the zero term, the function does not
    a = Arch.from_ops(["nor_conv_3x3", "none", "none", "none", "nor_conv_1x1", "none"])
    b = Arch.from_ops(["nor_conv_3x3", "nor_conv_3x3", "none", "none", "none", "nor_conv_1x1"])
    assert a.unique_str() != b.unique_str()
    assert a.functional_str() == "((0)@nor_conv_3x3)@nor_conv_1x1"
    assert b.functional_str() == "((0)@nor_conv_3x3)@nor_conv_1x1"


def test_disconnected_cells():
    assert sum(not a.is_connected for a in nb201.all_archs()) == 341
    assert not Arch.from_ops(
        ["nor_conv_3x3", "nor_conv_3x3", "none", "none", "none", "none"]
    ).is_connected


def test_to_dag():
    a = Arch.from_string(BEST)
    m, labels = a.to_dag()
    assert labels == ["input", *a.ops, "output"]
    assert m.shape == (8, 8) and not np.tril(m).any()
    # edges 0->1, 0->2, 0->3 read the input; 0->3, 1->3, 2->3 feed the output
    assert m[0, 1:7].tolist() == [1, 1, 0, 1, 0, 0]
    assert m[1:7, 7].tolist() == [0, 0, 0, 1, 1, 1]
    # op on 0->1 feeds every op leaving node 1: 1->2 (vertex 3) and 1->3 (vertex 5)
    assert np.flatnonzero(m[1]).tolist() == [3, 5]
    pruned, plabels = Arch.from_ops(
        ["nor_conv_3x3", "none", "skip_connect", "none", "none", "nor_conv_1x1"]
    ).to_dag(prune_none=True)
    assert plabels == ["input", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "output"]
    np.testing.assert_array_equal(
        pruned,
        [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]],
    )


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("|none~0|+|none~0|none~1|", "2 node blocks"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "must start and end with '|'"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node block 2 .* has 1 inputs, expected 2"),
        ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", r"entry 'none~2' in node block 2"),
        ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "must read 'op~0'"),
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_5x5'"),
        ("", "1 node blocks"),
    ],
)
def test_malformed_strings(text, message):
    with pytest.raises(InvalidArchError, match=message) as info:
        Arch.from_string(text)
    assert isinstance(info.value, NasbenchToolsError)


@pytest.mark.parametrize("index", [-1, 15625, 10**9])
def test_out_of_range_index(index):
    with pytest.raises(InvalidArchError, match=rf"index {index} out of range; expected 0..15624"):
        Arch.from_index(index)


@pytest.mark.parametrize("index", [True, 1.0, "3"])
def test_non_integer_index(index):
    with pytest.raises(InvalidArchError, match="must be an int"):
        Arch.from_index(index)


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ([0, 1, 2], "6 edges, got 3"),
        ([0, 1, 2, 3, 4, 5], "op index 5"),
        (["none"] * 5 + ["conv"], "unknown op 'conv'"),
        ("none", "got the string"),
    ],
)
def test_bad_op_tuples(ops, message):
    with pytest.raises(InvalidArchError, match=message):
        Arch.from_ops(ops)


def test_bad_naslib_tuple():
    with pytest.raises(InvalidArchError, match="NASLib op index 7"):
        Arch.from_naslib((0, 0, 0, 0, 0, 7))


def test_parse_dispatches_on_type():
    assert (
        Arch.parse(6111)
        == Arch.parse("6111")
        == Arch.parse(BEST)
        == Arch.parse(Arch.from_index(6111))
    )
    with pytest.raises(InvalidArchError):
        Arch.parse(3.5)


# ----------------------------------------------------------------------------- properties
ops_tuples = st.lists(st.integers(0, 4), min_size=6, max_size=6)


@settings(max_examples=300, deadline=None)
@given(ops_tuples)
def test_conversions_round_trip(ops):
    a = Arch.from_ops(ops)
    assert Arch.from_string(a.to_string()) == a
    assert Arch.from_index(a.index) == a
    assert Arch.from_naslib(a.to_naslib()) == a
    assert Arch.from_ops(a.ops) == a
    assert hash(Arch.from_string(a.to_string())) == hash(a)


@settings(max_examples=200, deadline=None)
@given(ops_tuples)
def test_swapping_the_two_middle_nodes_preserves_functional_str(ops):
    """Nodes 1 and 2 are interchangeable when node 2 does not read node 1 (edge 1->2 is none)."""
    o = list(ops)
    o[2] = 0  # 1->2 = none
    swapped = [o[1], o[0], 0, o[3], o[5], o[4]]
    assert Arch.from_ops(o).functional_str() == Arch.from_ops(swapped).functional_str()


@settings(max_examples=200, deadline=None)
@given(ops_tuples)
def test_skip_chain_equals_direct_edge_under_unique_str(ops):
    """x -> skip -> node 1 -> op -> node 3 is the same term as op applied to x (NATS-Bench semantics)."""
    o = list(ops)
    op = o[4] if o[4] not in (0, 1) else 3
    a = Arch.from_ops([1, 0, 0, op, 0, 0])  # node1 = x; node3 = op(x) + 0 + 0
    b = Arch.from_ops([1, 0, 0, 0, op, 0])  # node1 = x; node3 = 0 + op(node1) + 0
    assert a.unique_str() == b.unique_str()
