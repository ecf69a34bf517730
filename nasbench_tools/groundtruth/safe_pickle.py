"""Loading the pickle-based benchmark files: a file can neither run code nor corrupt or exhaust memory.

``pickle.load`` calls whatever a pickle names, and even numpy's own reconstructors trust their
input: with numpy globals alone a 133-byte pickle can make numpy dereference a pointer taken from
the file. The benchmark files (NB201 ``.pth``, NATS-Bench ``.pickle.pbz2``, NASLib ``.pickle`` /
``.pkl``) hold only plain containers, numbers, strings and a few numpy scalars and small arrays, so
this module loads them in two layers that are each safe on their own:

1. **A verifier** (:class:`_Verifier`) runs ahead of the unpickler over the raw opcode stream and
   passes on only whole opcodes it has checked. It refuses, with the byte position: any global
   outside :data:`ALLOWED_GLOBALS`; the opcodes that call or build arbitrary objects (``INST``,
   ``OBJ``, ``NEWOBJ``, ``NEWOBJ_EX``, extension codes, persistent ids, out-of-band buffers);
   ``REDUCE`` of anything but an allowed global and ``BUILD`` on anything but a pending numpy
   dtype or array; stack, mark and memo misuse; strings that are not UTF-8; tuples and frozensets
   nested deeper than :attr:`PickleLimits.max_depth` (100; CPython hashes them recursively in C,
   so a 1 MB pickle of nested tuples used as a dict key overflows the C stack); memo indices
   beyond the stream's length (a 10-byte ``LONG_BINPUT`` would otherwise make the unpickler zero
   4 GB); frames over :data:`MAX_FRAME` and arguments over :data:`MAX_ARGUMENT`; and any stream
   whose objects would outgrow the allocation bound below.
2. **Stand-ins**: :class:`RestrictedUnpickler` (CPython's C unpickler) resolves each allowed name
   to an object of this module, created afresh for every load, never to the numpy or builtin
   callable itself. A stand-in builds its result only from plain, validated values: dtypes from a
   closed set of numeric, bool and fixed-width string types (never object, structured, datetime
   or flags taken from the file); scalars and arrays only through ``np.frombuffer(...).copy()``
   with ``len(payload) == prod(shape) * itemsize``; ``BUILD`` only in the exact state layout numpy
   writes (version-3 dtype state, version-1 array state). A stand-in is not a type (``NEWOBJ``
   cannot instantiate it), refuses ``BUILD`` on itself, and holds nothing shared between loads.
   A load that leaves a bare dtype, a global itself or an ``OrderedDict`` with attributes in its
   result is refused. Arrays come back as plain ``numpy.ndarray`` owning their memory (a pending
   array is swapped in after the load), in native byte order as numpy's own unpickler returns them.

Refusals raise :class:`~nasbench_tools.errors.UnsafePickleError` naming the file, the global or
opcode and its byte position; damaged streams raise :class:`~nasbench_tools.errors.CorruptFileError`
with the byte position; exceeded bounds raise :class:`~nasbench_tools.errors.ResourceLimitError`.

Allocation bound
----------------
The verifier charges every opcode an upper bound of the memory it makes the C unpickler allocate
(objects, stack, marks, memo, and the transient copies of each string or bytes argument; see
:data:`COSTS`), and the stand-ins charge what they build. A stream of ``n`` bytes may allocate at
most ``object_floor + object_ratio * n`` bytes (default 64 MiB + 32 per stream byte; the real
benchmark files are charged 2-9 per byte, their objects need 3-6) and is refused, before the
unpickler runs the opcodes that would exceed it, when it asks for more. Reading buffers add at most two chunks (:data:`CHUNK`)
plus the largest single opcode. Containers bound ``n`` itself (decompression caps in the readers).
Lists, dicts and sets may nest arbitrarily deep (CPython builds and frees them without C
recursion); nothing in this package walks them recursively.

This module does not import torch.
"""

from __future__ import annotations

import codecs
import collections
import gc
import io
import pickle
import re
import reprlib
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from ..errors import CorruptFileError, NasbenchToolsError, ResourceLimitError, UnsafePickleError

__all__ = [
    "ALLOWED_GLOBALS",
    "COSTS",
    "DEFAULT_LIMITS",
    "PickleLimits",
    "PickleStream",
    "RestrictedUnpickler",
    "safe_load",
    "safe_loads",
    "short_repr",
]

MiB = 1 << 20
#: Bytes read from the source per step; the verifier runs at most this far ahead of the unpickler.
CHUNK = 256 * 1024
#: Largest FRAME a stream may declare (Python and C picklers write frames of about 64 KiB; the C
#: unpickler allocates a declared frame before reading it).
MAX_FRAME = 1 * MiB
#: Longest string whose value the verifier keeps (STACK_GLOBAL names are short identifiers).
NAME_MAX = 64
#: Most dimensions of an array and largest ``S``/``U`` itemsize a benchmark file may use.
MAX_NDIM = 32
MAX_ITEMSIZE = 1 * MiB
#: Longest single string, bytes or text-line argument (the benchmark files' longest is a few KB).
MAX_ARGUMENT = 64 * MiB


@dataclass(frozen=True)
class PickleLimits:
    """Bounds for one pickle stream (see the module docstring).

    Attributes
    ----------
    max_depth : int
        Deepest nesting of tuples and frozensets (the benchmark files nest 2 deep).
    object_floor, object_ratio : int
        A stream of ``n`` bytes may allocate at most ``object_floor + object_ratio * n`` bytes.
    """

    max_depth: int = 100
    object_floor: int = 64 * MiB
    object_ratio: int = 32

    def allowance(self, n: int) -> int:
        return self.object_floor + self.object_ratio * n


DEFAULT_LIMITS = PickleLimits()

#: Upper bounds (bytes, 64-bit CPython 3.11) of what one opcode makes the unpickler allocate,
#: including its stack or memo slot; ``per_byte`` multiplies a string or bytes argument's length
#: (the object and one transient copy). ``tests/groundtruth/test_safe_pickle.py`` checks each
#: against tracemalloc.
COSTS = {
    "slot": 16,  # a stack or mark slot (8 bytes, twice for growth)
    "memo": 16,  # a memo slot: the unpickler's (8, grown) and the verifier's
    "int": 40,
    "float": 32,
    "str": 56,  # a str or bytes object of n bytes: this plus per_byte * n
    "per_byte": 1,
    "tuple": 48,  # plus "item" per element
    "item": 8,
    "list": 64,  # plus "list_item" per element (growth included)
    "list_item": 16,
    "dict": 232,  # an empty dict and the key table of its first items
    "dict_item": 40,
    "set": 240,
    "set_item": 100,  # set tables grow fourfold
    "call": 1024,  # what a stand-in builds (a scalar, dtype, pending array, empty container)
}
_C_SLOT = COSTS["slot"]
_C_MEMO = COSTS["memo"]
_C_INT = COSTS["int"]
_C_FLOAT = COSTS["float"]
_C_STR = COSTS["str"]
_C_TUPLE = COSTS["tuple"]
_C_ITEM = COSTS["item"]
_C_LIST = COSTS["list"]
_C_LIST_ITEM = COSTS["list_item"]
_C_DICT = COSTS["dict"]
_C_DICT_ITEM = COSTS["dict_item"]
_C_SET = COSTS["set"]
_C_SET_ITEM = COSTS["set_item"]
_PER_BYTE = COSTS["per_byte"]
_C_CALL = COSTS["call"]


# =========================================================================== the allow-list
class _RefusedCall(Exception):
    """A stand-in was given something numpy or pickle would never write."""


