"""Readers for the official benchmark file formats, behind one registry.

Each reader module registers itself with :func:`register_reader`:

* ``name``: the format's name, e.g. ``"nb101-tfrecord"``;
* ``space``: ``"nb101"`` or ``"nb201"``;
* ``read(path, *, progress) -> ColumnSet``;
* ``sniff(path, head) -> bool``: cheap recognition from the path and the file's first bytes
  (``head`` is ``b""`` for a folder), so ``read_any`` can pick the reader.

:func:`read_any` dispatches on ``format=`` or on the first reader whose ``sniff`` accepts the file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...errors import NasbenchToolsError
from ..columns import ColumnSet
from ..verify import hash_mode, verify_module_hashes

__all__ = ["Reader", "get_reader", "list_readers", "read_any", "register_reader"]

#: Modules that register readers; imported lazily by :func:`_ensure_loaded`.
READER_MODULES = (
    "nb101_tfrecord",
    "nb101_naslib",
    "nb201_pth",
    "nb201_nats",
    "nb201_naslib",
    "embedded_csv",
)


@dataclass(frozen=True)
class Reader:
    name: str
    space: str
    read: Callable[..., ColumnSet]
    sniff: Callable[[Path, bytes], bool]
    description: str = ""


_READERS: dict[str, Reader] = {}
_loaded = False


def register_reader(
    name: str, space: str, sniff: Callable[[Path, bytes], bool], description: str = ""
):
    """Decorator registering ``read(path, *, progress=True) -> ColumnSet`` as format ``name``."""

    def deco(fn):
        if name in _READERS:
            raise ValueError(f"reader {name!r} is already registered")
        _READERS[name] = Reader(
            name, space, fn, sniff, description or (fn.__doc__ or "").strip().split("\n")[0]
        )
        return fn

    return deco


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    for mod in READER_MODULES:
        importlib.import_module(f"{__name__}.{mod}")
    _loaded = True


def list_readers() -> list[str]:
    _ensure_loaded()
    return sorted(_READERS)


def get_reader(name: str) -> Reader:
    _ensure_loaded()
    try:
        return _READERS[name]
    except KeyError:
        raise NasbenchToolsError(
            f"unknown format {name!r}; known formats: {', '.join(sorted(_READERS))}"
        ) from None


def read_any(
    path: str | Path,
    *,
    format: str | None = None,
    progress: bool = True,
    verify_hashes="sample",
) -> ColumnSet:
    """Read an official benchmark file (or folder) into a :class:`ColumnSet`.

    Whatever the reader, every value is checked against
    :data:`~nasbench_tools.groundtruth.columns.VALUE_RANGES`, and for NAS-Bench-101 every key
    checked to be the module hash of its cell (:mod:`~nasbench_tools.groundtruth.verify`):
    ``verify_hashes="sample"`` (default) a seeded sample of 1,000 cells, ``"all"`` (or ``True``)
    every cell, ``"none"`` (or ``False``) none. What was checked is recorded in
    ``meta["hash_check"]``. Either check raises
    :class:`~nasbench_tools.errors.CorruptFileError` naming the file.
    """
    path = Path(path)
    mode = hash_mode(verify_hashes)  # a bad argument is refused before anything is read
    if not path.exists():
        raise NasbenchToolsError(f"{path}: no such file or folder")
    reader = get_reader(format) if format is not None else _sniff(path)
    cs = reader.read(path, progress=progress)
    cs.check_values(str(path))
    if cs.space == "nb101":
        cs.meta["hash_check"] = verify_module_hashes(cs, str(path), mode, progress=progress)
    return cs


def _sniff(path: Path) -> Reader:
    _ensure_loaded()
    head = b""
    if path.is_file():
        with open(path, "rb") as fh:
            head = fh.read(64)
    for reader in _READERS.values():
        if reader.sniff(path, head):
            return reader
    raise NasbenchToolsError(
        f"{path}: not a recognised benchmark file; pass format= one of {', '.join(sorted(_READERS))}"
    )
