"""Restricted unpickling for the pickle-based benchmark files: a file cannot run code.

``pickle.load`` and ``torch.load(weights_only=False)`` call whatever callable a pickle names, so a
doctored benchmark file can execute anything. The benchmark files (NB201 ``.pth``, NATS-Bench
``.pickle.pbz2``, NASLib ``.pickle`` / ``.pkl``) hold only plain containers, numbers, strings and a
few numpy objects, so :class:`RestrictedUnpickler` resolves exactly those globals from a fixed table
(:data:`ALLOWED_GLOBALS`) and refuses everything else with
:class:`~nasbench_tools.errors.UnsafePickleError` naming the file, the ``module.name`` and its byte
position. The refusal happens in ``find_class``, i.e. when the pickle *names* the global, before the
callable could be called; nothing is imported by name either (the table maps to objects this module
already holds). Persistent ids (torch tensor storages) are refused the same way.

Damaged streams (truncated, flipped bytes) raise :class:`~nasbench_tools.errors.CorruptFileError`
with the byte position of the first opcode that does not parse, where one can be found.

This module does not import torch.
"""

from __future__ import annotations

import collections
import io
import pickle
import pickletools
import struct
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from ..errors import CorruptFileError, UnsafePickleError

__all__ = ["ALLOWED_GLOBALS", "RestrictedUnpickler", "safe_load", "safe_loads"]

try:  # numpy >= 2 keeps the implementation in numpy._core; numpy 1.x in numpy.core
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]


class _RefusedCall(Exception):
    """Raised by an allowed callable that was given arguments outside what the files contain."""


def _latin1_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # protocol-2 pickles written by Python 3 store every ``bytes`` object (numpy scalar and array
    # payloads included) as ``_codecs.encode(<str>, 'latin1')``; nothing else is ever needed.
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise _RefusedCall(
            f"_codecs.encode called with ({type(obj).__name__}, {encoding!r}, {errors!r}); "
            "only (str, 'latin1') is allowed"
        )
    return obj.encode("latin-1")


# (module, name) -> (object returned, why the benchmark files need it). Each entry was seen in the
# real files (NATS-Bench archives, NASLib's NB101 pickle) or is what ``torch.save`` (protocol 2)
# writes for the same objects; nothing else is allowed.
_TABLE: dict[tuple[str, str], tuple[Any, str]] = {
    ("collections", "OrderedDict"): (
        collections.OrderedDict,
        "ResultsCount.train_times (and the NATS per-arch {'12', '200'} dict) are OrderedDicts",
    ),
    ("numpy", "dtype"): (np.dtype, "rebuilds the dtype of every numpy scalar and array"),
    ("numpy", "ndarray"): (
        np.ndarray,
        "NASLib's NB101 module_adjacency is an ndarray (the subtype passed to _reconstruct)",
    ),
    ("builtins", "set"): (
        set,
        "protocol-2 pickles (torch.save) write a set as set([...]); NB201 evaluated_indexes is one",
    ),
    ("_codecs", "encode"): (
        _latin1_encode,
        "protocol-2 pickles store bytes (numpy payloads) as _codecs.encode(str, 'latin1'); "
        "restricted to exactly that call",
    ),
}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):  # numpy 1.x / 2.x writers
    _TABLE[(_mod, "scalar")] = (
        _multiarray.scalar,
        "numpy scalars: ResultsCount.params and latency entries are numpy.float64",
    )
    _TABLE[(_mod, "_reconstruct")] = (
        _multiarray._reconstruct,
        "rebuilds a numpy array (NASLib's NB101 module_adjacency)",
    )

#: The ``(module, name)`` globals a benchmark pickle may name, each with the reason it is needed.
ALLOWED_GLOBALS: dict[tuple[str, str], str] = {k: why for k, (_obj, why) in _TABLE.items()}

#: Python 2 module names that protocol-2 pickles use for builtins (``torch.save`` writes them).
_MODULE_ALIASES = {"__builtin__": "builtins"}

