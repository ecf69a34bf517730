"""Convert an official benchmark file (or folder) into a store, once."""

from __future__ import annotations

from pathlib import Path

from ..errors import NasbenchToolsError
from .formats import read_any
from .store import sha256_of, write_store

__all__ = ["convert"]


def convert(
    src: str | Path,
    out: str | Path,
    *,
    format: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Read ``src`` in its official format and write the store ``out`` atomically.

    The store is stamped with ``src``'s sha256, the store format version and the package version.
    An existing ``out`` is only replaced with ``overwrite=True``.
    """
    src, out = Path(src), Path(out)
    if out.exists() and not overwrite:
        raise NasbenchToolsError(
            f"{out}: already exists; pass overwrite=True (nbt convert --force) to replace it"
        )
    if out.resolve() == src.resolve():
        raise NasbenchToolsError(f"{out}: the store would overwrite its own source")
    cs = read_any(src, format=format, progress=progress)
    return write_store(cs, out, source_sha256=sha256_of(src))
