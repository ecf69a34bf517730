"""Uncertainty of ranking metrics: bootstrap intervals, seed spread, seed agreement, paired test.

The bootstrap resamples **architectures** (pairs) with replacement. A resample is the original
sample with integer weights, so every resample reuses one sorted structure and ``B`` resamples
are evaluated together as a ``(n, B)`` weight matrix (:mod:`nasbench_tools.analysis._engine`);
nothing is re-sorted per resample. On this shared 2-core machine one pair of 15,625
architectures with 200 resamples of Kendall tau, Spearman, Pearson, weighted tau, P@K and BR@K
takes about 0.9 s (0.6 s of CPU); 1000 resamples of Kendall tau alone take 2.0 s.

Every interval records how many resamples were valid (``n_valid``): a resample where the statistic
is undefined (e.g. a constant resample of a small sample) is left out of the interval and counted,
never silently dropped.

Randomness comes only from an explicit ``seed`` (an int or a ``numpy.random.Generator``); with
an int, results depend only on ``(seed, n, n_boot)``. ``None`` is refused.

Metrics that can be resampled by name (:data:`BOOTSTRAP_METRICS`): ``kendall_tau`` (with
``variant``), ``spearman_rho``, ``pearson_r``, ``weighted_tau``, ``p_at_top_k``,
``p_at_bottom_k``, ``br_at_k`` and ``br_rank_at_k`` (with ``k``). Any callable ``f(y_true, y_score) -> float`` also
works, through a slower loop over materialised resamples.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import AnalysisError
from ._common import (
    DEFAULT_N_BOOT,
    Estimate,
    as_vector,
    check_choice,
    check_confidence,
    check_k,
    check_n_boot,
    prepare,
    rng_from,
    seed_label,
)
from ._engine import PairStats
from .ranking import TAU_VARIANTS, _tau_from_counts

__all__ = [
    "BOOTSTRAP_METRICS",
    "BootstrapResult",
    "PairedBootstrapTest",
    "SeedAgreement",
    "SeedSpread",
    "across_seeds",
    "bootstrap_ci",
    "bootstrap_weights",
    "paired_bootstrap_test",
    "seed_agreement",
    "seed_spread",
]

CI_METHODS = ("percentile", "basic")
ALTERNATIVES = ("greater", "less", "two-sided")
# largest weight matrix built at once (elements); resamples are processed in chunks below it
_CHUNK_ELEMENTS = 4_000_000


# --- metric registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """How a named metric maps onto the engine."""

    engine: str
    values: Callable[[Mapping[str, np.ndarray], int | None, str], np.ndarray]
    needs_k: bool = False
    finite: bool = False
    nonconstant: bool = True

    def label(self, name: str, k: int | None, variant: str) -> str:
        if name == "kendall_tau":
            return f"kendall_tau_{variant}"
        return name if k is None else f"{name}@{k}"


def _topk_values(stat: str) -> Callable:
    return lambda out, k, variant: out[f"{stat}:{k}"]


#: Metrics the fast bootstrap knows by name.
BOOTSTRAP_METRICS: dict[str, _Spec] = {
    "kendall_tau": _Spec("tau_counts", lambda out, k, v: _tau_from_counts(out, v)),
    "spearman_rho": _Spec("spearman", lambda out, k, v: out["spearman"]),
    "pearson_r": _Spec("pearson", lambda out, k, v: out["pearson"], finite=True),
    "weighted_tau": _Spec("weighted_tau", lambda out, k, v: out["weighted_tau"]),
    "p_at_top_k": _Spec("p_at_top_k", _topk_values("p_at_top_k"), needs_k=True, nonconstant=False),
    "p_at_bottom_k": _Spec(
        "p_at_bottom_k", _topk_values("p_at_bottom_k"), needs_k=True, nonconstant=False
    ),
    # expected best rank (0-based) -> (rank + 1) / n, n = resample size = sample size
    "br_at_k": _Spec(
        "br_at_k",
        lambda out, k, v: (out[f"br_at_k:{k}"] + 1.0) / out["__n__"],
        needs_k=True,
        nonconstant=False,
    ),
    # the same as a 1-based rank (out of the resample size)
    "br_rank_at_k": _Spec(
        "br_at_k",
        lambda out, k, v: out[f"br_at_k:{k}"] + 1.0,
        needs_k=True,
        nonconstant=False,
    ),
}


@dataclass(frozen=True)
class _Request:
    """One metric to evaluate on a pair: registry name, its ``k`` and tau variant."""

    name: str
    k: int | None = None
    variant: str = "b"

    @property
    def spec(self) -> _Spec:
        return BOOTSTRAP_METRICS[self.name]

    @property
    def label(self) -> str:
        return self.spec.label(self.name, self.k, self.variant)


def _request(metric: str, k: Any, variant: str, n: int, where: str) -> _Request:
    check_choice("metric", metric, tuple(BOOTSTRAP_METRICS), where)
    check_choice("variant", variant, TAU_VARIANTS, where)
    spec = BOOTSTRAP_METRICS[metric]
    if spec.needs_k:
        if k is None:
            raise AnalysisError(f"{where}: metric {metric!r} needs k")
        return _Request(metric, check_k(k, n, where), variant)
    if k is not None:
        raise AnalysisError(f"{where}: metric {metric!r} takes no k")
    if variant != "b" and metric != "kendall_tau":
        raise AnalysisError(f"{where}: variant applies to kendall_tau only")
    return _Request(metric, None, variant)


def _evaluate(
    ps: PairStats, w: np.ndarray | None, requests: Sequence[_Request]
) -> dict[str, np.ndarray]:
    """Values of every request for unit weights (``w=None``) or each column of ``w``."""
    want = {r.spec.engine for r in requests}
    ks = tuple(sorted({r.k for r in requests if r.k is not None}))
    out = ps.compute(w, want, ks)
    # items per resample: the sample size, or each column's weight (a subset of a resample)
    out["__n__"] = np.full(1, float(ps.n)) if w is None else w.sum(axis=0).astype(float)
    return {r.label: np.asarray(r.spec.values(out, r.k, r.variant), dtype=float) for r in requests}


def bootstrap_weights(n: int, n_boot: int, seed: int | np.random.Generator) -> Iterator[np.ndarray]:
    """Resample counts, in chunks: arrays of shape ``(n, b)`` (item-major), ``sum(b) = n_boot``.

    Column ``j`` holds how often each of the ``n`` items was drawn in one resample of size ``n``
    with replacement. Chunks hold at most about four million counts.

    Parameters
    ----------
    n : int
        Items per resample.
    n_boot : int
        Resamples in all.
    seed : int or numpy.random.Generator
        Explicit source of randomness (an int gives the same counts every time).
    """
    rng = rng_from(seed, "bootstrap_weights")
    chunk = max(1, min(n_boot, _CHUNK_ELEMENTS // max(n, 1)))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        idx = rng.integers(0, n, size=(b, n))
        idx += (np.arange(b, dtype=np.int64) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n)
        yield np.ascontiguousarray(counts.T, dtype=np.int32)
        done += b


def _replicates(
    structures: Sequence[PairStats],
    requests_per: Sequence[Sequence[_Request]],
    n: int,
    n_boot: int,
    rng,
):
    """Bootstrap values for several pairs over the *same* resamples of their n items."""
    reps: list[dict[str, list[np.ndarray]]] = [{r.label: [] for r in reqs} for reqs in requests_per]
    for w in bootstrap_weights(n, n_boot, rng):
        for ps, reqs, store in zip(structures, requests_per, reps):
            for label, v in _evaluate(ps, w, reqs).items():
                store[label].append(v)
    return [
        {label: np.concatenate(v) if v else np.zeros(0) for label, v in store.items()}
        for store in reps
    ]


def _interval(
    estimate: float, reps: np.ndarray, confidence: float, method: str
) -> tuple[float, float, int, float]:
    """``(low, high, n_valid, std_error)`` from bootstrap replicates (NaN replicates dropped)."""
    valid = reps[~np.isnan(reps)]
    if valid.size < 2:
        return float("nan"), float("nan"), int(valid.size), float("nan")
    alpha = 1.0 - confidence
    q_lo, q_hi = np.quantile(valid, [alpha / 2.0, 1.0 - alpha / 2.0])
    if method == "basic":
        q_lo, q_hi = 2.0 * estimate - q_hi, 2.0 * estimate - q_lo
    return float(q_lo), float(q_hi), int(valid.size), float(valid.std(ddof=1))


def _estimate(value: float, reps: np.ndarray, confidence: float, method: str) -> Estimate:
    """An :class:`Estimate` with its interval and the count of valid resamples."""
    lo, hi, n_valid, _ = _interval(value, reps, confidence, method)
    return Estimate(float(value), lo, hi, n_valid, int(reps.size))


# --- bootstrap CI ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapResult:
    """A point estimate with a bootstrap confidence interval over architectures.

    Attributes
    ----------
    metric : str
        Label, e.g. ``"kendall_tau_b"``, ``"p_at_top_k@10"`` or the callable's name.
    estimate : float
        The metric on the original sample.
    low, high : float
        Interval bounds (NaN when fewer than two resamples gave a value).
    confidence : float
    method : {"percentile", "basic"}
    n_boot : int
        Resamples drawn.
    n_valid : int
        Resamples where the metric was defined (a resample of a tiny sample can be constant).
    std_error : float
        Standard deviation of the valid replicates (ddof=1).
    seed : int or str
        The int seed, or ``"Generator"``.
    n_used, n_omitted : int
        Pairs used / dropped by the NaN policy.
    replicates : ndarray
        The resampled values (NaN where undefined).
    """

    metric: str
    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n_boot: int
    n_valid: int
    std_error: float
    seed: int | str | None
    n_used: int
    n_omitted: int = 0
    replicates: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def excludes(self, value: float = 0.0) -> bool:
        """Whether ``value`` lies outside ``[low, high]``."""
        return bool(value < self.low or value > self.high)


def _callable_replicates(f, x, y, n_boot, rng) -> np.ndarray:
    out = np.empty(n_boot)
    i = 0
    n = x.size
    while i < n_boot:
        b = min(n_boot - i, max(1, _CHUNK_ELEMENTS // n))
        for idx in rng.integers(0, n, size=(b, n)):
            try:
                out[i] = float(f(x[idx], y[idx]))
            except (AnalysisError, ValueError, ZeroDivisionError, FloatingPointError):
                out[i] = np.nan
            i += 1
    return out


def bootstrap_ci(
    y_true: Any,
    y_score: Any,
    metric: str | Callable[[np.ndarray, np.ndarray], float] = "kendall_tau",
    *,
    k: int | None = None,
    variant: str = "b",
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = 0.95,
    method: str = "percentile",
    seed: int | np.random.Generator = 0,
    nan_policy: str = "raise",
) -> BootstrapResult:
    """Bootstrap confidence interval of a ranking metric, resampling architectures.

    Parameters
    ----------
    y_true, y_score : array-like of float, shape (n,)
    metric : str or callable
        A name in :data:`BOOTSTRAP_METRICS`, or ``f(y_true, y_score) -> float`` (evaluated on
        materialised resamples; an :class:`AnalysisError`/``ValueError`` counts as undefined).
    k : int, optional
        For the top-K metrics.
    variant : {"b", "a", "c"}
        Kendall variant.
    n_boot : int
        Resamples (default 1000; at n = 15,625 Kendall tau-b costs about 2 ms a resample here).
    confidence : float
        Two-sided coverage, e.g. 0.95.
    method : {"percentile", "basic"}
        Percentile interval ``[q_{a/2}, q_{1-a/2}]`` or the basic (reflected) one.
    seed : int or numpy.random.Generator
        Explicit; the default 0 makes repeated calls identical.
    nan_policy : {"raise", "omit"}

    Returns
    -------
    BootstrapResult

    Raises
    ------
    AnalysisError
        Bad arguments, fewer than 3 valid pairs, constant input (correlations).
    """
    where = "bootstrap_ci"
    n_boot = check_n_boot(n_boot, where, allow_zero=False)
    confidence = check_confidence(confidence, where)
    check_choice("method", method, CI_METHODS, where)
    rng = rng_from(seed, where)
    if callable(metric):
        (x, y), n_omitted = prepare(
            {"y_true": y_true, "y_score": y_score},
            where=where,
            nan_policy=nan_policy,
            min_n=3,
            nonconstant=False,
        )
        estimate = float(metric(x, y))
        reps = _callable_replicates(metric, x, y, n_boot, rng)
        label = getattr(metric, "__name__", "callable")
    else:
        check_choice("metric", metric, tuple(BOOTSTRAP_METRICS), where)
        spec = BOOTSTRAP_METRICS[metric]
        (x, y), n_omitted = prepare(
            {"y_true": y_true, "y_score": y_score},
            where=where,
            nan_policy=nan_policy,
            min_n=3,
            finite=spec.finite,
            nonconstant=spec.nonconstant,
        )
        req = _request(metric, k, variant, x.size, where)
        ps = PairStats(x, y)
        estimate = float(_evaluate(ps, None, [req])[req.label][0])
        reps = _replicates([ps], [[req]], x.size, n_boot, rng)[0][req.label]
        label = req.label
    low, high, n_valid, se = _interval(estimate, reps, confidence, method)
    return BootstrapResult(
        label,
        estimate,
        low,
        high,
        confidence,
        method,
        n_boot,
        n_valid,
        se,
        seed_label(seed),
        x.size,
        n_omitted,
        reps,
    )


# --- paired test -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PairedBootstrapTest:
    """Does proxy A rank the same architectures better than proxy B?

    Attributes
    ----------
    metric : str
    estimate_a, estimate_b : float
        The metric of each proxy against the same ground truth.
    difference : float
        ``estimate_a - estimate_b``.
    low, high : float
        Bootstrap interval of the difference (both proxies scored on the same resamples).
    pvalue : float
        Bootstrap p-value for ``alternative`` (see :func:`paired_bootstrap_test`).
    alternative : {"greater", "less", "two-sided"}
    """

    metric: str
    estimate_a: float
    estimate_b: float
    difference: float
    low: float
    high: float
    pvalue: float
    alternative: str
    confidence: float
    method: str
    n_boot: int
    n_valid: int
    seed: int | str | None
    n_used: int
    n_omitted: int = 0
    replicates: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)


def _bootstrap_pvalue(diffs: np.ndarray, alternative: str) -> float:
    d = diffs[~np.isnan(diffs)]
    if not d.size:
        return float("nan")
    b = d.size
    p_greater = (1.0 + np.count_nonzero(d <= 0.0)) / (b + 1.0)
    p_less = (1.0 + np.count_nonzero(d >= 0.0)) / (b + 1.0)
    if alternative == "greater":
        return float(p_greater)
    if alternative == "less":
        return float(p_less)
    return float(min(1.0, 2.0 * min(p_greater, p_less)))


def paired_bootstrap_test(
    y_true: Any,
    score_a: Any,
    score_b: Any,
    metric: str = "kendall_tau",
    *,
    k: int | None = None,
    variant: str = "b",
    alternative: str = "greater",
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = 0.95,
    method: str = "percentile",
    seed: int | np.random.Generator = 0,
    nan_policy: str = "raise",
) -> PairedBootstrapTest:
    """Paired bootstrap test of "proxy A ranks better than proxy B" on the same architectures.

    Each resample draws architectures once and scores both proxies on it, so the difference
    keeps the pairing (the two taus share most of their noise).

    Parameters
    ----------
    y_true, score_a, score_b : array-like of float, shape (n,)
    metric, k, variant, n_boot, confidence, method, seed, nan_policy
        As :func:`bootstrap_ci`; ``"omit"`` drops an architecture if any of the three is NaN.
    alternative : {"greater", "less", "two-sided"}
        ``"greater"``: A's metric is larger. The p-value is
        ``(1 + #{resampled differences <= 0}) / (1 + #resamples)`` (``>= 0`` for ``"less"``;
        twice the smaller one, capped at 1, for ``"two-sided"``): the smallest one-sided level at
        which the percentile interval of the difference excludes 0, with the usual +1 correction.

    Returns
    -------
    PairedBootstrapTest
    """
    where = "paired_bootstrap_test"
    n_boot = check_n_boot(n_boot, where, allow_zero=False)
    confidence = check_confidence(confidence, where)
    check_choice("method", method, CI_METHODS, where)
    check_choice("alternative", alternative, ALTERNATIVES, where)
    check_choice("metric", metric, tuple(BOOTSTRAP_METRICS), where)
    spec = BOOTSTRAP_METRICS[metric]
    rng = rng_from(seed, where)
    (x, a, b), n_omitted = prepare(
        {"y_true": y_true, "score_a": score_a, "score_b": score_b},
        where=where,
        nan_policy=nan_policy,
        min_n=3,
        finite=spec.finite,
        nonconstant=spec.nonconstant,
    )
    req = _request(metric, k, variant, x.size, where)
    psa, psb = PairStats(x, a), PairStats(x, b)
    ea = float(_evaluate(psa, None, [req])[req.label][0])
    eb = float(_evaluate(psb, None, [req])[req.label][0])
    ra, rb = _replicates([psa, psb], [[req], [req]], x.size, n_boot, rng)
    diffs = ra[req.label] - rb[req.label]
    low, high, n_valid, _ = _interval(ea - eb, diffs, confidence, method)
    p = _bootstrap_pvalue(diffs, alternative)
    return PairedBootstrapTest(
        req.label,
        ea,
        eb,
        ea - eb,
        low,
        high,
        p,
        alternative,
        confidence,
        method,
        n_boot,
        n_valid,
        seed_label(seed),
        x.size,
        n_omitted,
        diffs,
    )


# --- seeds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedSpread:
    """Mean and spread of one quantity over seeds.

    ``std`` uses ``ddof`` (1 = sample standard deviation, as pandas; ABS and Yang et al. use
    numpy's default 0, so say which one a table shows). ``sem = std / sqrt(n_seeds)``.
    """

    metric: str
    values: dict[Any, float]
    mean: float
    std: float
    ddof: int
    sem: float
    min: float
    max: float
    n_seeds: int


def seed_spread(
    values: Mapping[Any, float] | Sequence[float], *, ddof: int = 1, metric: str = "value"
) -> SeedSpread:
    """Mean, standard deviation (``ddof`` stated), extremes of per-seed values.

    Parameters
    ----------
    values : mapping seed -> value, or sequence (seeds labelled 0, 1, ...)
    ddof : int
        Delta degrees of freedom of the standard deviation (needs ``n_seeds > ddof``).
    metric : str
        Label stored in the result.
    """
    where = "seed_spread"
    items = dict(values) if isinstance(values, Mapping) else dict(enumerate(values))
    v = np.array([float(x) for x in items.values()])
    if v.size < 1 or np.isnan(v).any():
        raise AnalysisError(
            f"{where}: needs at least one value and no NaN, got {list(items.values())}"
        )
    if isinstance(ddof, bool) or not isinstance(ddof, int) or ddof < 0 or v.size <= ddof:
        raise AnalysisError(
            f"{where}: ddof={ddof!r} needs an int >= 0 and more than ddof values (have {v.size})"
        )
    std = float(v.std(ddof=ddof))
    return SeedSpread(
        metric,
        {k: float(x) for k, x in items.items()},
        float(v.mean()),
        std,
        ddof,
        std / np.sqrt(v.size),
        float(v.min()),
        float(v.max()),
        int(v.size),
    )


def _runs(runs: Any, where: str, min_runs: int) -> dict[Any, Any]:
    if isinstance(runs, Mapping):
        out = dict(runs)
    else:
        arr = runs if isinstance(runs, np.ndarray) else list(runs)
        out = dict(enumerate(arr))
    if len(out) < min_runs:
        raise AnalysisError(f"{where}: needs at least {min_runs} runs/seeds, got {len(out)}")
    return out


def across_seeds(
    y_true: Any,
    scores_by_seed: Any,
    metric: str = "kendall_tau",
    *,
    k: int | None = None,
    variant: str = "b",
    ddof: int = 1,
    nan_policy: str = "raise",
) -> SeedSpread:
    """A metric computed once per seed of the proxy (or of the ground truth), then summarised.

    Parameters
    ----------
    y_true : array-like, shape (n,), or per-seed like ``scores_by_seed``
        One ground truth for every seed, or one per seed (same labels / order).
    scores_by_seed : mapping seed -> array (n,), 2-D array (one row per seed) or sequence
    metric, k, variant : as :func:`bootstrap_ci` (named metrics only).
    ddof : int
        For the standard deviation (stated in the result).
    nan_policy : {"raise", "omit"}
        Applied per seed; the pairs used can then differ between seeds.
    """
    where = "across_seeds"
    scores = _runs(scores_by_seed, where, 1)
    if isinstance(y_true, Mapping) or (np.ndim(y_true) == 2):
        truths = _runs(y_true, where, 1)
        if list(truths) != list(scores):
            raise AnalysisError(
                f"{where}: per-seed y_true labels {list(truths)} differ from score labels {list(scores)}"
            )
    else:
        truths = dict.fromkeys(scores, y_true)
    check_choice("metric", metric, tuple(BOOTSTRAP_METRICS), where)
    spec = BOOTSTRAP_METRICS[metric]
    values = {}
    label = metric
    for s, sc in scores.items():
        (x, y), _ = prepare(
            {"y_true": truths[s], "y_score": sc},
            where=where,
            nan_policy=nan_policy,
            finite=spec.finite,
            nonconstant=spec.nonconstant,
        )
        req = _request(metric, k, variant, x.size, where)
        label = req.label
        values[s] = float(_evaluate(PairStats(x, y), None, [req])[req.label][0])
    return seed_spread(values, ddof=ddof, metric=label)


@dataclass(frozen=True)
class SeedAgreement:
    """How closely repeated runs (seeds) of the same architectures agree with each other.

    Two readings, each with a bootstrap interval over architectures (all terms on the same
    resamples):

    * **seed vs seed** (``pairs``; ``between`` is their mean): the metric between two single runs.
    * **seed vs the mean of the other seeds** (``vs_rest``, one entry per run; ``rest`` is their
      mean): one run scored, like a proxy, against the mean of the others.

    Neither is a bound on what a proxy can reach. A benchmark's ground truth is usually the mean of
    two or three seeds, which is less noisy than any single seed, so a score can rank it better
    than one seed ranks another: on NAS-Bench-201 CIFAR-10 (``x-valid``, 200 epochs) seed 777
    against seed 888 gives Kendall tau-b 0.910, seed 777 against the mean of the other seeds 0.915,
    and seed 777 against the 2-3 seed mean that includes it 0.951.

    Attributes
    ----------
    metric : str
        Label, e.g. ``"kendall_tau_b"``.
    between : Estimate
        Mean over ``pairs`` (its interval from the per-resample mean).
    rest : Estimate
        Mean over ``vs_rest``.
    pairs : dict
        ``{(run_a, run_b): Estimate}`` for every pair of runs (``run_a`` in the ground-truth role).
    vs_rest : dict
        ``{run: Estimate}``: the run against the mean of the other runs.
    n_pairs_used, n_rest_used : dict
        Architectures behind each entry (``nan_policy="omit"`` keeps, per entry, those with the
        values it needs).
    n_runs, n_items : int
        Runs given; architectures per run.
    """

    metric: str
    between: Estimate
    rest: Estimate
    pairs: dict[tuple[Any, Any], Estimate]
    vs_rest: dict[Any, Estimate]
    n_pairs_used: dict[tuple[Any, Any], int]
    n_rest_used: dict[Any, int]
    n_runs: int
    n_items: int
    confidence: float
    method: str
    n_boot: int
    seed: int | str | None


def _agreement_term(
    x: np.ndarray, y: np.ndarray, spec: _Spec, where: str, nan_policy: str
) -> tuple[np.ndarray, PairStats]:
    """Rows with both values (all rows under ``"raise"``, which refuses NaN) and their structure."""
    rows = np.flatnonzero(~(np.isnan(x) | np.isnan(y)))
    if nan_policy == "raise" and rows.size < x.size:
        prepare({"x": x, "y": y}, where=where, nan_policy="raise")  # raises, naming the NaN
    (xs, ys), _ = prepare(
        {"x": x[rows], "y": y[rows]},
        where=where,
        min_n=3,
        finite=spec.finite,
        nonconstant=spec.nonconstant,
    )
    return rows, PairStats(xs, ys)


def seed_agreement(
    runs: Any,
    metric: str = "kendall_tau",
    *,
    k: int | None = None,
    variant: str = "b",
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = 0.95,
    method: str = "percentile",
    seed: int | np.random.Generator = 0,
    nan_policy: str = "raise",
) -> SeedAgreement:
    """Agreement of repeated runs of the same architectures: seed vs seed, and seed vs the rest.

    E.g. NAS-Bench-201 CIFAR-10 validation accuracy after 200 epochs, seeds 777, 888 and 999:
    Kendall tau-b 0.910 between seeds 777 and 888 (15,625 cells), and 0.915 / 0.915 / 0.924 for
    each seed against the mean of the other two (seed 999 exists for 8,169 cells). See
    :class:`SeedAgreement` for why neither number bounds a proxy.

    Parameters
    ----------
    runs : mapping label -> array (n,), 2-D array (one row per run) or sequence of arrays
        At least two runs over the same architectures, in the same order.
    metric, k, variant, n_boot, confidence, method, seed
        As :func:`bootstrap_ci`; ``n_boot=0`` skips the intervals. Architectures are resampled
        once for all terms.
    nan_policy : {"raise", "omit"}
        ``"omit"``: each term uses the architectures that have the values it needs (a pair: both
        runs; a run against the rest: that run and at least one other, the rest being the mean of
        the others present, as the benchmark's seed mean is).

    Returns
    -------
    SeedAgreement
    """
    where = "seed_agreement"
    n_boot = check_n_boot(n_boot, where)
    confidence = check_confidence(confidence, where)
    check_choice("method", method, CI_METHODS, where)
    check_choice("metric", metric, tuple(BOOTSTRAP_METRICS), where)
    check_choice("nan_policy", nan_policy, ("raise", "omit"), where)
    spec = BOOTSTRAP_METRICS[metric]
    rd = _runs(runs, where, 2)
    labels = list(rd)
    vecs = [as_vector(rd[lab], f"run {lab!r}", where) for lab in labels]
    sizes = {lab: v.size for lab, v in zip(labels, vecs)}
    if len(set(sizes.values())) > 1:
        raise AnalysisError(f"{where}: runs differ in length ({sizes})")
    n = vecs[0].size
    mat = np.column_stack(vecs)

    terms: list[tuple[str, Any, np.ndarray, PairStats]] = []
    for i, j in itertools.combinations(range(len(labels)), 2):
        rows, ps = _agreement_term(mat[:, i], mat[:, j], spec, where, nan_policy)
        terms.append(("pair", (labels[i], labels[j]), rows, ps))
    for i, lab in enumerate(labels):
        others = np.delete(mat, i, axis=1)
        present = ~np.isnan(others)
        with np.errstate(invalid="ignore", divide="ignore"):
            rest = np.where(
                present.any(axis=1),
                np.nansum(others, axis=1) / np.maximum(present.sum(axis=1), 1),
                np.nan,
            )
        # the mean of the others plays the ground truth, the single run the proxy
        rows, ps = _agreement_term(rest, mat[:, i], spec, where, nan_policy)
        terms.append(("rest", lab, rows, ps))

    req = _request(metric, k, variant, min(ps.n for *_, ps in terms), where)
    values = [float(_evaluate(ps, None, [req])[req.label][0]) for *_, ps in terms]
    reps: list[list[np.ndarray]] = [[] for _ in terms]
    if n_boot:
        rng = rng_from(seed, where)
        for w in bootstrap_weights(n, n_boot, rng):
            for store, (_, _, rows, ps) in zip(reps, terms):
                store.append(_evaluate(ps, w[rows], [req])[req.label])
    rep_arrays = [np.concatenate(r) if r else np.zeros(0) for r in reps]

    def est(value: float, r: np.ndarray) -> Estimate:
        return _estimate(value, r, confidence, method) if n_boot else Estimate(value)

    estimates = [est(v, r) for v, r in zip(values, rep_arrays)]
    is_pair = np.array([kind == "pair" for kind, *_ in terms])

    def mean_of(mask: np.ndarray) -> Estimate:
        v = float(np.mean(np.asarray(values)[mask]))
        if not n_boot:
            return Estimate(v)
        r = np.mean(np.vstack([a for a, m in zip(rep_arrays, mask) if m]), axis=0)
        return est(v, r)

    pairs = {key: e for (kind, key, _, _), e in zip(terms, estimates) if kind == "pair"}
    vs_rest = {key: e for (kind, key, _, _), e in zip(terms, estimates) if kind == "rest"}
    return SeedAgreement(
        metric=req.label,
        between=mean_of(is_pair),
        rest=mean_of(~is_pair),
        pairs=pairs,
        vs_rest=vs_rest,
        n_pairs_used={key: ps.n for kind, key, _, ps in terms if kind == "pair"},
        n_rest_used={key: ps.n for kind, key, _, ps in terms if kind == "rest"},
        n_runs=len(labels),
        n_items=n,
        confidence=confidence,
        method=method,
        n_boot=n_boot,
        seed=seed_label(seed) if n_boot else None,
    )
