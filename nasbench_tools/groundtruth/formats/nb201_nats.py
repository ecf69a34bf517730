"""NATS-Bench topology search space (NATS-tss) archives: the ``-simple`` folder and the single file.

* ``nats-tss-folder``: ``NATS-tss-v1_0-3ffb9-simple/`` (what ``nats_bench.create(..., fast_mode=True)``
  reads). ``meta.pickle.pbz2`` holds ``{'meta_archs': [15625 arch strings], 'total_archs',
  'arch2infos': None, 'evaluated_indexes': set()}``; each architecture is one file
  ``{index:06d}.pickle.pbz2`` (NATS-Bench falls back to ``{index}.pickle.pbz2``) holding
  ``{'12': ArchResults-state, '200': ArchResults-state}``. Every per-arch file present is read; a
  folder with only some of them gives an axis of only those indices.
* ``nats-tss-pickle``: ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (``fast_mode=False``), one bz2 pickle of
  ``{'meta_archs', 'arch2infos': {index: {'12': ..., '200': ...}}, 'evaluated_indexes', ...}``.

All files are bz2-compressed pickles (protocol 4), read with
:mod:`~nasbench_tools.groundtruth.safe_pickle`. Columns follow the NB201 conventions in
:mod:`.nb201_pth` (hp ``'200'`` is the 200-epoch schedule, ``'12'`` the 12-epoch one).

The folder is read file by file (memory stays small), in worker processes when there are 256
files or more (:class:`concurrent.futures.ProcessPoolExecutor`: a worker that dies becomes an
error naming the folder, never a hang; on Linux workers are killed with the process that started
them). The single file has to be unpickled whole: about 1.5 MB of Python objects per
architecture, some 22 GB for the full space (the NATS-Bench API needs the same); prefer the folder.

Every file is decompressed incrementally and refused past :func:`decompression_cap` (4 MiB or 32x
its compressed size, whichever is larger; the real files need at most 39x, 1.4 MB), then
unpickled by :class:`~nasbench_tools.groundtruth.safe_pickle.PickleStream` (its allocation bound:
64 MiB + 32 bytes per decompressed byte).
"""

from __future__ import annotations

import bz2
import os
import re
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..._workers import available_cpus, in_workers
from ...errors import CorruptFileError, NasbenchToolsError, ResourceLimitError
from ..columns import ColumnSet
from ..safe_pickle import PickleStream, short_repr
from . import register_reader
from ._common import progress as _progress
from .nb201_pth import (
    REQUIRED_KEYS,
    Nb201Columns,
    _check_identity,
    columnset_from_arch2infos,
    extract_arch,
    map_meta_archs,
)

__all__ = [
    "MIN_DECOMPRESSED",
    "RATIO_DECOMPRESSED",
    "decompression_cap",
    "read_nats_folder",
    "read_nats_pickle",
]

META = "meta.pickle.pbz2"
_ARCH_FILE = re.compile(r"^(\d+)\.pickle\.pbz2$")
#: Below this many files the folder is read in-process (starting workers costs more).
PARALLEL_MIN_FILES = 256
#: Most worker processes used by default.
MAX_WORKERS = 16
#: Files per worker task.
CHUNK_FILES = 32

#: Decompression cap of one NATS file: ``max(MIN_DECOMPRESSED, RATIO_DECOMPRESSED x its compressed
#: size)``. The real files decompress to 0.33 MB (per-arch, 3.9x), 1.4 MB (tss meta, 39x) and
#: 0.54 MB (sss meta); the single-file archive holds the per-arch records (about 4x). Raise it with
#: ``max_decompressed=`` for an unusual file.
MIN_DECOMPRESSED = 4 << 20
RATIO_DECOMPRESSED = 32
#: Bytes of compressed input handed to the decompressor per step.
_BZ2_STEP = 64 << 10


