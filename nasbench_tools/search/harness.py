"""The predictor harness: how well a predictor trained on ``n`` architectures ranks the rest.

For each training-set size ``n`` and each repeat, ``n`` architectures are drawn uniformly without
replacement from the oracle's pool (seeded: repeat ``r`` uses ``SeedSequence([seed, r])``), the
predictor is fitted on their encodings and targets, and scored on *all the other* architectures
of the pool with

* Kendall tau-b (:func:`nasbench_tools.analysis.kendall_tau`),
* sparse Kendall tau (:func:`nasbench_tools.analysis.sparse_kendall_tau`, NASLib's variant:
  predictions rounded to ``resolution`` percentage points; accuracy targets only),
* P@top-K (:func:`nasbench_tools.analysis.p_at_top_k`; K = ``k`` or the rest's size if smaller).

The result is a curve over ``n`` with the mean over repeats and a bootstrap interval of that mean
(:class:`PredictorCurve`). The targets are the oracle's search signal (seed mean, after any
objective) by default, or its report metric (``target="report"``).

WeakNAS's own predictor, iteration by iteration on the architectures it has not queried yet, is
in the trajectories it writes (``predictor_tau_unqueried``; :func:`..analysis.record_curve`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ._common import SearchError, check_int, check_seed
from .oracle import Oracle
from .predictors import PREDICTORS, make_predictor

__all__ = ["PredictorCurve", "predictor_curve"]

#: The metrics every curve holds.
METRICS = ("kendall_tau", "sparse_kendall_tau", "p_at_top_k")


@dataclass(frozen=True)
class PredictorCurve:
    """Scores of one predictor over training-set sizes.

    ``values[metric]`` is ``(repeats, len(ns))``; ``mean``/``low``/``high`` the mean over repeats
    and its bootstrap interval. ``fit_seconds`` the mean wall time of a fit and prediction.
    """

    predictor: str
    config: str
    encoding: str
    target: str
    ns: np.ndarray
    k: int
    resolution: float
    values: dict
    mean: dict
    low: dict
    high: dict
    fit_seconds: np.ndarray
    repeats: int
    seed: int
    declaration: dict = field(repr=False, default_factory=dict)


def predictor_curve(
    oracle: Oracle,
    predictor: str,
    ns: Sequence[int],
    *,
    repeats: int,
    seed: int,
    encoding: str = "onehot",
    target: str = "signal",
    k: int = 100,
    resolution: float = 0.1,
    n_boot: int = 1000,
    confidence: float = 0.95,
    progress: bool = False,
) -> PredictorCurve:
    """Fit ``predictor`` on ``n`` random architectures for each ``n`` in ``ns``; see the module."""
    import time

    from ..analysis.ranking import kendall_tau, p_at_top_k, sparse_kendall_tau
    from .analysis import _mean_ci

    spec = PREDICTORS.get(predictor)
    seed = check_seed(seed)
    repeats = check_int(repeats, "repeats", low=1)
    k = check_int(k, "k", low=1)
    if target not in ("signal", "report"):
        raise SearchError(f"target must be 'signal' or 'report', got {target!r}")
    pool = len(oracle.domain)
    ns = np.array([check_int(n, "n", low=2, high=pool - 2) for n in ns], dtype=np.int64)
    X = oracle.domain.encode(encoding)
    y = np.asarray(oracle.signal_mean if target == "signal" else oracle.report, dtype=float)
    unit = (oracle.declaration["signal" if target == "signal" else "report"]).get("unit")
    sparse_ok = unit == "%" and oracle.declaration["objective"]["kind"] == "accuracy"
    vals = {m: np.full((repeats, ns.size), np.nan) for m in METRICS}
    secs = np.zeros((repeats, ns.size))
    bar = _bar(repeats * ns.size, progress, predictor)
    for r in range(repeats):
        rng = np.random.default_rng(np.random.SeedSequence([seed, r]))
        for j, n in enumerate(ns):
            train = rng.choice(pool, size=int(n), replace=False)
            rest = np.ones(pool, dtype=bool)
            rest[train] = False
            t0 = time.perf_counter()
            model = make_predictor(predictor, int(rng.integers(2**31 - 1))).fit(X[train], y[train])
            pred = model.predict(X[rest])
            secs[r, j] = time.perf_counter() - t0
            truth = y[rest]
            if np.ptp(pred) > 0:
                vals["kendall_tau"][r, j] = kendall_tau(truth, pred).statistic
                if sparse_ok:
                    vals["sparse_kendall_tau"][r, j] = sparse_kendall_tau(
                        truth, pred, variant="naslib", resolution=resolution
                    ).statistic
            vals["p_at_top_k"][r, j] = p_at_top_k(truth, pred, min(k, truth.size)).statistic
            bar.update(1)
    bar.close()
    mean, low, high = {}, {}, {}
    for m in METRICS:
        mean[m], low[m], high[m], _ = _mean_ci(vals[m], n_boot, confidence, seed)
    return PredictorCurve(
        predictor,
        spec.config,
        encoding,
        target,
        ns,
        k,
        resolution,
        vals,
        mean,
        low,
        high,
        secs.mean(axis=0),
        repeats,
        seed,
        oracle.declaration,
    )


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _bar(total, progress, what):
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"predictor {what}", unit="fit")
