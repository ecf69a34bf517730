"""Readers for the official benchmark file formats, behind one registry.

Every module of this package whose name does not start with ``_`` is a reader module: it is
discovered (imported on the first lookup; there is no list to edit) and registers its readers in
:data:`READERS` with :func:`register_reader`:

* ``name``: the format's name, e.g. ``"nb101-tfrecord"``;
* ``space``: the registered search space it reads (``"nb101"``, ``"nb201"``, ``"nats-sss"``);
* ``read(path, *, progress) -> ColumnSet``;
* ``sniff(path, head) -> bool``: cheap recognition from the path and the file's first bytes
  (``head`` is ``b""`` for a folder), so ``read_any`` can pick the reader.

:func:`read_any` dispatches on ``format=`` or on the first reader whose ``sniff`` accepts the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...errors import NasbenchToolsError
from ...registry import Registry
from ...spaces import get_space
from ..columns import ColumnSet
from ..verify import hash_mode, verify_module_hashes

__all__ = ["READERS", "Reader", "get_reader", "list_readers", "read_any", "register_reader"]


@dataclass(frozen=True)
class Reader:
    name: str
    space: str
    read: Callable[..., ColumnSet]
    sniff: Callable[[Path, bytes], bool]
    description: str = ""


#: Every reader, by format name; the modules of this package are discovered on first use.
READERS: Registry[Reader] = Registry("format", discover=__name__)


def register_reader(
    name: str, space: str, sniff: Callable[[Path, bytes], bool], description: str = ""
):
    """Decorator registering ``read(path, *, progress=True) -> ColumnSet`` as format ``name``."""
    get_space(space)  # a reader of an unregistered space is a programming error: fail at import

    def deco(fn):
        doc = description or (fn.__doc__ or "").strip().split("\n")[0]
        READERS.register(name, Reader(name, space, fn, sniff, doc))
        return fn

    return deco


def list_readers() -> list[str]:
    return READERS.names()


def get_reader(name: str) -> Reader:
    return READERS.get(name)


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
    cs.meta["source_format"] = reader.name
    cs.check_values(str(path))
    if get_space(cs.space).key_kind == "hash":
        cs.meta["hash_check"] = verify_module_hashes(cs, str(path), mode, progress=progress)
    return cs


def _sniff(path: Path) -> Reader:
    head = b""
    if path.is_file():
        with open(path, "rb") as fh:
            head = fh.read(64)
    for reader in READERS.values():
        if reader.sniff(path, head):
            return reader
    raise NasbenchToolsError(
        f"{path}: not a recognised benchmark file; pass format= one of {', '.join(READERS.names())}"
    )