def decompression_cap(compressed_size: int) -> int:
    """The default decompression cap of a NATS file of ``compressed_size`` bytes."""
    return max(MIN_DECOMPRESSED, RATIO_DECOMPRESSED * compressed_size)


def _release(name: str) -> str:
    m = re.search(r"NATS-tss-v\d+_\d+-[0-9a-f]+", name)
    return m.group(0) if m else "NATS-tss (release not in the file name)"


class Bz2Source:
    """A bz2 file decompressed incrementally, never beyond ``cap`` bytes.

    ``read(n)`` returns at most ``n`` decompressed bytes (``b""`` at the end) and raises
    :class:`~nasbench_tools.errors.ResourceLimitError` as soon as the output would pass ``cap``
    (default :func:`decompression_cap` of the file's size). Concatenated bz2 streams (as
    ``pbzip2`` writes) are read in turn; anything else after the last stream is an error.
    """

    def __init__(self, path: Path, cap: int | None = None):
        self.path = path
        self.fh = open(path, "rb")
        self.size = os.fstat(self.fh.fileno()).st_size
        self.cap = decompression_cap(self.size) if cap is None else cap
        self.out = 0
        self.dec = bz2.BZ2Decompressor()
        self.streams = 0  # streams read to their end
        self.fresh = True  # the current decompressor has produced nothing yet

    def __enter__(self) -> Bz2Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.fh.close()

    def read(self, n: int) -> bytes:
        while True:
            if self.dec.eof:
                data = self.dec.unused_data or self.fh.read(_BZ2_STEP)
                if not data:
                    return b""
                self.dec, self.fresh = bz2.BZ2Decompressor(), True
                self.streams += 1
            elif self.dec.needs_input:
                data = self.fh.read(_BZ2_STEP)
                if not data:
                    raise CorruptFileError(
                        f"{self.path}: damaged or truncated bz2 stream: the file ends after "
                        f"{self.out:,} decompressed bytes, before the stream's end marker"
                    )
            else:
                data = b""
            try:
                chunk = self.dec.decompress(data, max_length=min(n, self.cap + 1 - self.out))
            except (OSError, ValueError, EOFError) as exc:
                what = "data after the bz2 stream" if self.streams and self.fresh else "bz2 stream"
                raise CorruptFileError(
                    f"{self.path}: damaged or truncated {what} ({exc}), after {self.out:,} "
                    "decompressed bytes"
                ) from None
            self.fresh = self.fresh and not chunk
            self.out += len(chunk)
            if self.out > self.cap:
                raise ResourceLimitError(
                    f"{self.path}: decompresses to more than {self.cap:,} bytes, the cap for a "
                    f"{self.size:,}-byte NATS file (the larger of {MIN_DECOMPRESSED:,} and "
                    f"{RATIO_DECOMPRESSED} x its size): a decompression bomb or not a NATS file; "
                    "pass max_decompressed= to read a genuine larger file"
                )
            if chunk:
                return chunk


def _read_bz2_pickle(path: Path, what: str = "", cap: int | None = None) -> Any:
    """bz2-decompress (bounded) and restricted-unpickle one NATS file."""
    with Bz2Source(path, cap) as src:
        stream = PickleStream(src.read, source=str(path))
        obj = stream.load(what or "decompressed bz2 stream")
        if not stream.at_end():
            raise CorruptFileError(
                f"{path}: unexpected data after the pickle's end at byte {stream.position} of the "
                "decompressed bz2 stream"
            )
    return obj


def _check_tss(meta_archs: Any, where: str) -> None:
    if isinstance(meta_archs, list) and meta_archs and isinstance(meta_archs[0], str):
        if not meta_archs[0].startswith("|"):
            raise CorruptFileError(
                f"{where}: meta_archs[0] is {short_repr(meta_archs[0])}: this looks like NATS-Bench's size "
                "search space (sss), not the topology space this reader handles"
            )