#: (module, name) -> (stand-in kind, why the benchmark files need it). Each entry was seen in the
#: real files (NATS-Bench archives, NASLib's NB101 pickle) or is what ``torch.save`` (protocol 2)
#: or ``pickle`` (protocol 5) writes for the same objects; nothing else loads.
_TABLE: dict[tuple[str, str], tuple[str, str]] = {
    ("collections", "OrderedDict"): (
        "odict",
        "ResultsCount.train_times (and the NATS per-arch {'12', '200'} dict) are OrderedDicts",
    ),
    ("numpy", "dtype"): ("dtype", "rebuilds the dtype of every numpy scalar and array"),
    ("numpy", "ndarray"): (
        "ndarray",
        "NASLib's NB101 module_adjacency is an ndarray (the subtype passed to _reconstruct)",
    ),
    ("builtins", "set"): (
        "set",
        "protocol-2 pickles (torch.save) write a set as set([...]); NB201 evaluated_indexes is one",
    ),
    ("builtins", "bytes"): (
        "bytes",
        "protocol-2 pickles write an empty bytes object (the payload of a zero-size numpy array) "
        "as bytes(); restricted to exactly that call",
    ),
    ("_codecs", "encode"): (
        "encode",
        "protocol-2 pickles store bytes (numpy payloads) as _codecs.encode(str, 'latin1'); "
        "restricted to exactly that call",
    ),
}
for _mod in ("numpy.core", "numpy._core"):  # numpy 1.x / 2.x writers
    _TABLE[(f"{_mod}.multiarray", "scalar")] = (
        "scalar",
        "numpy scalars: ResultsCount.params and latency entries are numpy.float64",
    )
    _TABLE[(f"{_mod}.multiarray", "_reconstruct")] = (
        "reconstruct",
        "rebuilds a numpy array (NASLib's NB101 module_adjacency)",
    )
    _TABLE[(f"{_mod}.numeric", "_frombuffer")] = (
        "frombuffer",
        "numpy arrays pickled with protocol 5 (the default from Python 3.14) use _frombuffer",
    )

#: The ``(module, name)`` globals a benchmark pickle may name, each with the reason it is needed.
ALLOWED_GLOBALS: dict[tuple[str, str], str] = {k: why for k, (_kind, why) in _TABLE.items()}

#: Python 2 module names that protocol-2 pickles use for builtins (``torch.save`` writes them).
_MODULE_ALIASES = {"__builtin__": "builtins"}

#: Stand-in kinds, in the order of their verifier codes (``_GLOBAL - index``).
_KINDS = (
    "dtype",
    "ndarray",
    "scalar",
    "reconstruct",
    "frombuffer",
    "encode",
    "odict",
    "set",
    "bytes",
)


def _allowed_text() -> str:
    return ", ".join(sorted(f"{m}.{n}" for m, n in ALLOWED_GLOBALS))


def _clip(text: str, limit: int = 60) -> str:
    text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_repr(obj: Any, limit: int = 80) -> str:
    """``repr`` for messages: bounded in length and nesting (never raises RecursionError)."""
    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother = 3, limit, limit
    text = r.repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# =========================================================================== the verifier
# Abstract values on the verifier's stack and memo:
#   a str: a short string (its value, interned; STACK_GLOBAL needs it)
#   0: any other hashable leaf (number, None, bool, bytes, long str, numpy scalar)
#   d >= 1: a tuple or frozenset nested d deep
#   < 0: an unhashable object: the kinds below, or an allowed global (_GLOBAL - kind index)
_LEAF = 0
_LIST, _DICT, _SET, _ODICT, _DTYPE, _PENDING, _ARRAY, _BYTEARRAY = range(-1, -9, -1)
_GLOBAL = -100
_KIND_NAMES = {
    _LIST: "a list",
    _DICT: "a dict",
    _SET: "a set",
    _ODICT: "an OrderedDict",
    _DTYPE: "a numpy dtype",
    _PENDING: "a numpy array",
    _ARRAY: "a numpy array",
    _BYTEARRAY: "a bytearray",
}
#: A global's name per kind, for messages.
_KIND_GLOBAL = {
    kind: f"{m}.{n}".replace("numpy._core.", "numpy.(_)core.")
    for (m, n), (kind, _w) in _TABLE.items()
}


def _what(code: Any) -> str:
    """What a verifier stack value is, for messages."""
    if type(code) is not int or code >= 0:
        return "a plain value"
    if code in _KIND_NAMES:
        return _KIND_NAMES[code]
    return f"the global {_KIND_GLOBAL[_KINDS[_GLOBAL - code]]}"


#: What REDUCE of each stand-in kind pushes.
_RESULT = {
    "dtype": _DTYPE,
    "scalar": _LEAF,
    "reconstruct": _PENDING,
    "frombuffer": _ARRAY,
    "encode": _LEAF,
    "bytes": _LEAF,
    "odict": _ODICT,
    "set": _SET,
}

#: Opcodes the benchmark files never need, refused with the reason.
_REFUSED_OPS = {
    0x69: ("INST", "it instantiates a class named in the stream"),
    0x6F: ("OBJ", "it instantiates a class from the stack"),
    0x81: ("NEWOBJ", "it calls a class's __new__"),
    0x92: ("NEWOBJ_EX", "it calls a class's __new__"),
    0x82: ("EXT1", "it names a global through the extension registry"),
    0x83: ("EXT2", "it names a global through the extension registry"),
    0x84: ("EXT4", "it names a global through the extension registry"),
    0x50: ("PERSID", "it references external storage (persistent id, e.g. a torch tensor)"),
    0x51: ("BINPERSID", "it references external storage (persistent id, e.g. a torch tensor)"),
    0x97: ("NEXT_BUFFER", "it references an out-of-band buffer"),
    0x98: ("READONLY_BUFFER", "it references an out-of-band buffer"),
}

#: name of every opcode, for messages
_OPNAMES = {
    0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT",
    0x49: "INT", 0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE",
    0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
    0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL",
    0x64: "DICT", 0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET",
    0x6A: "LONG_BINGET", 0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x70: "PUT", 0x71: "BINPUT",
    0x72: "LONG_BINPUT", 0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS",
    0x47: "BINFLOAT", 0x80: "PROTO", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
    0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4", 0x42: "BINBYTES",
    0x43: "SHORT_BINBYTES", 0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8", 0x8E: "BINBYTES8",
    0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x93: "STACK_GLOBAL",
    0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8",
}  # fmt: skip
_OPNAMES.update({op: name for op, (name, _why) in _REFUSED_OPS.items()})

#: opcode -> (length-field size, signed) for opcodes whose argument is a counted byte string
_COUNTED = {
    0x54: (4, True),  # BINSTRING
    0x55: (1, False),  # SHORT_BINSTRING
    0x58: (4, False),  # BINUNICODE
    0x8D: (8, False),  # BINUNICODE8
    0x42: (4, False),  # BINBYTES
    0x43: (1, False),  # SHORT_BINBYTES
    0x8E: (8, False),  # BINBYTES8
    0x96: (8, False),  # BYTEARRAY8
    0x8A: (1, False),  # LONG1
    0x8B: (4, True),  # LONG4
}
#: opcodes whose argument is one text line, and those with two
_LINE_OPS = frozenset({0x46, 0x49, 0x4C, 0x53, 0x56, 0x67, 0x70})
_TWO_LINE_OPS = frozenset({0x63, 0x69})


class _Truncated(Exception):
    """The buffer ends inside the opcode at ``pos``; the remainder must reach ``need`` bytes."""

    def __init__(self, pos: int, need: int):
        self.pos, self.need = pos, need


