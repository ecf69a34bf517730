"""The search oracle: what a query returns, what it costs, and what the search is judged on.

An :class:`Oracle` wraps one or more ground truths of one space and declares three things, all of
which are written into every output (:attr:`Oracle.declaration`):

search signal
    What a strategy sees when it queries an architecture: one ground-truth column
    (:class:`Measure`: benchmark, dataset, split, epochs) and a seed policy (``"mean"``: the mean
    over the seeds each architecture has; an int: that seed; ``"draw"``: a seed drawn uniformly
    from those the architecture has, afresh at every query, as NATS-Bench's
    ``get_more_info(..., is_random=True)``; ``"draw-per-arch"``: drawn once per architecture and
    run, as WeakNAS's ``--deterministic False``). Draws come from the run's own random generator
    (:meth:`Oracle.session`), never from a global one. An objective may turn the signal into a
    reward (:class:`MnasNetReward`).
report metric
    What the search is judged on (seed mean): the value of the architecture a run returns. A
    strategy never sees it.
cost
    Simulated seconds charged per query (:class:`CostSpec`): the training time of the signal's
    budget, or where the ground truth has only a longer schedule's time, that time scaled by
    ``epochs / E`` (stated). Evaluation (validation) time is in no ground truth of this package,
    so it is not charged (stated).

A :class:`Session` (one run) counts queries and keeps the simulated clock: every query is
charged, repeated ones included, and the clock is the sum of the costs charged. Nothing is free:
the architecture a run returns is always one it queried. A query that crosses a time budget is
charged (its training ran) but finishes after the deadline, so it is not used (``late``); the
session is then exhausted and refuses further queries.

The pool (:class:`~nasbench_tools.search.domain.Domain`) is every architecture where the signal,
the report metric and the cost all have values (and the keys all ground truths share).

numpy only; scikit-learn is never imported here.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import NasbenchToolsError
from ..groundtruth.api import GroundTruth
from ..groundtruth.target import open_ground_truth
from ._common import SearchError, check_int, check_number
from .domain import Domain

__all__ = [
    "SEED_POLICIES",
    "Budget",
    "CostSpec",
    "Measure",
    "MnasNetReward",
    "Oracle",
    "Session",
]

#: Two ground truths "disagree" on an architecture where a shared column's seed means differ by
#: more than this (in the column's unit; stored means are rounded to about 1e-8).
_RELEASE_TOL = 1e-6
#: Seed policies by name (an int seed label is also accepted).
SEED_POLICIES = ("mean", "draw", "draw-per-arch")


# =========================================================================== declarations
@dataclass(frozen=True)
class Measure:
    """One ground-truth column as a search uses it.

    Attributes
    ----------
    target : str
        An embedded benchmark (``nb201``, ``nb201-v1_1``, ``nb101``), a path to a store or an
        official file, or ``"computed"`` (params or FLOPs computed from the architecture by
        :mod:`nasbench_tools.spaces.costs`; NB201 and NATS-sss).
    dataset, split : str
        The benchmark's own names (split ``None`` for params, FLOPs, latency).
    epochs : int or None
        The training budget (``None`` for metrics that do not depend on it).
    metric : str
        ``accuracy`` (default), ``loss``, ``params``, ``flops``, ``latency``.
    seed : "mean", "draw", "draw-per-arch" or int
        How seeds are read (see the module text); the report metric is always ``"mean"``.
    """

    target: str
    dataset: str
    split: str | None = None
    epochs: int | None = None
    metric: str = "accuracy"
    seed: Any = "mean"

    def __post_init__(self):
        if not isinstance(self.target, str) or not self.target:
            raise SearchError(f"a measure's target must be a non-empty str, got {self.target!r}")
        if isinstance(self.seed, str):
            if self.seed not in SEED_POLICIES:
                raise SearchError(
                    f"seed policy must be one of {list(SEED_POLICIES)} or an int seed, got {self.seed!r}"
                )
        else:
            check_int(self.seed, "seed policy (a seed label)")

    @classmethod
    def parse(cls, text: str, *, seed: Any = "mean") -> Measure:
        """From ``"TARGET,DATASET,SPLIT,EPOCHS[,METRIC]"`` (empty SPLIT or EPOCHS for none)."""
        parts = [p.strip() for p in str(text).split(",")]
        if not 4 <= len(parts) <= 5 or not parts[0] or not parts[1]:
            raise SearchError(
                f"expected TARGET,DATASET,SPLIT,EPOCHS[,METRIC] (e.g. "
                f"'nb201,cifar10-valid,x-valid,12'), got {text!r}"
            )
        epochs = None
        if parts[3]:
            try:
                epochs = int(parts[3])
            except ValueError:
                raise SearchError(
                    f"EPOCHS must be an integer in {text!r}, got {parts[3]!r}"
                ) from None
        return cls(
            parts[0],
            parts[1],
            parts[2] or None,
            epochs,
            parts[4] if len(parts) == 5 else "accuracy",
            seed,
        )

    def describe(self) -> str:
        bits = [self.dataset]
        if self.split:
            bits.append(self.split)
        if self.epochs is not None:
            bits.append(f"{self.epochs} epochs")
        seed = (
            {
                "mean": "seed mean",
                "draw": "a seed drawn per query",
                "draw-per-arch": "a seed drawn per architecture and run",
            }.get(self.seed, f"seed {self.seed}")
            if isinstance(self.seed, str)
            else f"seed {self.seed}"
        )
        return f"{self.target}: {' '.join(bits)} {self.metric} ({seed})"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CostSpec:
    """Where a query's simulated cost comes from.

    ``target``/``dataset``: the ground truth and dataset of the training-time column
    (``Key(dataset, "train", E, "time")``); ``epochs``: the schedule a query trains for (the
    signal's). The column at ``epochs`` is used where it exists; otherwise the longest schedule
    ``E`` the ground truth has, scaled by ``epochs / E``. ``unit=True`` charges 1 per query (a
    clock that counts queries) for ground truths without times.
    """

    target: str = ""
    dataset: str = ""
    epochs: int | None = None
    unit: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MnasNetReward:
    """MnasNet's multi-objective reward ``ACC x (COST / T) ** w`` (Tan et al., CVPR 2019).

    ``w = alpha`` where ``COST <= T`` and ``beta`` otherwise; the paper's soft constraint is
    ``alpha = beta = -0.07`` (the defaults), its hard one ``alpha = 0, beta = -1``. ``cost`` is
    any cost column (:class:`Measure` with metric ``params`` everywhere, ``flops`` or
    ``latency`` where a store has them, or ``target="computed"`` for FLOPs/params computed from
    the architecture); ``target`` (T) is the user's, in that column's unit, with no default.
    """

    cost: Measure
    target: float
    alpha: float = -0.07
    beta: float = -0.07

    def __post_init__(self):
        check_number(self.target, "MnasNet reward target T", low=0.0, open_low=True)
        check_number(self.alpha, "MnasNet reward alpha")
        check_number(self.beta, "MnasNet reward beta")

    def factor(self, cost: np.ndarray) -> np.ndarray:
        """``(cost / T) ** w`` per architecture."""
        ratio = np.asarray(cost, dtype=float) / self.target
        w = np.where(ratio <= 1.0, self.alpha, self.beta)
        return ratio**w

    def to_dict(self) -> dict:
        return {
            "kind": "mnasnet",
            "formula": "signal * (cost / T) ** w, w = alpha if cost <= T else beta",
            "cost": self.cost.to_dict(),
            "T": self.target,
            "alpha": self.alpha,
            "beta": self.beta,
        }


@dataclass(frozen=True)
class Budget:
    """A search budget: a number of queries or a number of simulated seconds (exactly one)."""

    queries: int | None = None
    seconds: float | None = None

    def __post_init__(self):
        if (self.queries is None) == (self.seconds is None):
            raise SearchError("a budget is a number of queries or of seconds (exactly one)")
        if self.queries is not None:
            check_int(self.queries, "budget (queries)", low=1)
        else:
            check_number(self.seconds, "budget (seconds)", low=0.0, open_low=True)

    @classmethod
    def parse(cls, text: str | int | float) -> Budget:
        """``"100"``, ``"100q"`` or ``"100 queries"``; ``"12000s"`` or ``"12000 seconds"``."""
        if isinstance(text, int | np.integer) and not isinstance(text, bool):
            return cls(queries=int(text))
        t = str(text).strip().lower().replace("_", "")
        for suffix, kind in (
            ("queries", "q"),
            ("query", "q"),
            ("q", "q"),
            ("seconds", "s"),
            ("sec", "s"),
            ("s", "s"),
        ):
            if t.endswith(suffix):
                t, unit = t[: -len(suffix)].strip(), kind
                break
        else:
            unit = "q"
        try:
            if unit == "q":
                return cls(queries=int(t))
            return cls(seconds=float(t))
        except ValueError:
            raise SearchError(
                f"budget {text!r} is not a number of queries ('100', '100q') or of simulated "
                "seconds ('12000s')"
            ) from None

    def describe(self) -> str:
        if self.queries is not None:
            return f"{self.queries:,} queries"
        return f"{self.seconds:,.0f} simulated seconds"

    def to_dict(self) -> dict:
        return {"queries": self.queries, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, d: dict) -> Budget:
        return cls(queries=d.get("queries"), seconds=d.get("seconds"))


# =========================================================================== the oracle
@dataclass
class _Opened:
    """Ground truths opened once per target while building an oracle (``given`` first)."""

    given: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)

    def get(self, target: str) -> GroundTruth:
        if target in self.given:
            return self.given[target]
        if target not in self.cache:
            self.cache[target] = open_ground_truth(target, progress=False)
        return self.cache[target]


class Oracle:
    """Search signal, report metric and cost over one pool; see the module text.

    Build one with :meth:`build` (or a protocol: :func:`nasbench_tools.search.get_protocol`).

    Attributes
    ----------
    domain : Domain
    report : ndarray (read-only)
        The report metric of every pool row.
    signal_mean : ndarray (read-only)
        The search signal's seed mean of every row (after the objective); what predictors are
        scored against.
    cost : ndarray (read-only)
        Simulated seconds charged per query of every row.
    optimum : float
        The best report value in the pool; ``optimum_rows`` the rows that have it.
    """

    def __init__(
        self,
        domain: Domain,
        *,
        signal_mean: np.ndarray,
        signal_seeds: np.ndarray | None,
        seed_policy: Any,
        report: np.ndarray,
        cost: np.ndarray,
        declaration: dict,
        factor: np.ndarray | None = None,
    ):
        self.domain = domain
        self.factor = _ro(np.ones(len(domain)) if factor is None else np.asarray(factor, float))
        self.signal_mean = _ro(np.asarray(signal_mean, dtype=float))
        self.report = _ro(np.asarray(report, dtype=float))
        self.cost = _ro(np.asarray(cost, dtype=float))
        self.seed_policy = seed_policy
        if seed_policy in ("draw", "draw-per-arch"):
            seeds = np.asarray(signal_seeds, dtype=float)
            valid = ~np.isnan(seeds)
            self._count = valid.sum(axis=1)
            # per row: the columns of its valid seeds first
            self._valid_cols = np.argsort(~valid, axis=1, kind="stable")
            self._seed_values = seeds
        n = len(domain)
        for name, v in (("signal", self.signal_mean), ("report", self.report), ("cost", self.cost)):
            if v.shape != (n,):
                raise SearchError(f"oracle {name} has shape {v.shape}, expected ({n},)")
        self.optimum = float(self.report.max())
        self.optimum_rows = _ro(np.flatnonzero(self.report == self.optimum))
        self._declaration = copy.deepcopy(declaration)
        self._declaration["optimum"] = {
            "report_max": self.optimum,
            "keys": [_plain(domain.keys[r]) for r in self.optimum_rows],
            "computed_from": "the report metric over the pool",
        }
        self._mean_list = self.signal_mean.tolist()
        self._cost_list = self.cost.tolist()

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        signal: Measure,
        report: Measure,
        cost: CostSpec | None = None,
        *,
        objective: MnasNetReward | None = None,
        notes: tuple[str, ...] = (),
        protocol: str | None = None,
        ground_truths: dict[str, GroundTruth] | None = None,
    ) -> Oracle:
        """Join the ground truths the measures name into one oracle.

        ``cost`` defaults to the signal's target and dataset at the signal's epochs. The report
        metric is read as a seed mean (its ``seed`` must be ``"mean"``). ``ground_truths`` maps
        target names to :class:`GroundTruth` objects already in memory (used before any
        embedded benchmark or path of that name).
        """
        for name, gt in (ground_truths or {}).items():
            if not isinstance(gt, GroundTruth):
                raise SearchError(
                    f"ground_truths[{name!r}] must be a GroundTruth, got {type(gt).__name__}"
                )
        if report.seed != "mean":
            raise SearchError(f"the report metric is read as a seed mean; got seed={report.seed!r}")
        if cost is None:
            cost = CostSpec(signal.target, signal.dataset, signal.epochs)
        opened = _Opened(dict(ground_truths or {}))
        parts = _Parts(opened)
        sig_gt = parts.gt(signal.target)
        space = sig_gt.space
        targets = [signal.target, report.target]
        if not cost.unit:
            targets.append(cost.target)
        if objective is not None and objective.cost.target != "computed":
            targets.append(objective.cost.target)
        for t in targets:
            if parts.gt(t).space != space:
                raise SearchError(
                    f"{t!r} holds {parts.gt(t).space} ground truth, but the signal's "
                    f"{signal.target!r} holds {space}: one oracle, one space"
                )
        keys, rows = _shared_keys([parts.gt(t) for t in dict.fromkeys(targets)], targets)
        sig_mean, sig_seeds, sig_info = parts.signal(signal, rows[signal.target])
        rep, rep_info = parts.vector(report, rows[report.target])
        cost_vec, cost_info = parts.cost(cost, signal.epochs, rows.get(cost.target), len(keys))
        factor, obj_info = np.ones(len(keys)), {"kind": "accuracy", "formula": "the signal itself"}
        if objective is not None:
            ocost = _objective_cost(parts, objective.cost, keys, rows, space)
            factor = np.where(np.isfinite(ocost) & (ocost > 0), objective.factor(ocost), np.nan)
            obj_info = objective.to_dict() | {"cost_source": objective.cost.describe()}
        ok = np.isfinite(sig_mean) & np.isfinite(rep) & np.isfinite(cost_vec) & np.isfinite(factor)
        if not ok.any():
            raise SearchError("no architecture has a signal, a report value and a cost")
        sel = np.flatnonzero(ok)
        archs = (
            [sig_gt.archs[int(i)] for i in rows[signal.target][sel]]
            if space_needs_archs(space)
            else None
        )
        domain = Domain(space, keys[sel], archs)
        declaration = {
            "protocol": protocol,
            "space": space,
            "pool": {
                "size": len(sel),
                "shared_keys": len(keys),
                "space_size": _plain(domain.space.size),
                "excluded_no_value": int(len(keys) - len(sel)),
            },
            "signal": signal.to_dict() | sig_info,
            "report": report.to_dict() | rep_info,
            "cost": cost.to_dict() | cost_info,
            "objective": obj_info,
            "sources": parts.sources(),
            "notes": [*notes, *parts.release_notes(targets, len(keys))],
            "package_version": __version__,
        }
        return cls(
            domain,
            signal_mean=sig_mean[sel] * factor[sel],
            signal_seeds=None if sig_seeds is None else sig_seeds[sel] * factor[sel, None],
            seed_policy=signal.seed,
            report=rep[sel],
            cost=cost_vec[sel],
            declaration=declaration,
            factor=factor[sel],
        )

    @property
    def declaration(self) -> dict:
        """Signal, report metric, cost, objective, pool, sources and notes (a copy)."""
        return copy.deepcopy(self._declaration)

    def describe(self) -> str:
        """A few lines saying what a query returns, costs and is judged on."""
        d = self._declaration
        lines = [
            f"signal: {Measure(**_measure_fields(d['signal'])).describe()}",
            f"report: {Measure(**_measure_fields(d['report'])).describe()}",
            f"cost:   {d['cost']['description']}",
            f"pool:   {d['pool']['size']:,} architectures; optimum of the report metric "
            f"{self.optimum:.4f} ({len(self.optimum_rows)} architecture(s))",
        ]
        if d["objective"]["kind"] != "accuracy":
            lines.insert(1, f"objective: {d['objective']['formula']}")
        return "\n".join(lines + [f"note: {n}" for n in d["notes"]])

    def session(self, budget: Budget, rng: np.random.Generator) -> Session:
        """A fresh run: zero queries, clock at 0, draws from ``rng``."""
        return Session(self, budget, rng)


def space_needs_archs(space: str) -> bool:
    """Whether a space's keys do not name architectures by themselves (hash keys)."""
    from ..spaces import get_space

    return get_space(space).key_kind == "hash"


# =========================================================================== one run
class Session:
    """One run's queries: counter, simulated clock and the log. Made by :meth:`Oracle.session`."""

    __slots__ = (
        "_draw",
        "_fixed",
        "_limit_q",
        "_limit_s",
        "_o",
        "_rng",
        "budget",
        "clock",
        "clocks",
        "costs",
        "exhausted",
        "late",
        "n_queries",
        "rows",
        "values",
    )

    def __init__(self, oracle: Oracle, budget: Budget, rng: np.random.Generator):
        if not isinstance(rng, np.random.Generator):
            raise SearchError(f"a session needs a numpy Generator, got {type(rng).__name__}")
        self._o = oracle
        self._rng = rng
        self.budget = budget
        self._limit_q = budget.queries
        self._limit_s = budget.seconds
        self._draw = {"mean": 0, "draw": 1, "draw-per-arch": 2}.get(
            oracle.seed_policy if isinstance(oracle.seed_policy, str) else "mean", 0
        )
        self._fixed: dict[int, float] = {}
        self.n_queries = 0
        self.clock = 0.0
        self.exhausted = False
        self.late = False
        self.rows: list[int] = []
        self.values: list[float] = []
        self.costs: list[float] = []
        self.clocks: list[float] = []

    def query(self, row: int) -> float:
        """Train-and-evaluate architecture ``row``: its search signal. Charges its cost.

        Raises :class:`SearchError` once the budget is exhausted (no free queries) and for a row
        outside the pool.
        """
        if self.exhausted:
            raise SearchError(
                f"the budget ({self.budget.describe()}) is exhausted after {self.n_queries} "
                "queries: no further (or free) query"
            )
        row = int(row)
        o = self._o
        if not 0 <= row < len(o._mean_list):
            raise SearchError(f"row {row} is outside the pool of {len(o._mean_list)} architectures")
        if self._draw == 0:
            value = o._mean_list[row]
        elif self._draw == 1:
            value = self._drawn(row)
        else:
            value = self._fixed.get(row)
            if value is None:
                value = self._fixed[row] = self._drawn(row)
        cost = o._cost_list[row]
        self.clock += cost
        self.n_queries += 1
        self.rows.append(row)
        self.values.append(value)
        self.costs.append(cost)
        self.clocks.append(self.clock)
        if self._limit_s is not None:
            if self.clock > self._limit_s:
                self.late = self.exhausted = True
            elif self.clock >= self._limit_s:
                self.exhausted = True
        elif self.n_queries >= self._limit_q:
            self.exhausted = True
        return value

    def _drawn(self, row: int) -> float:
        o = self._o
        j = o._valid_cols[row, self._rng.integers(o._count[row])]
        return float(o._seed_values[row, j])

    def answer(self) -> int:
        """Index (into this run's queries) of the answer: the best signal among the queries that
        finished within the budget, the first of ties; -1 before any."""
        n = len(self.values) - (1 if self.late else 0)
        if n <= 0:
            return -1
        return int(np.argmax(np.asarray(self.values[:n])))


# =========================================================================== building blocks
class _Parts:
    """Reads measures from the opened ground truths, recording sources as it goes."""

    def __init__(self, opened: _Opened):
        self.opened = opened
        self._used: dict[str, GroundTruth] = {}

    def gt(self, target: str) -> GroundTruth:
        gt = self.opened.get(target)
        self._used[target] = gt
        return gt

    def sources(self) -> dict:
        out = {}
        for t, gt in self._used.items():
            p = gt.provenance
            out[t] = {
                "name": gt.name,
                "archs": len(gt),
                "sample": gt.sample_note or "",
                "source_path": str(p.get("source_path", p.get("store", ""))),
                "source_sha256": p.get("source_sha256", p.get("sha256", "")),
            }
        return out

    def _column(self, gt: GroundTruth, m: Measure):
        try:
            key = gt.resolve(m.dataset, m.split, m.epochs, m.metric, "final")
        except NasbenchToolsError as exc:
            raise SearchError(f"{m.target}: {exc}") from None
        return key, gt._column(key)

    def vector(self, m: Measure, rows: np.ndarray) -> tuple[np.ndarray, dict]:
        gt = self.gt(m.target)
        key, col = self._column(gt, m)
        v = gt.vector(
            dataset=m.dataset, split=m.split, epochs=m.epochs, metric=m.metric, missing="nan"
        )
        info = {
            "column": key.to_str(),
            "unit": col.unit,
            "source": col.source,
            "seeds_available": list(col.seeds) or "mean only",
        }
        return np.asarray(v, dtype=float)[rows], info

    def signal(self, m: Measure, rows: np.ndarray):
        gt = self.gt(m.target)
        key, col = self._column(gt, m)
        info = {
            "column": key.to_str(),
            "unit": col.unit,
            "source": col.source,
            "seeds_available": list(col.seeds) or "mean only",
        }
        seeds = None
        if isinstance(m.seed, str) and m.seed == "mean":
            mean = gt.vector(
                dataset=m.dataset, split=m.split, epochs=m.epochs, metric=m.metric, missing="nan"
            )
        elif not col.seeds:
            raise SearchError(
                f"{m.target}: {key.to_str()} holds seed means only, so seed policy {m.seed!r} "
                "cannot run on it (the random-seed noise model of the reference code needs a "
                "ground truth with per-seed values, e.g. a store converted from the official "
                "files); use seed='mean'"
            )
        elif isinstance(m.seed, str):
            mean = gt.vector(
                dataset=m.dataset, split=m.split, epochs=m.epochs, metric=m.metric, missing="nan"
            )
            seeds = np.asarray(col.values, dtype=float)[rows]
        else:
            if m.seed not in col.seeds:
                raise SearchError(
                    f"{m.target}: no seed {m.seed} for {key.to_str()}; seeds: {list(col.seeds)}"
                )
            mean = np.asarray(col.values, dtype=float)[:, col.seeds.index(m.seed)]
        return np.asarray(mean, dtype=float)[rows], seeds, info

    def cost(self, c: CostSpec, epochs: int | None, rows, n: int) -> tuple[np.ndarray, dict]:
        if c.unit:
            return np.ones(n), {
                "description": "1 per query (unit cost: the clock counts queries)",
                "scale": 1.0,
                "column": None,
            }
        gt = self.gt(c.target)
        want = c.epochs if c.epochs is not None else epochs
        budgets = sorted(
            k.epochs
            for k in gt.columns
            if k.dataset == c.dataset and k.split == "train" and k.metric == "time"
        )
        if not budgets:
            raise SearchError(
                f"{c.target}: no training time for dataset {c.dataset!r}; pass a CostSpec "
                "naming a dataset that has one, or unit=True (1 per query)"
            )
        if want in budgets:
            e, scale = want, 1.0
            how = f"the {e}-epoch training time of {c.dataset} ({c.target})"
        else:
            e = budgets[-1]
            if want is None:
                raise SearchError(
                    f"{c.target}: the signal has no epoch budget, so the cost needs one "
                    f"(CostSpec.epochs); {c.dataset} has training times at {budgets} epochs"
                )
            scale = want / e
            how = (
                f"{want}/{e} of the {e}-epoch training time of {c.dataset} ({c.target}): the "
                f"ground truth has no {want}-epoch time"
            )
        v = np.asarray(
            gt.vector(dataset=c.dataset, split="train", epochs=e, metric="time", missing="nan"),
            dtype=float,
        )
        key = gt.resolve(c.dataset, "train", e, "time", "final")
        return v[rows] * scale, {
            "column": key.to_str(),
            "scale": scale,
            "source": gt._column(key).source,
            "description": (
                f"{how}; seed mean; evaluation (validation) time is not in the ground truth, "
                "so it is not charged"
            ),
        }

    def release_notes(self, targets: list[str], n: int) -> list[str]:
        """Where two different ground truths both hold a column, how many archs they disagree on."""
        notes = []
        names = list(dict.fromkeys(targets))
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                ga, gb = self.gt(a), self.gt(b)
                if ga is gb:
                    continue
                shared = sorted(set(ga.columns) & set(gb.columns))
                _, ia, ib = np.intersect1d(
                    _cmp_keys(ga), _cmp_keys(gb), assume_unique=True, return_indices=True
                )
                for k in shared:
                    if k.metric != "accuracy":
                        continue
                    va = ga._mean(k)[ia]
                    vb = gb._mean(k)[ib]
                    both = np.isfinite(va) & np.isfinite(vb)
                    diff = int((np.abs(va[both] - vb[both]) > _RELEASE_TOL).sum())
                    if diff:
                        notes.append(
                            f"{a} and {b} both hold {k.to_str()} and disagree on {diff:,} of "
                            f"{int(both.sum()):,} architectures by more than {_RELEASE_TOL:g} (different "
                            "releases): this oracle "
                            "reads each measure from the ground truth named for it"
                        )
        return notes


def _objective_cost(
    parts: _Parts, m: Measure, keys: np.ndarray, rows: dict, space: str
) -> np.ndarray:
    if m.target == "computed":
        from ..spaces import costs

        fn = {"flops": costs.flops_column, "params": costs.params_column}.get(m.metric)
        if fn is None:
            raise SearchError(f"'computed' costs are 'flops' or 'params', not {m.metric!r}")
        try:
            return np.asarray(fn(space, keys, m.dataset), dtype=float)
        except NasbenchToolsError as exc:
            raise SearchError(f"computed {m.metric}: {exc}") from None
    v, _ = parts.vector(m, rows[m.target])
    return v


def _cmp_keys(gt: GroundTruth) -> np.ndarray:
    from ..spaces import get_space

    return get_space(gt.space).store_keys(gt.archs.keys)


def _shared_keys(gts: list[GroundTruth], targets: list[str]) -> tuple[np.ndarray, dict]:
    """Keys every ground truth holds, and each target's rows of them."""
    names = list(dict.fromkeys(targets))
    keys = _cmp_keys(gts[0])
    for gt in gts[1:]:
        keys = np.intersect1d(keys, _cmp_keys(gt), assume_unique=True)
    if keys.size == 0:
        raise SearchError(f"the ground truths {names} share no architecture")
    rows = {}
    for name, gt in zip(names, gts):
        own = _cmp_keys(gt)
        rows[name] = np.searchsorted(own, keys)
    if keys.dtype.kind == "S":
        keys = np.array([k.decode() for k in keys], dtype=object)
    return keys, rows


def _measure_fields(d: dict) -> dict:
    return {k: d[k] for k in ("target", "dataset", "split", "epochs", "metric", "seed")}


def _plain(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, bytes):
        return v.decode()
    return v


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a