# =========================================================================== folder
def _sniff_folder(path: Path, head: bytes) -> bool:
    """A folder with a meta file, unless its meta file lists size-space (NATS-sss) strings.

    A meta file that cannot be read still counts: the reader, not the sniffer, says what is
    wrong with it.
    """
    if not (path.is_dir() and (path / META).is_file()):
        return False
    try:
        meta = _read_bz2_pickle(path / META)
    except NasbenchToolsError:
        return True
    archs = meta.get("meta_archs") if isinstance(meta, dict) else None
    first = archs[0] if isinstance(archs, list) and archs else None
    return not (isinstance(first, str) and re.match(r"^\d+(:\d+){4}$", first))


def _arch_files(folder: Path, n_meta: int) -> list[tuple[int, Path]]:
    found: dict[int, tuple[bool, Path]] = {}
    for name in os.listdir(folder):
        m = _ARCH_FILE.match(name)
        if not m:
            continue
        idx = int(m.group(1))
        padded = len(m.group(1)) == 6
        if idx >= n_meta:
            raise CorruptFileError(
                f"{folder / name}: architecture file for index {idx}, but meta.pickle.pbz2 lists "
                f"{n_meta} architectures"
            )
        if idx not in found or (padded and not found[idx][0]):  # NATS prefers {index:06d}
            found[idx] = (padded, folder / name)
    return [(i, found[i][1]) for i in sorted(found)]


def _read_one(task: tuple[int, str, str], cap: int | None = None) -> tuple[int, dict]:
    """One per-arch file -> (file index, flat final-epoch record)."""
    index, fname, expected = task
    path = Path(fname)
    obj = _read_bz2_pickle(path, cap=cap)
    idx, astr, flat = extract_arch(obj, where=str(path))
    _check_identity(idx, astr, index, expected, str(path))
    return index, flat


def _read_chunk(read_one: Callable[[Any], Any], tasks: list) -> list:
    """Worker: a few per-arch files."""
    return [read_one(t) for t in tasks]


# =========================================================================== worker processes
def default_workers() -> int:
    """Worker processes a folder reader uses by default: the CPUs this process may use, at
    most :data:`MAX_WORKERS`."""
    return min(available_cpus(), MAX_WORKERS)


def read_files(
    read_one: Callable[[Any], tuple[int, dict]],
    tasks: list,
    *,
    workers: int | None,
    folder: Path,
    progress: bool,
) -> Iterator[tuple[int, dict]]:
    """``read_one`` over the per-arch file ``tasks`` of ``folder``, with a progress bar.

    In this process below :data:`PARALLEL_MIN_FILES` files or with ``workers=1``; otherwise in
    ``workers`` processes (default :func:`default_workers`) that die with their parent. Results
    come in any order. ``read_one`` must be a module-level function (or a partial of one).
    """
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(tasks) < PARALLEL_MIN_FILES:
        results: Iterator = (read_one(t) for t in tasks)
    else:
        results = _in_workers(read_one, tasks, workers, folder)
    return _progress(results, progress, f"reading {folder.name}", total=len(tasks))


def _in_workers(
    read_one: Callable[[Any], tuple[int, dict]], tasks: list, workers: int, folder: Path
) -> Iterator[tuple[int, dict]]:
    """Results of ``read_one`` over ``tasks``, read by ``workers`` processes.

    A worker that dies (killed, out of memory) becomes a :class:`NasbenchToolsError` naming the
    folder, never a hang; on any error the remaining tasks are cancelled and the workers stopped.
    """
    chunks = [tasks[i : i + CHUNK_FILES] for i in range(0, len(tasks), CHUNK_FILES)]

    def where(files: list) -> str:
        return f" while reading {len(files)} files from {Path(files[0][1]).name} to " + (
            f"{Path(files[-1][1]).name}"
        )

    advice = "nothing was written. Rerun with workers=1 to read in this process"
    for _chunk, results in in_workers(
        partial(_read_chunk, read_one), chunks, workers, what=str(folder), where=where,
        advice=advice,
    ):  # fmt: skip
        yield from results


