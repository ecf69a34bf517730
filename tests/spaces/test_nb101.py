"""NB101 ModelSpec: pruning, validity and the official module hash, against real records."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasbench_tools.errors import InvalidSpecError, NasbenchToolsError
from nasbench_tools.spaces.nb101 import CONV1X1, CONV3X3, MAXPOOL3X3, ModelSpec

IN, OUT = "input", "output"


# ----------------------------------------------------------------------------- real oracles
def test_real_records_hash_to_their_keys(nb101_dummy):
    """The 30 real NB101 records (NASLib's nasbench_only108.pkl format) hash to their own keys."""
    assert len(nb101_dummy) == 30
    for key, (fixed, _computed) in nb101_dummy.items():
        spec = ModelSpec(fixed["module_adjacency"], fixed["module_operations"])
        assert spec.is_valid
        assert spec.hash == key


def test_zero_cost_specs_prune_to_the_292_hashes_of_the_csv():
    """NAS-Bench-Suite-Zero's 500 unpruned NB101 specs prune and hash to the CSV's module_hash column."""
    path = resources.files("nasbench_tools.groundtruth") / "embedded" / "nb101_zc_500archs.csv.gz"
    with resources.as_file(path) as p:
        df = pd.read_csv(p, dtype={"matrix_7x7_rowmajor": str})
    assert len(df) == 500
    hashes = []
    for row in df.itertuples():
        spec = ModelSpec.from_string(row.matrix_7x7_rowmajor, row.ops)
        assert spec.is_valid
        hashes.append(spec.hash)
    assert hashes == df["module_hash"].tolist()
    assert len(set(hashes)) == 292


def test_readme_example_hash():
    """The example cell of the nasbench README; the hash other NB101 code bases quote for it."""
    matrix = [
        [0, 1, 1, 1, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
    ]
    ops = [IN, CONV1X1, CONV3X3, CONV3X3, CONV3X3, MAXPOOL3X3, OUT]
    spec = ModelSpec(matrix, ops)
    assert spec.is_valid and spec.num_edges == 9 and spec.num_vertices == 7
    assert spec.hash == "28cfc7874f6d200472e1a9dcd8650aa0"


# ----------------------------------------------------------------------------- pruning cases
def test_prune_noop():
    m = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    spec = ModelSpec(m, [IN, CONV3X3, OUT])
    np.testing.assert_array_equal(spec.matrix, m)
    assert spec.ops == (IN, CONV3X3, OUT)
    np.testing.assert_array_equal(spec.original_matrix, m)


def test_prune_islands():
    # vertex 2 has no edges at all
    m = [[0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    spec = ModelSpec(m, [IN, CONV3X3, MAXPOOL3X3, OUT])
    np.testing.assert_array_equal(spec.matrix, [[0, 1, 0], [0, 0, 1], [0, 0, 0]])
    assert spec.ops == (IN, CONV3X3, OUT)
    assert spec.original_ops == (IN, CONV3X3, MAXPOOL3X3, OUT)
    assert spec.is_valid


def test_prune_dangling():
    # vertex 2 is fed by the input but feeds nothing; vertex 3 feeds the output but is fed by nothing
    m = [
        [0, 1, 1, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
    ]
    spec = ModelSpec(m, [IN, CONV3X3, CONV1X1, MAXPOOL3X3, OUT])
    np.testing.assert_array_equal(spec.matrix, [[0, 1, 0], [0, 0, 1], [0, 0, 0]])
    assert spec.ops == (IN, CONV3X3, OUT)
    # pruning dangling vertices does not change the identity
    assert spec.hash == ModelSpec([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [IN, CONV3X3, OUT]).hash


def test_prune_disconnected_is_invalid_not_an_exception():
    m = [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    spec = ModelSpec(m, [IN, CONV3X3, CONV3X3, OUT])
    assert not spec.connected
    assert not spec.is_valid
    assert spec.matrix is None and spec.ops is None
    assert "does not reach" in spec.invalid_reason
    with pytest.raises(InvalidSpecError, match="disconnected"):
        _ = spec.hash


def test_more_than_9_edges_before_pruning_but_not_after_is_valid():
    # 7 vertices, 11 edges; vertex 5 feeds nothing, so its 3 in-edges and 0 out-edges are pruned
    m = np.zeros((7, 7), dtype=int)
    for i, j in [
        (0, 1),
        (0, 2),
        (1, 2),
        (1, 3),
        (2, 3),
        (3, 4),
        (4, 6),
        (0, 5),
        (1, 5),
        (2, 5),
        (3, 6),
    ]:
        m[i, j] = 1
    spec = ModelSpec(m, [IN, CONV3X3, CONV1X1, CONV3X3, MAXPOOL3X3, CONV1X1, OUT])
    assert m.sum() == 11
    assert spec.num_edges == 8
    assert spec.num_vertices == 6
    assert spec.is_valid


def test_more_than_9_edges_after_pruning_is_invalid():
    m = np.triu(np.ones((6, 6), dtype=int), k=1)  # 15 edges, all vertices on paths
    spec = ModelSpec(m, [IN, CONV3X3, CONV3X3, CONV3X3, CONV3X3, OUT])
    assert spec.connected and not spec.is_valid
    assert "15 edges" in spec.invalid_reason


def test_more_than_7_vertices_before_pruning_but_not_after_is_valid():
    m = np.zeros((9, 9), dtype=int)
    for i in range(3):
        m[i, i + 1] = 1
    m[3, 8] = 1
    m[0, 5] = m[5, 6] = m[6, 7] = 1  # a branch that never reaches the output
    ops = [IN, CONV3X3, CONV3X3, CONV3X3, MAXPOOL3X3, CONV1X1, CONV1X1, CONV1X1, OUT]
    spec = ModelSpec(m, ops)
    assert spec.num_vertices == 5 and spec.is_valid


def test_more_than_7_vertices_after_pruning_is_invalid():
    n = 8
    m = np.eye(n, k=1, dtype=int)
    spec = ModelSpec(m, [IN] + [CONV3X3] * (n - 2) + [OUT])
    assert spec.connected and not spec.is_valid
    assert "8 vertices" in spec.invalid_reason


def test_input_straight_to_output_is_valid():
    spec = ModelSpec([[0, 1], [0, 0]], [IN, OUT])
    assert spec.is_valid and spec.num_vertices == 2 and len(spec.hash) == 32


# ----------------------------------------------------------------------------- malformed specs
@pytest.mark.parametrize(
    ("matrix", "ops", "message"),
    [
        ([[0, 1, 0], [0, 0, 1]], [IN, CONV3X3, OUT], "square"),
        ([[0, 1], [1, 0]], [IN, OUT], r"upper-triangular.*\[1, 0\]"),
        ([[1, 1], [0, 0]], [IN, OUT], r"upper-triangular.*\[0, 0\]"),
        ([[0, 2], [0, 0]], [IN, OUT], "0 or 1"),
        ([[0, 1], [0, 0]], [IN, CONV3X3, OUT], "3 ops given for a 2x2"),
        (
            [[0, 1, 0], [0, 0, 1], [0, 0, 0]],
            [IN, "conv5x5", OUT],
            "unknown op 'conv5x5' at vertex 1",
        ),
        ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [CONV3X3, CONV3X3, OUT], "first op must be 'input'"),
        ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [IN, CONV3X3, CONV3X3], "last op must be 'output'"),
        ([[0]], [IN], "at least an input and an output"),
        ([[0, 1], [0, 0]], "input,output", "not a single string"),
    ],
)
def test_malformed_specs_raise_invalid_spec_error(matrix, ops, message):
    with pytest.raises(InvalidSpecError, match=message) as info:
        ModelSpec(matrix, ops)
    assert isinstance(info.value, NasbenchToolsError)


def test_from_string_rejects_non_square_adjacency():
    with pytest.raises(InvalidSpecError, match="length 5"):
        ModelSpec.from_string("01000", "input,output")


def test_original_is_read_only():
    spec = ModelSpec([[0, 1], [0, 0]], [IN, OUT])
    with pytest.raises(ValueError):
        spec.original_matrix[0, 1] = 0


# ----------------------------------------------------------------------------- properties
@st.composite
def valid_specs(draw):
    n = draw(st.integers(2, 7))
    bits = draw(st.lists(st.booleans(), min_size=n * (n - 1) // 2, max_size=n * (n - 1) // 2))
    m = np.zeros((n, n), dtype=int)
    m[np.triu_indices(n, 1)] = bits
    ops = [
        IN,
        *draw(
            st.lists(
                st.sampled_from([CONV3X3, CONV1X1, MAXPOOL3X3]), min_size=n - 2, max_size=n - 2
            )
        ),
        OUT,
    ]
    spec = ModelSpec(m, ops)
    from hypothesis import assume

    assume(spec.is_valid)
    return spec


def _random_topological_relabel(spec: ModelSpec, rng: np.random.Generator) -> ModelSpec:
    """Renumber the original vertices along a random topological order (input first, output last)."""
    m = spec.original_matrix.astype(int)
    n = m.shape[0]
    indeg = m.sum(axis=0).copy()
    order = [0]
    ready = [v for v in range(1, n - 1) if indeg[v] - m[0, v] == 0]
    indeg -= m[0]
    while ready:
        v = ready.pop(int(rng.integers(len(ready))))
        order.append(v)
        for w in np.flatnonzero(m[v]):
            indeg[w] -= 1
            if indeg[w] == 0 and w != n - 1:
                ready.append(int(w))
    order.append(n - 1)
    assert sorted(order) == list(range(n))
    pos = np.argsort(order)  # old vertex -> new position
    new = np.zeros_like(m)
    for i, j in zip(*np.nonzero(m)):
        new[pos[i], pos[j]] = 1
    ops = [spec.original_ops[v] for v in order]
    return ModelSpec(new, ops)


@settings(max_examples=150, deadline=None)
@given(valid_specs(), st.integers(0, 2**32 - 1))
def test_valid_relabellings_hash_alike(spec, seed):
    other = _random_topological_relabel(spec, np.random.default_rng(seed))
    assert other.is_valid
    assert other.hash == spec.hash
    assert other == spec


@settings(max_examples=100, deadline=None)
@given(valid_specs())
def test_string_and_dict_round_trips(spec):
    adjacency = "".join(map(str, spec.original_matrix.ravel()))
    again = ModelSpec.from_string(adjacency, ",".join(spec.original_ops))
    np.testing.assert_array_equal(again.original_matrix, spec.original_matrix)
    assert again.original_ops == spec.original_ops
    assert ModelSpec.from_dict(spec.to_dict()).hash == spec.hash
    padded, ops = spec.padded()
    assert ModelSpec(padded, [o if o != "none" else CONV3X3 for o in ops]).hash == spec.hash