#: Exceptions the C unpickler raises on damaged input.
_DECODE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    UnicodeDecodeError,
    MemoryError,
    RecursionError,
    struct.error,
)

#: Most bytes re-scanned to locate an error (the scan is pure Python, about 10 MB/s).
SCAN_LIMIT = 256 * 2**20


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that resolves only :data:`ALLOWED_GLOBALS`.

    Parameters
    ----------
    file : binary file object
        The pickle stream (any object with ``read``/``readline``; ``peek`` makes it fast).
    source : str
        The benchmark file, for messages.
    reopen : callable, optional
        Returns a fresh stream positioned at the start of the same pickle. Used only on the error
        path, to find the byte position of a refused global or a damaged opcode.
    base_offset : int
        Offset of this pickle inside ``source`` (or inside the decompressed stream), added to
        positions in messages.
    where : str
        What the stream is, for messages (e.g. ``"decompressed bz2 stream"``).
    """

    def __init__(
        self,
        file: BinaryIO,
        *,
        source: str,
        reopen: Callable[[], BinaryIO] | None = None,
        base_offset: int = 0,
        where: str = "",
    ):
        super().__init__(file, encoding="latin1")
        self.source = source
        self.reopen = reopen
        self.base_offset = base_offset
        self.where = where

    # ------------------------------------------------------------------ refusals
    def find_class(self, module: str, name: str) -> Any:
        module = _MODULE_ALIASES.get(module, module)
        entry = _TABLE.get((module, name))
        if entry is None:
            pos = _locate_global(self.reopen, module, name)
            raise UnsafePickleError(
                f"{self.source}: refusing to load: the pickle names the global "
                f"'{module}.{name}'{self._at(pos)}, which is not on the allow-list of benchmark "
                f"files ({_allowed_text()}); nothing was executed"
            )
        return entry[0]

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(
            f"{self.source}: refusing to load: the pickle references external storage "
            f"(persistent id {_short(pid)}), e.g. a torch tensor; benchmark files hold none"
        )

    def _at(self, pos: int | None) -> str:
        where = f" of the {self.where}" if self.where else ""
        if pos is None:
            return f" (position not located{where})"
        return f" at byte {self.base_offset + pos}{where}"

    # ------------------------------------------------------------------ loading
    def load(self) -> Any:
        try:
            return super().load()
        except UnsafePickleError:
            raise
        except _RefusedCall as exc:
            raise UnsafePickleError(
                f"{self.source}: refusing to load: {exc}; nothing else was executed"
            ) from None
        except _DECODE_ERRORS as exc:
            pos, detail = _locate_damage(self.reopen, self.base_offset)
            where = f" ({self.where})" if self.where else ""
            if pos is None:
                text = detail or f"{type(exc).__name__}: {exc}"
                raise CorruptFileError(f"{self.source}: damaged pickle{where}: {text}") from None
            raise CorruptFileError(
                f"{self.source}: damaged pickle{where}: the stream breaks at byte "
                f"{self.base_offset + pos}: {detail}"
            ) from None


def safe_load(
    fh: BinaryIO,
    *,
    source: str,
    reopen: Callable[[], BinaryIO] | None = None,
    base_offset: int = 0,
    where: str = "",
) -> Any:
    """Unpickle one object from ``fh`` with :class:`RestrictedUnpickler`."""
    return RestrictedUnpickler(
        fh, source=source, reopen=reopen, base_offset=base_offset, where=where
    ).load()


def safe_loads(data: bytes, *, source: str, base_offset: int = 0, where: str = "") -> Any:
    """Unpickle ``data`` (one complete pickle) with :class:`RestrictedUnpickler`.

    Bytes after the pickle's STOP opcode are an error (a concatenation or a damaged length).
    """
    fh = io.BytesIO(data)
    obj = safe_load(
        fh,
        source=source,
        reopen=lambda: io.BytesIO(data),
        base_offset=base_offset,
        where=where,
    )
    if fh.tell() != len(data):
        raise CorruptFileError(
            f"{source}: {len(data) - fh.tell()} unexpected bytes after the pickle's end at byte "
            f"{base_offset + fh.tell()}{' of the ' + where if where else ''}"
        )
    return obj


# =========================================================================== error positions
def _allowed_text() -> str:
    return ", ".join(sorted(f"{m}.{n}" for m, n in ALLOWED_GLOBALS))


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."


class _Limited:
    """Read at most ``limit`` bytes of ``fh``, then report end of data; counts what it read."""

    def __init__(self, fh: BinaryIO, limit: int):
        self.fh, self.left, self.pos, self.hit = fh, limit, 0, False

    def _took(self, data: bytes) -> bytes:
        self.left -= len(data)
        self.pos += len(data)
        return data

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self.left:
            n = self.left
            self.hit = True
        return self._took(self.fh.read(n))

    def readline(self) -> bytes:
        line = self._took(self.fh.readline(max(self.left, 0)))
        if self.left <= 0:
            self.hit = True
        return line

    def tell(self) -> int:
        return self.pos


_STRING_OPS = frozenset(
    {
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
        "UNICODE",
        "BINUNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE8",
    }
)
_NO_PUSH = frozenset({"PROTO", "FRAME", "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"})


def _locate_global(reopen, module: str, name: str) -> int | None:
    """Byte position of the first opcode naming ``module.name`` (re-reading the stream)."""
    if reopen is None:
        return None
    memo: dict[int, Any] = {}
    pushed: list[Any] = []  # the values of recent pushes (str or None), enough for STACK_GLOBAL
    try:
        with _closing(reopen()) as fh:
            for op, arg, pos in pickletools.genops(_Limited(fh, SCAN_LIMIT)):
                nm = op.name
                if nm in ("GLOBAL", "INST"):
                    mod, _, nme = str(arg).partition(" ")
                    if (_MODULE_ALIASES.get(mod, mod), nme) == (module, name):
                        return pos
                elif nm == "STACK_GLOBAL":
                    if len(pushed) >= 2 and (
                        _MODULE_ALIASES.get(pushed[-2], pushed[-2]),
                        pushed[-1],
                    ) == (module, name):
                        return pos
                if nm in ("PUT", "BINPUT", "LONG_BINPUT"):
                    memo[arg] = pushed[-1] if pushed else None
                elif nm == "MEMOIZE":
                    memo[len(memo)] = pushed[-1] if pushed else None
                elif nm in ("GET", "BINGET", "LONG_BINGET"):
                    pushed.append(memo.get(arg))
                elif nm in _STRING_OPS:
                    pushed.append(arg if isinstance(arg, str) else None)
                elif nm not in _NO_PUSH:
                    pushed.append(None)
                if len(pushed) > 64:
                    del pushed[:-8]
    except (ValueError, OSError, EOFError):
        return None
    return None


def _locate_damage(reopen, base: int = 0) -> tuple[int | None, str]:
    """(byte position, description) of the first place the stream does not parse, if any.

    ``None`` when the opcodes parse (the damage is semantic, e.g. a memo reference to nothing) or
    the damage lies beyond :data:`SCAN_LIMIT`.
    """
    if reopen is None:
        return None, ""
    last = None
    lim = None
    try:
        with _closing(reopen()) as fh:
            lim = _Limited(fh, SCAN_LIMIT)
            for op, _arg, pos in pickletools.genops(lim):
                last = (op.name, pos)
    except ValueError as exc:  # genops: unknown opcode, short read, no STOP
        if lim is not None and lim.hit:
            return None, ""
        where = lim.pos if lim is not None else 0
        if last is None:
            return 0, f"not a pickle stream ({exc})"
        return where, f"{exc} (the last whole opcode is {last[0]} at byte {base + last[1]})"
    except (OSError, EOFError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return None, ""


class _closing:
    def __init__(self, fh):
        self.fh = fh

    def __enter__(self):
        return self.fh

    def __exit__(self, *exc):
        close = getattr(self.fh, "close", None)
        if close is not None:
            close()
        return False