@register_reader(
    "nats-tss-folder",
    "nb201",
    _sniff_folder,
    "NATS-Bench tss -simple folder of per-arch .pickle.pbz2",
)
def read_nats_folder(
    path: str | Path,
    *,
    progress: bool = True,
    workers: int | None = None,
    max_decompressed: int | None = None,
) -> ColumnSet:
    """Read a ``NATS-tss-*-simple/`` folder (every per-arch file present).

    ``workers``: processes to read with (default: the CPUs this process may use, at most 16; 1
    reads in-process). Measured on 4,000 archs with 16 cores: 11.9 ms per arch with 1 worker,
    1.6 ms with 8, 0.9 ms with 16. ``max_decompressed``: decompression cap per file (default
    :func:`decompression_cap` of its size).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise CorruptFileError(f"{folder}: not a folder")
    meta_path = folder / META
    if not meta_path.is_file():
        raise CorruptFileError(f"{folder}: no {META} (not a NATS-Bench -simple folder)")
    meta = _read_bz2_pickle(meta_path, cap=max_decompressed)
    if not isinstance(meta, dict) or "meta_archs" not in meta:
        raise CorruptFileError(f"{meta_path}: missing key 'meta_archs'")
    meta_archs = meta["meta_archs"]
    _check_tss(meta_archs, str(meta_path))
    bench_index = map_meta_archs(meta_archs, str(meta_path))
    files = _arch_files(folder, len(meta_archs))
    tasks = [(i, str(p), meta_archs[i]) for i, p in files]

    keys = bench_index[np.array([i for i, _ in files], dtype=np.int64)]
    order = np.argsort(keys, kind="stable")
    row_of = {files[j][0]: r for r, j in enumerate(order)}
    acc = Nb201Columns(len(files))

    read = partial(_read_one, cap=max_decompressed)
    for index, flat in read_files(read, tasks, workers=workers, folder=folder, progress=progress):
        acc.add(row_of[index], flat)
    benchmark = _release(folder.name)
    meta_out = {
        "source_name": folder.name,
        "source_format": "nats-tss-folder",
        "benchmark": benchmark,
        "archs_in_folder": len(files),
    }
    return ColumnSet(
        "nb201", keys[order], acc.columns(f"{folder.name} ({benchmark})"), None, meta_out
    )


# =========================================================================== single file
def _sniff_pickle(path: Path, head: bytes) -> bool:
    return (
        path.is_file()
        and head.startswith(b"BZh")
        and path.name.endswith(".pickle.pbz2")
        and path.name != META
        and not _ARCH_FILE.match(path.name)
    )


@register_reader(
    "nats-tss-pickle", "nb201", _sniff_pickle, "NATS-Bench tss single file NATS-tss-*.pickle.pbz2"
)
def read_nats_pickle(
    path: str | Path, *, progress: bool = True, max_decompressed: int | None = None
) -> ColumnSet:
    """Read the single-file ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (the whole space in one pickle).

    ``max_decompressed``: decompression cap (default :func:`decompression_cap` of its size).
    """
    path = Path(path)
    src = str(path)
    obj = _read_bz2_pickle(path, cap=max_decompressed)
    if not isinstance(obj, dict):
        raise CorruptFileError(f"{src}: the pickle holds a {type(obj).__name__}, not a dict")
    for key in REQUIRED_KEYS:
        if key not in obj:
            raise CorruptFileError(
                f"{src}: missing top-level key {key!r} (has {short_repr(sorted(map(str, obj)))})"
            )
    meta_archs = obj.pop("meta_archs")
    _check_tss(meta_archs, src)
    arch2infos = obj.pop("arch2infos")
    del obj
    return columnset_from_arch2infos(
        arch2infos,
        meta_archs,
        source_name=path.name,
        source_format="nats-tss-pickle",
        benchmark=_release(path.name),
        progress=progress,
    )
