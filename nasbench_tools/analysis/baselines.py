"""Relative improvement over random search (RI), with a random baseline and a confidence interval.

Yang, Esperança & Carlucci ("NAS evaluation is frustratingly hard", ICLR 2020) define

    RI = 100 * (Acc_m - Acc_r) / Acc_r

with ``Acc_m`` the mean accuracy of a method's runs and ``Acc_r`` the mean accuracy of randomly
sampled architectures of the same space, trained with the same protocol. RI is relative and in
percent: RI = 0.32 means the method is 0.32 % (of ``Acc_r``) better. Their notebook gives means
only; :func:`relative_improvement` adds a bootstrap interval (runs of the method and random
draws resampled independently) and Welch's t-test.

The random baseline is either given (runs of random architectures, or a single number) or taken
from the ground truth of the same space, budget and split: :func:`expected_random_accuracy`
(exact, no randomness) and :func:`random_baseline` (simulated runs, seeded). ``best_of=N`` turns
"a random architecture" into "the best of N random architectures" (random search with N
queries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import AnalysisError
from ._common import check_confidence, check_n_boot, prepare, rng_from, seed_label
from .bootstrap import DEFAULT_N_BOOT

__all__ = [
    "RelativeImprovement",
    "expected_random_accuracy",
    "random_baseline",
    "relative_improvement",
]


@dataclass(frozen=True)
class RelativeImprovement:
    """RI of a method over a random baseline.

    Attributes
    ----------
    ri : float
        ``100 * (acc_method - acc_random) / acc_random``.
    acc_method, acc_random : float
        The two means.
    n_method, n_random : int
        Values behind each mean (1 for a given number).
    low, high : float or None
        Bootstrap interval of RI (None when both sides are single numbers or ``n_boot=0``).
    welch_pvalue : float or None
        Two-sided Welch t-test of the two means (needs at least 2 values on each side).
    random_source : str
        ``"given"`` (a number), ``"runs"`` (an array of random-architecture accuracies).
    n_valid : int or None
        Resamples with a finite RI (a resampled random mean of 0 has none); the interval comes
        from these. None without an interval.
    """

    ri: float
    acc_method: float
    acc_random: float
    n_method: int
    n_random: int
    low: float | None
    high: float | None
    confidence: float
    n_boot: int
    seed: int | str | None
    welch_pvalue: float | None
    random_source: str
    n_valid: int | None = None
    replicates: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def __float__(self) -> float:
        return float(self.ri)


def _values(v: Any, name: str, where: str, nan_policy: str) -> np.ndarray:
    a = np.atleast_1d(np.asarray(v, dtype=float)) if np.ndim(v) == 0 else v
    (out,), _ = prepare(
        {name: a}, where=where, nan_policy=nan_policy, min_n=1, finite=True, nonconstant=False
    )
    return out


def _ri(m: np.ndarray | float, r: np.ndarray | float) -> np.ndarray | float:
    return 100.0 * (m - r) / r


def _resampled_means(v: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_boot`` resamples of ``v`` (``v``'s mean repeated for a single value)."""
    if v.size > 1:
        return v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    return np.full(n_boot, float(v.mean()))


