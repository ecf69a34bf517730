"""Score many architectures with registered proxies into a score table: selection, shards, a
journal that survives ``kill -9``, and the merge of shards (what ``nbt score`` runs).

Selection (:func:`select_keys`): every architecture of an enumerable space, a seeded sample,
a list (keys or anything :meth:`Space.parse` reads, one per line), optionally reduced to one
representative per isomorphism class (the smallest key of each class among those selected).
The selected keys are sorted (benchmark order), and the table's rows follow that order.

Shards: ``shard=(i, n)`` (``0 <= i < n``) scores the selected keys at positions ``i, i + n, ...``
(strided, so neighbouring architectures, which cost alike, spread over the shards).
:func:`merge_shards` checks that the shards come from one selection and configuration, cover it
exactly once, and returns the table one unsharded run writes (same rows, order, scores and
metadata).

Journal: while scoring ``out``, every finished chunk of architectures is appended to
``<out>.journal`` as one JSON line and ``fsync``-ed. The first line records the configuration.
A run started again with the same configuration reads the journal, drops a last line cut short
by a kill, and scores only what is missing; with another configuration it stops and names the
differing settings. The table is written atomically at the end and the journal removed, so a
killed run leaves either no table or the complete one; never a duplicate or a lost row.

Workers: ``workers=n`` (``nbt score --workers n``) scores the chunks of per-architecture proxies
in ``n`` spawned processes, each with ``threads`` torch threads (default 1), while this process
keeps the journal; the table is the one a single process writes (each architecture's network is
seeded by its key alone, and its data batch by the run's seed). A worker that dies is an error
naming the table, never a hang, and no worker outlives a killed run (the journal resumes it).
Proxies that score all keys at once (supernet proxies) run in this process.

Ray: ``ray=ADDRESS`` (``nbt score --ray [ADDRESS]``, see :mod:`nasbench_tools._ray`) scores the
same chunks as Ray tasks (``threads`` CPUs and torch threads each, a GPU each where ``device``
is CUDA) instead of worker processes; this process keeps the journal, so the table is the one a
local run writes, a retried task records nothing twice, and a killed run resumes from the
journal with or without Ray.

Non-finite scores (NaN, inf) are kept in the table and counted per proxy in the metadata's
``nonfinite``; :func:`nonfinite_summary` words them for the user.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._journal import JOURNAL_SUFFIX, append_record, journal_path, open_journal
from .._ray import DEFAULT_RETRIES, check_ray, gpus_per_task, ray_map, ray_session
from .._version import __version__
from .._workers import in_workers
from ..errors import InvalidArchError, OutputPathError, ScoreTableError
from ..scores import ScoreTable
from .base import (
    ProxyError,
    ScoreRequest,
    compute_scores,
    get_proxy,
    groups_of,
    resolved_settings,
)

__all__ = [
    "JOURNAL_SUFFIX",
    "ScoreJob",
    "journal_path",
    "merge_shards",
    "nonfinite_counts",
    "nonfinite_summary",
    "read_key_list",
    "run_scoring",
    "select_keys",
    "shard_keys",
]

_JOURNAL_FORMAT = "nasbench_tools.score-journal"
#: Metadata keys that differ between the shards of one run (or are stamped on reading) and are
#: not in the merged table.
_SHARD_ONLY = ("shard", "nonfinite", "source_path", "source_sha256")


# --------------------------------------------------------------------------- selection
def read_key_list(space, path: str | Path) -> np.ndarray:
    """Keys of the architectures listed in ``path``: one per line (a key, an architecture
    string, anything ``space.parse`` reads, or a JSON object such as an NB101
    ``{"matrix": ..., "ops": ...}``); blank lines and ``#`` comments skipped. A line that does
    not parse, or an architecture listed twice, is an error naming the line."""
    return read_arch_list(space, path)[0]


def read_arch_list(space, path: str | Path) -> tuple[np.ndarray, dict]:
    """:func:`read_key_list`'s sorted keys, and the architecture objects of the lines that state
    one in full (a string or JSON object; a bare key states none), by key."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArchError(f"{path}: cannot read the architecture list: {exc}") from None
    keys, seen, archs = [], {}, {}
    for n, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            value = _list_value(text)
            key = space.as_key(value)
            if not space.is_key(value):
                archs[key] = space.parse(value)
        except InvalidArchError as exc:
            raise InvalidArchError(f"{path}:{n}: {exc}") from None
        if key in seen:
            raise InvalidArchError(
                f"{path}:{n}: {text!r} repeats line {seen[key]} (same key {key})"
            )
        seen[key] = n
        keys.append(key)
    if not keys:
        raise InvalidArchError(f"{path}: lists no architectures")
    return space.key_array(sorted(keys)), archs


