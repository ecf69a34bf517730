"""The pool a search proposes from: codes, one-edit mutation, neighbourhoods, samplers."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_tools.search import SAMPLERS, Domain, SearchError
from nasbench_tools.spaces import get_space, list_spaces
from nasbench_tools.spaces.nb201 import OPS, Arch, isomorphism_class_ids, op_index_matrix

from .conftest import space_axis


@pytest.fixture(scope="module")
def nb201() -> Domain:
    return Domain("nb201", np.arange(15625))


def test_nb201_codes_are_the_op_of_each_edge(nb201):
    np.testing.assert_array_equal(nb201.codes, op_index_matrix())
    assert nb201.is_product and nb201.variables == ("0->1", "0->2", "1->2", "0->3", "1->3", "2->3")


@pytest.mark.parametrize("space", list_spaces())
def test_every_space_gets_a_domain_whose_codes_find_their_rows(space):
    keys, specs = space_axis(space)
    archs = None if specs is None else [specs.spec(i) for i in range(len(keys))]
    d = Domain(space, keys, archs)
    rows = np.random.default_rng(0).choice(len(d), min(200, len(d)), replace=False)
    for r in rows:
        assert d.row_of_codes(d.codes[r]) == r
    assert d.is_product == (get_space(space).all_keys() is not None)


def test_mutate_changes_exactly_one_edge_to_another_op_uniformly(nb201):
    rng = np.random.default_rng(0)
    parent = Arch.from_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    ).index
    counts: dict[int, int] = {}
    n = 24_000
    for _ in range(n):
        child = nb201.mutate(parent, rng)
        diff = np.flatnonzero(nb201.codes[child] != nb201.codes[parent])
        assert diff.size == 1
        counts[child] = counts.get(child, 0) + 1
    assert len(counts) == 6 * 4  # every one-edit neighbour, nothing else
    expected = n / 24
    assert max(abs(c - expected) for c in counts.values()) < 5 * np.sqrt(expected)


def test_neighbours_are_every_one_edit_change(nb201):
    ops = op_index_matrix()
    for row in (0, 6111, 15624):
        got = set(nb201.neighbours(row).tolist())
        brute = {int(i) for i in np.flatnonzero((ops != ops[row]).sum(axis=1) == 1)}
        assert got == brute and len(got) == 24


def test_sample_pools_use_the_nearest_members():
    # keys whose codes differ from row 0 by 1 edge (two of them) and by 2 edges
    base = np.array([0, 0, 0, 0, 0, 0])
    codes = [base, [1, 0, 0, 0, 0, 0], [0, 2, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [4, 4, 4, 0, 0, 0]]
    keys = [Arch(c).index for c in codes]
    order = np.argsort(keys)
    d = Domain("nb201", np.asarray(keys)[order])
    row = {k: i for i, k in enumerate(d.keys.tolist())}
    r0 = row[keys[0]]
    assert not d.is_product
    assert set(d.neighbours(r0).tolist()) == {row[keys[1]], row[keys[2]]}
    far = row[keys[4]]  # nothing at distance 1: the nearest (distance 2: keys[3]? no, 3 edges)
    dist = (d.codes != d.codes[far]).sum(axis=1)
    dist[far] = 99
    assert set(d.neighbours(far).tolist()) == set(np.flatnonzero(dist == dist.min()).tolist())
    rng = np.random.default_rng(0)
    assert {d.mutate(r0, rng) for _ in range(200)} == {row[keys[1]], row[keys[2]]}


def test_single_member_pool_mutates_to_itself():
    d = Domain("nb201", [5])
    assert d.mutate(0, np.random.default_rng(0)) == 0
    assert d.neighbours(0).size == 0


def test_classes_sampler_has_one_row_per_isomorphism_class(nb201):
    rows, text = nb201.sampler_rows("classes")
    ids = isomorphism_class_ids()
    assert len(rows) == 6466 == len(np.unique(ids))
    assert len(np.unique(ids[rows])) == 6466
    # each class's member with the smallest index
    first = {}
    for i, c in enumerate(ids.tolist()):
        first.setdefault(c, i)
    assert sorted(first.values()) == sorted(rows.tolist())
    assert "6,466 isomorphism classes" in text


def _naslib_is_valid(op_indices):
    """NASLib's sample_random_architecture acceptance test (naslib/search_spaces/nasbench201/
    graph.py), on its own op-index tuple (op 1 = 'none')."""
    return not (
        (op_indices[0] == op_indices[1] == op_indices[2] == 1)
        or (op_indices[2] == op_indices[4] == op_indices[5] == 1)
    )


def test_naslib_sampler_accepts_what_naslib_accepts(nb201):
    rows, text = nb201.sampler_rows("naslib")
    want = [i for i in range(15625) if _naslib_is_valid(Arch.from_index(i).to_naslib())]
    assert rows.tolist() == want
    assert f"{15625 - len(want):,} cells" in text


def test_naslib_sampler_is_nb201_only():
    d = Domain("nats-sss", np.arange(10))
    with pytest.raises(SearchError, match="applies to space 'nb201' only"):
        d.sampler_rows("naslib")


def test_uniform_sampler_is_every_row(nb201):
    rows, text = nb201.sampler_rows("uniform")
    assert rows.tolist() == list(range(15625)) and "all 15,625" in text


def test_unknown_sampler_lists_the_known():
    d = Domain("nb201", np.arange(10))
    with pytest.raises(SearchError, match="known: " + ", ".join(SAMPLERS.names())):
        d.sampler_rows("sobol")


def test_key_outside_the_pool_is_named():
    d = Domain("nb201", [1, 2, 3])
    assert d.row_of_key(2) == 1
    with pytest.raises(SearchError, match="architecture 7 is not in"):
        d.row_of_key(7)


def test_domain_refuses_an_empty_pool():
    with pytest.raises(SearchError, match="non-empty"):
        Domain("nb201", [])


def test_encode_matches_the_registered_encoding(nb201):
    from nasbench_tools.spaces.encodings import encode

    x = nb201.encode("onehot")
    np.testing.assert_array_equal(x[:50], encode(list(range(50)), "onehot", space="nb201"))
    assert x.shape == (15625, 6 * len(OPS))