def _ri_interval(
    m: np.ndarray, r: np.ndarray, n_boot: int, confidence: float, rng: np.random.Generator
) -> tuple[float, float, int, np.ndarray]:
    """Percentile interval of RI with the method's runs and the random draws resampled
    independently (the method first): ``(low, high, n_valid, replicates)``."""
    bm = _resampled_means(m, n_boot, rng)
    br = _resampled_means(r, n_boot, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = _ri(bm, br)
    finite = reps[np.isfinite(reps)]
    alpha = 1.0 - confidence
    if finite.size >= 2:
        low, high = (float(v) for v in np.quantile(finite, [alpha / 2, 1 - alpha / 2]))
    else:
        low = high = float("nan")
    return low, high, int(finite.size), reps


def relative_improvement(
    acc_method: Any,
    acc_random: Any,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
    nan_policy: str = "raise",
) -> RelativeImprovement:
    """Relative improvement over random, ``100 (mean(acc_method) - mean(acc_random)) / mean(acc_random)``.

    Parameters
    ----------
    acc_method : float or array-like
        Final accuracy of each run of the method (or their mean).
    acc_random : float or array-like
        Accuracies of random architectures trained the same way (Yang et al.: 8 of them), or
        the whole ground-truth vector of the space/budget/split (its mean is the expected
        accuracy of one uniformly random architecture), or one number.
    n_boot : int
        Resamples for the percentile interval (each side resampled independently; a single
        number stays fixed). 0 skips it.
    confidence : float
    seed : int or numpy.random.Generator
    nan_policy : {"raise", "omit"}

    Returns
    -------
    RelativeImprovement

    Examples
    --------
    Yang et al.'s DARTS on CIFAR-10, from the printed means (97.24 vs 96.92):

    >>> round(relative_improvement(97.24, 96.92).ri, 2)
    0.33
    """
    where = "relative_improvement"
    n_boot = check_n_boot(n_boot, where)
    confidence = check_confidence(confidence, where)
    m = _values(acc_method, "acc_method", where, nan_policy)
    r = _values(acc_random, "acc_random", where, nan_policy)
    mm, mr = float(m.mean()), float(r.mean())
    if mr <= 0:
        raise AnalysisError(
            f"{where}: the random baseline's mean accuracy must be positive, got {mr}"
        )
    ri = float(_ri(mm, mr))
    low = high = None
    n_valid = None
    reps = np.zeros(0)
    if n_boot and (m.size > 1 or r.size > 1):
        low, high, n_valid, reps = _ri_interval(m, r, n_boot, confidence, rng_from(seed, where))
    p = None
    if m.size > 1 and r.size > 1:
        from scipy.stats import ttest_ind

        p = float(ttest_ind(m, r, equal_var=False).pvalue)
    return RelativeImprovement(
        ri=ri,
        acc_method=mm,
        acc_random=mr,
        n_method=int(m.size),
        n_random=int(r.size),
        low=low,
        high=high,
        confidence=confidence,
        n_boot=n_boot if low is not None else 0,
        seed=seed_label(seed) if low is not None else None,
        welch_pvalue=p,
        random_source="given" if np.ndim(acc_random) == 0 else "runs",
        n_valid=n_valid,
        replicates=reps,
    )


def expected_random_accuracy(
    ground_truth: Any, *, best_of: int = 1, nan_policy: str = "raise"
) -> float:
    """Exact expected accuracy of random search: the best of ``best_of`` distinct uniform draws.

    ``best_of=1`` is the mean of ``ground_truth``. For ``N > 1`` it is
    ``sum_k v_(k) C(k-1, N-1) / C(M, N)`` over the ``M`` sorted values ``v_(1) <= ... <= v_(M)``
    (the chance that the k-th smallest is the maximum of N draws without replacement).
    """
    where = "expected_random_accuracy"
    (v,), _ = prepare(
        {"ground_truth": ground_truth},
        where=where,
        nan_policy=nan_policy,
        min_n=1,
        finite=True,
        nonconstant=False,
    )
    n_draw = _check_best_of(best_of, v.size, where)
    if n_draw == 1:
        return float(v.mean())
    from scipy.special import gammaln

    s = np.sort(v)
    kk = np.arange(1, s.size + 1, dtype=float)
    ok = kk >= n_draw
    logw = np.full(s.size, -np.inf)
    m, nn = float(s.size), float(n_draw)
    logw[ok] = (
        gammaln(kk[ok])
        - gammaln(nn)
        - gammaln(kk[ok] - nn + 1.0)
        - (gammaln(m + 1.0) - gammaln(nn + 1.0) - gammaln(m - nn + 1.0))
    )
    return float(np.sum(s * np.exp(logw)))


def _check_best_of(best_of: Any, m: int, where: str) -> int:
    if (
        isinstance(best_of, bool)
        or not isinstance(best_of, int | np.integer)
        or not 1 <= best_of <= m
    ):
        raise AnalysisError(f"{where}: best_of must be an integer in 1..{m}, got {best_of!r}")
    return int(best_of)


def random_baseline(
    ground_truth: Any,
    *,
    n_runs: int,
    seed: int | np.random.Generator,
    best_of: int = 1,
    nan_policy: str = "raise",
) -> np.ndarray:
    """Simulated random-search runs drawn from a ground-truth vector.

    Each of the ``n_runs`` values is the best of ``best_of`` architectures drawn uniformly
    without replacement from ``ground_truth`` (the accuracies of one space at one budget and
    split). Pass the result as ``acc_random`` to :func:`relative_improvement` to mimic a random
    baseline of ``n_runs`` runs, as Yang et al. trained 8.

    Parameters
    ----------
    ground_truth : array-like of float
    n_runs : int
    seed : int or numpy.random.Generator
        Required, no default.
    best_of : int
    nan_policy : {"raise", "omit"}
        ``"omit"`` samples among the architectures that have a value.
    """
    where = "random_baseline"
    (v,), _ = prepare(
        {"ground_truth": ground_truth},
        where=where,
        nan_policy=nan_policy,
        min_n=1,
        finite=True,
        nonconstant=False,
    )
    n_draw = _check_best_of(best_of, v.size, where)
    if isinstance(n_runs, bool) or not isinstance(n_runs, int | np.integer) or n_runs < 1:
        raise AnalysisError(f"{where}: n_runs must be a positive integer, got {n_runs!r}")
    rng = rng_from(seed, where)
    if n_draw == 1:
        return v[rng.integers(0, v.size, size=int(n_runs))]
    return np.array(
        [v[rng.choice(v.size, size=n_draw, replace=False)].max() for _ in range(int(n_runs))]
    )
