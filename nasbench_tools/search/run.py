"""Running searches: one run (:func:`run_search`) and many, resumable (:func:`run_searches`).

Seeds
    A run is reproduced from its seed alone: ``SeedSequence(seed).spawn(2)`` gives the
    strategy's generator and the oracle's (seed draws), so a strategy sees the same
    architectures whatever the oracle draws. :func:`run_searches` gives run ``i`` the seed
    ``SeedSequence(base_seed).generate_state(repeats, uint32)[i]`` (a prefix of 500 runs' seeds
    is the seeds of 100 runs).
Resuming
    :func:`run_searches` writes runs in chunks next to the output (``<out>.parts/``), each chunk
    atomically; killed and restarted with the same arguments, it reuses the chunks whose
    header matches and computes the rest, so the final file is identical to an uninterrupted
    run's. The chunks are removed once the file is written.
Records
    Per-iteration records a strategy makes are turned into numbers the analysis reads (the
    strategy never sees the report metric or the true signal): ``recommended_row`` becomes
    ``recommended_report`` (the report metric of the predicted top-1, for WeakNAS's own
    counting); ``predictions`` (over the pool) become ``predictor_tau_unqueried`` (Kendall
    tau-b against the signal's seed mean over the architectures not yet queried),
    ``predictor_tau_top`` (the same within the ``top_k`` best-predicted unqueried ones) and
    ``predictor_p_at_top``  (P@top-K, K = 100 or the pool's tenth if smaller, on the unqueried
    architectures), when ``track_predictor`` is on.
Threads
    :func:`run_searches` runs with one BLAS thread (``blas_threads=1``; through threadpoolctl,
    which scikit-learn installs; without it the BLAS is left as it is). The predictors' matrix
    products are small, so more threads only contend (a WeakNAS run of 1,000 queries took 3x
    longer with OpenBLAS's default threads on the 2-core machine this was written on), and a
    fixed thread count fixes the order of the floating-point sums, so a run's predictions do
    not depend on the machine's core count.
Ray
    ``run_searches(..., ray=ADDRESS)`` (``nbt search --ray``, see :mod:`nasbench_tools._ray`)
    runs the repeats as Ray tasks (one CPU and one BLAS thread each). This process collects the
    runs and writes each chunk of ``<out>.parts/`` once all its runs are back, so the file is
    the one a local call writes, a retried task adds no run twice, and an interrupted call
    resumes from the chunks, with or without Ray.
"""

from __future__ import annotations

import contextlib
import copy
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._ray import DEFAULT_RETRIES, check_ray, ray_map, ray_session
from .._version import __version__
from ._common import SearchError, best_first, check_int, check_seed
from .oracle import Budget, Oracle
from .strategy import check_rows, get_strategy, make_strategy, resolve_options
from .trajectory import (
    FORMAT,
    VERSION,
    Trajectories,
    concatenate,
    plain_json,
    read_trajectories,
    write_trajectories,
)

__all__ = ["RECORDS", "run_search", "run_searches", "run_seeds", "search_header"]

#: Meaning of every record a run may hold (written into the header).
RECORDS = {
    "recommended_report": "report metric of the strategy's predicted top-1 after each fit "
    "(not queried, not charged: WeakNAS's own counting)",
    "predictor_tau_unqueried": "Kendall tau-b of the predictor's predictions against the "
    "signal's seed mean, over the architectures not yet queried",
    "predictor_tau_top": "the same within the predicted top-K unqueried architectures",
    "predictor_p_at_top": "P@top-K of the predictions on the unqueried architectures",
}
_CHUNK = 25
_STOP_BUDGET, _STOP_STRATEGY = 0, 1


def run_seeds(base_seed: int, repeats: int) -> np.ndarray:
    """The seeds of runs ``0..repeats-1`` (see the module text)."""
    base = check_seed(base_seed, "seed")
    n = check_int(repeats, "repeats", low=1)
    return np.random.SeedSequence(base).generate_state(n, dtype=np.uint32).astype(np.int64)


