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

The folder is read file by file (memory stays small), in worker processes when there are many
files; bz2 decompression dominates (8-18 ms per architecture on one core, then 5 ms to unpickle). The single file has to be unpickled whole: about 1.5 MB of Python objects per
architecture, some 22 GB for the full space (the NATS-Bench API needs the same); prefer the folder.
"""

from __future__ import annotations

import bz2
import multiprocessing as mp
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CorruptFileError
from ..columns import ColumnSet
from ..safe_pickle import safe_load, safe_loads
from . import register_reader
from .nb201_pth import (
    REQUIRED_KEYS,
    Nb201Columns,
    _check_identity,
    _progress,
    columnset_from_arch2infos,
    extract_arch,
    map_meta_archs,
)

__all__ = ["read_nats_folder", "read_nats_pickle"]

META = "meta.pickle.pbz2"
_ARCH_FILE = re.compile(r"^(\d+)\.pickle\.pbz2$")
#: Below this many files the folder is read in-process (starting workers costs more).
PARALLEL_MIN_FILES = 256
#: Most worker processes used by default.
MAX_WORKERS = 16


def _release(name: str) -> str:
    m = re.search(r"NATS-tss-v\d+_\d+-[0-9a-f]+", name)
    return m.group(0) if m else "NATS-tss (release not in the file name)"


def _read_bz2_pickle(path: Path, what: str = "") -> Any:
    """bz2-decompress and restricted-unpickle a whole (small) file."""
    raw = path.read_bytes()
    try:
        data = bz2.decompress(raw)
    except (OSError, ValueError, EOFError) as exc:
        raise CorruptFileError(
            f"{path}: damaged or truncated bz2 stream ({exc}; the file has {len(raw)} bytes)"
        ) from None
    return safe_loads(data, source=str(path), where=what or "decompressed bz2 stream")


def _check_tss(meta_archs: Any, where: str) -> None:
    if isinstance(meta_archs, list) and meta_archs and isinstance(meta_archs[0], str):
        if not meta_archs[0].startswith("|"):
            raise CorruptFileError(
                f"{where}: meta_archs[0] is {meta_archs[0]!r}: this looks like NATS-Bench's size "
                "search space (sss), not the topology space this reader handles"
            )


# =========================================================================== folder
def _sniff_folder(path: Path, head: bytes) -> bool:
    return path.is_dir() and (path / META).is_file()


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


def _read_one(task: tuple[int, str, str]) -> tuple[int, dict]:
    """Worker: one per-arch file -> (file index, flat final-epoch record)."""
    index, fname, expected = task
    path = Path(fname)
    obj = _read_bz2_pickle(path)
    idx, astr, flat = extract_arch(obj, where=str(path))
    _check_identity(idx, astr, index, expected, str(path))
    return index, flat


@register_reader(
    "nats-tss-folder",
    "nb201",
    _sniff_folder,
    "NATS-Bench tss -simple folder of per-arch .pickle.pbz2",
)
def read_nats_folder(
    path: str | Path, *, progress: bool = True, workers: int | None = None
) -> ColumnSet:
    """Read a ``NATS-tss-*-simple/`` folder (every per-arch file present).

    ``workers``: processes to read with (default: the CPUs this process may use, at most 16; 1
    reads in-process). Measured on 4,000 archs with 16 cores: 11.9 ms per arch with 1 worker,
    1.6 ms with 8, 0.9 ms with 16.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise CorruptFileError(f"{folder}: not a folder")
    meta_path = folder / META
    if not meta_path.is_file():
        raise CorruptFileError(f"{folder}: no {META} (not a NATS-Bench -simple folder)")
    meta = _read_bz2_pickle(meta_path)
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

    if workers is None:
        cpus = (
            os.sched_getaffinity(0)
            if hasattr(os, "sched_getaffinity")
            else range(os.cpu_count() or 1)
        )
        workers = min(len(cpus), MAX_WORKERS)
    desc = f"reading {folder.name}"
    if workers <= 1 or len(tasks) < PARALLEL_MIN_FILES:
        for task in _progress(tasks, progress, desc):
            index, flat = _read_one(task)
            acc.add(row_of[index], flat)
    else:
        methods = mp.get_all_start_methods()
        ctx = mp.get_context("fork" if "fork" in methods else "spawn")
        with ctx.Pool(workers) as pool:
            results = pool.imap_unordered(_read_one, tasks, chunksize=32)
            for index, flat in _progress(results, progress, desc, total=len(tasks)):
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
def read_nats_pickle(path: str | Path, *, progress: bool = True) -> ColumnSet:
    """Read the single-file ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (the whole space in one pickle)."""
    path = Path(path)
    src = str(path)
    try:
        with bz2.BZ2File(path) as fh:
            obj = safe_load(
                fh, source=src, reopen=lambda: bz2.BZ2File(path), where="decompressed bz2 stream"
            )
            end = fh.tell()
            if fh.read(1):
                raise CorruptFileError(
                    f"{src}: unexpected data after the pickle's end at byte {end} of the "
                    "decompressed bz2 stream"
                )
    except (OSError, EOFError) as exc:
        raise CorruptFileError(
            f"{src}: damaged or truncated bz2 stream ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(obj, dict):
        raise CorruptFileError(f"{src}: the pickle holds a {type(obj).__name__}, not a dict")
    for key in REQUIRED_KEYS:
        if key not in obj:
            raise CorruptFileError(
                f"{src}: missing top-level key {key!r} (has {sorted(map(str, obj))})"
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
