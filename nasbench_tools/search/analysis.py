"""Turning trajectories into numbers: best-so-far curves, final results, RI over random, and
queries to the optimum as a censored quantity.

The answer of a run after ``n`` queries (or at simulated time ``t``) is the architecture with the
best signal among its queries finished by then (first of ties), exactly as the run itself picks
its answer; its report metric is what every curve and table shows. Regret is the pool's optimum
of the report metric (computed from the data, in the header) minus that value.

Intervals are over runs: the percentile bootstrap of the mean, resampling runs with
:func:`nasbench_tools.analysis.bootstrap.bootstrap_weights` (seeded; no random default).

WeakNAS's own counting (:func:`best_so_far` with ``counting="weaknas"``) is what its plotting
notebook shows: after ``n`` queries, the best *report* value among the queried architectures
and the predicted top-1, which it neither queries nor charges. It needs the
``recommended_report`` record and exists only at the iterations that made one.

Queries to the optimum (:func:`queries_to_optimum`): the first query count at which the run has
*queried* an architecture with the optimal report value (``event="queried"``), or at which its
*answer* has it (``event="answer"``). A run that never gets there within its budget is censored
at its number of queries; the survival curve is the Kaplan-Meier estimate with Greenwood's
log-log interval, and the fraction reached is ``1 - S`` at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..analysis.baselines import RelativeImprovement, relative_improvement
from ..analysis.bootstrap import bootstrap_weights
from ._common import SearchError, check_int
from .trajectory import Trajectories

__all__ = [
    "Curve",
    "Difference",
    "FinalResult",
    "Survival",
    "answers_at",
    "best_so_far",
    "check_comparable",
    "difference",
    "final_result",
    "queries_to_optimum",
    "record_curve",
    "ri_over_random",
]

#: Report values within this of the optimum count as the optimum.
_OPT_TOL = 1e-9


# =========================================================================== per-run values
def _run_values(t: Trajectories, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signals, reports and clocks of run ``i``'s queries that finished within the budget."""
    sl = t.run_slice(i)
    ok = ~t.q_late[sl]
    return t.q_signal[sl][ok], t.q_report[sl][ok], t.q_clock[sl][ok]


def _answer_reports(signal: np.ndarray, report: np.ndarray) -> np.ndarray:
    """After each query: the report value of the best-signal query so far (first of ties)."""
    if signal.size == 0:
        return np.zeros(0)
    best = np.maximum.accumulate(signal)
    # index of the first query reaching each running best
    is_new = np.r_[True, signal[1:] > best[:-1]]
    idx = np.maximum.accumulate(np.where(is_new, np.arange(signal.size), 0))
    return report[idx]


def answers_at(t: Trajectories, n: int) -> np.ndarray:
    """Report value of every run's answer after its first ``n`` queries (its final answer if it
    made fewer); NaN for a run without any query."""
    n = check_int(n, "n", low=1)
    out = np.full(t.n_runs, np.nan)
    for i in range(t.n_runs):
        s, r, _ = _run_values(t, i)
        if s.size:
            out[i] = _answer_reports(s[:n], r[:n])[-1]
    return out


# =========================================================================== curves
@dataclass(frozen=True)
class Curve:
    """A best-so-far curve of one set of runs.

    Attributes
    ----------
    label : str
    x : ndarray
        Query counts (1, 2, ...) or simulated seconds.
    x_kind : {"queries", "seconds"}
    y : str
        ``"report"`` (the answer's report metric) or ``"regret"`` (optimum minus it).
    values : ndarray, shape (n_runs, len(x))
        Per run (NaN where a run has no answer yet).
    mean, low, high : ndarray
        Mean over the runs with a value, and its bootstrap interval.
    n_with_value : ndarray of int
        Runs with a value at each x.
    n_active : ndarray of int
        Runs still querying at each x (a run's final answer is carried past its last query).
    counting : str
        ``"answer"`` or ``"weaknas"``.
    confidence, n_boot, seed
    """

    label: str
    x: np.ndarray
    x_kind: str
    y: str
    values: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_with_value: np.ndarray
    n_active: np.ndarray
    counting: str
    confidence: float
    n_boot: int
    seed: int
    optimum: float = field(default=float("nan"))