class _Verifier:
    """Checks a pickle stream opcode by opcode, ahead of the unpickler.

    :meth:`feed` is given the unverified bytes (starting at stream offset :attr:`base`) and returns
    how many of them form whole, checked opcodes; only those reach the unpickler. It records, in
    order, the position of every opcode that makes the unpickler call into this module (GLOBAL,
    STACK_GLOBAL, REDUCE, BUILD) so a stand-in's refusal can name its byte. Its stack and memo
    mirror the unpickler's, with an abstract value per object (see ``_LEAF`` and below).
    """

    def __init__(self, load: _Load):
        self.load = load
        self.limits = load.limits
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: list[Any] = []
        self.memo_len = 0  # stored memo entries (the index MEMOIZE uses)
        self.cost = 0
        self.names = (
            True  # keep short strings' values (only STACK_GLOBAL, protocol >= 4, needs them)
        )
        self.base = 0
        self.need = 0
        self.done = False
        self.events: deque[tuple[int, str]] = deque()

    # ------------------------------------------------------------------ messages
    def corrupt(self, pos: int, text: str) -> CorruptFileError:
        return CorruptFileError(f"{self.load.damaged()}{text} at byte {self.load.abs(pos)}")

    def unsafe(self, pos: int, text: str) -> UnsafePickleError:
        ld = self.load
        return UnsafePickleError(
            f"{ld.source}: refusing to load: {text} at byte {ld.abs(pos)}{ld.of_where()}; "
            "nothing was executed"
        )

    def limit(self, pos: int, text: str) -> ResourceLimitError:
        ld = self.load
        return ResourceLimitError(f"{ld.source}: {text} at byte {ld.abs(pos)}{ld.of_where()}")

    # ------------------------------------------------------------------ feeding
    def feed(self, buf: bytes, final: bool) -> int:
        """Check the whole opcodes at the start of ``buf``; return how many bytes they take."""
        try:
            p = self._run(buf)
        except _Truncated as t:
            if final:
                raise CorruptFileError(
                    f"{self.load.damaged()}the stream breaks at byte {self.load.abs(len(buf))}: "
                    f"it ends inside the {_OPNAMES[buf[t.pos]]} opcode that starts at byte "
                    f"{self.load.abs(t.pos)}"
                ) from None
            self.need = t.need
            p = t.pos
        else:
            self.need = 0
            if final and not self.done:
                raise CorruptFileError(
                    f"{self.load.damaged()}the stream breaks at byte {self.load.abs(p)}: it ends "
                    "before the pickle's STOP opcode"
                )
        self.check_budget(p)
        self.base += p
        return p

    def check_budget(self, p: int) -> None:
        """Refuse if the allocations so far exceed the bound for the stream up to ``p``."""
        allowed = self.limits.allowance(self.base + p)
        if self.cost + self.load.cost > allowed:
            raise self.limit(
                p,
                f"the pickle would allocate more than {allowed:,} bytes, the bound for "
                f"{self.base + p:,} stream bytes ({self.limits.object_floor:,} + "
                f"{self.limits.object_ratio} per byte); refused before the unpickler ran it",
            )

    # ------------------------------------------------------------------ the opcode loop
    def _run(self, buf: bytes) -> int:
        """Check opcodes from ``buf[0]``; the common ones inline, the rest in :meth:`_rare`."""
        stack, marks, memo = self.stack, self.marks, self.memo
        push = stack.append
        memo_len, cost, names = self.memo_len, self.cost, self.names
        fence = marks[-1] if marks else 0
        intern = sys.intern
        n = len(buf)
        p = 0
        try:
            while p < n:
                op = buf[p]
                if op == 0x47:  # BINFLOAT
                    if p + 9 > n:
                        raise _Truncated(p, 9)
                    push(_LEAF)
                    cost += _C_FLOAT
                    p += 9
                elif op == 0x8C or op == 0x58:  # SHORT_BINUNICODE, BINUNICODE
                    w = 2 if op == 0x8C else 5
                    if p + w > n:
                        raise _Truncated(p, w)
                    size = buf[p + 1] if w == 2 else int.from_bytes(buf[p + 1 : p + 5], "little")
                    if size > MAX_ARGUMENT:
                        raise self.limit(
                            p,
                            f"BINUNICODE has a {size:,}-byte argument, more than the "
                            f"{MAX_ARGUMENT:,} allowed",
                        )
                    q = p + w + size
                    if q > n:
                        raise _Truncated(p, q - p)
                    try:
                        text = buf[p + w : q].decode("utf-8", "surrogatepass")
                    except UnicodeDecodeError as exc:
                        raise self._not_utf8(p, op, exc) from None
                    value = intern(text) if names and q - p - w <= NAME_MAX else _LEAF
                    push(value)
                    cost += _C_STR + _PER_BYTE * (q - p)
                    p = q
                    if p < n and buf[p] == 0x94 and memo_len == len(memo):  # MEMOIZE, inline
                        memo.append(value)
                        memo_len += 1
                        cost += _C_MEMO
                        p += 1
                    if p + 9 <= n and buf[p] == 0x47:  # BINFLOAT, inline (a dict's value)
                        push(_LEAF)
                        cost += _C_FLOAT
                        p += 9
                elif op == 0x94:  # MEMOIZE
                    if len(stack) <= fence:
                        raise self.corrupt(p, "MEMOIZE with nothing on the stack")
                    if memo_len == len(memo):
                        memo.append(stack[-1])
                        memo_len += 1
                        cost += _C_MEMO
                    else:
                        self.memo_len, self.cost = memo_len, cost
                        self._memo_put(p, memo_len, "MEMOIZE")
                        memo_len, cost = self.memo_len, self.cost
                    p += 1
                elif op == 0x4B:  # BININT1
                    if p + 2 > n:
                        raise _Truncated(p, 2)
                    push(_LEAF)
                    cost += _C_SLOT
                    p += 2
                    if p + 9 <= n and buf[p] == 0x47:  # BINFLOAT, inline (a dict's value)
                        push(_LEAF)
                        cost += _C_FLOAT
                        p += 9
                elif op == 0x68 or op == 0x6A:  # BINGET, LONG_BINGET
                    w = 2 if op == 0x68 else 5
                    if p + w > n:
                        raise _Truncated(p, w)
                    idx = buf[p + 1] if w == 2 else int.from_bytes(buf[p + 1 : p + 5], "little")
                    value = memo[idx] if idx < len(memo) else None
                    if value is None:
                        raise self.corrupt(p, f"GET of memo index {idx}, which was never stored")
                    push(value)
                    cost += _C_SLOT
                    p += w
                elif op == 0x28:  # MARK
                    fence = len(stack)
                    marks.append(fence)
                    cost += _C_SLOT
                    p += 1
                elif op == 0x4D or op == 0x4A:  # BININT2, BININT
                    w = 3 if op == 0x4D else 5
                    if p + w > n:
                        raise _Truncated(p, w)
                    push(_LEAF)
                    cost += _C_INT
                    p += w
                elif op == 0x7D or op == 0x5D:  # EMPTY_DICT, EMPTY_LIST
                    push(_DICT if op == 0x7D else _LIST)
                    cost += _C_DICT if op == 0x7D else _C_LIST
                    p += 1
                elif op == 0x4E or op == 0x88 or op == 0x89:  # NONE, NEWTRUE, NEWFALSE
                    push(_LEAF)
                    cost += _C_SLOT
                    p += 1
                elif op == 0x30 and len(stack) > fence:  # POP (of an item; of a mark: _rare)
                    stack.pop()
                    p += 1
                else:
                    self.memo_len, self.cost = memo_len, cost
                    p = self._rare(buf, p, op)
                    memo_len, cost = self.memo_len, self.cost
                    fence = marks[-1] if marks else 0
                    names = self.names
                    if self.done:
                        break
        finally:
            self.memo_len, self.cost = memo_len, cost
        return p

    def _not_utf8(self, p: int, op: int, exc: UnicodeDecodeError) -> CorruptFileError:
        return self.corrupt(
            p, f"the string of the {_OPNAMES[op]} opcode is not UTF-8 ({exc.reason})"
        )

    # ------------------------------------------------------------------ helpers
    def _fence(self) -> int:
        return self.marks[-1] if self.marks else 0

    def _pop_mark(self, pos: int, name: str) -> int:
        if not self.marks:
            raise self.corrupt(pos, f"{name} without a MARK before it")
        return self.marks.pop()

    def _pop(self, pos: int, name: str, k: int) -> list:
        stack = self.stack
        if len(stack) - k < self._fence():
            raise self.corrupt(pos, f"{name} needs {k} item(s) on the stack, finds fewer")
        items = stack[len(stack) - k :]
        del stack[len(stack) - k :]
        return items

    def _target(self, pos: int, name: str, k: int, kinds: tuple[int, ...], items: bool) -> None:
        """The container ``name`` adds to, stack[k - 1], must exist above the fence and, when
        there are items to add, be one of ``kinds``."""
        if k <= self._fence():
            raise self.corrupt(pos, f"{name} with no container below its items")
        c = self.stack[k - 1]
        if items and (type(c) is not int or c not in kinds):
            raise self.corrupt(
                pos, f"{name} into {_what(c)}, not {' or '.join(_KIND_NAMES[x] for x in kinds)}"
            )

    def _hashable(self, pos: int, name: str, items) -> None:
        for c in items:
            if type(c) is int and c < 0:
                raise self.corrupt(pos, f"{name} uses {_what(c)} as a key or set element")

    def _nested(self, pos: int, name: str, items) -> int:
        depth = 1 + max((c for c in items if type(c) is int and c > 0), default=0)
        if depth > self.limits.max_depth:
            raise self.limit(
                pos,
                f"{name} nests tuples/frozensets {depth} deep, more than the "
                f"{self.limits.max_depth} allowed (hashing a deeper key overflows the C stack)",
            )
        return depth

    def _memo_put(self, pos: int, idx: int, name: str) -> None:
        if len(self.stack) <= self._fence():
            raise self.corrupt(pos, f"{name} with nothing on the stack")
        memo = self.memo
        if idx >= len(memo):
            # a writer's memo index never exceeds its opcode count; the unpickler would
            # otherwise allocate (and zero) 16 bytes per index
            if idx > self.base + pos:
                raise self.limit(
                    pos,
                    f"{name} stores memo index {idx:,}, more than the stream has bytes before it",
                )
            self.cost += _C_MEMO * (idx + 1 - len(memo))
            memo.extend([None] * (idx + 1 - len(memo)))
        if memo[idx] is None:
            self.memo_len += 1
        memo[idx] = self.stack[-1]

    def _memo_get(self, pos: int, idx: int, name: str) -> Any:
        if idx >= len(self.memo) or self.memo[idx] is None:
            raise self.corrupt(pos, f"{name} of memo index {idx}, which was never stored")
        return self.memo[idx]

    def _global(self, pos: int, module: Any, name: Any, opname: str) -> int:
        if type(module) is not str or type(name) is not str:
            raise self.corrupt(pos, f"{opname} without two short strings naming the global")
        module = _MODULE_ALIASES.get(module, module)
        entry = _TABLE.get((module, name))
        if entry is None:
            raise UnsafePickleError(
                f"{self.load.source}: refusing to load: the pickle names the global "
                f"'{_clip(module)}.{_clip(name)}' at byte {self.load.abs(pos)}"
                f"{self.load.of_where()}, which is not on the allow-list of benchmark files "
                f"({_allowed_text()}); nothing was executed"
            )
        self.events.append((self.base + pos, f"{opname} {module}.{name}"))
        return _GLOBAL - _KINDS.index(entry[0])

    def _line(self, buf: bytes, p: int, start: int) -> tuple[bytes, int]:
        end = buf.find(b"\n", start, start + MAX_ARGUMENT + 1)
        if end < 0:
            if len(buf) - start > MAX_ARGUMENT:
                raise self.limit(
                    p, f"{_OPNAMES[buf[p]]} has a text line longer than {MAX_ARGUMENT:,} bytes"
                )
            raise _Truncated(p, len(buf) - p + 1)
        return buf[start:end], end + 1

    # ------------------------------------------------------------------ the other opcodes
    def _rare(self, buf: bytes, p: int, op: int) -> int:
        stack = self.stack
        n = len(buf)
        name = _OPNAMES.get(op)
        if name is None:
            raise self.corrupt(p, f"0x{op:02x} is not a pickle opcode")
        if op in _REFUSED_OPS:
            if op == 0x69:  # INST names a global: say which
                module, q = self._line(buf, p, p + 1)
                glob, _q = self._line(buf, p, q)
                raise self.unsafe(
                    p,
                    f"the opcode INST '{_clip(module.decode('latin-1'))}."
                    f"{_clip(glob.decode('latin-1'))}' ({_REFUSED_OPS[op][1]})",
                )
            raise self.unsafe(p, f"the opcode {name} ({_REFUSED_OPS[op][1]})")
        if op in _COUNTED:
            width, signed = _COUNTED[op]
            if p + 1 + width > n:
                raise _Truncated(p, 1 + width)
            size = int.from_bytes(buf[p + 1 : p + 1 + width], "little", signed=signed)
            if size < 0:
                raise self.corrupt(p, f"{name} with a negative length {size}")
            if size > MAX_ARGUMENT:
                raise self.limit(
                    p,
                    f"{name} has a {size:,}-byte argument, more than the {MAX_ARGUMENT:,} allowed",
                )
            a = p + 1 + width
            if a + size > n:
                raise _Truncated(p, 1 + width + size)
            value: Any = _LEAF
            if op == 0x8D:  # BINUNICODE8
                try:
                    text = buf[a : a + size].decode("utf-8", "surrogatepass")
                except UnicodeDecodeError as exc:
                    raise self._not_utf8(p, op, exc) from None
                if self.names and size <= NAME_MAX:
                    value = sys.intern(text)
            elif op == 0x96:  # BYTEARRAY8 (unhashable); a Python-2 str never names a global
                value = _BYTEARRAY
            self.cost += (_C_INT if op in (0x8A, 0x8B) else _C_STR) + _PER_BYTE * (1 + width + size)
            stack.append(value)
            return a + size
        if op == 0x2E:  # STOP
            if len(stack) <= self._fence():
                raise self.corrupt(p, "STOP with nothing on the stack")
            self.done = True
            return p + 1
        if op == 0x80:  # PROTO
            if p + 2 > n:
                raise _Truncated(p, 2)
            if buf[p + 1] > pickle.HIGHEST_PROTOCOL:
                raise self.corrupt(p, f"unsupported pickle protocol {buf[p + 1]}")
            self.names = buf[p + 1] >= 4
            return p + 2
        if op == 0x95:  # FRAME
            if p + 9 > n:
                raise _Truncated(p, 9)
            size = int.from_bytes(buf[p + 1 : p + 9], "little")
            if size > MAX_FRAME:
                raise self.limit(
                    p, f"FRAME declares {size:,} bytes, more than the {MAX_FRAME:,} allowed"
                )
            return p + 9
        if op == 0x71 or op == 0x72:  # BINPUT, LONG_BINPUT
            w = 2 if op == 0x71 else 5
            if p + w > n:
                raise _Truncated(p, w)
            self._memo_put(p, int.from_bytes(buf[p + 1 : p + w], "little"), name)
            return p + w
        if op == 0x75 or op == 0x64:  # SETITEMS, DICT
            k = self._pop_mark(p, name)
            items = stack[k:]
            if op == 0x75:
                self._target(p, name, k, (_DICT, _ODICT), bool(items))
            if len(items) % 2:
                raise self.corrupt(p, f"{name} with an odd number of items")
            self._hashable(p, name, items[0::2])
            del stack[k:]
            self.cost += _C_DICT_ITEM * (len(items) // 2)
            if op == 0x64:
                stack.append(_DICT)
                self.cost += _C_DICT
            return p + 1
        if op == 0x73:  # SETITEM
            key, _value = self._pop(p, name, 2)
            self._target(p, name, len(stack), (_DICT, _ODICT), True)
            self._hashable(p, name, (key,))
            self.cost += _C_DICT_ITEM
            return p + 1
        if op == 0x65 or op == 0x90:  # APPENDS, ADDITEMS
            k = self._pop_mark(p, name)
            items = stack[k:]
            if op == 0x65:
                self._target(p, name, k, (_LIST,), bool(items))
                self.cost += _C_LIST_ITEM * len(items)
            else:
                self._target(p, name, k, (_SET,), bool(items))
                self._hashable(p, name, items)
                self.cost += _C_SET_ITEM * len(items)
            del stack[k:]
            return p + 1
        if op == 0x61:  # APPEND
            self._pop(p, name, 1)
            self._target(p, name, len(stack), (_LIST,), True)
            self.cost += _C_LIST_ITEM
            return p + 1
        if 0x85 <= op <= 0x87 or op == 0x74 or op == 0x29:  # TUPLE1/2/3, TUPLE, EMPTY_TUPLE
            if op == 0x74:
                k = self._pop_mark(p, name)
                items = stack[k:]
                del stack[k:]
            else:
                items = self._pop(p, name, op - 0x84) if op != 0x29 else []
            stack.append(self._nested(p, name, items))
            self.cost += _C_TUPLE + _C_ITEM * len(items)
            return p + 1
        if op == 0x6C or op == 0x91 or op == 0x31:  # LIST, FROZENSET, POP_MARK
            k = self._pop_mark(p, name)
            items = stack[k:]
            del stack[k:]
            if op == 0x6C:
                stack.append(_LIST)
                self.cost += _C_LIST + _C_LIST_ITEM * len(items)
            elif op == 0x91:
                self._hashable(p, name, items)
                stack.append(self._nested(p, name, items))
                self.cost += _C_SET + _C_SET_ITEM * len(items)
            return p + 1
        if op == 0x8F:  # EMPTY_SET
            stack.append(_SET)
            self.cost += _C_SET
            return p + 1
        if op == 0x52:  # REDUCE
            func, args = self._pop(p, name, 2)
            if type(func) is not int or not _GLOBAL - len(_KINDS) < func <= _GLOBAL:
                raise self.unsafe(p, f"REDUCE calls {_what(func)}, not an allowed global")
            kind = _KINDS[_GLOBAL - func]
            if kind == "ndarray":
                raise self.unsafe(
                    p, "REDUCE calls numpy.ndarray (it is only an argument of _reconstruct)"
                )
            if type(args) is not int or args < 1:
                raise self.corrupt(p, "REDUCE whose arguments are not a tuple")
            self.events.append((self.base + p, "REDUCE"))
            stack.append(_RESULT[kind])
            self.cost += _C_CALL
            return p + 1
        if op == 0x62:  # BUILD
            self._pop(p, name, 1)
            if len(stack) <= self._fence():
                raise self.corrupt(p, "BUILD with nothing to build")
            target = stack[-1]
            if type(target) is not int or target not in (_DTYPE, _PENDING):
                raise self.unsafe(
                    p,
                    f"BUILD (setting an object's state) on {_what(target)}; numpy writes BUILD "
                    "only right after numpy.dtype and _reconstruct",
                )
            self.events.append((self.base + p, "BUILD"))
            return p + 1
        if op == 0x93:  # STACK_GLOBAL
            module, glob = self._pop(p, name, 2)
            stack.append(self._global(p, module, glob, name))
            self.cost += _C_SLOT
            return p + 1
        if op == 0x63:  # GLOBAL
            module, q = self._line(buf, p, p + 1)
            glob, q = self._line(buf, p, q)
            try:
                module_s, glob_s = module.decode("utf-8"), glob.decode("utf-8")
            except UnicodeDecodeError:
                raise self.corrupt(p, "GLOBAL names that are not UTF-8") from None
            stack.append(self._global(p, module_s, glob_s, name))
            self.cost += _C_SLOT
            return q
        if op == 0x30:  # POP (a mark, if one sits at the top)
            if self.marks and self.marks[-1] == len(stack):
                self.marks.pop()
            else:
                self._pop(p, name, 1)
            return p + 1
        if op == 0x32:  # DUP
            if len(stack) <= self._fence():
                raise self.corrupt(p, "DUP with nothing on the stack")
            stack.append(stack[-1])
            self.cost += _C_SLOT
            return p + 1
        # the protocol-0 opcodes with a text-line argument: FLOAT INT LONG STRING UNICODE GET PUT
        line, q = self._line(buf, p, p + 1)
        self._text_op(p, op, line)
        return q

    def _text_op(self, p: int, op: int, line: bytes) -> None:
        name = _OPNAMES[op]
        try:
            if op == 0x67 or op == 0x70:  # GET, PUT
                idx = int(line)
                if op == 0x67:
                    self.stack.append(self._memo_get(p, idx, name))
                    self.cost += _C_SLOT
                else:
                    self._memo_put(p, idx, name)
                return
            if op == 0x49:  # INT (00 / 01 are False / True)
                int(line)
            elif op == 0x4C:  # LONG
                int(line[:-1] if line.endswith(b"L") else line, 0)
            elif op == 0x46:  # FLOAT
                float(line)
            elif op == 0x53:  # STRING: a quoted repr
                if len(line) < 2 or line[:1] != line[-1:] or line[:1] not in (b"'", b'"'):
                    raise ValueError("not quoted")
                codecs.escape_decode(line[1:-1])
            else:  # UNICODE
                line.decode("raw-unicode-escape")
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.corrupt(p, f"{name} with an unreadable argument ({exc})") from None
        self.stack.append(_LEAF)
        self.cost += _C_STR + _PER_BYTE * len(line)


# =========================================================================== stand-ins
_NUMERIC = {"b1": 1, "i1": 1, "u1": 1, "i2": 2, "u2": 2, "i4": 4, "u4": 4, "i8": 8, "u8": 8}
_NUMERIC |= {"f2": 2, "f4": 4, "f8": 8, "c8": 8, "c16": 16}
_FLEX = re.compile(r"^([SU])([1-9][0-9]{0,6})$")


class _StandIn:
    """What an allowed global resolves to: callable, never a type, refusing BUILD on itself."""

    __slots__ = ("kind", "load", "name")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, load: _Load, kind: str, name: str):
        self.load, self.kind, self.name = load, kind, name

    def __call__(self, *args: Any) -> Any:
        ld = self.load
        pos, label = ld.event()
        try:
            return getattr(ld, f"_make_{self.kind}")(args)
        except _RefusedCall as exc:
            raise ld.refusal(pos, f"{label} {self.name}{_args_text(args)}", str(exc)) from None

    def __setstate__(self, state: Any) -> None:
        ld = self.load
        pos, label = ld.event()
        raise ld.refusal(pos, label, f"BUILD on the global {self.name} itself")

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self):  # never pickled back out
        raise TypeError(f"{self.name} stand-in cannot be pickled")