def _list_value(text: str) -> Any:
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArchError(f"not a JSON object: {exc}") from None
    return int(text) if text.lstrip("-").isdigit() else text


def select_keys(
    space,
    archs: str | Sequence = "all",
    *,
    sample: int | None = None,
    seed: int | None = None,
    per_class: bool = False,
) -> tuple[np.ndarray, dict]:
    """The sorted keys to score and a description of the selection (for the metadata).

    ``archs`` is ``"all"`` or a sequence of keys. ``sample`` draws that many of them without
    replacement with ``seed`` (required). ``per_class`` keeps the smallest key of every
    isomorphism class among them (before sampling, so a sample holds distinct classes).
    """
    if isinstance(archs, str):
        if archs != "all":
            raise InvalidArchError(f"archs must be 'all' or a list of keys, got {archs!r}")
        keys = space.all_keys()
        if keys is None:
            raise InvalidArchError(
                f"space {space.name!r} cannot be enumerated; list the architectures in a file"
            )
        desc: dict = {"archs": "all"}
    else:
        keys = space.key_array(sorted(space.as_key(k) for k in archs))
        desc = {"archs": "list", "n_listed": len(keys)}
    if per_class:
        ids = space.class_ids(keys)
        if ids is not None:
            _, first = np.unique(np.asarray(ids), return_index=True)
            keys = keys[np.sort(first)]
        desc["per_class"] = space.class_kind
    if sample is not None:
        if seed is None:
            raise InvalidArchError("a sample needs an explicit seed")
        if not 0 < sample <= len(keys):
            raise InvalidArchError(f"sample of {sample} asked of {len(keys)} architectures")
        pick = np.random.default_rng(seed).choice(len(keys), size=sample, replace=False)
        keys = keys[np.sort(pick)]
        desc["sample"] = {"n": int(sample), "seed": int(seed)}
    desc["n"] = len(keys)
    desc["keys_sha256"] = _keys_sha(keys)
    return keys, desc


def shard_keys(keys: np.ndarray, shard: tuple[int, int] | None) -> np.ndarray:
    """The keys of shard ``(i, n)``: positions ``i, i + n, i + 2n, ...``."""
    if shard is None:
        return keys
    i, n = shard
    if not (isinstance(n, int) and isinstance(i, int) and n >= 1 and 0 <= i < n):
        raise ProxyError(f"shard must be i/n with 0 <= i < n, got {i}/{n}")
    return keys[i::n]


def _keys_sha(keys: np.ndarray) -> str:
    return hashlib.sha256("\n".join(str(k) for k in keys.tolist()).encode()).hexdigest()