def search_header(
    oracle: Oracle,
    strategy: str,
    budget: Budget,
    *,
    seed: int,
    repeats: int,
    preset: str | None = None,
    options: Mapping[str, Any] | None = None,
    track_predictor: bool = True,
    label: str | None = None,
    command: Sequence[str] | None = None,
) -> dict:
    """The header every trajectory file of these runs carries."""
    get_strategy(strategy)
    resolved = resolve_options(strategy, preset, options or {})
    return plain_json(
        {
            "format": FORMAT,
            "version": VERSION,
            "package_version": __version__,
            "strategy": {
                "name": strategy,
                "preset": preset,
                "options": resolved,
                "given_options": dict(options or {}),
                "label": label,
            },
            "budget": budget.to_dict() | {"description": budget.describe()},
            "oracle": oracle.declaration,
            "seed": check_seed(seed),
            "repeats": check_int(repeats, "repeats", low=1),
            "run_seeds": "SeedSequence(seed).generate_state(repeats, uint32)[i]; within a run "
            "SeedSequence(run_seed).spawn(2) -> (strategy, oracle) generators",
            "track_predictor": bool(track_predictor),
            "records": RECORDS,
            "command": list(command) if command else None,
        }
    )


# =========================================================================== one run
def run_search(
    oracle: Oracle,
    strategy: str,
    budget: Budget,
    *,
    seed: int,
    preset: str | None = None,
    options: Mapping[str, Any] | None = None,
    track_predictor: bool = True,
    header: dict | None = None,
) -> Trajectories:
    """One run of ``strategy`` under ``oracle`` and ``budget``, reproducible from ``seed``."""
    seed = check_seed(seed)
    if not isinstance(budget, Budget):
        raise SearchError(f"budget must be a Budget, got {budget!r}")
    s_strategy, s_oracle = np.random.SeedSequence(seed).spawn(2)
    session = oracle.session(budget, np.random.default_rng(s_oracle))
    strat = make_strategy(
        strategy, oracle.domain, np.random.default_rng(s_strategy), preset=preset, **(options or {})
    )
    records: dict[str, list] = {}
    stop = _STOP_BUDGET
    while not session.exhausted:
        rows = check_rows(strat.ask(), oracle.domain, strategy)
        if rows.size == 0:
            stop = _STOP_STRATEGY
            break
        done: list[int] = []
        vals: list[float] = []
        for r in rows.tolist():
            v = session.query(r)
            if session.late:
                break
            done.append(r)
            vals.append(v)
            if session.exhausted:
                break
        strat.tell(done, vals)
        _convert_records(strat.pop_records(), oracle, session, records, track_predictor, strat)
    if header is None:
        header = search_header(
            oracle,
            strategy,
            budget,
            seed=seed,
            repeats=1,
            preset=preset,
            options=options,
            track_predictor=track_predictor,
        )
    return _trajectory(oracle, session, seed, stop, records, header, strat)


def _convert_records(items, oracle, session, out, track, strat) -> None:
    for name, at, value in items:
        if name == "recommended_row":
            out.setdefault("recommended_report", []).append((at, float(oracle.report[value])))
        elif name == "predictions" and track:
            for key, v in _predictor_scores(oracle, session.rows[:at], value, strat).items():
                out.setdefault(key, []).append((at, v))


