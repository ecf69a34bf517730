"""NATS-Bench size search space (NATS-sss) archive folder ``NATS-sss-v1_0-50262-simple/``.

The folder is what ``nats_bench.create(path, "sss", fast_mode=True)`` reads, in the same layout as
the topology space's (:mod:`.nb201_nats`): ``meta.pickle.pbz2`` holds ``{'meta_archs': [32768
configuration strings "C1:C2:C3:C4:C5"], 'total_archs', 'arch2infos': None,
'evaluated_indexes'}``; each configuration is one file ``{index:06d}.pickle.pbz2`` (fallback
``{index}.pickle.pbz2``) holding ``{'01': ArchResults-state, '12': ..., '90': ...}``, keyed by
the training budget in epochs. Every per-configuration file present is read; a folder with only
some of them gives an axis of only those indices.

Columns follow the NB201 conventions of :mod:`.nb201_pth` (the records share the schema), with
the budgets ``E`` = 1, 12 and 90 epochs: for each dataset ``D`` (``cifar10-valid``, ``cifar10``,
``cifar100``, ``ImageNet16-120``) ``Key(D, S, E, "accuracy" | "loss")`` at the last epoch for
every eval set ``S`` of the record and ``S = "train"``, ``Key(D, "train", E, "time")`` (the sum
of the per-epoch training times), and ``Key(D, "", 0, "params" | "flops" | "latency")`` from the
90-epoch records. Seeds: 777, 888 and 999 at 12 epochs, 777 alone at 1 and 90 epochs (as the
real records have them); NaN where a configuration lacks one.

Each record also states its network (``arch_config``: ``infer.shape.tiny``, its channels and its
cell); the reader checks it against the file's configuration and the space's fixed cell, so the
params and FLOPs columns are those of :class:`nasbench_tools.nn.nats_sss.NATSSizeNetwork`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CorruptFileError, NasbenchToolsError
from ...spaces import nats_sss
from ..columns import ColumnSet
from . import register_reader
from .nb201_nats import META, _arch_files, _read_bz2_pickle, read_files
from .nb201_pth import Nb201Columns, _check_identity, extract_arch

__all__ = ["SPACE", "is_nats_sss_folder", "read_nats_sss_folder"]

#: The ColumnSet space of this reader's output.
SPACE = "nats-sss"
#: The format name this reader is registered under.
FORMAT = "nats-sss-folder"
#: Budget keys of the records and the epochs each stands for.
HP_EPOCHS = {"01": 1, "12": 12, "90": 90}

_CONFIG_STRING = re.compile(r"^\d+(:\d+){4}$")


def _release(name: str) -> str:
    m = re.search(r"NATS-sss-v\d+_\d+-[0-9a-f]+", name)
    return m.group(0) if m else "NATS-sss (release not in the file name)"


# =========================================================================== meta
@cache
def _our_strings() -> tuple[str, ...]:
    return tuple(nats_sss.NATSSizeSpace().strings(range(nats_sss.NUM_CONFIGS)))


def _map_meta(meta_archs: Any, where: str) -> np.ndarray:
    """Benchmark index of every entry of a file's ``meta_archs`` (checked against the space)."""
    if not isinstance(meta_archs, list | tuple) or not all(isinstance(s, str) for s in meta_archs):
        raise CorruptFileError(f"{where}: meta_archs is not a list of configuration strings")
    if meta_archs and meta_archs[0].startswith("|"):
        raise CorruptFileError(
            f"{where}: meta_archs[0] is {meta_archs[0]!r}: this looks like NATS-Bench's topology "
            "search space (tss), not the size space this reader handles (format nats-tss-folder)"
        )
    if tuple(meta_archs) == _our_strings():
        return np.arange(len(meta_archs), dtype=np.int64)
    try:
        idx = np.array(
            [nats_sss.SizeConfig.from_string(s).index for s in meta_archs], dtype=np.int64
        )
    except NasbenchToolsError as exc:
        raise CorruptFileError(
            f"{where}: meta_archs holds a string that is not a NATS-sss configuration ({exc})"
        ) from None
    if len(np.unique(idx)) != len(idx):
        raise CorruptFileError(f"{where}: meta_archs lists a configuration twice")
    return idx


def _read_meta(folder: Path) -> list[str]:
    meta_path = folder / META
    if not meta_path.is_file():
        raise CorruptFileError(f"{folder}: no {META} (not a NATS-Bench -simple folder)")
    meta = _read_bz2_pickle(meta_path)
    if not isinstance(meta, dict) or "meta_archs" not in meta:
        raise CorruptFileError(f"{meta_path}: missing key 'meta_archs'")
    meta_archs = meta["meta_archs"]
    total = meta.get("total_archs")
    if isinstance(meta_archs, list) and total is not None and total != len(meta_archs):
        raise CorruptFileError(
            f"{meta_path}: total_archs is {total!r} but meta_archs lists {len(meta_archs)}"
        )
    return meta_archs