# --------------------------------------------------------------------------- the job
@dataclass
class ScoreJob:
    """Everything one scoring run needs (see :func:`run_scoring`)."""

    space: Any
    keys: np.ndarray
    proxies: tuple[str, ...]
    selection: dict
    data: Any = None
    run: Path | None = None
    seed: int = 0
    batch_size: int | None = None
    device: str = "cpu"
    options: dict = field(default_factory=dict)
    shard: tuple[int, int] | None = None
    label: str | None = None
    target: dict | None = None

    def request(self, names: tuple[str, ...], keys: np.ndarray) -> ScoreRequest:
        return ScoreRequest(
            self.space, keys, names, self.data, self.run, self.seed, self.batch_size,
            self.device, dict(self.options),
        )  # fmt: skip

    def meta(self) -> dict:
        """The table's metadata: what the scores are and how they were made."""
        negated = [p for p in self.proxies if get_proxy(p).negated]
        groups = groups_of(self.proxies)
        meta: dict[str, Any] = {
            "label": self.label or "+".join(self.proxies),
            "source": f"nbt score (nasbench_tools {__version__})",
            "negated": negated,
            "data": self._data_name(),
            "proxies": {p: _describe(p) for p in self.proxies},
            "settings": {
                g: resolved_settings(self.request(names, self.keys[:0]))
                for g, names in groups.items()
            },
            "seed": int(self.seed),
            "selection": self.selection,
            "device": self.device,
            "versions": _versions(),
        }
        if self.data is not None:
            meta["data_provenance"] = dict(self.data.provenance)
        if self.run is not None:
            meta["run"] = str(Path(self.run).resolve())
        if self.target is not None:
            meta["target"] = dict(self.target)
        if self.shard is not None:
            meta["shard"] = {"index": self.shard[0], "count": self.shard[1]}
        return meta

    def _data_name(self) -> str | None:
        if self.data is not None:
            return self.data.name
        needs = {get_proxy(p).needs for p in self.proxies}
        if needs == {"nothing"}:
            return "none"
        if self.run is not None:
            return _run_dataset(Path(self.run))
        return None


def _describe(name: str) -> dict:
    p = get_proxy(name)
    return {"needs": p.needs, "unit": p.unit, "negated": p.negated, "group": p.group,
            "deterministic": p.deterministic, "description": p.description}  # fmt: skip


def _versions() -> dict:
    import torch

    return {"nasbench_tools": __version__, "torch": torch.__version__, "numpy": np.__version__}


def _run_dataset(run: Path) -> str | None:
    """The dataset a supernet run trained on (its ``config.json``), or ``None``."""
    try:
        saved = json.loads((run / "config.json").read_text())
        return saved.get("config", {}).get("dataset") or saved.get("dataset")
    except (OSError, ValueError, AttributeError):
        return None


# --------------------------------------------------------------------------- journal
def _config_for_journal(job: ScoreJob, meta: dict) -> dict:
    """What must match for a journal to be resumed (not the label, target or versions)."""
    keep = ("proxies", "settings", "seed", "selection", "device", "data_provenance", "run", "shard")
    return json.loads(json.dumps({k: meta.get(k) for k in keep}, default=str, sort_keys=True))


class _Journal:
    def __init__(self, path: Path, config: dict):
        self.path = path
        self.config = config
        self.done: dict[str, dict] = {}  # group -> {key: {name: value}}

    def open(self) -> None:
        records = open_journal(
            self.path, _JOURNAL_FORMAT, self.config, what="nbt score", error=ScoreTableError
        )
        for rec in records:
            done = self.done.setdefault(rec["group"], {})
            for i, key in enumerate(rec["keys"]):
                row = {n: float(v[i]) for n, v in rec["scores"].items()}
                if key in done and not _same(done[key], row):
                    raise ScoreTableError(f"{self.path}: key {key} recorded twice, differently")
                done[key] = row

    def append(self, group: str, keys: list, scores: dict[str, np.ndarray]) -> None:
        rec = {"group": group, "keys": keys, "scores": {n: v.tolist() for n, v in scores.items()}}
        append_record(self.path, rec)
        done = self.done.setdefault(group, {})
        for i, key in enumerate(keys):
            done[key] = {n: float(v[i]) for n, v in scores.items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (a[k] == b[k]) or (np.isnan(a[k]) and np.isnan(b[k])) for k in a
    )


def _json_key(k) -> int | str:
    return int(k) if isinstance(k, int | np.integer) else str(k)


