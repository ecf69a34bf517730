"""The bootstrap engine: named metrics evaluated on many resamples of architectures at once.

The bootstrap resamples **architectures** (pairs) with replacement. A resample is the original
sample with integer weights (how often each architecture was drawn), so every resample reuses one
sorted structure per pair (:class:`PairStats`, sorted once) and ``B`` resamples are evaluated
together as an ``(n, B)`` weight matrix; nothing is re-sorted per resample.

The steps, each a public function the analysis modules (:mod:`.uncertainty`, :mod:`.depth_gap`,
:mod:`.rank_summary`) build on:

1. :func:`make_request` checks a metric name with its ``k`` and tau variant and gives a
   :class:`Request`;
2. :func:`evaluate` computes requests on a pair, for unit weights (the point estimate) or for
   every column of a weight matrix;
3. :func:`bootstrap_weights` draws the weight matrices (seeded, in chunks) and :func:`replicates`
   evaluates several pairs over the *same* resamples (paired intervals);
4. :func:`interval` turns replicates into ``(low, high, n_valid, std_error)``, dropping resamples
   where the statistic was undefined (NaN) and counting them; :func:`estimate` wraps a value and
   its interval into an :class:`~nasbench_tools.analysis.results.Estimate`.

Metrics known by name (:data:`BOOTSTRAP_METRICS`): ``kendall_tau`` (with ``variant``),
``spearman_rho``, ``pearson_r``, ``weighted_tau``, ``p_at_top_k``, ``p_at_bottom_k``, ``br_at_k``
and ``br_rank_at_k`` (with ``k``). Any callable ``f(y_true, y_score) -> float`` can be resampled
through :func:`callable_replicates`, a slower loop over materialised resamples.

Randomness comes only from an explicit seed (an int or a ``numpy.random.Generator``); with an int,
the resamples depend only on ``(seed, n, n_boot)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AnalysisError
from ._common import check_choice, check_k, rng_from
from ._engine import PairStats
from .ranking import TAU_VARIANTS, tau_from_counts
from .results import Estimate

__all__ = [
    "BOOTSTRAP_METRICS",
    "CI_METHODS",
    "DEFAULT_N_BOOT",
    "MetricSpec",
    "PairStats",
    "Request",
    "bootstrap_weights",
    "callable_replicates",
    "estimate",
    "evaluate",
    "interval",
    "make_request",
    "point_values",
    "replicates",
]

#: Resamples used by the single-analysis functions (``bootstrap_ci``, ``depth_gap_report``,
#: ``relative_improvement``, ...). ``rank_report`` uses its own, smaller default.
DEFAULT_N_BOOT = 1000
#: Interval methods: the percentile interval ``[q_{a/2}, q_{1-a/2}]`` or the basic (reflected) one.
CI_METHODS = ("percentile", "basic")
# largest weight matrix built at once (elements); resamples are processed in chunks below it
_CHUNK_ELEMENTS = 4_000_000


# --- metric registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSpec:
    """How a named metric maps onto the sort engine.

    Attributes
    ----------
    engine : str
        The engine statistic it needs (``PairStats.compute(want=...)``).
    values : callable
        ``values(engine_output, k, variant) -> array over resamples``.
    needs_k : bool
        A top-K metric.
    finite, nonconstant : bool
        What the inputs must be (infinite values refused; a constant input refused).
    """

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
BOOTSTRAP_METRICS: dict[str, MetricSpec] = {
    "kendall_tau": MetricSpec("tau_counts", lambda out, k, v: tau_from_counts(out, v)),
    "spearman_rho": MetricSpec("spearman", lambda out, k, v: out["spearman"]),
    "pearson_r": MetricSpec("pearson", lambda out, k, v: out["pearson"], finite=True),
    "weighted_tau": MetricSpec("weighted_tau", lambda out, k, v: out["weighted_tau"]),
    "p_at_top_k": MetricSpec(
        "p_at_top_k", _topk_values("p_at_top_k"), needs_k=True, nonconstant=False
    ),
    "p_at_bottom_k": MetricSpec(
        "p_at_bottom_k", _topk_values("p_at_bottom_k"), needs_k=True, nonconstant=False
    ),
    # expected best rank (0-based) -> (rank + 1) / n, n = resample size = sample size
    "br_at_k": MetricSpec(
        "br_at_k",
        lambda out, k, v: (out[f"br_at_k:{k}"] + 1.0) / out["__n__"],
        needs_k=True,
        nonconstant=False,
    ),
    # the same as a 1-based rank (out of the resample size)
    "br_rank_at_k": MetricSpec(
        "br_at_k",
        lambda out, k, v: out[f"br_at_k:{k}"] + 1.0,
        needs_k=True,
        nonconstant=False,
    ),
}


@dataclass(frozen=True)
class Request:
    """One metric to evaluate on a pair: its name in :data:`BOOTSTRAP_METRICS`, ``k`` and tau
    variant. :attr:`label` names its values (``"kendall_tau_b"``, ``"p_at_top_k@10"``)."""

    name: str
    k: int | None = None
    variant: str = "b"

    @property
    def spec(self) -> MetricSpec:
        return BOOTSTRAP_METRICS[self.name]

    @property
    def label(self) -> str:
        return self.spec.label(self.name, self.k, self.variant)


def make_request(metric: str, k: Any, variant: str, n: int, where: str) -> Request:
    """A checked :class:`Request`: a known metric, ``k`` in ``1..n`` exactly where it needs one,
    a variant only for Kendall tau. Errors name ``where``."""
    check_choice("metric", metric, tuple(BOOTSTRAP_METRICS), where)
    check_choice("variant", variant, TAU_VARIANTS, where)
    spec = BOOTSTRAP_METRICS[metric]
    if spec.needs_k:
        if k is None:
            raise AnalysisError(f"{where}: metric {metric!r} needs k")
        return Request(metric, check_k(k, n, where), variant)
    if k is not None:
        raise AnalysisError(f"{where}: metric {metric!r} takes no k")
    if variant != "b" and metric != "kendall_tau":
        raise AnalysisError(f"{where}: variant applies to kendall_tau only")
    return Request(metric, None, variant)


# --- evaluation ------------------------------------------------------------------------------


def evaluate(
    ps: PairStats, w: np.ndarray | None, requests: Sequence[Request]
) -> dict[str, np.ndarray]:
    """Values of every request for unit weights (``w=None``, one value each) or for each column
    of the weight matrix ``w`` (shape ``(n, B)``), keyed by :attr:`Request.label`."""
    want = {r.spec.engine for r in requests}
    ks = tuple(sorted({r.k for r in requests if r.k is not None}))
    out = ps.compute(w, want, ks)
    # items per resample: the sample size, or each column's weight (a subset of a resample)
    out["__n__"] = np.full(1, float(ps.n)) if w is None else w.sum(axis=0).astype(float)
    return {r.label: np.asarray(r.spec.values(out, r.k, r.variant), dtype=float) for r in requests}


def point_values(ps: PairStats, requests: Sequence[Request]) -> dict[str, float]:
    """The point estimate of every request (unit weights), as floats keyed by label."""
    return {label: float(v[0]) for label, v in evaluate(ps, None, requests).items()}


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


def replicates(
    structures: Sequence[PairStats],
    requests_per: Sequence[Sequence[Request]],
    n: int,
    n_boot: int,
    rng: int | np.random.Generator,
) -> list[dict[str, np.ndarray]]:
    """Bootstrap values of several pairs over the *same* ``n_boot`` resamples of their ``n``
    items: one ``{label: array (n_boot,)}`` per structure (NaN where undefined)."""
    reps: list[dict[str, list[np.ndarray]]] = [{r.label: [] for r in reqs} for reqs in requests_per]
    for w in bootstrap_weights(n, n_boot, rng):
        for ps, reqs, store in zip(structures, requests_per, reps):
            for label, v in evaluate(ps, w, reqs).items():
                store[label].append(v)
    return [
        {label: np.concatenate(v) if v else np.zeros(0) for label, v in store.items()}
        for store in reps
    ]


def callable_replicates(
    f: Callable[[np.ndarray, np.ndarray], float],
    x: np.ndarray,
    y: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``f`` on ``n_boot`` materialised resamples of the pairs ``(x, y)``; NaN where ``f`` raised
    an :class:`AnalysisError`, ``ValueError``, ``ZeroDivisionError`` or ``FloatingPointError``."""
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