def _args_text(args: tuple) -> str:
    return short_repr(args, 120) if len(args) != 1 else f"({short_repr(args[0], 116)})"


class _DtypeStub:
    """A numpy dtype being unpickled: ``numpy.dtype(code, align, copy)`` then BUILD(state)."""

    __slots__ = ("code", "dtype", "load", "used")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, load: _Load, code: str):
        self.load, self.code, self.dtype, self.used = load, code, None, False

    def __setstate__(self, state: Any) -> None:
        ld = self.load
        pos, label = ld.event()
        try:
            self.dtype = _dtype_from_state(self.code, state, built=self.dtype is not None)
        except _RefusedCall as exc:
            raise ld.refusal(pos, f"{label} of numpy.dtype({self.code!r})", str(exc)) from None

    def __repr__(self) -> str:
        return f"numpy.dtype({self.code!r})"

    def __reduce__(self):
        raise TypeError("a dtype stub cannot be pickled")


class _ArrayStub:
    """A numpy array being unpickled; replaced by :attr:`array` once the load is done."""

    __slots__ = ("array", "load")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, load: _Load, array: np.ndarray | None = None):
        self.load, self.array = load, array

    def __setstate__(self, state: Any) -> None:
        ld = self.load
        pos, label = ld.event()
        try:
            if self.array is not None:
                raise _RefusedCall("the array already has its state (a second BUILD)")
            if type(state) is not tuple or len(state) != 5:
                raise _RefusedCall(
                    "numpy writes an array's state as (1, shape, dtype, is_fortran, data); "
                    f"found {short_repr(state)}"
                )
            version, shape, dt, fortran, raw = state
            if type(version) is not int or version != 1:
                raise _RefusedCall(f"array state version {short_repr(version)}, not 1")
            if type(fortran) is not bool:
                raise _RefusedCall(f"is_fortran is {short_repr(fortran)}, not a bool")
            self.array = ld.array_from(raw, dt, shape, "F" if fortran else "C", native=True)
        except _RefusedCall as exc:
            raise ld.refusal(pos, f"{label} of a numpy array", str(exc)) from None

    def __repr__(self) -> str:
        return "numpy.ndarray(...)"

    def __reduce__(self):
        raise TypeError("an array stub cannot be pickled")


