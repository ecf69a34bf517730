"""Convert an official benchmark file (or folder) into a store, once."""

from __future__ import annotations

from pathlib import Path

from ..errors import NasbenchToolsError, OutputPathError
from .formats import read_any
from .store import AtomicOutput, _write, sha256_of
from .verify import hash_mode

__all__ = ["convert"]


def convert(
    src: str | Path,
    out: str | Path,
    *,
    format: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
    verify_hashes="sample",
) -> Path:
    """Read ``src`` in its official format and write the store ``out`` atomically.

    The output path is checked before ``src`` is read: an existing ``out`` is only replaced with
    ``overwrite=True``; its folder must exist and be writable, its name not too long
    (:class:`~nasbench_tools.errors.OutputPathError`). The store is stamped with ``src``'s
    sha256, the store format version and the package version. ``verify_hashes``: for
    NAS-Bench-101, which keys are checked to be their cell's module hash (``"sample"``, the
    default: 1,000 seeded cells; ``"all"``; ``"none"``; see :func:`.formats.read_any`).
    A failure leaves nothing behind.
    """
    src, out = Path(src), Path(out)
    mode = hash_mode(verify_hashes)
    if not src.exists():
        raise NasbenchToolsError(f"{src}: no such file or folder")
    target = AtomicOutput(out, overwrite=overwrite)  # checks the path; creates nothing yet
    if out.exists() and out.resolve() == src.resolve():
        raise OutputPathError(f"{out}: the store would overwrite its own source")
    with target:
        cs = read_any(src, format=format, progress=progress, verify_hashes=mode)
        _write(cs, target.tmp, sha256_of(src))
        return target.commit()
