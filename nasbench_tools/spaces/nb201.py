"""NAS-Bench-201 / NATS-Bench topology architectures.

A cell has 4 nodes; node ``i`` sums one op applied to each earlier node ``j < i``, giving 6 edges
with 5 candidate ops each (15,625 cells). The benchmark writes a cell as

    |op~0|+|op~0|op~1|+|op~0|op~1|op~2|

where block ``i`` (1-based) lists the ops on edges ``j -> i`` for ``j = 0..i-1``.

:class:`Arch` converts losslessly between that string, the benchmark index (the real NATS-Bench
order, shipped as package data), the 6-op tuple (string order), NASLib's op-index tuple and a
node-labelled DAG, and reproduces NATS-Bench's isomorphism key ``get_unique_str``.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources

import numpy as np

from ..errors import InvalidArchError
from .base import Space, register_space

__all__ = [
    "EDGES",
    "NASLIB_EDGES",
    "NASLIB_OPS",
    "NUM_ARCHS",
    "OPS",
    "Arch",
    "all_archs",
    "isomorphism_class_ids",
    "op_index_matrix",
]

#: Candidate ops, in NATS-Bench's order (``none`` = zero, the edge is absent).
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Edges ``(src, dst)`` in arch-string order: the k-th op of :attr:`Arch.ops` sits on ``EDGES[k]``.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
#: NASLib's op order for its op-index tuples (``naslib/search_spaces/nasbench201/conversions.py``).
NASLIB_OPS: tuple[str, ...] = (
    "skip_connect",
    "none",
    "nor_conv_3x3",
    "nor_conv_1x1",
    "avg_pool_3x3",
)
#: NASLib's edge order for its op-index tuples: edges 0->1, 0->2, 0->3, 1->2, 1->3, 2->3.
NASLIB_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
NUM_ARCHS = len(OPS) ** len(EDGES)

_OP_INDEX = {op: i for i, op in enumerate(OPS)}
_NASLIB_TO_OURS = np.array([_OP_INDEX[op] for op in NASLIB_OPS])
_OURS_TO_NASLIB = np.argsort(_NASLIB_TO_OURS)
# position in our edge order of each NASLib edge, and vice versa
_NASLIB_EDGE_POS = np.array([EDGES.index(e) for e in NASLIB_EDGES])
_POW5 = 5 ** np.arange(len(EDGES))


# --------------------------------------------------------------------------- benchmark index
@cache
def _index_table() -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """(strings in index order, op-index matrix (15625, 6), code -> index lookup)."""
    data = resources.files("nasbench_tools.spaces").joinpath("data/nb201_archs.txt.gz")
    with data.open("rb") as fh:
        strings = tuple(gzip.decompress(fh.read()).decode().split("\n")[:NUM_ARCHS])
    if len(strings) != NUM_ARCHS:
        raise RuntimeError(
            f"package data nb201_archs.txt.gz holds {len(strings)} archs, expected 15625"
        )
    # one regex pass over the whole text (the tests check every line against the real meta file
    # and against the strict parser)
    names = re.findall(r"\|([a-z_0-9]+)~\d", "\n".join(strings))
    try:
        ops = np.array([_OP_INDEX[n] for n in names], dtype=np.int8).reshape(NUM_ARCHS, len(EDGES))
    except (KeyError, ValueError) as exc:
        raise RuntimeError(f"package data nb201_archs.txt.gz is malformed ({exc})") from None
    codes = ops.astype(np.int64) @ _POW5
    lookup = np.full(NUM_ARCHS, -1, dtype=np.int64)
    lookup[codes] = np.arange(NUM_ARCHS)
    if (lookup < 0).any():
        raise RuntimeError("package data nb201_archs.txt.gz is not a permutation of the space")
    ops.setflags(write=False)
    return strings, ops, lookup


def op_index_matrix() -> np.ndarray:
    """Read-only ``(15625, 6)`` int8 array: row ``i`` holds the op indices of benchmark index ``i``."""
    return _index_table()[1]


@cache
def isomorphism_class_ids(kind: str = "unique") -> np.ndarray:
    """Read-only ``(15625,)`` int array: the isomorphism class of every benchmark index.

    ``kind="unique"`` groups by :meth:`Arch.unique_str` (NATS-Bench's 6,466 classes),
    ``kind="functional"`` by :meth:`Arch.functional_str` (5,390 classes). Class ids are numbered
    in order of each class's smallest benchmark index.
    """
    keyfn = {"unique": Arch.unique_str, "functional": Arch.functional_str}.get(kind)
    if keyfn is None:
        raise ValueError(f"kind must be 'unique' or 'functional', got {kind!r}")
    seen: dict[str, int] = {}
    ids = np.array([seen.setdefault(keyfn(a), len(seen)) for a in all_archs()], dtype=np.int64)
    ids.setflags(write=False)
    return ids


def all_archs() -> list[Arch]:
    """Every architecture of the space, in benchmark-index order."""
    _strings, ops, _ = _index_table()
    return [Arch._trusted(tuple(int(o) for o in row), i) for i, row in enumerate(ops)]


# --------------------------------------------------------------------------- parsing
def _parse(s: str) -> tuple[int, ...]:
    if not isinstance(s, str):
        raise InvalidArchError(f"an NB201 arch string must be a str, got {type(s).__name__}")
    blocks = s.split("+")
    if len(blocks) != 3:
        raise InvalidArchError(
            f"NB201 arch string {s!r} has {len(blocks)} node blocks separated by '+', expected 3 "
            "(format |op~0|+|op~0|op~1|+|op~0|op~1|op~2|)"
        )
    out: list[int] = []
    for node, block in enumerate(blocks, start=1):
        if len(block) < 2 or block[0] != "|" or block[-1] != "|":
            raise InvalidArchError(
                f"node block {node} of {s!r} must start and end with '|', got {block!r}"
            )
        items = block[1:-1].split("|")
        if len(items) != node:
            raise InvalidArchError(
                f"node block {node} of {s!r} has {len(items)} inputs, expected {node}"
            )
        for j, item in enumerate(items):
            op, sep, src = item.partition("~")
            if not sep or src != str(j):
                raise InvalidArchError(
                    f"entry {item!r} in node block {node} of {s!r} must read 'op~{j}'"
                )
            if op not in _OP_INDEX:
                raise InvalidArchError(f"unknown op {op!r} in {s!r}; expected one of {list(OPS)}")
            out.append(_OP_INDEX[op])
    return tuple(out)


def _format(ops: Sequence[int]) -> str:
    o = [OPS[i] for i in ops]
    return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"


# --------------------------------------------------------------------------- the domain object
class Arch:
    """One NAS-Bench-201 cell. Immutable and hashable; equality is by ops (not isomorphism).

    Build one with :meth:`from_string`, :meth:`from_index`, :meth:`from_ops` or
    :meth:`from_naslib`.

    Examples
    --------
    >>> a = Arch.from_index(6111)
    >>> a.to_string()
    '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|'
    >>> Arch.from_string(a.to_string()).index
    6111
    """

    __slots__ = ("_index", "_ops")

    def __init__(self, ops: Sequence[int | str]):
        self._ops = _validate_ops(ops)
        self._index = None

    @classmethod
    def _trusted(cls, ops: tuple[int, ...], index: int | None = None) -> Arch:
        a = object.__new__(cls)
        a._ops = ops
        a._index = index
        return a

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_string(cls, s: str) -> Arch:
        """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``; raises :class:`InvalidArchError`."""
        return cls._trusted(_parse(s))

    @classmethod
    def from_index(cls, index: int) -> Arch:
        """The architecture at NAS-Bench-201 / NATS-Bench topology index ``index`` (0..15624)."""
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise InvalidArchError(f"an NB201 index must be an int, got {type(index).__name__}")
        if not 0 <= index < NUM_ARCHS:
            raise InvalidArchError(f"NB201 index {index} out of range; expected 0..{NUM_ARCHS - 1}")
        row = _index_table()[1][int(index)]
        return cls._trusted(tuple(int(o) for o in row), int(index))

    @classmethod
    def from_ops(cls, ops: Sequence[int | str]) -> Arch:
        """From 6 ops in string order (edges :data:`EDGES`), as names or indices into :data:`OPS`."""
        return cls(ops)

    @classmethod
    def from_naslib(cls, op_indices: Sequence[int]) -> Arch:
        """From NASLib's op-index tuple (edges :data:`NASLIB_EDGES`, ops :data:`NASLIB_OPS`)."""
        t = _int_tuple(op_indices, len(NASLIB_OPS), "NASLib op index")
        ours = [0] * 6
        for k, op in enumerate(t):
            ours[_NASLIB_EDGE_POS[k]] = int(_NASLIB_TO_OURS[op])
        return cls._trusted(tuple(ours))

    @classmethod
    def parse(cls, value) -> Arch:
        """Best-effort constructor: an :class:`Arch`, a string, an index or a 6-op sequence."""
        if isinstance(value, Arch):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit():
                return cls.from_index(int(text))
            return cls.from_string(text)
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            return cls.from_index(int(value))
        if isinstance(value, Sequence | np.ndarray):
            return cls(value)
        raise InvalidArchError(f"cannot interpret {value!r} as an NB201 architecture")

    # ------------------------------------------------------------------ views
    @property
    def ops(self) -> tuple[str, ...]:
        """The 6 op names in string order (edges :data:`EDGES`)."""
        return tuple(OPS[i] for i in self._ops)

    @property
    def op_indices(self) -> tuple[int, ...]:
        """The 6 ops as indices into :data:`OPS`, in string order."""
        return self._ops

    @property
    def index(self) -> int:
        """The NAS-Bench-201 / NATS-Bench topology index (0..15624)."""
        if self._index is None:
            code = int(np.dot(self._ops, _POW5))
            self._index = int(_index_table()[2][code])
        return self._index

    def to_string(self) -> str:
        return _format(self._ops)

    def to_naslib(self) -> tuple[int, ...]:
        """NASLib's op-index tuple (edges :data:`NASLIB_EDGES`, ops :data:`NASLIB_OPS`)."""
        return tuple(int(_OURS_TO_NASLIB[self._ops[p]]) for p in _NASLIB_EDGE_POS)

    def edge_ops(self) -> dict[tuple[int, int], str]:
        """``{(src, dst): op}`` for the 6 edges."""
        return {e: OPS[o] for e, o in zip(EDGES, self._ops)}

    def to_dag(self, *, prune_none: bool = False) -> tuple[np.ndarray, list[str]]:
        """The cell as a node-labelled DAG (ops on vertices, as in NAS-Bench-101).

        Vertices are ``input``, one vertex per edge op in string order, then ``output``
        (8 vertices). Op vertex ``e = (j, i)`` receives from the input if ``j == 0`` and from
        every op vertex ending in ``j`` otherwise; it feeds the output if ``i == 3`` and every op
        vertex starting at ``i`` otherwise. With ``prune_none=True`` the ``none`` vertices are
        removed (with their edges), since a zero op carries nothing.

        Returns
        -------
        matrix : (V, V) int8 upper-triangular adjacency
        labels : list of str, ``"input"``, op names, ``"output"``
        """
        n = len(EDGES) + 2
        m = np.zeros((n, n), dtype=np.int8)
        for a, (ja, ia) in enumerate(EDGES, start=1):
            if ja == 0:
                m[0, a] = 1
            if ia == 3:
                m[a, n - 1] = 1
            for b, (jb, _ib) in enumerate(EDGES, start=1):
                if jb == ia:
                    m[a, b] = 1
        labels = ["input", *self.ops, "output"]
        if prune_none:
            keep = [0] + [k + 1 for k, o in enumerate(self._ops) if OPS[o] != "none"] + [n - 1]
            m = m[np.ix_(keep, keep)]
            labels = [labels[k] for k in keep]
        return m, labels

    # ------------------------------------------------------------------ isomorphism
    def unique_str(self) -> str:
        """NATS-Bench's isomorphism key, ``get_unique_str`` (``to_unique_str(consider_zero=True)``).

        Reproduced exactly, quirks included: ``skip_connect`` forwards its input, a ``none`` op or an
        input that is exactly zero gives the term ``#``, and each node joins its sorted terms with
        ``+``. A node whose terms are all ``#`` becomes ``"#+#"`` rather than ``#``, so zero does not
        propagate past it. Over the space this gives **6,466** classes, the number NATS-Bench quotes.
        """
        nodes = ["0"]
        for i in range(1, 4):
            terms = []
            for j in range(i):
                op = OPS[self._ops[_EDGE_POS[(j, i)]]]
                if op == "none" or nodes[j] == "#":
                    terms.append("#")
                elif op == "skip_connect":
                    terms.append(nodes[j])
                else:
                    terms.append(f"({nodes[j]})@{op}")
            nodes.append("+".join(sorted(terms)))
        return nodes[3]

    def functional_str(self) -> str:
        """A stricter isomorphism key: cells equal under it compute the same function of the input.

        Differs from :meth:`unique_str` in how zeros are handled: zero terms are dropped from a sum
        (``x + 0 = x``), a node with no non-zero term is zero (``#``) and zero propagates through
        every later op. Ops applied to a zero node are treated as zero (exact for ``avg_pool_3x3`` and
        ``skip_connect``; for the ReLU-conv-BN ops, the BN shift is ignored, as NATS-Bench does).
        Over the space this gives **5,390** classes, each a union of :meth:`unique_str` classes
        (counted over the shipped index table; a test holds the count).
        """
        nodes = ["0"]
        for i in range(1, 4):
            terms = []
            for j in range(i):
                op = OPS[self._ops[_EDGE_POS[(j, i)]]]
                if op == "none" or nodes[j] == "#":
                    continue
                terms.append(nodes[j] if op == "skip_connect" else f"({nodes[j]})@{op}")
            nodes.append("+".join(sorted(terms)) if terms else "#")
        return nodes[3]

    @property
    def is_connected(self) -> bool:
        """Whether any signal from the input reaches the output (the cell is not constant zero)."""
        return self.functional_str() != "#"

    # ------------------------------------------------------------------ dunder
    def __eq__(self, other) -> bool:
        return isinstance(other, Arch) and self._ops == other._ops

    def __hash__(self) -> int:
        return hash(self._ops)

    def __repr__(self) -> str:
        return f"Arch('{self.to_string()}')"

    def __str__(self) -> str:
        return self.to_string()

    def __reduce__(self):
        return (Arch, (self._ops,))


_EDGE_POS = {e: k for k, e in enumerate(EDGES)}


def _int_tuple(values, n_options: int, what: str) -> tuple[int, ...]:
    if isinstance(values, str):
        raise InvalidArchError(f"{what} tuple expected, got the string {values!r}")
    try:
        t = tuple(values)
    except TypeError as exc:
        raise InvalidArchError(f"{what} tuple expected, got {values!r}") from exc
    if len(t) != len(EDGES):
        raise InvalidArchError(f"an NB201 cell has {len(EDGES)} edges, got {len(t)} {what}s: {t!r}")
    out = []
    for v in t:
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 0 <= v < n_options:
            raise InvalidArchError(f"{what} {v!r} in {t!r} is not an integer in 0..{n_options - 1}")
        out.append(int(v))
    return tuple(out)


def _validate_ops(ops: Sequence[int | str]) -> tuple[int, ...]:
    if isinstance(ops, str):
        raise InvalidArchError(
            f"expected 6 ops, got the string {ops!r}; use Arch.from_string for arch strings"
        )
    seq = list(ops)
    if seq and all(isinstance(o, str) for o in seq):
        if len(seq) != len(EDGES):
            raise InvalidArchError(
                f"an NB201 cell has {len(EDGES)} edges, got {len(seq)} ops: {seq!r}"
            )
        bad = [o for o in seq if o not in _OP_INDEX]
        if bad:
            raise InvalidArchError(f"unknown op {bad[0]!r} in {seq!r}; expected one of {list(OPS)}")
        return tuple(_OP_INDEX[o] for o in seq)
    return _int_tuple(seq, len(OPS), "op index")


def parse_many(values: Iterable) -> list[Arch]:
    """:meth:`Arch.parse` over an iterable."""
    return [Arch.parse(v) for v in values]


# --------------------------------------------------------------------------- the Space
class NB201Space(Space):
    """NAS-Bench-201 / NATS-Bench topology search space: 15,625 cells keyed by benchmark index."""

    name = "nb201"
    title = "NAS-Bench-201"
    key_kind = "index"
    key_column = "index"
    alt_key_columns = ("arch_str",)
    size = NUM_ARCHS
    arch_type = Arch
    network = "nasbench_tools.nn.nb201:build_network"

    def parse(self, value) -> Arch:
        return Arch.parse(value)

    def key(self, arch) -> int:
        return Arch.parse(arch).index

    def arch(self, key) -> Arch:
        return Arch.from_index(int(key))

    def to_string(self, arch) -> str:
        return Arch.parse(arch).to_string()

    def describe(self, arch) -> str:
        a = Arch.parse(arch)
        return f"NB201 arch {a.index} {a.to_string()} (unique_str {a.unique_str()})"

    def class_ids(self, keys):
        return isomorphism_class_ids()[np.asarray(keys, dtype=np.int64)]

    @property
    def class_kind(self) -> str:
        return "NATS-Bench's unique_str (6,466 classes)"

    def operators(self) -> tuple[tuple[str, str], ...]:
        """The 30 ``(edge, op)`` pairs: edges ``"0->1" ... "2->3"`` (:data:`EDGES`), ops :data:`OPS`."""
        return tuple((f"{src}->{dst}", op) for src, dst in EDGES for op in OPS)

    def strings(self, keys) -> list[str]:
        """Arch strings of many keys at once (no Arch objects built)."""
        table = _index_table()[0]
        return [table[int(i)] for i in keys]


SPACE = register_space(NB201Space())