def _predictor_scores(oracle: Oracle, queried: list[int], pred: np.ndarray, strat) -> dict:
    from ..analysis.ranking import kendall_tau, p_at_top_k

    free = np.ones(len(oracle.domain), dtype=bool)
    free[np.asarray(queried, dtype=np.int64)] = False
    truth, score = oracle.signal_mean[free], np.asarray(pred)[free]
    out = {}
    if truth.size >= 3 and np.ptp(truth) > 0 and np.ptp(score) > 0:
        out["predictor_tau_unqueried"] = kendall_tau(truth, score).statistic
    k = min(100, max(1, truth.size // 10))
    if truth.size >= k:
        out["predictor_p_at_top"] = p_at_top_k(truth, score, k).statistic
    top_k = int(getattr(strat, "top_k", 100))
    top = best_first(score, top_k)
    if top.size >= 3 and np.ptp(truth[top]) > 0 and np.ptp(score[top]) > 0:
        out["predictor_tau_top"] = kendall_tau(truth[top], score[top]).statistic
    return out


def _trajectory(oracle, session, seed, stop, records, header, strat) -> Trajectories:
    rows = np.asarray(session.rows, dtype=np.int64)
    late = np.zeros(len(rows), dtype=bool)
    if session.late:
        late[-1] = True
    keys = oracle.domain.keys[rows] if len(rows) else oracle.domain.keys[:0]
    if oracle.domain.space.key_kind == "hash":
        keys = np.asarray([str(k).encode() for k in keys], dtype="S32")
    header = copy.deepcopy(header)
    text = strat.sampler_text()
    if text:
        header["strategy"]["sampler"] = text
    recs = {
        k: (
            np.zeros(len(v), np.int32),
            np.array([a for a, _ in v], np.int32),
            np.array([x for _, x in v]),
        )
        for k, v in records.items()
    }
    return Trajectories(
        header,
        np.zeros(len(rows), np.int32),
        keys,
        np.asarray(session.values, dtype=float),
        np.asarray(session.costs, dtype=float),
        np.asarray(session.clocks, dtype=float),
        oracle.report[rows] if len(rows) else np.zeros(0),
        late,
        np.array([seed], np.int64),
        np.array([session.answer()], np.int64),
        np.array([stop], np.uint8),
        recs,
    )


# =========================================================================== many runs
def run_searches(
    oracle: Oracle,
    strategy: str,
    budget: Budget,
    *,
    repeats: int,
    seed: int,
    preset: str | None = None,
    options: Mapping[str, Any] | None = None,
    track_predictor: bool = True,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
    label: str | None = None,
    command: Sequence[str] | None = None,
    blas_threads: int | None = 1,
    ray: str | None = None,
    max_retries: int = DEFAULT_RETRIES,
) -> Trajectories:
    """``repeats`` runs (seeds from ``seed``); with ``out``, written there (resumable).

    ``blas_threads``: BLAS threads while running (``None``: leave them; see the module text).
    ``ray``: a Ray address (``"local"``, ``"auto"``, ``HOST:PORT``) to run the repeats as Ray
    tasks, each retried up to ``max_retries`` times if its worker dies.
    """
    header = search_header(
        oracle,
        strategy,
        budget,
        seed=seed,
        repeats=repeats,
        preset=preset,
        options=options,
        track_predictor=track_predictor,
        label=label,
        command=command,
    )
    seeds = run_seeds(seed, repeats)
    if ray is not None:
        check_ray(ray)
    parts_dir = None
    if out is not None:
        out = Path(out)
        if out.exists() and not overwrite:
            raise SearchError(f"{out}: exists; pass overwrite=True (--overwrite) to replace it")
        if not out.parent.is_dir():
            raise SearchError(f"{out}: its folder {out.parent} does not exist; create it first")
        parts_dir = out.with_name(out.name + ".parts")
        parts_dir.mkdir(exist_ok=True)
    chunks = [list(range(s, min(s + _CHUNK, repeats))) for s in range(0, repeats, _CHUNK)]
    bar = _bar(repeats, progress, header["strategy"]["label"] or strategy)
    run_args = (oracle, strategy, budget, preset, options, track_predictor)
    try:
        if ray is not None:
            done = _chunks_on_ray(
                chunks, parts_dir, header, seeds, bar, run_args, blas_threads, (ray, max_retries)
            )
        else:
            done = _chunks_here(chunks, parts_dir, header, seeds, bar, run_args, blas_threads)
    finally:
        bar.close()
    result = concatenate(done, header)
    if out is not None:
        write_trajectories(result, out, overwrite=overwrite)
        shutil.rmtree(parts_dir, ignore_errors=True)
    return result


def _chunks_here(chunks, parts_dir, header, seeds, bar, run_args, blas_threads) -> list:
    """Every chunk, in this process."""
    with _blas_limit(blas_threads):
        return [
            _chunk(ci, runs, parts_dir, header, seeds, bar, *run_args)
            for ci, runs in enumerate(chunks)
        ]


def _chunks_on_ray(chunks, parts_dir, header, seeds, bar, run_args, blas_threads, ray) -> list:
    """Every chunk: reused from ``parts_dir``, or its runs computed as Ray tasks; a chunk is
    written (as :func:`_chunk` writes it) once all its runs are back."""
    address, retries = ray
    check_int(blas_threads if blas_threads is not None else 1, "blas_threads", low=1)
    done: dict[int, Trajectories] = {}
    for ci, runs in enumerate(chunks):
        part = None if parts_dir is None else parts_dir / f"chunk-{ci:05d}.npz"
        got = _reuse(part, header, seeds[runs]) if part is not None else None
        if got is not None:
            done[ci] = got
            bar.update(len(runs))
    todo = [i for ci, runs in enumerate(chunks) if ci not in done for i in runs]
    if todo:
        runs_of: dict[int, dict[int, Trajectories]] = {}
        context = (run_args, header, seeds, blas_threads)
        with ray_session(address):
            for i, t in ray_map(
                _search_task, todo, what="nbt search", context=context, setup=_setup_search,
                max_retries=retries,
            ):  # fmt: skip
                bar.update(1)
                ci = i // _CHUNK
                mine = runs_of.setdefault(ci, {})
                mine[i] = t
                if len(mine) == len(chunks[ci]):
                    got = concatenate(
                        [mine[r] for r in chunks[ci]], _chunk_header(header, chunks[ci])
                    )
                    if parts_dir is not None:
                        write_trajectories(got, parts_dir / f"chunk-{ci:05d}.npz", overwrite=True)
                    done[ci] = got
                    del runs_of[ci]
    return [done[ci] for ci in range(len(chunks))]


def _setup_search(context: tuple) -> None:
    blas_threads = context[3]
    if blas_threads is None:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(blas_threads, user_api="blas")


def _search_task(context: tuple, i: int) -> Trajectories:
    (oracle, strategy, budget, preset, options, track), header, seeds, _ = context
    return run_search(
        oracle, strategy, budget, seed=int(seeds[i]), preset=preset, options=options,
        track_predictor=track, header=header,
    )  # fmt: skip


def _chunk(ci, runs, parts_dir, header, seeds, bar, *run_args) -> Trajectories:
    """Chunk ``ci`` (runs ``runs``): reused from ``parts_dir`` or computed (and saved there)."""
    part = None if parts_dir is None else parts_dir / f"chunk-{ci:05d}.npz"
    got = _reuse(part, header, seeds[runs]) if part is not None else None
    if got is not None:
        bar.update(len(runs))
        return got
    oracle, strategy, budget, preset, options, track = run_args
    got = concatenate(
        [
            _one(oracle, strategy, budget, int(seeds[i]), preset, options, track, header, bar)
            for i in runs
        ],
        _chunk_header(header, runs),
    )
    if part is not None:
        write_trajectories(got, part, overwrite=True)
    return got


def _blas_limit(threads: int | None):
    """A context limiting the BLAS threads to ``threads`` (``None``, or no threadpoolctl: none)."""
    if threads is None:
        return contextlib.nullcontext()
    check_int(threads, "blas_threads", low=1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(threads, user_api="blas")


def _one(oracle, strategy, budget, seed, preset, options, track, header, bar) -> Trajectories:
    t = run_search(
        oracle,
        strategy,
        budget,
        seed=seed,
        preset=preset,
        options=options,
        track_predictor=track,
        header=header,
    )
    bar.update(1)
    return t


def _chunk_header(header: dict, runs: list[int]) -> dict:
    return copy.deepcopy(header) | {"chunk_runs": [runs[0], runs[-1] + 1]}


def _reuse(part: Path, header: dict, seeds: np.ndarray) -> Trajectories | None:
    """A chunk written by an earlier, interrupted call with the same arguments, or None."""
    if not part.exists():
        return None
    try:
        t = read_trajectories(part)
    except SearchError:
        return None  # a damaged chunk is recomputed
    mine = {k: v for k, v in header.items() if k != "command"}
    theirs = {k: v for k, v in t.header.items() if k not in ("command", "chunk_runs")}
    if theirs != mine or not np.array_equal(t.r_seed, seeds):
        raise SearchError(
            f"{part.parent}: holds runs of a different search (strategy, options, oracle, "
            "budget or seed differ); remove the folder or choose another output"
        )
    return t


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, progress: bool, what: str):
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"search {what}", unit="run")