def _expected_state(code: str, endian: str) -> tuple:
    """The version-3 state numpy (1.x and 2.x) writes for ``dtype(endian + code)``."""
    m = _FLEX.match(code)
    if m is None:
        return (3, endian, None, None, None, -1, -1, 0)
    n = int(m.group(2))
    if m.group(1) == "S":
        return (3, endian, None, None, None, n, 1, 0)
    return (3, endian, None, None, None, 4 * n, 4, 8)  # U: UCS-4, NPY_NEEDS_INIT


def _endians(code: str) -> tuple[str, ...]:
    if code.startswith("S") or _NUMERIC.get(code) == 1:
        return ("|",)
    return ("<", ">")


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (so ``True`` is not ``1``)."""
    if type(a) is not type(b):
        return False
    if type(a) is tuple:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _dtype_from_state(code: str, state: Any, built: bool) -> np.dtype:
    if built:
        raise _RefusedCall("the dtype already has its state (a second BUILD)")
    for endian in _endians(code):
        if _same(state, _expected_state(code, endian)):
            return np.dtype(code if endian == "|" else endian + code)
    expected = " or ".join(repr(_expected_state(code, e)) for e in _endians(code))
    raise _RefusedCall(
        f"the state {short_repr(state, 120)} is not what numpy writes for {code!r} ({expected})"
    )


# =========================================================================== one load
class _Load:
    """The state of one ``load()``: messages, stand-ins, what they built, their allocations."""

    def __init__(self, source: str, where: str, base_offset: int, limits: PickleLimits):
        self.source, self.where, self.base_offset, self.limits = source, where, base_offset, limits
        self.cost = 0
        self.verifier = _Verifier(self)
        self.standins = {
            key: _StandIn(self, kind, f"{key[0]}.{key[1]}") for key, (kind, _w) in _TABLE.items()
        }
        self.dtypes: list[_DtypeStub] = []
        self.arrays: list[_ArrayStub] = []
        self.odicts: list[collections.OrderedDict] = []
        self.last_pos: int | None = None

    # ------------------------------------------------------------------ positions and messages
    def abs(self, pos: int) -> int:
        """Offset in the source (or decompressed stream) of verifier position ``pos``."""
        return self.base_offset + self.verifier.base + pos

    def of_where(self) -> str:
        return f" of the {self.where}" if self.where else ""

    def damaged(self) -> str:
        return f"{self.source}: damaged pickle" + (f" ({self.where})" if self.where else "") + ": "

    def event(self) -> tuple[int | None, str]:
        """Position and label of the opcode that is calling into us now (recorded in order)."""
        if not self.verifier.events:
            self.last_pos = None
            return None, "a call"
        pos, label = self.verifier.events.popleft()
        self.last_pos = self.base_offset + pos
        return self.last_pos, label

    def refusal(self, pos: int | None, what: str, why: str) -> UnsafePickleError:
        at = f" at byte {pos}{self.of_where()}" if pos is not None else ""
        return UnsafePickleError(
            f"{self.source}: refusing to load: {what}{at}: {why}; nothing was executed"
        )

    def charge(self, nbytes: int) -> None:
        """Count what a stand-in is about to build against the load's allocation bound."""
        self.cost += nbytes
        v = self.verifier
        allowed = self.limits.allowance(v.base)
        if v.cost + self.cost > allowed:
            at = f" at byte {self.last_pos}" if self.last_pos is not None else ""
            raise ResourceLimitError(
                f"{self.source}: building the object of the opcode{at}{self.of_where()} would "
                f"take the load past its allocation bound of {allowed:,} bytes"
            )

    # ------------------------------------------------------------------ the stand-ins' work
    def _make_dtype(self, args: tuple) -> _DtypeStub:
        if len(args) != 3:
            raise _RefusedCall("numpy writes dtype(code, align, copy) with 3 arguments")
        code, align, copy = args
        if type(code) is not str or not (code in _NUMERIC or _flex_ok(code)):
            raise _RefusedCall(
                "only bool, integer, float, complex and fixed-width S/U string dtypes load "
                "(never object, structured, datetime or void)"
            )
        if not (_same(align, False) or _same(align, 0)) or not (
            _same(copy, True) or _same(copy, 1)
        ):
            raise _RefusedCall("numpy writes align=False, copy=True")
        stub = _DtypeStub(self, code)
        self.dtypes.append(stub)
        return stub

    def _make_ndarray(self, args: tuple) -> None:
        raise _RefusedCall("numpy.ndarray is only an argument of _reconstruct")

    def _make_scalar(self, args: tuple) -> Any:
        if len(args) != 2:
            raise _RefusedCall("numpy writes scalar(dtype, payload) with 2 arguments")
        dt = self._built_dtype(args[0])
        raw = _payload(args[1])
        if len(raw) != dt.itemsize:
            raise _RefusedCall(f"the payload has {len(raw)} bytes; a {dt} scalar has {dt.itemsize}")
        _check_bool(dt, raw)
        return np.frombuffer(raw, dtype=dt)[0]

    def _make_reconstruct(self, args: tuple) -> _ArrayStub:
        if (
            len(args) != 3
            or args[0] is not self.standins[("numpy", "ndarray")]
            or not _same(args[1], (0,))
            or not (_same(args[2], b"b") or _same(args[2], "b"))
        ):
            raise _RefusedCall("numpy writes _reconstruct(numpy.ndarray, (0,), b'b')")
        stub = _ArrayStub(self)
        self.arrays.append(stub)
        return stub

    def _make_frombuffer(self, args: tuple) -> _ArrayStub:
        if len(args) != 4:
            raise _RefusedCall("numpy writes _frombuffer(buffer, dtype, shape, order)")
        buf, dt, shape, order = args
        if type(buf) not in (bytes, bytearray):
            raise _RefusedCall(f"the buffer is a {type(buf).__name__}, not bytes")
        if order not in ("C", "F") or type(order) is not str:
            raise _RefusedCall(f"order {short_repr(order)} is not 'C' or 'F'")
        stub = _ArrayStub(self, self.array_from(bytes(buf), dt, shape, order, native=False))
        self.arrays.append(stub)
        return stub

    def _make_encode(self, args: tuple) -> bytes:
        if (
            len(args) != 2
            or type(args[0]) is not str
            or type(args[1]) is not str
            or args[1] not in ("latin1", "latin-1")
        ):
            raise _RefusedCall("only (str, 'latin1') is allowed")
        try:
            out = args[0].encode("latin-1")
        except UnicodeEncodeError:
            raise _RefusedCall("the string has characters beyond latin-1") from None
        self.charge(_C_STR + len(out))
        return out

    def _make_bytes(self, args: tuple) -> bytes:
        if args:
            raise _RefusedCall("only bytes() with no arguments is allowed")
        return b""

    def _make_odict(self, args: tuple) -> collections.OrderedDict:
        pairs = _pairs(args, "OrderedDict")
        self.charge(_C_DICT + 2 * _C_DICT_ITEM * len(pairs))
        try:
            od = collections.OrderedDict(pairs)
        except TypeError as exc:
            raise _RefusedCall(f"an unhashable key ({exc})") from None
        self.odicts.append(od)
        return od

    def _make_set(self, args: tuple) -> set:
        if len(args) > 1 or (args and type(args[0]) not in (list, tuple)):
            raise _RefusedCall("protocol-2 pickles write set() or set([items])")
        items = args[0] if args else ()
        self.charge(_C_SET + _C_SET_ITEM * len(items))
        try:
            return set(items)
        except TypeError as exc:
            raise _RefusedCall(f"an unhashable element ({exc})") from None

    # ------------------------------------------------------------------ arrays
    def _built_dtype(self, dt: Any) -> np.dtype:
        if type(dt) is not _DtypeStub or dt.load is not self:
            raise _RefusedCall(f"the dtype is {short_repr(dt)}, not a numpy.dtype of this file")
        if dt.dtype is None:
            raise _RefusedCall("the dtype was used before its state (BUILD) was given")
        dt.used = True
        return dt.dtype

    def array_from(self, raw: Any, dt: Any, shape: Any, order: str, native: bool) -> np.ndarray:
        """``np.frombuffer(raw, dt).reshape(shape, order).copy()``, after checking every part.

        ``native``: convert to native byte order, as numpy's ``ndarray.__setstate__`` does
        (``_frombuffer``, protocol 5, keeps the stored order).
        """
        dtype = self._built_dtype(dt)
        if (
            type(shape) is not tuple
            or len(shape) > MAX_NDIM
            or not all(type(d) is int and 0 <= d < 2**31 for d in shape)
        ):
            raise _RefusedCall(
                f"the shape {short_repr(shape)} is not a tuple of at most {MAX_NDIM} "
                "non-negative ints"
            )
        raw = _payload(raw)
        count = 1
        for d in shape:
            count *= d
        if len(raw) != count * dtype.itemsize:
            raise _RefusedCall(
                f"the payload has {len(raw):,} bytes; shape {shape} of {dtype} needs "
                f"{count * dtype.itemsize:,}"
            )
        _check_bool(dtype, raw)
        self.charge(_C_STR + len(raw))
        out = dtype.newbyteorder("=") if native else dtype
        if count == 0:
            return np.zeros(shape, dtype=out, order=order)
        view = np.frombuffer(raw, dtype=dtype).reshape(shape, order=order)
        return view.astype(out, order="K", copy=True)

    # ------------------------------------------------------------------ after the load
    def finish(self, holder: list) -> Any:
        """Checks once the unpickler is gone (its memo freed), then arrays swapped in.

        Each stand-in and stub is owned once, by this load's table or lists; another reference
        means the object itself ended up in the result (see :func:`_held_elsewhere`). No loop
        variable here may hold one of them while they are counted.
        """
        obj = holder.pop()  # the caller keeps no reference: the root may be a stub
        refuse = f"{self.source}: refusing to load{self.of_where() and ' the ' + self.where}: "
        bare = [
            i
            for i in range(len(self.dtypes))
            if self.dtypes[i].dtype is None
            or not self.dtypes[i].used
            or _held_elsewhere(self.dtypes, i)
        ]
        if bare:
            raise UnsafePickleError(
                f"{refuse}the pickle holds a bare numpy.dtype({self.dtypes[bare[0]].code!r}), "
                "not as the dtype of a scalar or array; benchmark files hold none"
            )
        built = [od for od in self.odicts if getattr(od, "__dict__", None)]
        if built:
            raise UnsafePickleError(
                f"{refuse}an OrderedDict was given attributes {short_repr(sorted(built[0].__dict__))}"
                " by BUILD; pickle never writes that"
            )
        if any(a.array is None for a in self.arrays):
            raise UnsafePickleError(
                f"{refuse}a numpy array (_reconstruct) never got its state (BUILD)"
            )
        held = [key for key in list(self.standins) if _held_elsewhere(self.standins, key)]
        if held:
            raise UnsafePickleError(
                f"{refuse}the pickle holds the global {held[0][0]}.{held[0][1]} itself as a "
                "value; benchmark files hold none"
            )
        if self.arrays:
            obj = _swap_arrays(obj, self.source)
            if any(_held_elsewhere(self.arrays, i) for i in range(len(self.arrays))):
                raise UnsafePickleError(
                    f"{refuse}a numpy array sits where it cannot be replaced (inside an "
                    "object's state)"
                )
        return obj