def _per_run_queries(t: Trajectories, n_max: int, counting: str) -> tuple[np.ndarray, np.ndarray]:
    vals = np.full((t.n_runs, n_max), np.nan)
    active = np.zeros(n_max, dtype=np.int64)
    recs = t.records.get("recommended_report") if counting == "weaknas" else None
    if counting == "weaknas" and recs is None:
        raise SearchError(
            f"{t.label}: WeakNAS's own counting needs the 'recommended_report' record, which "
            "only WeakNAS runs make"
        )
    for i in range(t.n_runs):
        s, r, _ = _run_values(t, i)
        m = min(s.size, n_max)
        active[:m] += 1
        if counting == "answer":
            a = _answer_reports(s, r)[:m]
            vals[i, :m] = a
            if m:
                vals[i, m:] = a[-1]
            continue
        best_q = np.maximum.accumulate(r)[:m] if r.size else np.zeros(0)
        rr, at, val = recs
        mine = rr == i
        row = np.full(n_max, np.nan)
        for n_at, v in zip(at[mine], val[mine]):
            if 1 <= n_at <= n_max:
                row[n_at - 1] = max(v, best_q[min(n_at, m) - 1]) if m else v
        # carry each iteration's value forward until the next one
        filled = ~np.isnan(row)
        idx = np.maximum.accumulate(np.where(filled, np.arange(n_max), -1))
        vals[i] = np.where(idx >= 0, row[np.maximum(idx, 0)], np.nan)
    return vals, active


