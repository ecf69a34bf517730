"""NAS-Bench-101 cell specs: validation, pruning and the official module hash.

A cell is a DAG over at most 7 vertices given as an upper-triangular 0/1 adjacency matrix and a
list of vertex labels (``input``, interior ops, ``output``). :class:`ModelSpec` follows Google's
``nasbench`` semantics exactly (``nasbench/lib/model_spec.py``, ``graph_util.py`` and
``api.NASBench._check_spec``), without TensorFlow:

* construction validates the *form* (square, 0/1, upper-triangular, known labels, ``input`` first,
  ``output`` last) and raises :class:`~nasbench_tools.errors.InvalidSpecError` otherwise;
* vertices that are not on an input-to-output path are pruned; the original matrix and ops are
  kept next to the pruned ones;
* :attr:`ModelSpec.is_valid` applies the benchmark's limits (7 vertices, 9 edges) to the **pruned**
  graph, and is ``False`` for a graph whose input does not reach its output;
* :attr:`ModelSpec.hash` is the benchmark's module hash of the pruned graph, so it equals the key
  of the same cell in ``nasbench_only108.tfrecord``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from ..errors import InvalidArchError, InvalidSpecError, UnknownArchError
from .base import Space, register_space

__all__ = [
    "CONV1X1",
    "CONV3X3",
    "INPUT",
    "MAXPOOL3X3",
    "MAX_EDGES",
    "MAX_VERTICES",
    "OPS",
    "OUTPUT",
    "ModelSpec",
    "module_hash",
]

INPUT = "input"
OUTPUT = "output"
CONV3X3 = "conv3x3-bn-relu"
CONV1X1 = "conv1x1-bn-relu"
MAXPOOL3X3 = "maxpool3x3"
#: Interior ops in the order the official hash labels them (label = position in this tuple).
OPS: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)
MAX_VERTICES = 7
MAX_EDGES = 9

_LABEL = {op: i for i, op in enumerate(OPS)}


def module_hash(matrix: np.ndarray, labels: Sequence[int]) -> str:
    """The NAS-Bench-101 module hash (``graph_util.hash_module``) of an already pruned graph.

    Parameters
    ----------
    matrix : (V, V) array of 0/1
        Upper-triangular adjacency matrix.
    labels : sequence of int
        ``-1`` for the input, ``-2`` for the output, and the index of the op in :data:`OPS` for
        interior vertices.

    Returns
    -------
    str
        32 hex digits: an MD5 over iterated neighbourhood hashes (a Weisfeiler-Lehman refinement),
        equal for isomorphic labelled graphs.
    """
    m = np.asarray(matrix)
    n = m.shape[0]
    # Python ints, so that str((out, in, label)) is "(1, 0, -1)" and not numpy's repr.
    in_deg = [int(v) for v in m.sum(axis=0)]
    out_deg = [int(v) for v in m.sum(axis=1)]
    hashes = [
        hashlib.md5(str((out_deg[v], in_deg[v], int(labels[v]))).encode()).hexdigest()
        for v in range(n)
    ]
    preds = [[w for w in range(n) if m[w, v]] for v in range(n)]
    succs = [[w for w in range(n) if m[v, w]] for v in range(n)]
    for _ in range(n):
        hashes = [
            hashlib.md5(
                (
                    "".join(sorted(hashes[w] for w in preds[v]))
                    + "|"
                    + "".join(sorted(hashes[w] for w in succs[v]))
                    + "|"
                    + hashes[v]
                ).encode()
            ).hexdigest()
            for v in range(n)
        ]
    return hashlib.md5(str(sorted(hashes)).encode()).hexdigest()


def _as_matrix(matrix) -> np.ndarray:
    try:
        m = np.asarray(matrix)
    except Exception as exc:  # ragged nested lists and the like
        raise InvalidSpecError(f"adjacency matrix is not an array: {exc}") from exc
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise InvalidSpecError(f"adjacency matrix must be square, got shape {m.shape}")
    if m.shape[0] < 2:
        raise InvalidSpecError(
            f"a cell needs at least an input and an output vertex, got {m.shape[0]}"
        )
    if m.dtype == bool:
        m = m.astype(np.int8)
    if not np.issubdtype(m.dtype, np.number) or not np.isin(m, (0, 1)).all():
        raise InvalidSpecError("adjacency matrix entries must be 0 or 1")
    m = m.astype(np.int8)
    if np.tril(m).any():
        i, j = map(int, np.argwhere(np.tril(m))[0])
        raise InvalidSpecError(
            f"adjacency matrix must be strictly upper-triangular (a DAG in topological order); "
            f"entry [{i}, {j}] is set"
        )
    return m


def _check_ops(ops: Sequence[str], n: int) -> list[str]:
    if isinstance(ops, str):
        raise InvalidSpecError("ops must be a sequence of labels, not a single string")
    ops = list(ops)
    if len(ops) != n:
        raise InvalidSpecError(f"{len(ops)} ops given for a {n}x{n} adjacency matrix")
    if ops[0] != INPUT:
        raise InvalidSpecError(f"the first op must be {INPUT!r}, got {ops[0]!r}")
    if ops[-1] != OUTPUT:
        raise InvalidSpecError(f"the last op must be {OUTPUT!r}, got {ops[-1]!r}")
    for v, op in enumerate(ops[1:-1], start=1):
        if op not in _LABEL:
            raise InvalidSpecError(f"unknown op {op!r} at vertex {v}; expected one of {list(OPS)}")
    return ops


def _reach(m: np.ndarray, start: int, forward: bool) -> set[int]:
    seen, stack = {start}, [start]
    while stack:
        v = stack.pop()
        nbrs = np.flatnonzero(m[v] if forward else m[:, v])
        for w in map(int, nbrs):
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


class ModelSpec:
    """A NAS-Bench-101 cell: adjacency matrix plus vertex labels, validated and pruned.

    Parameters
    ----------
    matrix : (V, V) array-like of 0/1
        Upper-triangular adjacency; ``matrix[i, j] = 1`` is an edge ``i -> j``.
    ops : sequence of str
        ``V`` labels, ``"input"`` first and ``"output"`` last, interior labels from :data:`OPS`.

    Attributes
    ----------
    original_matrix, original_ops
        The spec exactly as given.
    matrix, ops
        The pruned spec (only vertices on an input-to-output path), or ``None`` when the input does
        not reach the output.
    connected : bool
        Whether the input reaches the output (``nasbench``'s ``valid_spec``).

    Examples
    --------
    >>> spec = ModelSpec([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])
    >>> spec.is_valid, spec.num_vertices, spec.num_edges
    (True, 3, 3)
    """

    def __init__(self, matrix, ops: Sequence[str]):
        m = _as_matrix(matrix)
        ops = _check_ops(ops, m.shape[0])
        self.original_matrix = m.copy()
        self.original_matrix.setflags(write=False)
        self.original_ops = tuple(ops)
        n = m.shape[0]
        keep = sorted(_reach(m, 0, True) & _reach(m, n - 1, False))
        if 0 not in keep or (n - 1) not in keep:
            self.connected = False
            self.matrix = None
            self.ops = None
            return
        self.connected = True
        pruned = m[np.ix_(keep, keep)].copy()
        pruned.setflags(write=False)
        self.matrix = pruned
        self.ops = tuple(ops[v] for v in keep)

    # ------------------------------------------------------------------ identity
    @property
    def num_vertices(self) -> int | None:
        """Vertices of the pruned graph (``None`` if disconnected)."""
        return None if self.matrix is None else int(self.matrix.shape[0])

    @property
    def num_edges(self) -> int | None:
        """Edges of the pruned graph (``None`` if disconnected)."""
        return None if self.matrix is None else int(self.matrix.sum())

    @property
    def labels(self) -> list[int] | None:
        """Hash labels of the pruned vertices: -1 input, -2 output, else the index in :data:`OPS`."""
        if self.ops is None:
            return None
        return [-1] + [_LABEL[op] for op in self.ops[1:-1]] + [-2]

    @property
    def is_valid(self) -> bool:
        """In the NAS-Bench-101 space: connected, and the pruned graph has <= 7 vertices and <= 9 edges."""
        return self.invalid_reason is None

    @property
    def invalid_reason(self) -> str | None:
        """Why the spec is outside the benchmark's space, or ``None`` if it is inside."""
        if not self.connected:
            return "the input does not reach the output"
        if self.num_vertices > MAX_VERTICES:
            return f"{self.num_vertices} vertices after pruning (at most {MAX_VERTICES})"
        if self.num_edges > MAX_EDGES:
            return f"{self.num_edges} edges after pruning (at most {MAX_EDGES})"
        return None

    @cached_property
    def hash(self) -> str:
        """Official NAS-Bench-101 module hash of the pruned graph (the benchmark's key).

        Raises :class:`InvalidSpecError` for a disconnected spec, which has no hash.
        """
        if not self.connected:
            raise InvalidSpecError(
                f"{self!r} is disconnected (input does not reach output): no hash"
            )
        return module_hash(self.matrix, self.labels)

    def is_isomorphic(self, other: ModelSpec) -> bool:
        """True if both pruned graphs are isomorphic as labelled DAGs (equal module hashes)."""
        if not (self.connected and other.connected):
            return False
        return self.hash == other.hash

    # ------------------------------------------------------------------ conversions
    def padded(self, num_vertices: int = MAX_VERTICES) -> tuple[np.ndarray, list[str]]:
        """The pruned spec padded to ``num_vertices`` by inserting isolated vertices before the output.

        Padding vertices are labelled ``"none"``. This is the fixed-size form the encodings use.
        """
        if self.matrix is None:
            raise InvalidSpecError(f"{self!r} is disconnected: nothing to pad")
        n = self.num_vertices
        if n > num_vertices:
            raise InvalidSpecError(
                f"spec has {n} vertices after pruning, cannot pad to {num_vertices}"
            )
        out = np.zeros((num_vertices, num_vertices), dtype=np.int8)
        out[: n - 1, : n - 1] = self.matrix[: n - 1, : n - 1]
        out[: n - 1, num_vertices - 1] = self.matrix[: n - 1, n - 1]
        ops = [*self.ops[:-1], *(["none"] * (num_vertices - n)), OUTPUT]
        return out, ops

    def to_dict(self) -> dict:
        """JSON-friendly form of the original spec."""
        return {"matrix": self.original_matrix.tolist(), "ops": list(self.original_ops)}

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        return cls(d["matrix"], d["ops"])

    @classmethod
    def from_string(cls, adjacency: str, operations: str) -> ModelSpec:
        """From the NB101 tfrecord's text fields: a row-major '0'/'1' string and comma-joined ops."""
        if not isinstance(adjacency, str) or not isinstance(operations, str):
            raise InvalidSpecError(
                "ModelSpec.from_string expects two strings (adjacency bits, comma-joined ops), got "
                f"{type(adjacency).__name__} and {type(operations).__name__}"
            )
        n = round(len(adjacency) ** 0.5)
        if n * n != len(adjacency) or set(adjacency) - {"0", "1"}:
            raise InvalidSpecError(
                f"adjacency string of length {len(adjacency)} is not a square 0/1 matrix"
            )
        m = np.frombuffer(adjacency.encode(), dtype=np.uint8).reshape(n, n) - ord("0")
        return cls(m, operations.split(","))

    # ------------------------------------------------------------------ dunder
    def __eq__(self, other) -> bool:
        """Specs are equal when their pruned graphs are isomorphic (same benchmark entry)."""
        if not isinstance(other, ModelSpec):
            return NotImplemented
        if not (self.connected and other.connected):
            return self.original_ops == other.original_ops and np.array_equal(
                self.original_matrix, other.original_matrix
            )
        return self.hash == other.hash

    def __hash__(self) -> int:
        return hash(self.hash) if self.connected else hash(self.original_ops)

    def __repr__(self) -> str:
        rows = ",".join("".join(map(str, r)) for r in self.original_matrix.tolist())
        return f"ModelSpec(matrix='{rows}', ops={list(self.original_ops)})"


# --------------------------------------------------------------------------- the Space
class NB101Space(Space):
    """NAS-Bench-101: 423,624 cells keyed by their module hash (isomorphic cells share a key)."""

    name = "nb101"
    title = "NAS-Bench-101"
    key_kind = "hash"
    key_column = "module_hash"
    size = 423_624
    arch_type = ModelSpec
    network = "nasbench_tools.nn.nb101:build_network"
    arch_from_key = False

    def parse(self, value) -> ModelSpec:
        if isinstance(value, ModelSpec):
            return value
        if isinstance(value, dict) and {"matrix", "ops"} <= set(value):
            return ModelSpec.from_dict(value)
        if isinstance(value, tuple | list) and len(value) == 2:
            return ModelSpec(*value)
        if self.is_key(value):
            raise InvalidArchError(
                f"the NB101 module hash {value} names a cell only together with a ground truth "
                "that holds its spec (GroundTruth.archs); pass a ModelSpec or (matrix, ops)"
            )
        raise InvalidArchError(
            f"cannot interpret {value!r} as an NB101 cell; expected a ModelSpec, "
            "{'matrix': ..., 'ops': ...} or (matrix, ops)"
        )

    def key(self, arch) -> str:
        if self.is_key(arch):
            return arch
        spec = self.parse(arch)
        if not spec.is_valid:
            raise UnknownArchError(f"{spec!r} is not in NAS-Bench-101: {spec.invalid_reason}")
        return spec.hash

    def network_options(
        self, *, C: int, N: int, num_classes: int, in_channels: int, image_size: int
    ) -> dict:
        """NB101's skeleton: ``C`` stem channels, ``N`` cells per stack, 3 stacks (global
        pooling, so any image size of at least 4 pixels)."""
        return {
            "stem_channels": C, "cells_per_stack": N, "num_classes": num_classes,
            "in_channels": in_channels,
        }  # fmt: skip

    def arch(self, key) -> ModelSpec:
        raise InvalidArchError(
            f"the NB101 module hash {key} names a cell only together with a ground truth that "
            "holds its spec: use GroundTruth.archs[...]"
        )

    def to_string(self, arch) -> str:
        return self.key(arch)

    def describe(self, arch) -> str:
        if self.is_key(arch):
            return f"NB101 cell with module hash {arch}"
        return f"NB101 cell {self.parse(arch)!r}"

    @property
    def class_kind(self) -> str:
        return "module hash (isomorphic cells share one key)"

    def all_keys(self):
        return None


SPACE = register_space(NB101Space())