def _held_elsewhere(owner: Any, key: Any) -> bool:
    """Whether ``owner[key]`` is referenced by anything but ``owner`` (garbage collected first);
    :func:`sys.getrefcount` also counts the local ``obj`` and its own argument."""
    obj = owner[key]
    if sys.getrefcount(obj) <= 3:
        return False
    gc.collect()
    return sys.getrefcount(obj) > 3


def _flex_ok(code: str) -> bool:
    m = _FLEX.match(code)
    return m is not None and int(m.group(2)) * (4 if m.group(1) == "U" else 1) <= MAX_ITEMSIZE


def _payload(raw: Any) -> bytes:
    if type(raw) is bytes:
        return raw
    if type(raw) is str:  # Python-2 pickles carry payloads as latin-1 str
        try:
            return raw.encode("latin-1")
        except UnicodeEncodeError:
            raise _RefusedCall("the payload string has characters beyond latin-1") from None
    raise _RefusedCall(f"the payload is a {type(raw).__name__}, not bytes")


def _check_bool(dtype: np.dtype, raw: bytes) -> None:
    if dtype.kind == "b" and raw.translate(None, b"\x00\x01"):
        raise _RefusedCall("a bool payload holds bytes other than 0 and 1")


def _pairs(args: tuple, name: str) -> list:
    if not args:
        return []
    if len(args) != 1 or type(args[0]) not in (list, tuple):
        raise _RefusedCall(f"pickles write {name}() or {name}([[key, value], ...])")
    pairs = list(args[0])
    for pair in pairs:
        if type(pair) not in (list, tuple) or len(pair) != 2:
            raise _RefusedCall(f"{name} items must be [key, value] pairs")
    return pairs


