"""Architecture encodings for predictors and search, behind one registry.

``encode(archs, kind)`` turns a sequence of architectures of one space into a 2-D numpy array, one
row per architecture; ``encoding_columns(kind, space)`` names the columns. Every encoding is a
registered :class:`Encoding`; there is no if/elif over names.

Registered encodings (``list_encodings()``):

==========  ==============  =====  =========================================================
space       kind            width  columns
==========  ==============  =====  =========================================================
nb201       onehot          30     ``{src}->{dst}={op}``: 1 if edge src->dst carries op
nb201       categorical     6      ``{src}->{dst}``: index of the op in ``nb201.OPS``
nb201       path            84     ``path:{op}>{op}...``: 1 if an input-to-output path of live
                                   (non-``none``) ops carries that op sequence (BANANAS)
nb101       onehot          36     ``adj[i,j]`` (21 upper-triangular bits of the pruned spec
                                   padded to 7 vertices) then ``v{k}={op}`` (one-hot op of
                                   interior vertex k = 1..5, all zero for padding)
nb101       categorical     26     the same 21 bits, then ``v{k}``: index of the op in
                                   ``nb101.OPS`` or -1 for padding
nb101       path            364    ``path:{op}>...``: 1 if an input-to-output path carries that
                                   interior op sequence (length 0..5; BANANAS)
nats-sss    onehot          40     ``layer{i}={C}``: 1 if layer i has width C
nats-sss    categorical     5      ``layer{i}``: index of the width in ``CHANNEL_CHOICES``
==========  ==============  =====  =========================================================

NB101 encodings read the *pruned* spec, so isomorphic-by-pruning specs encode alike; padding inserts
isolated vertices just before the output (:meth:`ModelSpec.padded`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidSpecError, QueryError
from ..registry import Registry
from . import nb101, nb201
from .base import space_of

__all__ = [
    "ENCODINGS",
    "Encoding",
    "encode",
    "encoding_columns",
    "get_encoding",
    "list_encodings",
    "register_encoding",
]


@dataclass(frozen=True)
class Encoding:
    """A registered encoding: ``fn(archs) -> (n, len(columns)) array``."""

    space: str
    kind: str
    fn: Callable[[Sequence], np.ndarray]
    columns: tuple[str, ...]
    description: str


#: Every encoding, registered as ``"space:kind"`` (``"nb201:onehot"``).
ENCODINGS: Registry[Encoding] = Registry(
    "encoding",
    error=QueryError,
    modules=("nasbench_tools.spaces.nats_sss",),  # spaces that register their own encodings
)


def register_encoding(kind: str, space: str, columns: Sequence[str]):
    """Decorator registering ``fn(archs) -> array`` as encoding ``kind`` of ``space``."""

    def deco(fn):
        doc = (fn.__doc__ or "").strip().splitlines()
        enc = Encoding(space, kind, fn, tuple(columns), doc[0] if doc else "")
        ENCODINGS.register(f"{space}:{kind}", enc)
        return fn

    return deco


def list_encodings(space: str | None = None) -> list[str]:
    """Registered encoding kinds, for one space or as ``space:kind`` for all."""
    if space is None:
        return ENCODINGS.names()
    return sorted(e.kind for e in ENCODINGS.values() if e.space == space)


def get_encoding(kind: str, space: str) -> Encoding:
    name = f"{space}:{kind}"
    if name not in ENCODINGS:
        raise QueryError(
            f"unknown encoding kind={kind!r} for space={space!r}; "
            f"registered for {space!r}: {list_encodings(space) or 'none (unknown space)'}"
        )
    return ENCODINGS.get(name)


def encoding_columns(kind: str, space: str) -> list[str]:
    """Column names of encoding ``kind`` in ``space``."""
    return list(get_encoding(kind, space).columns)


def encode(archs: Sequence, kind: str = "onehot", *, space: str | None = None) -> np.ndarray:
    """Encode many architectures of one space at once.

    Parameters
    ----------
    archs : sequence
        :class:`~nasbench_tools.spaces.nb101.ModelSpec` objects, or NB201 architectures
        (:class:`~nasbench_tools.spaces.nb201.Arch`, arch strings or benchmark indices).
    kind : str
        A registered encoding (see the module docstring or :func:`list_encodings`).
    space : str, optional
        A registered space; every item is parsed by it. Without it the space is that of the
        architecture objects given, or the one space all raw values (strings, indices) parse in.

    Returns
    -------
    numpy.ndarray of shape ``(len(archs), len(encoding_columns(kind, space)))``
    """
    sp, items = space_of(archs, space)
    enc = get_encoding(kind, sp.name)
    out = enc.fn(items)
    assert out.shape == (len(items), len(enc.columns)), (out.shape, len(enc.columns))
    return out


# =========================================================================== NB201
_EDGE_NAMES = [f"{s}->{d}" for s, d in nb201.EDGES]
_LIVE_OPS = [op for op in nb201.OPS if op != "none"]
# input->output paths as lists of edge positions (string order)
_NB201_PATHS = [[3], [0, 4], [1, 5], [0, 2, 5]]
_NB201_OFFSET = {1: 0, 2: 4, 3: 4 + 16}


def _nb201_ops(archs) -> np.ndarray:
    return np.array([a.op_indices for a in archs], dtype=np.int64).reshape(len(archs), 6)


@register_encoding("onehot", "nb201", [f"{e}={op}" for e in _EDGE_NAMES for op in nb201.OPS])
def _nb201_onehot(archs):
    """One-hot op per edge (30 columns)."""
    ops = _nb201_ops(archs)
    return np.eye(len(nb201.OPS), dtype=np.int8)[ops].reshape(len(archs), -1)


@register_encoding("categorical", "nb201", _EDGE_NAMES)
def _nb201_categorical(archs):
    """Op index per edge (6 columns)."""
    return _nb201_ops(archs).astype(np.int8)


def _path_columns(alphabet: Sequence[str], lengths: Sequence[int]) -> list[str]:
    cols = []
    for length in lengths:
        # little-endian digit order, matching the index arithmetic below
        for digits in itertools.product(range(len(alphabet)), repeat=length):
            seq = [alphabet[d] for d in reversed(digits)]
            cols.append("path:" + (">".join(seq) if seq else "(direct)"))
    return cols


@register_encoding("path", "nb201", _path_columns(_LIVE_OPS, (1, 2, 3)))
def _nb201_path(archs):
    """Binary path encoding over live op sequences of length 1..3 (84 columns)."""
    ops = _nb201_ops(archs)
    out = np.zeros((len(archs), 84), dtype=np.int8)
    rows = np.arange(len(archs))
    for path in _NB201_PATHS:
        seq = ops[:, path]  # (n, L) op indices, 0 = none
        live = (seq != 0).all(axis=1)
        digits = seq - 1  # live ops 0..3
        index = _NB201_OFFSET[len(path)] + (digits * 4 ** np.arange(len(path))).sum(axis=1)
        out[rows[live], index[live]] = 1
    return out


# =========================================================================== NB101
_N101 = nb101.MAX_VERTICES
_TRIU = np.triu_indices(_N101, k=1)
_ADJ_COLS = [f"adj[{i},{j}]" for i, j in zip(*_TRIU)]
_INTERIOR = range(1, _N101 - 1)


def _nb101_padded(spec: nb101.ModelSpec) -> tuple[np.ndarray, list[str]]:
    if not spec.is_valid:
        raise InvalidSpecError(f"cannot encode {spec!r}: {spec.invalid_reason}")
    return spec.padded(_N101)


@register_encoding(
    "onehot", "nb101", _ADJ_COLS + [f"v{k}={op}" for k in _INTERIOR for op in nb101.OPS]
)
def _nb101_onehot(specs):
    """Upper-triangular adjacency bits plus one-hot interior ops (36 columns)."""
    out = np.zeros((len(specs), 21 + 15), dtype=np.int8)
    for r, spec in enumerate(specs):
        m, ops = _nb101_padded(spec)
        out[r, :21] = m[_TRIU]
        for k in _INTERIOR:
            if ops[k] in nb101.OPS:
                out[r, 21 + 3 * (k - 1) + nb101.OPS.index(ops[k])] = 1
    return out


@register_encoding("categorical", "nb101", _ADJ_COLS + [f"v{k}" for k in _INTERIOR])
def _nb101_categorical(specs):
    """Upper-triangular adjacency bits plus interior op indices, -1 for padding (26 columns)."""
    out = np.zeros((len(specs), 21 + 5), dtype=np.int8)
    for r, spec in enumerate(specs):
        m, ops = _nb101_padded(spec)
        out[r, :21] = m[_TRIU]
        out[r, 21:] = [nb101.OPS.index(o) if o in nb101.OPS else -1 for o in ops[1:-1]]
    return out


def _nb101_paths(spec: nb101.ModelSpec) -> list[list[int]]:
    """Interior label sequences of every input-to-output path of the pruned spec."""
    m, labels = spec.matrix, spec.labels
    n = m.shape[0]
    paths: list[list[int]] = []

    def walk(v: int, acc: list[int]):
        if v == n - 1:
            paths.append(acc)
            return
        for w in np.flatnonzero(m[v]):
            w = int(w)
            walk(w, acc if w == n - 1 else [*acc, labels[w]])

    walk(0, [])
    return paths


_NB101_PATH_WIDTH = sum(3**k for k in range(6))  # 364


@register_encoding("path", "nb101", _path_columns(nb101.OPS, range(6)))
def _nb101_path(specs):
    """Binary path encoding over interior op sequences of length 0..5 (364 columns)."""
    out = np.zeros((len(specs), _NB101_PATH_WIDTH), dtype=np.int8)
    offsets = np.cumsum([0] + [3**k for k in range(6)])
    for r, spec in enumerate(specs):
        if not spec.is_valid:
            raise InvalidSpecError(f"cannot encode {spec!r}: {spec.invalid_reason}")
        for seq in _nb101_paths(spec):
            index = offsets[len(seq)] + sum(op * 3**i for i, op in enumerate(seq))
            out[r, index] = 1
    return out