# --------------------------------------------------------------------------- running
def run_scoring(
    job: ScoreJob,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: bool | Callable[[int], None] = True,
    workers: int = 1,
    threads: int = 1,
    ray: str | None = None,
    max_retries: int = DEFAULT_RETRIES,
) -> ScoreTable:
    """Score ``job`` into the table ``out`` (CSV with sidecar, or HDF5), resuming from its
    journal if a previous run with the same configuration was killed. Returns the table.

    ``workers``: processes scoring per-architecture chunks (1: this process); ``threads``:
    torch threads of each worker; ``ray``: a Ray address (``"local"``, ``"auto"``,
    ``HOST:PORT``) to score the chunks as Ray tasks instead, each retried up to
    ``max_retries`` times if its worker dies (see the module docstring)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputPathError(f"{out} exists; pass --force (overwrite=True) to replace it")
    if not out.parent.is_dir():
        raise OutputPathError(f"{out}: folder {out.parent} does not exist")
    for name, value in (("workers", workers), ("threads", threads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ProxyError(f"{name} must be an integer >= 1, got {value!r}")
    if ray is not None:
        if workers != 1:
            raise ProxyError(f"give workers ({workers}) or ray ({ray!r}), not both")
        check_ray(ray)
    keys = shard_keys(job.keys, job.shard)
    meta = job.meta()
    journal = _Journal(journal_path(out), _config_for_journal(job, meta))
    if overwrite and journal.path.exists() and out.exists():
        journal.path.unlink()
    journal.open()
    groups = groups_of(job.proxies)
    todo = {
        g: [k for k in keys.tolist() if _json_key(k) not in journal.done.get(g, {})] for g in groups
    }
    total = len(keys) * len(groups)
    bar = _progress(progress, total, total - sum(len(v) for v in todo.values()))
    session = ray_session(ray) if ray is not None and any(todo.values()) else None
    try:
        with session or contextlib.nullcontext():
            for g, names in groups.items():
                chunk = get_proxy(names[0]).chunk or max(len(todo[g]), 1)
                parts = [todo[g][i : i + chunk] for i in range(0, len(todo[g]), chunk)]
                how = (workers, threads, max_retries if session else None)
                for part, got in _scored_parts(job, names, parts, how, out):
                    journal.append(g, [_json_key(k) for k in part], got)
                    bar(len(part))
    finally:
        bar(None)
    scores = {
        p: np.array([journal.done[g][_json_key(k)][p] for k in keys.tolist()])
        for g, names in groups.items()
        for p in names
    }
    scores = {p: scores[p] for p in job.proxies}
    meta["nonfinite"] = nonfinite_counts(scores)
    table = ScoreTable(job.space.name, keys, scores, meta)
    table.write(out, overwrite=overwrite)
    journal.path.unlink(missing_ok=True)
    return table


def _scored_parts(job: ScoreJob, names, parts: list, how: tuple, out: Path):
    """``(part, scores)`` for every part of keys: in this process, or (in the order they finish)
    in Ray tasks or ``workers`` spawned processes when there is more than one part. ``how`` is
    ``(workers, threads, max_retries)``, ``max_retries`` ``None`` without Ray."""
    workers, threads, retries = how
    modules = sorted({get_proxy(n).compute.__module__ for n in names} - {"__main__"})
    if retries is not None and len(parts) >= 2:
        yield from ray_map(
            _score_task, parts, what=f"nbt score {out}", context=(job, names, threads, modules),
            setup=_setup_task, num_cpus=threads, num_gpus=gpus_per_task(job.device),
            max_retries=retries,
        )  # fmt: skip
        return
    if workers == 1 or len(parts) < 2:
        for part in parts:
            yield part, compute_scores(job.request(names, job.space.key_array(part)))
        return
    advice = (
        "the journal keeps what was scored; run again to resume (with --workers 1 to score in "
        "this process)"
    )
    for (_names, part), got in in_workers(
        _score_in_worker, [(names, part) for part in parts], min(workers, len(parts)),
        what=f"nbt score {out}", start_method="spawn", setup=_setup_worker,
        setup_args=(job, threads, tuple(modules)), advice=advice,
    ):  # fmt: skip
        yield part, got


#: The job a scoring worker serves (set once per worker by :func:`_setup_worker`).
_WORKER_JOB: ScoreJob | None = None


def _setup_worker(job: ScoreJob, threads: int, modules: tuple[str, ...]) -> None:
    import torch

    global _WORKER_JOB
    torch.set_num_threads(threads)
    for name in modules:  # where the proxies were registered
        importlib.import_module(name)
    _WORKER_JOB = job


def _setup_task(context: tuple) -> None:
    job, _names, threads, modules = context
    _setup_worker(job, threads, tuple(modules))


def _score_task(context: tuple, part: list) -> dict[str, np.ndarray]:
    job, names = context[:2]
    return compute_scores(job.request(names, job.space.key_array(part)))


def _score_in_worker(task: tuple) -> dict[str, np.ndarray]:
    names, part = task
    job = _WORKER_JOB
    return compute_scores(job.request(names, job.space.key_array(part)))


def _progress(progress, total: int, initial: int) -> Callable[[int | None], None]:
    if callable(progress):
        return lambda n: None if n is None else progress(n)
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, disable=not progress, unit="arch", desc="scoring")

    def update(n):
        if n is None:
            bar.close()
        else:
            bar.update(n)

    return update


# --------------------------------------------------------------------------- non-finite
def nonfinite_counts(scores: dict[str, np.ndarray]) -> dict[str, dict[str, int]]:
    """Per proxy with any: counts of NaN, +inf and -inf."""
    out = {}
    for name, v in scores.items():
        c = {"nan": int(np.isnan(v).sum()), "+inf": int(np.isposinf(v).sum()),
             "-inf": int(np.isneginf(v).sum())}  # fmt: skip
        if any(c.values()):
            out[name] = c
    return out


def nonfinite_summary(table: ScoreTable, limit: int = 5) -> list[str]:
    """One line per proxy with non-finite scores: counts and the first keys."""
    lines = []
    for name, counts in nonfinite_counts(table.scores).items():
        bad = table.keys[~np.isfinite(table.scores[name])].tolist()
        what = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        more = f" (+{len(bad) - limit} more)" if len(bad) > limit else ""
        lines.append(
            f"{name}: {what} of {len(table)}; keys {bad[:limit]}{more} (kept, not dropped)"
        )
    return lines


# --------------------------------------------------------------------------- merge
def merge_shards(paths: Iterable[str | Path]) -> ScoreTable:
    """The table of one unsharded run from the tables of its shards (see the module text)."""
    tables = [(Path(p), ScoreTable.read(p)) for p in paths]
    if not tables:
        raise ScoreTableError("merge needs at least one shard")
    first_path, first = tables[0]
    common = {k: v for k, v in first.meta.items() if k not in _SHARD_ONLY}
    counts = set()
    seen: dict[int, Path] = {}
    for path, t in tables:
        shard = t.meta.get("shard")
        if not isinstance(shard, dict):
            raise ScoreTableError(f"{path}: not a shard (no 'shard' in its metadata)")
        counts.add(shard["count"])
        if shard["index"] in seen:
            raise ScoreTableError(f"{path}: shard {shard['index']} is also {seen[shard['index']]}")
        seen[shard["index"]] = path
        mine = {k: v for k, v in t.meta.items() if k not in _SHARD_ONLY}
        if t.space != first.space or t.columns != first.columns or mine != common:
            diff = sorted(k for k in set(mine) | set(common) if mine.get(k) != common.get(k))
            raise ScoreTableError(
                f"{path} and {first_path} are not shards of one run (differing: "
                f"{', '.join(diff) or 'space or columns'})"
            )
    (n,) = counts if len(counts) == 1 else (None,)
    if n is None or sorted(seen) != list(range(n)):
        raise ScoreTableError(
            f"shards {sorted(seen)} of {sorted(counts)} given; a merge needs each of 0..n-1 once"
        )
    keys = np.concatenate([t.keys for _, t in tables])
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    if len(set(keys.tolist())) != len(keys):
        raise ScoreTableError("the shards overlap: an architecture is in two of them")
    if _keys_sha(keys) != common.get("selection", {}).get("keys_sha256"):
        raise ScoreTableError("the shards do not cover their selection exactly")
    scores = {c: np.concatenate([t.scores[c] for _, t in tables])[order] for c in first.columns}
    meta = dict(common)
    meta["nonfinite"] = nonfinite_counts(scores)
    return ScoreTable(first.space, keys, scores, meta)
