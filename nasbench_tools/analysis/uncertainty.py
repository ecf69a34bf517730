"""Uncertainty of ranking metrics: bootstrap intervals, seed spread, seed agreement, paired test.

The bootstrap resamples **architectures** (pairs) with replacement. A resample is the original
sample with integer weights, so every resample reuses one sorted structure and ``B`` resamples
are evaluated together as a ``(n, B)`` weight matrix by the bootstrap engine
(:mod:`nasbench_tools.analysis.bootstrap`); nothing is re-sorted per resample. On this shared 2-core machine one pair of 15,625
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import AnalysisError
from ._common import (
    as_vector,
    check_choice,
    check_confidence,
    check_n_boot,
    prepare,
    rng_from,
    seed_label,
)
from .bootstrap import (
    BOOTSTRAP_METRICS,
    CI_METHODS,
    DEFAULT_N_BOOT,
    MetricSpec,
    PairStats,
    bootstrap_weights,
    callable_replicates,
    estimate,
    evaluate,
    interval,
    make_request,
    point_values,
    replicates,
)
from .results import Estimate

__all__ = [
    "BootstrapResult",
    "PairedBootstrapTest",
    "SeedAgreement",
    "SeedSpread",
    "across_seeds",
    "bootstrap_ci",
    "paired_bootstrap_test",
    "seed_agreement",
    "seed_spread",
]

ALTERNATIVES = ("greater", "less", "two-sided")


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
    pair = {"y_true": y_true, "y_score": y_score}
    if callable(metric):
        label, x, value, reps, n_omitted = _callable_bootstrap(
            metric, pair, n_boot, rng, nan_policy, where
        )
    else:
        label, x, value, reps, n_omitted = _named_bootstrap(
            metric, k, variant, pair, n_boot, rng, nan_policy, where
        )
    low, high, n_valid, se = interval(value, reps, confidence, method)
    return BootstrapResult(
        label,
        value,
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


def _callable_bootstrap(metric, pair, n_boot, rng, nan_policy, where):
    """``(label, x, value, replicates, n_omitted)`` of a callable metric."""
    (x, y), n_omitted = prepare(
        pair, where=where, nan_policy=nan_policy, min_n=3, nonconstant=False
    )
    value = float(metric(x, y))
    reps = callable_replicates(metric, x, y, n_boot, rng)
    return getattr(metric, "__name__", "callable"), x, value, reps, n_omitted


def _named_bootstrap(metric, k, variant, pair, n_boot, rng, nan_policy, where):
    """``(label, x, value, replicates, n_omitted)`` of a metric in :data:`BOOTSTRAP_METRICS`."""
    check_choice("metric", metric, tuple(BOOTSTRAP_METRICS), where)
    spec = BOOTSTRAP_METRICS[metric]
    (x, y), n_omitted = prepare(
        pair,
        where=where,
        nan_policy=nan_policy,
        min_n=3,
        finite=spec.finite,
        nonconstant=spec.nonconstant,
    )
    req = make_request(metric, k, variant, x.size, where)
    ps = PairStats(x, y)
    value = point_values(ps, [req])[req.label]
    reps = replicates([ps], [[req]], x.size, n_boot, rng)[0][req.label]
    return req.label, x, value, reps, n_omitted


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


def bootstrap_pvalue(diffs: np.ndarray, alternative: str) -> float:
    """The bootstrap p-value of "the difference is 0" from resampled differences (NaN ones
    left out): the share on the other side of 0, with the +1 correction, so it never reaches 0;
    ``"two-sided"`` doubles the smaller tail (capped at 1). NaN without a valid resample."""
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
    req = make_request(metric, k, variant, x.size, where)
    psa, psb = PairStats(x, a), PairStats(x, b)
    ea = point_values(psa, [req])[req.label]
    eb = point_values(psb, [req])[req.label]
    ra, rb = replicates([psa, psb], [[req], [req]], x.size, n_boot, rng)
    diffs = ra[req.label] - rb[req.label]
    low, high, n_valid, _ = interval(ea - eb, diffs, confidence, method)
    p = bootstrap_pvalue(diffs, alternative)
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
        req = make_request(metric, k, variant, x.size, where)
        label = req.label
        values[s] = point_values(PairStats(x, y), [req])[req.label]
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
    #: per term (a pair key or a run), the top-K size used (top-K metrics; ``k="5%"`` resolves
    #: on each term's own number of architectures), else empty
    k_used: dict[Any, int] = field(default_factory=dict)


def _agreement_term(
    x: np.ndarray, y: np.ndarray, spec: MetricSpec, where: str, nan_policy: str
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
        once for all terms. For a top-K metric ``k`` may be a percentage (``"5%"``): each term
        then uses K = :func:`~nasbench_tools.analysis.top_k_size` of its own number of
        architectures (``k_used``), as a proxy's P@top-5% does.
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
    labels, mat = _run_matrix(runs, where)
    terms = _agreement_terms(labels, mat, BOOTSTRAP_METRICS[metric], where, nan_policy)
    reqs = [_term_request(metric, k, variant, t.ps.n, where) for t in terms]
    values = [point_values(t.ps, [r])[r.label] for t, r in zip(terms, reqs)]
    reps = _term_replicates(terms, reqs, mat.shape[0], n_boot, seed, where)

    def est(value: float, r: np.ndarray | None) -> Estimate:
        return estimate(value, r, confidence, method) if n_boot else Estimate(value)

    def mean_of(kind: str) -> Estimate:
        mask = [t.kind == kind for t in terms]
        v = float(np.mean(np.asarray(values)[mask]))
        r = np.mean(np.vstack([a for a, m in zip(reps, mask) if m]), axis=0) if n_boot else None
        return est(v, r)

    estimates = [est(v, r) for v, r in zip(values, reps)]
    label = reqs[0].label if isinstance(k, int | np.integer | None) else f"{metric}@{k}"
    return SeedAgreement(
        metric=label,
        between=mean_of("pair"),
        rest=mean_of("rest"),
        pairs={t.key: e for t, e in zip(terms, estimates) if t.kind == "pair"},
        vs_rest={t.key: e for t, e in zip(terms, estimates) if t.kind == "rest"},
        n_pairs_used={t.key: t.ps.n for t in terms if t.kind == "pair"},
        n_rest_used={t.key: t.ps.n for t in terms if t.kind == "rest"},
        n_runs=len(labels),
        n_items=mat.shape[0],
        confidence=confidence,
        method=method,
        n_boot=n_boot,
        seed=seed_label(seed) if n_boot else None,
        k_used={t.key: r.k for t, r in zip(terms, reqs) if r.k is not None},
    )


def _term_request(metric: str, k: Any, variant: str, n: int, where: str):
    """The request of one agreement term; a percentage ``k`` resolves on the term's ``n``."""
    if isinstance(k, str):
        from .rank_summary import top_k_size

        try:
            k = top_k_size(k, n)
        except AnalysisError as exc:
            raise AnalysisError(f"{where}: {exc}") from None
    return make_request(metric, k, variant, n, where)