def _per_run_seconds(t: Trajectories, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vals = np.full((t.n_runs, grid.size), np.nan)
    active = np.zeros(grid.size, dtype=np.int64)
    for i in range(t.n_runs):
        s, r, c = _run_values(t, i)
        if s.size == 0:
            continue
        a = _answer_reports(s, r)
        k = np.searchsorted(c, grid, side="right")  # queries finished by each time
        vals[i] = np.where(k > 0, a[np.maximum(k - 1, 0)], np.nan)
        active += grid <= c[-1]
    return vals, active


def best_so_far(
    t: Trajectories,
    *,
    x: str = "queries",
    y: str = "report",
    grid: Sequence[float] | None = None,
    counting: str = "answer",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Curve:
    """The best-so-far curve of ``t`` against queries or simulated seconds.

    Parameters
    ----------
    x : {"queries", "seconds"}
        ``queries``: x = 1..max queries of a run; ``seconds``: ``grid`` (default 200 points from
        the time the slowest run's first query finished, so every run has an answer, to the
        budget, or to the longest run's clock).
    y : {"report", "regret"}
    counting : {"answer", "weaknas"}
        Every query counted and the answer by signal (default), or WeakNAS's own counting
        (queries axis only).
    n_boot, confidence, seed
        The bootstrap over runs (``n_boot=0``: no interval).
    """
    if x not in ("queries", "seconds"):
        raise SearchError(f"x must be 'queries' or 'seconds', got {x!r}")
    if y not in ("report", "regret"):
        raise SearchError(f"y must be 'report' or 'regret', got {y!r}")
    if counting not in ("answer", "weaknas"):
        raise SearchError(f"counting must be 'answer' or 'weaknas', got {counting!r}")
    if counting == "weaknas" and x != "queries":
        raise SearchError("WeakNAS's own counting is defined against queries only")
    opt = optimum(t)
    if x == "queries":
        n_max = int(max(np.bincount(t.q_run[~t.q_late], minlength=t.n_runs).max(initial=0), 1))
        xs = np.arange(1, n_max + 1)
        vals, active = _per_run_queries(t, n_max, counting)
    else:
        if grid is None:
            end = t.budget.get("seconds") or float(t.q_clock.max())
            # from the time every run has an answer to the end of the budget
            start = float(max(_run_values(t, i)[2][:1].max(initial=0.0) for i in range(t.n_runs)))
            grid = np.linspace(min(start, end), end, 200)
        xs = np.asarray(grid, dtype=float)
        vals, active = _per_run_seconds(t, xs)
    if y == "regret":
        vals = opt - vals
    mean, low, high, nv = _mean_ci(vals, n_boot, confidence, seed)
    return Curve(
        t.label,
        xs,
        x,
        y,
        vals,
        mean,
        low,
        high,
        nv,
        active,
        counting,
        confidence,
        n_boot,
        seed,
        opt,
    )


def _mean_ci(vals: np.ndarray, n_boot: int, confidence: float, seed: int):
    """Column means over rows with a value, with a percentile bootstrap over rows."""
    mask = ~np.isnan(vals)
    v0 = np.where(mask, vals, 0.0)
    nv = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = v0.sum(axis=0) / nv
    low = np.full(vals.shape[1], np.nan)
    high = np.full(vals.shape[1], np.nan)
    n_boot = check_int(n_boot, "n_boot", low=0)
    if n_boot and vals.shape[0] > 1:
        reps = []
        for w in bootstrap_weights(vals.shape[0], n_boot, seed):
            wf = w.T.astype(float)
            with np.errstate(invalid="ignore", divide="ignore"):
                reps.append((wf @ v0) / (wf @ mask))
        reps = np.concatenate(reps)
        a = 1.0 - confidence
        cols = np.isfinite(reps).any(axis=0)
        if cols.any():
            low[cols], high[cols] = np.nanquantile(reps[:, cols], [a / 2, 1 - a / 2], axis=0)
    return mean, low, high, nv


def optimum(t: Trajectories) -> float:
    """The pool's optimum of the report metric, from the header (computed from the data)."""
    try:
        return float(t.header["oracle"]["optimum"]["report_max"])
    except (KeyError, TypeError):
        raise SearchError(f"{t.label}: the header holds no oracle optimum") from None


# =========================================================================== final results
@dataclass(frozen=True)
class FinalResult:
    """Report metric of the runs' answers at one budget point.

    ``mean``/``std`` (ddof=1) over runs, ``low``/``high`` the bootstrap interval of the mean,
    ``regret_mean`` the mean distance to the optimum, ``frac_optimal`` the share of runs whose
    answer is optimal, ``queries_mean`` the mean number of queries used.
    """

    label: str
    at: str
    n_runs: int
    mean: float
    std: float
    low: float
    high: float
    regret_mean: float
    regret_std: float
    frac_optimal: float
    queries_mean: float
    optimum: float
    values: np.ndarray = field(repr=False)


def final_result(
    t: Trajectories,
    *,
    at: int | None = None,
    counting: str = "answer",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> FinalResult:
    """The runs' answers after ``at`` queries (default: at the end of each run)."""
    opt = optimum(t)
    if counting == "weaknas":
        if at is None:
            raise SearchError("WeakNAS's own counting needs a query count (at=...)")
        c = best_so_far(t, counting="weaknas", n_boot=0)
        if at > c.x[-1]:
            raise SearchError(f"{t.label}: runs hold at most {int(c.x[-1])} queries, not {at}")
        v = c.values[:, at - 1]
    elif at is None:
        v = t.answer_report()
    else:
        v = answers_at(t, at)
    used = t.queries_per_run() if at is None else np.minimum(t.queries_per_run(), at)
    v = np.asarray(v, dtype=float)
    _, low, high, _ = _mean_ci(v[:, None], n_boot, confidence, seed)
    ok = v[~np.isnan(v)]
    return FinalResult(
        t.label,
        "end of run" if at is None else f"{at} queries",
        int(ok.size),
        float(ok.mean()) if ok.size else float("nan"),
        float(ok.std(ddof=1)) if ok.size > 1 else float("nan"),
        float(low[0]),
        float(high[0]),
        float((opt - ok).mean()) if ok.size else float("nan"),
        float((opt - ok).std(ddof=1)) if ok.size > 1 else float("nan"),
        float((np.abs(ok - opt) <= _OPT_TOL).mean()) if ok.size else float("nan"),
        float(used.mean()),
        opt,
        v,
    )


# =========================================================================== comparisons
_SAME = ("space", "pool", "signal", "report", "cost", "objective", "optimum")


def check_comparable(a: Trajectories, b: Trajectories, *, budget: bool = True) -> None:
    """Raise unless ``a`` and ``b`` ran under the same oracle (and budget)."""
    oa, ob = a.header["oracle"], b.header["oracle"]
    for k in _SAME:
        if oa.get(k) != ob.get(k):
            raise SearchError(
                f"{a.label} and {b.label} ran under different oracles ({k} differs): "
                "their numbers cannot be compared"
            )
    if budget and a.budget != b.budget:
        raise SearchError(
            f"{a.label} ({a.budget.get('description')}) and {b.label} "
            f"({b.budget.get('description')}) ran under different budgets"
        )


def ri_over_random(
    method: Trajectories,
    random: Trajectories,
    *,
    at: int | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RelativeImprovement:
    """Yang et al.'s relative improvement of ``method`` over random search at equal budget.

    ``100 (mean(acc_method) - mean(acc_random)) / mean(acc_random)`` over the report metric of
    the runs' answers (at the end of the runs, or after ``at`` queries), with the bootstrap
    interval and Welch's test of :func:`nasbench_tools.analysis.relative_improvement`. Both must
    come from the same oracle and budget.
    """
    check_comparable(method, random)
    if random.strategy != "random":
        raise SearchError(f"the baseline must be random search runs, got {random.label!r}")
    m = final_result(method, at=at, n_boot=0).values
    r = final_result(random, at=at, n_boot=0).values
    return relative_improvement(
        m[~np.isnan(m)], r[~np.isnan(r)], n_boot=n_boot, confidence=confidence, seed=seed
    )


# =========================================================================== survival
@dataclass(frozen=True)
class Survival:
    """Queries until the optimum of the report metric, censored at each run's budget.

    Attributes
    ----------
    event : {"queried", "answer"}
    times : ndarray of int
        Per run: the query count of the event, or of censoring (its last query).
    observed : ndarray of bool
        Whether the event happened within the run.
    n : ndarray of int
        Query counts where the curve is given (1 .. the largest time).
    survival, low, high : ndarray
        Kaplan-Meier ``S(n)`` = share of runs that have not reached the optimum after ``n``
        queries, and Greenwood's log-log interval.
    fraction_reached : float
        ``1 - S`` at the largest time.
    median : float
        The smallest ``n`` with ``S(n) <= 0.5`` (NaN if never).
    """

    label: str
    event: str
    times: np.ndarray
    observed: np.ndarray
    n: np.ndarray
    survival: np.ndarray
    low: np.ndarray
    high: np.ndarray
    fraction_reached: float
    median: float
    confidence: float


def queries_to_optimum(
    t: Trajectories, *, event: str = "queried", confidence: float = 0.95
) -> Survival:
    """Kaplan-Meier estimate of the queries until the optimum; see the module text."""
    if event not in ("queried", "answer"):
        raise SearchError(f"event must be 'queried' or 'answer', got {event!r}")
    opt = optimum(t)
    times = np.zeros(t.n_runs, dtype=np.int64)
    observed = np.zeros(t.n_runs, dtype=bool)
    for i in range(t.n_runs):
        s, r, _ = _run_values(t, i)
        seq = r if event == "queried" else _answer_reports(s, r)
        hit = np.flatnonzero(np.abs(seq - opt) <= _OPT_TOL)
        if hit.size:
            times[i], observed[i] = hit[0] + 1, True
        else:
            times[i] = seq.size
    used = np.bincount(t.q_run[~t.q_late], minlength=t.n_runs)
    n_max = int(max(times.max(initial=0), used.max(initial=0), 1))
    ns = np.arange(1, n_max + 1)
    surv, low, high = _kaplan_meier(times, observed, ns, confidence)
    below = np.flatnonzero(surv <= 0.5)
    return Survival(
        t.label,
        event,
        times,
        observed,
        ns,
        surv,
        low,
        high,
        float(1.0 - surv[-1]) if surv.size else 0.0,
        float(ns[below[0]]) if below.size else float("nan"),
        confidence,
    )


def _kaplan_meier(times, observed, ns, confidence):
    from scipy.stats import norm

    z = norm.ppf(0.5 + confidence / 2)
    surv = np.ones(ns.size)
    low = np.ones(ns.size)
    high = np.ones(ns.size)
    s, var_sum = 1.0, 0.0
    event_times = np.unique(times[observed])
    for k, n in enumerate(ns):
        if n in event_times:
            at_risk = int((times >= n).sum())
            d = int(((times == n) & observed).sum())
            s *= 1.0 - d / at_risk
            if at_risk > d:
                var_sum += d / (at_risk * (at_risk - d))
            else:
                var_sum = np.inf
        surv[k] = s
        if 0 < s < 1 and np.isfinite(var_sum) and var_sum > 0:
            # Greenwood on log(-log S): se = sqrt(var_sum) / |log S|
            se = np.sqrt(var_sum) / abs(np.log(s))
            low[k] = s ** np.exp(z * se)
            high[k] = s ** np.exp(-z * se)
        else:
            low[k] = high[k] = s
    return surv, low, high


# =========================================================================== records
def record_curve(
    t: Trajectories,
    name: str,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Curve:
    """A per-iteration record (``predictor_tau_unqueried``, ...) against the queries told when it
    was made, with its mean and bootstrap interval over the runs that have it there."""
    if name not in t.records:
        raise SearchError(f"{t.label}: no record {name!r}; it has {sorted(t.records) or 'none'}")
    rr, at, val = t.records[name]
    xs = np.unique(at)
    vals = np.full((t.n_runs, xs.size), np.nan)
    vals[rr, np.searchsorted(xs, at)] = val
    mean, low, high, nv = _mean_ci(vals, n_boot, confidence, seed)
    active = (~np.isnan(vals)).sum(axis=0)
    return Curve(
        t.label,
        xs,
        "queries",
        name,
        vals,
        mean,
        low,
        high,
        nv,
        active,
        "record",
        confidence,
        n_boot,
        seed,
        optimum(t),
    )


@dataclass(frozen=True)
class Difference:
    """``mean(a) - mean(b)`` of the runs' final report values, with a bootstrap interval (runs of
    each side resampled independently) and Welch's two-sided p-value."""

    a: str
    b: str
    diff: float
    low: float
    high: float
    welch_pvalue: float
    confidence: float


def difference(
    a: Trajectories,
    b: Trajectories,
    *,
    at: int | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Difference:
    """How much better ``a``'s answers are than ``b``'s (same oracle and budget)."""
    from scipy.stats import ttest_ind

    check_comparable(a, b)
    va = final_result(a, at=at, n_boot=0).values
    vb = final_result(b, at=at, n_boot=0).values
    va, vb = va[~np.isnan(va)], vb[~np.isnan(vb)]
    if va.size < 2 or vb.size < 2:
        raise SearchError("a difference needs at least 2 runs on each side")
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    n_boot = check_int(n_boot, "n_boot", low=1)
    ma = va[rng.integers(0, va.size, size=(n_boot, va.size))].mean(axis=1)
    mb = vb[rng.integers(0, vb.size, size=(n_boot, vb.size))].mean(axis=1)
    alpha = 1.0 - confidence
    lo, hi = np.quantile(ma - mb, [alpha / 2, 1 - alpha / 2])
    p = float(ttest_ind(va, vb, equal_var=False).pvalue)
    return Difference(
        a.label, b.label, float(va.mean() - vb.mean()), float(lo), float(hi), p, confidence
    )