def is_nats_sss_folder(path: Path, head: bytes = b"") -> bool:
    """Sniffer: a folder whose ``meta.pickle.pbz2`` lists size-space configuration strings.

    Reads (restricted-unpickles) the 57 KB meta file; a folder that cannot be read is not
    recognised (the reader, called explicitly, says why).
    """
    path = Path(path)
    if not (path.is_dir() and (path / META).is_file()):
        return False
    try:
        meta_archs = _read_meta(path)
    except NasbenchToolsError:
        return False
    return (
        isinstance(meta_archs, list)
        and bool(meta_archs)
        and isinstance(meta_archs[0], str)
        and bool(_CONFIG_STRING.match(meta_archs[0]))
    )


# =========================================================================== per-configuration files
def _check_record_network(obj: Mapping, expected: str, where: str) -> None:
    """Budgets are the known epoch keys and every record describes this configuration's network."""
    for hp, state in obj.items():
        if hp not in HP_EPOCHS:
            raise CorruptFileError(
                f"{where}: budget key {hp!r}; NATS-sss records are keyed by epochs "
                f"{', '.join(map(repr, HP_EPOCHS))}"
            )
        results = state.get("all_results") if isinstance(state, Mapping) else None
        if not isinstance(results, Mapping):
            continue  # extract_arch names the defect
        for rkey, rec in results.items():
            if not isinstance(rec, Mapping):
                continue
            here = f"{where}, hp {hp!r}, {rkey}"
            config = rec.get("arch_config")
            if not isinstance(config, Mapping):
                continue
            found = {
                "name": config.get("name", nats_sss.NETWORK_NAME),
                "channels": config.get("channels", expected),
                "genotype": config.get("genotype", nats_sss.CELL),
            }
            want = {"name": nats_sss.NETWORK_NAME, "channels": expected, "genotype": nats_sss.CELL}
            for k, v in want.items():
                if found[k] != v:
                    raise CorruptFileError(
                        f"{here}: arch_config {k} is {found[k]!r}, expected {v!r} (the NATS-sss "
                        f"network of configuration {expected})"
                    )


def _read_one(task: tuple[int, str, str]) -> tuple[int, dict]:
    """Worker: one per-configuration file -> (file index, flat final-epoch record)."""
    index, fname, expected = task
    path = Path(fname)
    obj = _read_bz2_pickle(path)
    if isinstance(obj, Mapping):
        _check_record_network(obj, expected, str(path))
    idx, astr, flat = extract_arch(obj, where=str(path), hp_epochs=HP_EPOCHS)
    _check_identity(idx, astr, index, expected, str(path))
    return index, flat


@register_reader(
    FORMAT, SPACE, is_nats_sss_folder, "NATS-Bench size search space -simple folder (NATS-sss)"
)
def read_nats_sss_folder(
    path: str | Path, *, progress: bool = True, workers: int | None = None
) -> ColumnSet:
    """Read a ``NATS-sss-*-simple/`` folder (every per-configuration file present).

    ``workers``: processes to read with (default: the CPUs this process may use, at most 16; 1
    reads in-process). Returns a :class:`ColumnSet` of space ``"nats-sss"`` keyed by benchmark
    index (int64).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise CorruptFileError(f"{folder}: not a folder")
    meta_archs = _read_meta(folder)
    where = str(folder / META)
    bench_index = _map_meta(meta_archs, where)
    files = _arch_files(folder, len(meta_archs))
    tasks = [(i, str(p), meta_archs[i]) for i, p in files]

    keys = bench_index[np.array([i for i, _ in files], dtype=np.int64)]
    order = np.argsort(keys, kind="stable")
    row_of = {files[j][0]: r for r, j in enumerate(order)}
    acc = Nb201Columns(len(files))

    for index, flat in read_files(
        _read_one, tasks, workers=workers, folder=folder, progress=progress
    ):
        acc.add(row_of[index], flat)
    benchmark = _release(folder.name)
    meta_out = {
        "source_name": folder.name,
        "source_format": FORMAT,
        "benchmark": benchmark,
        "archs_in_folder": len(files),
        "network": nats_sss.NETWORK_NAME,
    }
    return ColumnSet(
        SPACE, keys[order], acc.columns(f"{folder.name} ({benchmark})"), None, meta_out
    )
