"""Build a benchmark: train every (architecture, seed) of a selection into a journal, then write
the store (the format ``nbt convert`` writes) from the journal, atomically.

Store columns, for the protocol's dataset ``D`` and epochs ``E`` (NB201's conventions; every
column per seed, NaN where a value is not finite):

* ``Key(D, S, E, "accuracy" | "loss")`` at the last epoch, ``S`` in ``train`` / ``valid`` /
  ``test`` (train: averaged over the last epoch's batches, as NB201 records it);
* the same at every epoch ``e`` in ``1..E``, point ``"epoch-e"`` (the learning curves);
* ``Key(D, "train", E, "time")``: seconds of training, summed over the epochs (evaluation
  excluded; measured, so it differs between two builds of the same protocol);
* ``Key(D, "", 0, "params")`` (M) and ``"flops"`` (MFLOPs per image, NATS convention).

With ``ray=ADDRESS`` (``nbt build-bench --ray``, see :mod:`nasbench_tools._ray`) every
(architecture, seed) is one Ray task (``threads`` CPUs and torch threads); this process loads the
data once, ships it to the tasks, and keeps the journal, so the store is the one a local build
writes (every number but the measured ``time``), a retried task records nothing twice, and a
killed build resumes from the journal with or without Ray.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._io import check_output_path
from .._ray import DEFAULT_RETRIES, check_ray, gpus_per_task, ray_map, ray_session
from .._version import __version__
from ..errors import NasbenchToolsError
from ..groundtruth.columns import Column, ColumnSet, Key, SpecArray
from ..groundtruth.store import read_store, write_store
from ..nn import distributed as dp
from ..proxies.scoring import shard_keys
from .journal import BuildJournal, config_differences, journal_path
from .protocol import Protocol
from .train import SPLITS, Execution, Splits, load_splits, train_network

__all__ = ["BuildJob", "build_benchmark", "merge_builds", "records_to_columnset"]

_UNITS = {"accuracy": "%", "loss": "", "time": "s", "params": "M", "flops": "MFLOPs"}
#: Metadata that differs between the shards of one build (not compared on merging).
_SHARD_ONLY = ("shard", "command", "source_name")


@dataclass
class BuildJob:
    """What to build: ``keys`` (sorted, the whole selection before sharding) x ``seeds`` under
    ``protocol``; ``selection`` describes the keys (``select_keys``'s description).

    ``archs`` maps every key to its architecture object where a key alone does not name one (an
    NB101 module hash; the specs then go into the store, as an official NB101 store holds
    them); ``None`` where ``space.arch(key)`` does.
    """

    space: object
    keys: np.ndarray
    seeds: tuple[int, ...]
    protocol: Protocol
    selection: dict
    shard: tuple[int, int] | None = None
    data_root: str | None = None
    threads: int = 1
    command: str = field(default_factory=lambda: " ".join(sys.argv))
    archs: dict | None = None
    execution: Execution = field(default_factory=Execution)

    def __post_init__(self):
        seeds = tuple(self.seeds)
        if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise NasbenchToolsError(f"seeds must be integers >= 0, got {list(seeds)}")
        if len(set(seeds)) != len(seeds):
            raise NasbenchToolsError(f"seeds {list(seeds)} name a seed twice")
        self.seeds = seeds
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1:
            raise NasbenchToolsError(f"threads must be an integer >= 1, got {self.threads!r}")
        if len(self.keys) == 0:
            raise NasbenchToolsError("the selection holds no architectures")
        if self.archs is not None:
            missing = [k for k in self.keys.tolist() if k not in self.archs]
            if missing:
                raise NasbenchToolsError(f"no architecture given for key {missing[0]}")

    def arch_of(self, key):
        """The architecture object of ``key`` (``None``: the space makes it from the key)."""
        return None if self.archs is None else self.archs[key]

    def specs(self, keys: np.ndarray) -> SpecArray | None:
        """The NB101 cells of ``keys`` for the store (``None`` without ``archs``)."""
        if self.archs is None:
            return None
        return SpecArray.from_specs([self.archs[k] for k in keys.tolist()])

    @property
    def shard_keys(self) -> np.ndarray:
        return shard_keys(self.keys, self.shard)

    def config(self, splits: Splits) -> dict:
        """What must match for a journal to be resumed or shards merged."""
        return {
            "space": self.space.name,
            "protocol": self.protocol.to_dict(),
            "seeds": list(self.seeds),
            "selection": self.selection,
            "shard": list(self.shard) if self.shard else None,
            "data_sha256": {s: getattr(splits, s).provenance["sha256"] for s in SPLITS},
            "torch_threads": self.threads,
        } | self._execution_config()

    def _execution_config(self) -> dict:
        """The execution settings that change the numbers, where they differ from the plain
        CPU loop (so journals of plain builds stay resumable)."""
        ex, out = self.execution, {}
        if ex.micro_batches != 1:
            out["micro_batches"] = ex.micro_batches
        if ex.amp:
            out["amp"] = True
        return out

    def _device_meta(self) -> dict:
        """Where the networks ran, when not on the CPU as always before (CUDA kernels give
        other numbers than CPU ones)."""
        ex = self.execution
        if ex.device == "cpu" and not ex.compile:
            return {}
        return {"device": ex.device, "compile": ex.compile}

    def meta(self, splits: Splits, out: Path) -> dict:
        return {
            "benchmark": f"nbt build-bench {self.protocol.name} on {self.protocol.dataset}",
            "source_name": out.name,
            "source_format": "nbt build-bench",
            "built_by": {"package_version": __version__, "torch_version": torch.__version__}
            | self._device_meta(),
            "command": self.command,
            "data_provenance": splits.provenance(),
        } | self.config(splits)


def _key_json(k) -> int | str:
    return int(k) if isinstance(k, int | np.integer) else str(k)


def _progress(show: bool, total: int, initial: int):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="build-bench", unit="net")


def build_benchmark(
    job: BuildJob,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: bool = True,
    ray: str | None = None,
    max_retries: int = DEFAULT_RETRIES,
) -> Path:
    """Train the job's shard into ``<out>.journal`` (resuming it), then write the store ``out``.

    The output path is checked first; with ``overwrite`` an existing store and its journal are
    replaced (the build starts again). ``ray``: a Ray address (``"local"``, ``"auto"``,
    ``HOST:PORT``) to train the networks as Ray tasks, each retried up to ``max_retries`` times
    if its worker dies. Returns ``out``.
    """
    out = Path(out)
    check_output_path(out, overwrite=overwrite)  # before any training; creates nothing
    if ray is not None:
        check_ray(ray)
    jpath = journal_path(out)
    is_main = job.execution.world.is_main
    if overwrite and jpath.exists() and is_main:
        jpath.unlink()
    threads = torch.get_num_threads()
    torch.set_num_threads(job.threads)
    try:
        return _build(job, out, overwrite, jpath, progress, (ray, max_retries))
    finally:
        torch.set_num_threads(threads)


def _build(job: BuildJob, out: Path, overwrite: bool, jpath: Path, progress: bool, ray) -> Path:
    splits = load_splits(job.protocol, job.data_root)
    d = splits.train  # a protocol the space cannot build is refused before the journal exists
    job.space.network_options(
        C=job.protocol.C, N=job.protocol.N, num_classes=d.num_classes, in_channels=d.channels,
        image_size=d.image_size,
    )  # fmt: skip
    ex = job.execution
    last = len(d) % job.protocol.batch_size
    if 0 < last < ex.micro_batches:
        raise NasbenchToolsError(
            f"the last batch of each epoch holds {last} of the {len(d)} training images, fewer "
            f"than micro_batches {ex.micro_batches}; choose a train subset or batch size that "
            "leaves no such batch"
        )
    journal, todo = _open_journal(job, jpath, splits)
    total = len(job.shard_keys) * len(job.seeds)
    bar = _progress(progress and ex.world.is_main, total, total - len(todo))
    for (key, seed), record in _trained(job, splits, todo, ray, out):
        if journal is not None:
            journal.append(_key_json(key), seed, record)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if journal is not None:
        cs = records_to_columnset(job, journal.done, job.meta(splits, out))
        write_store(cs, out, overwrite=overwrite)
    dp.barrier(ex.world)  # every rank returns once the store is there
    return out


def _open_journal(job: BuildJob, jpath: Path, splits: Splits):
    """Rank 0 opens the journal (``None`` on the others); every rank gets the same list of
    (key, seed) still to train, or the same error."""
    journal, todo, error = None, None, None
    if job.execution.world.is_main:
        try:
            journal = BuildJournal(jpath, job.config(splits)).open()
            todo = [
                (k, s) for k in job.shard_keys.tolist() for s in job.seeds
                if (_key_json(k), s) not in journal.done
            ]  # fmt: skip
        except NasbenchToolsError as exc:
            error = exc
    shared = dp.broadcast_object(
        (todo, None if error is None else (type(error).__name__, str(error))), job.execution.world
    )
    if error is not None:
        raise error
    if shared[1] is not None:
        raise NasbenchToolsError(f"rank 0 could not open the journal: {shared[1][1]}")
    return journal, shared[0]


def _trained(job: BuildJob, splits: Splits, todo: list, ray: tuple, out: Path):
    """``((key, seed), record)`` for every network of ``todo``: here, or as Ray tasks (in the
    order they finish) when ``ray`` is ``(address, max_retries)`` with an address."""
    address, retries = ray
    ex = job.execution
    if address is None or not todo:
        for key, seed in todo:
            yield (
                (key, seed),
                train_network(
                    job.space, key, seed, job.protocol, splits, job.arch_of(key), execution=ex
                ),
            )
        return
    if ex.world.distributed:
        raise NasbenchToolsError(
            "--ray runs each network as one Ray task: launch it as one process, not under torchrun"
        )
    with ray_session(address):
        yield from ray_map(
            _train_task, todo, what=f"nbt build-bench {out}", context=(job, splits),
            setup=_setup_task, num_cpus=job.threads, num_gpus=gpus_per_task(ex.device),
            max_retries=retries, per_task=1,
        )  # fmt: skip


def _setup_task(context: tuple) -> None:
    torch.set_num_threads(context[0].threads)


def _train_task(context: tuple, item: tuple) -> dict:
    job, splits = context
    key, seed = item
    return train_network(
        job.space, key, seed, job.protocol, splits, job.arch_of(key), execution=job.execution
    )


def _finite(v: float) -> float:
    return float(v) if np.isfinite(v) else np.nan


def records_to_columnset(job: BuildJob, done: dict, meta: dict) -> ColumnSet:
    """The store's columns from the journal's records of the job's shard (all must be there)."""
    keys = job.shard_keys
    p = job.protocol
    D, E = p.dataset, p.epochs
    n, m = len(keys), len(job.seeds)
    arrays: dict[Key, np.ndarray] = {}

    def put(key: Key, i: int, j: int, value: float) -> None:
        arrays.setdefault(key, np.full((n, m), np.nan))[i, j] = _finite(value)

    for i, k in enumerate(keys.tolist()):
        for j, seed in enumerate(job.seeds):
            rec = done.get((_key_json(k), seed))
            if rec is None:
                raise NasbenchToolsError(f"architecture {k} seed {seed} was not trained")
            for s in SPLITS:
                for metric in ("accuracy", "loss"):
                    curve = rec["curves"][s][metric]
                    if len(curve) != E:
                        raise NasbenchToolsError(
                            f"architecture {k} seed {seed}: {len(curve)} epochs recorded, "
                            f"the protocol trains {E}"
                        )
                    put(Key(D, s, E, metric), i, j, curve[-1])
                    for e, v in enumerate(curve, 1):
                        put(Key(D, s, E, metric, f"epoch-{e}"), i, j, v)
            put(Key(D, "train", E, "time"), i, j, sum(rec["epoch_time"]))
            put(Key(D, "", 0, "params"), i, j, rec["params"])
            put(Key(D, "", 0, "flops"), i, j, rec["flops"])
    source = f"nbt build-bench, protocol {p.name}"
    cols = {k: Column(v, job.seeds, _UNITS[k.metric], source) for k, v in arrays.items()}
    return ColumnSet(job.space.name, keys, cols, job.specs(keys), meta=meta)


def merge_builds(
    parts: Sequence[str | Path],
    out: str | Path,
    *,
    overwrite: bool = False,
    command: str | None = None,
) -> Path:
    """Join the stores of the shards ``i/n`` of one build into the store one run writes.

    The shards must share every setting (space, protocol, seeds, selection, data, threads),
    and be ``0/n .. n-1/n`` each exactly once. The merged store's metadata keeps each shard's
    command (``shard_commands``, in shard order) and the merge's own (``command``; default: this
    process's command line), so it says how it was made, as a single run's store does.
    """
    out = Path(out)
    check_output_path(out, overwrite=overwrite)
    sets = [read_store(p) for p in parts]
    first = _common_meta(sets[0].meta)
    shards = []
    for path, cs in zip(parts, sets):
        diff = config_differences(first, _common_meta(cs.meta))
        if diff:
            raise NasbenchToolsError(
                f"{path} is not a shard of the same build as {parts[0]}; differing: "
                + "; ".join(diff)
            )
        shard = cs.meta.get("shard")
        if not shard:
            raise NasbenchToolsError(f"{path} is a whole build, not a shard (no --shard i/n)")
        shards.append(tuple(shard))
    n = shards[0][1]
    if sorted(shards) != [(i, n) for i in range(n)]:
        raise NasbenchToolsError(
            f"the parts are shards {sorted(f'{i}/{k}' for i, k in shards)}; a merge needs each "
            f"of 0/{n} .. {n - 1}/{n} exactly once"
        )
    keys = np.concatenate([cs.keys for cs in sets])
    order = np.argsort(keys, kind="stable")
    cols = {}
    for key, col in sets[0].columns.items():
        values = np.concatenate([cs.columns[key].values for cs in sets])[order]
        cols[key] = Column(values, col.seeds, col.unit, col.source)
    meta = dict(sets[0].meta) | {"shard": None, "source_name": out.name}
    meta["merged_from"] = [str(p) for p in parts]
    by_shard = sorted(zip(shards, sets), key=lambda t: t[0])
    meta["shard_commands"] = [cs.meta.get("command") for _, cs in by_shard]
    meta["command"] = " ".join(sys.argv) if command is None else command
    specs = None
    if sets[0].specs is not None:
        parts_of = [(cs.specs.matrices, cs.specs.labels, cs.specs.num_vertices) for cs in sets]
        specs = SpecArray(*(np.concatenate(a) for a in zip(*parts_of))).take(order)
    cs = ColumnSet(sets[0].space, keys[order], cols, specs, meta=meta)
    return write_store(cs, out, overwrite=overwrite)


def _common_meta(meta: dict) -> dict:
    keep = json.loads(json.dumps(meta, default=str))
    for k in _SHARD_ONLY:
        keep.pop(k, None)
    return keep