def _swap_arrays(root: Any, source: str) -> Any:
    """Replace every :class:`_ArrayStub` reachable from ``root`` by its array, iteratively.

    Lists and dict values are replaced in place; a tuple holding a stub is rebuilt. A tuple that
    must be rebuilt but is reachable from itself (through a list or dict) is refused: the old
    tuple would stay inside the cycle.
    """
    containers = (list, tuple, dict, collections.OrderedDict)
    if type(root) not in containers:
        return _swapped(root, {})
    done: dict[int, Any] = {}  # id -> the object or its rebuilt tuple
    active: set[int] = set()  # visited (done is checked first, so: on the path being walked)
    cyclic: set[int] = set()  # tuples met again while active
    # (ids stay unique: every object visited is reachable from the root, or held by todo, until
    # it is done, and only the originals' ids are looked up)
    todo: list[tuple[Any, bool]] = [(root, False)]
    while todo:
        obj, children_done = todo.pop()
        oid = id(obj)
        if not children_done:
            if oid in done:
                continue
            if oid in active:
                cyclic.add(oid)
                continue
            active.add(oid)
            todo.append((obj, True))
            kids = obj.values() if isinstance(obj, dict) else obj
            todo.extend((k, False) for k in kids if type(k) in containers)
            continue
        if type(obj) is tuple:
            new = tuple(_swapped(x, done) for x in obj)
            if any(a is not b for a, b in zip(new, obj)):
                if oid in cyclic:
                    raise UnsafePickleError(
                        f"{source}: refusing to load: a numpy array inside a tuple that contains "
                        "itself"
                    )
                obj = new
        elif type(obj) is list:
            for i, x in enumerate(obj):
                obj[i] = _swapped(x, done)
        else:
            for k, x in obj.items():
                y = _swapped(x, done)
                if y is not x:
                    obj[k] = y
        done[oid] = obj
    return _swapped(root, done)