def _run_matrix(runs: Any, where: str) -> tuple[list, np.ndarray]:
    """Run labels and the ``(n, n_runs)`` matrix of their values (equal lengths checked)."""
    rd = _runs(runs, where, 2)
    labels = list(rd)
    vecs = [as_vector(rd[lab], f"run {lab!r}", where) for lab in labels]
    sizes = {lab: v.size for lab, v in zip(labels, vecs)}
    if len(set(sizes.values())) > 1:
        raise AnalysisError(f"{where}: runs differ in length ({sizes})")
    return labels, np.column_stack(vecs)


@dataclass(frozen=True)
class _Term:
    """One agreement term: ``kind`` "pair" (key ``(run_a, run_b)``) or "rest" (key: the run),
    the rows it uses and their sorted structure."""

    kind: str
    key: Any
    rows: np.ndarray
    ps: PairStats


def _mean_of_others(mat: np.ndarray, i: int) -> np.ndarray:
    """Per row, the mean of the runs other than ``i`` that are present (NaN where none is)."""
    others = np.delete(mat, i, axis=1)
    present = ~np.isnan(others)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            present.any(axis=1),
            np.nansum(others, axis=1) / np.maximum(present.sum(axis=1), 1),
            np.nan,
        )


def _agreement_terms(
    labels: list, mat: np.ndarray, spec: MetricSpec, where: str, nan_policy: str
) -> list[_Term]:
    """Every seed-vs-seed pair, then every seed against the mean of the others."""
    terms = []
    for i, j in itertools.combinations(range(len(labels)), 2):
        rows, ps = _agreement_term(mat[:, i], mat[:, j], spec, where, nan_policy)
        terms.append(_Term("pair", (labels[i], labels[j]), rows, ps))
    for i, lab in enumerate(labels):
        # the mean of the others plays the ground truth, the single run the proxy
        rows, ps = _agreement_term(_mean_of_others(mat, i), mat[:, i], spec, where, nan_policy)
        terms.append(_Term("rest", lab, rows, ps))
    return terms


def _term_replicates(
    terms: list[_Term], reqs: list, n: int, n_boot: int, seed: Any, where: str
) -> list[np.ndarray]:
    """Replicates of every term (with its own request) over the same resamples of all ``n``
    architectures (each term sees the weights of its own rows); empty arrays without a
    bootstrap."""
    reps: list[list[np.ndarray]] = [[] for _ in terms]
    if n_boot:
        rng = rng_from(seed, where)
        for w in bootstrap_weights(n, n_boot, rng):
            for store, t, req in zip(reps, terms, reqs):
                store.append(evaluate(t.ps, w[t.rows], [req])[req.label])
    return [np.concatenate(r) if r else np.zeros(0) for r in reps]
