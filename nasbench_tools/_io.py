"""Atomic writes of files and folders, for every layer of the package.

``with atomic_write(path, overwrite=False) as tmp:`` checks ``path`` before anything is computed
(its folder exists, it is not there already unless ``overwrite``, it is a file where a file is
asked for and a folder where a folder is), removes the temporaries that killed writers left for
the same ``path``, and reserves this writer's temporary next to it:
``.<name>.nbt-<pid>-<8 hex>.tmp``, unique to the process and the call. Write to ``tmp`` (a file,
or with ``folder=True`` a folder already created). When the block ends normally, everything
written is flushed to disk (``fsync`` of every file, then of the folders) and ``tmp`` is renamed
to ``path``; a folder that ``path`` already held is moved aside first and removed after. When the
block raises (an error, Ctrl-C), ``tmp`` is removed and ``path`` is left as it was.

Readers therefore see the old ``path`` or the complete new one, never a half-written one; after a
power loss the rename is durable too (the parent folder is ``fsync``-ed). Two writers of the same
``path`` do not share a temporary; the last rename wins.

Errors are :class:`~nasbench_tools.errors.OutputPathError` naming the path. This module imports
the standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputPathError

__all__ = [
    "AtomicOutput",
    "atomic_write",
    "check_output_path",
    "fsync_tree",
    "remove_stale_temporaries",
    "sha256_of",
    "temporary_name",
]


def temporary_name(path: Path, suffix: str = "tmp") -> Path:
    """A fresh temporary path next to ``path``: ``.<name>.nbt-<pid>-<8 hex>.<suffix>``.

    A name over 100 bytes is cut to its first 40 characters and ``~``, so an output whose name is
    near the file system's limit still has a temporary that fits.
    """
    return path.with_name(f".{_short(path.name)}.nbt-{os.getpid()}-{secrets.token_hex(4)}.{suffix}")


def _short(name: str) -> str:
    return name if len(os.fsencode(name)) <= 100 else name[:40] + "~"


class AtomicOutput:
    """The explicit-commit form of :func:`atomic_write`, for outputs checked long before written.

    ``AtomicOutput(path, overwrite=...)`` checks ``path`` at once (:func:`check_output_path`) and
    creates nothing, so a caller can refuse a bad output before reading its input. ``with
    target as out:`` removes the temporaries killed writers left for ``path`` and creates this
    writer's (``out.tmp``). Write it, then ``out.commit()`` flushes it to disk and renames it to
    ``path``; leaving the block without committing (an error, Ctrl-C) removes it.
    """

    def __init__(self, path: str | os.PathLike, *, overwrite: bool, folder: bool = False):
        self.path = check_output_path(path, overwrite=overwrite, folder=folder)
        self.overwrite, self.folder = overwrite, folder
        self.tmp: Path | None = None
        self.committed = False

    def __enter__(self) -> AtomicOutput:
        remove_stale_temporaries(self.path)
        tmp = temporary_name(self.path)
        _reserve(tmp, self.path, self.folder)
        self.tmp = tmp
        return self

    def commit(self) -> Path:
        """Flush the temporary to disk and rename it to the output (refusing an output that
        appeared meanwhile unless ``overwrite``)."""
        if self.tmp is None:
            raise OutputPathError(f"{self.path}: commit() outside the output's `with` block")
        fsync_tree(self.tmp)
        _commit(self.tmp, self.path, overwrite=self.overwrite, folder=self.folder)
        self.committed = True
        return self.path

    def __exit__(self, *exc) -> None:
        if self.tmp is not None and not self.committed:
            _remove(self.tmp)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, *, overwrite: bool = False, folder: bool = False
) -> Iterator[Path]:
    """Write ``path`` (a file, or with ``folder=True`` a folder) atomically; see the module text.

    Parameters
    ----------
    path : path-like
        The output. Its folder must exist.
    overwrite : bool
        Replace ``path`` if it exists (checked on entry and again just before the rename, so an
        output that appeared meanwhile is not replaced either).
    folder : bool
        ``path`` is a folder: the temporary is created as an empty folder.

    Yields
    ------
    pathlib.Path
        The temporary to write (created: an empty file, or an empty folder).
    """
    with AtomicOutput(path, overwrite=overwrite, folder=folder) as out:
        yield out.tmp
        out.commit()


def check_output_path(path: str | os.PathLike, *, overwrite: bool, folder: bool = False) -> Path:
    """Check that ``path`` can be written, before anything is read or computed; returns it.

    Raises :class:`OutputPathError` when ``path`` is not a name, its name or full path is longer
    than the file system allows, its folder is missing or not a folder, it is a folder where a
    file is asked for (or a file where a folder is), or it exists and ``overwrite`` is false.
    Whether the folder is writable is proved by creating the temporary (:func:`atomic_write`).
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise OutputPathError(f"{str(path)!r}: not a name to write; give a file or folder path")
    name_max = _pathconf(path.parent, "PC_NAME_MAX", 255)
    size = len(os.fsencode(path.name))
    if size > name_max:
        raise OutputPathError(
            f"{path.name[:40]}...: the file name is {size} bytes long; the file system of "
            f"{path.parent} allows at most {name_max}"
        )
    path_max = _pathconf(path.parent, "PC_PATH_MAX", 4096)
    full = len(os.fsencode(os.path.abspath(path)))
    if full >= path_max:
        raise OutputPathError(
            f"{str(path)[:60]}...: the path is {full} bytes long; at most {path_max - 1} allowed"
        )
    parent = _stat(path.parent, path)
    if parent is None or not stat.S_ISDIR(parent.st_mode):
        what = "does not exist" if parent is None else "is not a folder"
        raise OutputPathError(f"{path}: its folder {path.parent} {what}; create it first")
    st = _stat(path, path)
    if st is None:
        return path
    if folder and not stat.S_ISDIR(st.st_mode):
        raise OutputPathError(f"{path}: exists and is not a folder; choose another path")
    if not folder and stat.S_ISDIR(st.st_mode):
        raise OutputPathError(f"{path}: is a folder; give a file path")
    if not overwrite:
        raise OutputPathError(f"{path}: already exists; pass overwrite=True to replace it")
    return path