def _swapped(x: Any, done: dict[int, Any]) -> Any:
    if type(x) is _ArrayStub:
        return x.array
    return done.get(id(x), x) if type(x) is tuple else x


# =========================================================================== the unpickler
class RestrictedUnpickler(pickle.Unpickler):
    """CPython's C unpickler with every allowed global resolved to this load's stand-in.

    It reads only what the verifier of ``load`` has checked (see :class:`PickleStream`).
    """

    def __init__(self, file: BinaryIO, load: _Load):
        super().__init__(file, encoding="latin1")
        self._ld = load

    def find_class(self, module: str, name: str) -> Any:
        ld = self._ld
        pos, _label = ld.event()
        module = _MODULE_ALIASES.get(module, module)
        standin = ld.standins.get((module, name))
        if standin is None:  # the verifier refuses these first; kept for defence in depth
            raise ld.refusal(
                pos, f"the pickle names the global '{module}.{name}'", "it is not on the allow-list"
            )
        return standin

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(
            f"{self._ld.source}: refusing to load: the pickle references external storage "
            f"(persistent id {short_repr(pid)}), e.g. a torch tensor; benchmark files hold none"
        )


class _SourceFailed(Exception):
    """The source's ``read`` raised ``original`` (e.g. a bad zip CRC): not a pickle problem."""

    def __init__(self, original: BaseException):
        self.original = original


class _VerifiedRaw(io.RawIOBase):
    """The byte stream the unpickler reads: only whole opcodes the verifier has passed."""

    def __init__(self, stream: PickleStream, verifier: _Verifier):
        self.stream, self.v = stream, verifier
        self.ready = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self.ready:
            if self.v.done:
                return 0
            self._advance()
        n = min(len(b), len(self.ready))
        b[:n] = self.ready[:n]
        self.ready = self.ready[n:]
        return n

    def _advance(self) -> None:
        s = self.stream
        parts = [s._pending]
        have = len(s._pending)
        want = max(have + CHUNK, self.v.need)
        eof = False
        while have < want:
            try:
                data = s._take(min(want - have, 4 * CHUNK))
            except NasbenchToolsError:
                raise
            except Exception as exc:
                raise _SourceFailed(exc) from exc
            if not data:
                eof = True
                break
            parts.append(data)
            have += len(data)
        buf = b"".join(parts)
        n = self.v.feed(buf, final=eof)
        s._pending = buf[n:]
        self.ready = memoryview(buf)[:n]


class PickleStream:
    """Consecutive pickles read from a byte source, each verified before it is unpickled.

    Parameters
    ----------
    read : callable
        ``read(n)`` returns up to ``n`` bytes (``b""`` at the end), e.g. a file's ``read``, a
        capped decompressor's, a zip member's. Containers bound the total it yields.
    source : str
        The file, for messages.
    base_offset : int
        Offset of the first byte ``read`` yields inside ``source`` (positions in messages).
    limits : PickleLimits
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        *,
        source: str,
        base_offset: int = 0,
        limits: PickleLimits = DEFAULT_LIMITS,
    ):
        self._read = read
        self.source = source
        self.position = base_offset  # offset of the next unconsumed byte
        self.limits = limits
        self._pending = b""

    def _take(self, n: int) -> bytes:
        return self._read(max(n, 1))

    def load(self, where: str = "") -> Any:
        """Load the next pickle; ``where`` names the stream for messages."""
        ld = _Load(self.source, where, self.position, self.limits)
        raw = _VerifiedRaw(self, ld.verifier)
        unpickler = RestrictedUnpickler(io.BufferedReader(raw, 1 << 17), ld)
        try:
            obj = unpickler.load()
        except NasbenchToolsError:
            raise
        except _SourceFailed as exc:
            raise exc.original from None
        except MemoryError:
            raise ResourceLimitError(
                f"{ld.damaged()}MemoryError while unpickling{_near(ld)}: this process cannot "
                "hold what the stream asks for"
            ) from None
        except Exception as exc:  # the C unpickler's own errors on input the verifier passed
            raise CorruptFileError(
                f"{ld.damaged()}{type(exc).__name__}: {short_repr(str(exc), 200)}{_near(ld)}"
            ) from None
        finally:
            del unpickler  # frees its memo before the reference checks in finish()
        if not ld.verifier.done or raw.ready:
            raise CorruptFileError(f"{ld.damaged()}the unpickler stopped before STOP{_near(ld)}")
        self.position = ld.abs(0)
        holder = [obj]
        del obj
        return ld.finish(holder)

    def at_end(self) -> bool:
        """Whether the source has no bytes left after the pickles loaded so far."""
        if self._pending:
            return False
        self._pending = self._read(1)
        return not self._pending


def _near(ld: _Load) -> str:
    pos = ld.last_pos if ld.last_pos is not None else ld.abs(0)
    return f" (after byte {pos}{ld.of_where()})"


# =========================================================================== convenience
def safe_load(
    fh: BinaryIO,
    *,
    source: str,
    base_offset: int = 0,
    where: str = "",
    limits: PickleLimits = DEFAULT_LIMITS,
) -> Any:
    """Load one pickle from the binary file ``fh``.

    ``fh`` is read in chunks; if it is seekable it is left just after the pickle's STOP opcode.
    """
    start = fh.tell() if fh.seekable() else None
    stream = PickleStream(fh.read, source=source, base_offset=base_offset, limits=limits)
    obj = stream.load(where)
    if start is not None:
        fh.seek(start + stream.position - base_offset)
    return obj


def safe_loads(
    data: bytes,
    *,
    source: str,
    base_offset: int = 0,
    where: str = "",
    limits: PickleLimits = DEFAULT_LIMITS,
) -> Any:
    """Load ``data``, one complete pickle; bytes after its STOP opcode are an error."""
    stream = PickleStream(
        io.BytesIO(data).read, source=source, base_offset=base_offset, limits=limits
    )
    obj = stream.load(where)
    if not stream.at_end():
        raise CorruptFileError(
            f"{source}: {base_offset + len(data) - stream.position} unexpected bytes after the "
            f"pickle's end at byte {stream.position}{' of the ' + where if where else ''}"
        )
    return obj