# --- intervals -------------------------------------------------------------------------------


def interval(
    value: float, reps: np.ndarray, confidence: float, method: str
) -> tuple[float, float, int, float]:
    """``(low, high, n_valid, std_error)`` from bootstrap replicates (NaN replicates dropped).

    ``method="percentile"``: the quantiles ``a/2`` and ``1 - a/2`` of the valid replicates;
    ``"basic"``: those reflected about ``value``. Fewer than two valid replicates give NaN bounds.
    """
    valid = reps[~np.isnan(reps)]
    if valid.size < 2:
        return float("nan"), float("nan"), int(valid.size), float("nan")
    alpha = 1.0 - confidence
    q_lo, q_hi = np.quantile(valid, [alpha / 2.0, 1.0 - alpha / 2.0])
    if method == "basic":
        q_lo, q_hi = 2.0 * value - q_hi, 2.0 * value - q_lo
    return float(q_lo), float(q_hi), int(valid.size), float(valid.std(ddof=1))


def estimate(value: float, reps: np.ndarray, confidence: float, method: str) -> Estimate:
    """An :class:`Estimate` of ``value`` with its interval and the count of valid resamples."""
    lo, hi, n_valid, _ = interval(value, reps, confidence, method)
    return Estimate(float(value), lo, hi, n_valid, int(reps.size))