def _pathconf(folder: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(folder, name)
    except (OSError, ValueError, AttributeError):
        return default
    return value if value and value > 0 else default


def _stat(p: Path, path: Path) -> os.stat_result | None:
    """``p``'s stat, None when it does not exist; any other failure names the output ``path``."""
    try:
        return p.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:  # a name too long, a loop of links, no permission to look
        raise OutputPathError(
            f"{str(path)[:200]}: cannot write in {p.parent} ({exc.strerror or exc}); "
            "choose a writable folder or a shorter name"
        ) from None


def _reserve(tmp: Path, path: Path, folder: bool) -> None:
    """Create the temporary (proving the folder writable), or an OutputPathError."""
    try:
        if folder:
            tmp.mkdir()
        else:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except OSError as exc:
        why = {errno.EACCES: "permission denied", errno.EROFS: "read-only file system"}
        raise OutputPathError(
            f"{path}: cannot create a file in {path.parent} "
            f"({why.get(exc.errno, exc.strerror or str(exc))}); choose a writable folder or a "
            "shorter name"
        ) from None


def _commit(tmp: Path, path: Path, *, overwrite: bool, folder: bool) -> None:
    if path.exists() and not overwrite:
        raise OutputPathError(
            f"{path}: was created by someone else while this run was writing; "
            "pass overwrite=True to replace it"
        )
    if folder and path.exists():
        old = temporary_name(path, "old")
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
    _fsync_dir(path.parent)


def fsync_tree(path: Path) -> None:
    """Flush a file, or every file and folder under a folder, to disk."""
    if path.is_dir():
        for root, _dirs, files in os.walk(path):
            for name in files:
                _fsync_file(Path(root) / name)
            _fsync_dir(Path(root))
    else:
        _fsync_file(path)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # a platform that cannot open folders: the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(tmp: Path) -> None:
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of ``path`` that writers killed before they finished left behind
    (their pid, in the name, no longer runs; a running process with that pid keeps them)."""
    # only temporaries: a folder moved aside (".old") by a writer killed before its rename may be
    # the only copy of the old output, so it is left for the user
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(_short(path.name))}\.nbt-(\d+)-[0-9a-f]{{8}}\.tmp$")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        if m is None or int(m.group(1)) == os.getpid() or _pid_alive(int(m.group(1))):
            continue
        _remove(Path(entry.path))
        removed.append(Path(entry.path))
    return removed


def sha256_of(path, chunk: int = 1 << 22) -> str:
    """sha256 of a file, of a folder's files (sorted by relative path, names included), or of
    data in memory: a bytes-like object (a contiguous numpy array included) or a sequence of
    them, hashed in order."""
    h = hashlib.sha256()
    if not isinstance(path, str | os.PathLike):
        for block in [path] if isinstance(path, bytes | bytearray | memoryview) else path:
            h.update(block)
        return h.hexdigest()
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()
