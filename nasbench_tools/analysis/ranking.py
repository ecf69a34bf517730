"""Ranking metrics between a ground truth and a proxy score: pure functions over arrays.

Every function takes ``(y_true, y_score)`` paired by position (higher is better for both),
validates them, applies an explicit NaN policy and returns a :class:`MetricResult` that records
how many pairs were used and every choice that changes the number (variant, ``k``, tie rule,
denominator). Correlations are signed, never made absolute.

==========================  ===========================================================
function                    what
==========================  ===========================================================
:func:`kendall_tau`         tau-b (default), tau-a or tau-c; scipy's ``kendalltau``
:func:`spearman_rho`        Pearson r of average ranks; scipy's ``spearmanr``
:func:`pearson_r`           Pearson r; scipy's ``pearsonr``
:func:`weighted_tau`        Vigna's additive hyperbolic weighted tau, both lexicographic
                            orders averaged (scipy's ``weightedtau`` defaults)
:func:`sparse_kendall_tau`  the two published "sparse" taus (NASLib: predictions
                            rounded; Yu et al.: ground truth binned) and round-both
:func:`p_at_top_k`          P@topK: overlap of the predicted and the true top K, / K
:func:`p_at_bottom_k`       the same for the bottom K
:func:`kt_at_top_k`         KT@topK: Kendall tau-b inside the predicted top K
:func:`br_at_k`             BR@K: best true rank among the predicted top K, as a
                            fraction of a stated denominator
:func:`duplicate_audit`     how many candidates are distinct (isomorphism) classes
==========================  ===========================================================

All of them are O(n log n) (see :mod:`nasbench_tools.analysis._engine`). Over 423,624 pairs
(every NB101 cell) on this shared 2-core machine: Kendall tau-b 0.36 s (scipy 0.13 s), Spearman
0.25 s, weighted tau 0.53 s (scipy 3.4 s), P@top100 0.25 s.

Ties in the top-K metrics
-------------------------
With ties in the score at the K-th place the "predicted top K" is not a set but a random draw.
``p_at_top_k``, ``p_at_bottom_k`` and ``br_at_k`` return the **expectation over uniformly random
tie-breaking** (``info["ties"] == "expected"``), in closed form; with no ties this is the plain
value. NASLib breaks ties by ``np.argsort`` order, which is arbitrary. True ranks are
"1 + number of strictly better items", so items tied in the ground truth share the better rank.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import AnalysisError
from ._common import check_choice, check_k, prepare
from ._engine import PairStats
from .results import MetricResult

__all__ = [
    "SPARSE_TAU_VARIANTS",
    "DuplicateAudit",
    "MetricResult",
    "br_at_k",
    "deduplicate",
    "duplicate_audit",
    "kendall_tau",
    "kt_at_top_k",
    "p_at_bottom_k",
    "p_at_top_k",
    "pearson_r",
    "sparse_kendall_tau",
    "spearman_rho",
    "tau_from_counts",
    "weighted_tau",
]

TAU_VARIANTS = ("b", "a", "c")


def _pair(y_true, y_score, where, nan_policy, **kw):
    (x, y), n_omitted = prepare(
        {"y_true": y_true, "y_score": y_score}, where=where, nan_policy=nan_policy, **kw
    )
    return x, y, n_omitted


def tau_from_counts(c: Mapping[str, np.ndarray], variant: str) -> np.ndarray:
    """Kendall tau (arrays over resamples) from the sort engine's pair counts (``tau_counts``)."""
    s = (c["n_concordant"] - c["n_discordant"]).astype(float)
    n0 = c["n_pairs"].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if variant == "b":
            tau = s / np.sqrt((n0 - c["x_ties"]) * (n0 - c["y_ties"]))
        elif variant == "a":
            tau = s / n0
        else:  # "c" (Stuart): 2 S / (n^2 (m - 1) / m), m = min(#distinct x, #distinct y)
            m = np.minimum(c["x_classes"], c["y_classes"]).astype(float)
            nn = c["n"].astype(float)
            tau = 2.0 * s / (nn**2 * (m - 1.0) / m)
        # a resample with a single distinct value in x or y has no tau
        undefined = (c["x_classes"] < 2) | (c["y_classes"] < 2)
    return np.where(undefined, np.nan, np.clip(tau, -1.0, 1.0))


# --- correlations ----------------------------------------------------------------------------


def kendall_tau(
    y_true: Any,
    y_score: Any,
    *,
    variant: str = "b",
    nan_policy: str = "raise",
    pvalue: bool = False,
) -> MetricResult:
    """Kendall's rank correlation, signed.

    Parameters
    ----------
    y_true, y_score : array-like of float, shape (n,)
        Ground truth and proxy score, paired by position.
    variant : {"b", "a", "c"}
        ``"b"`` (default, the one every NAS paper computes through ``scipy.stats.kendalltau``):
        ``(P - Q) / sqrt((P + Q + T_x)(P + Q + T_y))``. ``"a"``: ``(P - Q) / (n (n - 1) / 2)``,
        no tie correction. ``"c"``: Stuart's ``2 (P - Q) / (n^2 (m - 1) / m)``.
    nan_policy : {"raise", "omit"}
        ``"omit"`` drops pairs with a NaN on either side.
    pvalue : bool
        Also compute scipy's two-sided p-value (exact for n <= 33 without ties, else
        asymptotic; the same for every variant, since it tests ``P - Q``).

    Returns
    -------
    MetricResult
        ``metric = "kendall_tau_<variant>"``; ``info`` holds ``variant`` and the pair counts
        ``n_concordant``, ``n_discordant``, ``n_pairs``, ``x_ties``, ``y_ties``, ``xy_ties``
        (pairs tied in y_true, in y_score, in both).

    Raises
    ------
    AnalysisError
        Length mismatch, NaN under ``"raise"``, fewer than 2 valid pairs, constant input.

    Examples
    --------
    >>> kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]).statistic  # doctest: +ELLIPSIS
    0.666...
    """
    where = "kendall_tau"
    check_choice("variant", variant, TAU_VARIANTS, where)
    x, y, n_omitted = _pair(y_true, y_score, where, nan_policy)
    c = PairStats(x, y).compute(None, {"tau_counts"})
    tau = float(tau_from_counts(c, variant)[0])
    info = {"variant": variant}
    info.update(
        {
            k: int(c[k][0])
            for k in ("n_concordant", "n_discordant", "n_pairs", "x_ties", "y_ties", "xy_ties")
        }
    )
    p = None
    if pvalue:
        from scipy.stats import kendalltau

        p = float(kendalltau(x, y, variant="c" if variant == "c" else "b").pvalue)
    return MetricResult(f"kendall_tau_{variant}", tau, x.size, n_omitted, p, info)


def spearman_rho(
    y_true: Any, y_score: Any, *, nan_policy: str = "raise", pvalue: bool = False
) -> MetricResult:
    """Spearman's rho: Pearson's r of the average ranks (ties share their mean rank), signed.

    Parameters and errors as :func:`kendall_tau`; ``pvalue`` uses ``scipy.stats.spearmanr``.
    The zero-cost-proxy papers report ``|rho|``; this function never does.
    """
    where = "spearman_rho"
    x, y, n_omitted = _pair(y_true, y_score, where, nan_policy)
    rho = float(PairStats(x, y).compute(None, {"spearman"})["spearman"][0])
    p = None
    if pvalue:
        from scipy.stats import spearmanr

        p = float(spearmanr(x, y).pvalue)
    return MetricResult("spearman_rho", rho, x.size, n_omitted, p, {})


def pearson_r(
    y_true: Any, y_score: Any, *, nan_policy: str = "raise", pvalue: bool = False
) -> MetricResult:
    """Pearson's linear correlation, signed (NASLib reports ``|r|``; this never does).

    Needs finite values (infinities raise). ``pvalue`` uses ``scipy.stats.pearsonr``.
    """
    where = "pearson_r"
    x, y, n_omitted = _pair(y_true, y_score, where, nan_policy, finite=True)
    r = float(PairStats(x, y).compute(None, {"pearson"})["pearson"][0])
    p = None
    if pvalue:
        from scipy.stats import pearsonr

        p = float(pearsonr(x, y).pvalue)
    return MetricResult("pearson_r", r, x.size, n_omitted, p, {})


def weighted_tau(y_true: Any, y_score: Any, *, nan_policy: str = "raise") -> MetricResult:
    """Vigna's weighted Kendall tau, which weights swaps near the top more.

    The definition of ``scipy.stats.weightedtau`` with its defaults: a pair of elements with
    ranks ``r_i, r_j`` weighs ``1/(r_i + 1) + 1/(r_j + 1)`` (additive hyperbolic weigher), where
    the rank is the position in decreasing lexicographic order of ``(y_true, y_score)``. The
    result is the mean of that value and the one with the order of ``(y_score, y_true)``, so it
    is symmetric in its arguments. scipy's implementation takes 3.4 s at n = 423,624 on this
    machine, this vectorised one 0.53 s; they agree to 1e-10 (see the tests).
    """
    where = "weighted_tau"
    x, y, n_omitted = _pair(y_true, y_score, where, nan_policy)
    wt = float(PairStats(x, y).compute(None, {"weighted_tau"})["weighted_tau"][0])
    info = {"weigher": "1/(rank+1)", "additive": True, "rank": "both lexicographic orders"}
    return MetricResult("weighted_tau", wt, x.size, n_omitted, None, info)


# --- sparse Kendall tau ----------------------------------------------------------------------


def _round_to(v: np.ndarray, step: float) -> np.ndarray:
    """Round to a multiple of ``step``; a power of ten rounds like ``np.round(v, decimals)``."""
    d = -math.log10(step)
    if abs(d - round(d)) < 1e-9:
        return np.round(v, round(d))
    return np.round(v / step) * step


def _check_unit(v: np.ndarray, unit: str, name: str, where: str) -> None:
    finite = v[np.isfinite(v)]
    if not finite.size:
        return
    if unit == "fraction" and np.abs(finite).max() > 1.0:
        raise AnalysisError(
            f"{where}: unit='fraction' but {name} exceeds 1 (max {finite.max():g}); pass unit='percent'"
        )
    if unit == "percent" and finite.min() >= 0.0 and finite.max() <= 1.0:
        raise AnalysisError(
            f"{where}: unit='percent' but every {name} value lies in [0, 1]; they look like fractions, pass unit='fraction'"
        )


def _yu_pairs(
    x: np.ndarray, y: np.ndarray, threshold: float, unit: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # kcyu2014/nas-landmarkreg compute_sparse_rank_metric + sparse_rank_by_simple_bin: ground
    # truth (as a fraction) binned by floor(p * (1 / threshold)), bins renumbered densely in
    # ascending order; the sorted bin list is paired *by position* with the bins of the
    # architectures taken in ascending order of the prediction.
    frac = x * 1e-2 if unit == "percent" else x
    bins = np.floor(frac * (1.0 / threshold))
    dense = np.unique(bins, return_inverse=True)[1].astype(float)
    return np.sort(dense), dense[np.argsort(y, kind="stable")], dense


def _naslib_pairs(x, y, step):
    # NASLib compute_scores: kt_1dec = kendalltau(ytest, np.round(test_pred, decimals=1))
    ry = _round_to(y, step)
    return x, ry, ry


def _round_both_pairs(x, y, step):
    rx = _round_to(x, step)
    return rx, _round_to(y, step), rx


#: Registered sparse-tau variants: name -> description.
SPARSE_TAU_VARIANTS: dict[str, str] = {
    "naslib": "y_score rounded to the resolution, y_true as is (NASLib kt_1dec / kt_2dec)",
    "yu": "y_true floor-binned at the resolution, sorted bins paired by position with the bins in "
    "y_score order (Yu et al., kcyu2014/nas-landmarkreg)",
    "round_both": "both vectors rounded to the resolution",
}


def sparse_kendall_tau(
    y_true: Any,
    y_score: Any,
    *,
    variant: str = "naslib",
    resolution: float = 0.1,
    unit: str = "percent",
    nan_policy: str = "raise",
) -> MetricResult:
    """Kendall tau-b after declaring accuracies closer than ``resolution`` tied ("s-KdT").

    Two incompatible definitions are published, and a third is common; the one used is recorded
    in ``info["variant"]`` and in the metric name, so numbers are never mixed up.

    Parameters
    ----------
    y_true, y_score : array-like of float, shape (n,)
    variant : {"naslib", "yu", "round_both"}
        ``"naslib"``: ``kendalltau(y_true, round(y_score))``, only the *predictions* rounded
        (NASLib ``compute_scores`` ``kt_1dec`` with resolution 0.1, ``kt_2dec`` with 0.01).
        ``"yu"``: ground truth floor-binned (``floor(acc / resolution)``), the sorted bins paired
        by position with the bins in prediction order, then tau-b (Yu et al. 2020,
        ``compute_sparse_kendalltau``; their ``threshold`` is ``resolution / 100`` in fractions;
        ties in ``y_score`` keep input order, where their ``np.argsort`` leaves it arbitrary).
        ``"round_both"``: both rounded.
    resolution : float
        In percentage points (0.1 = a tenth of a percent), whatever ``unit`` is.
    unit : {"percent", "fraction"}
        The unit of the rounded or binned vectors (``y_score`` for ``"naslib"``, ``y_true`` for
        ``"yu"``, both for ``"round_both"``). Declared, never guessed; values that contradict it
        raise.
    nan_policy : {"raise", "omit"}

    Returns
    -------
    MetricResult
        ``metric = "sparse_kendall_tau[<variant>]"``; ``info`` has ``variant``, ``resolution``
        (percentage points), ``unit`` and ``levels`` (distinct values left in the rounded or
        binned vector).
    """
    where = "sparse_kendall_tau"
    check_choice("variant", variant, tuple(SPARSE_TAU_VARIANTS), where)
    check_choice("unit", unit, ("percent", "fraction"), where)
    if not (isinstance(resolution, int | float) and resolution > 0 and math.isfinite(resolution)):
        raise AnalysisError(
            f"{where}: resolution must be a positive number of percentage points, got {resolution!r}"
        )
    x, y, n_omitted = _pair(y_true, y_score, where, nan_policy)
    step = resolution if unit == "percent" else resolution / 100.0
    checked = {
        "naslib": (("y_score", y),),
        "yu": (("y_true", x),),
        "round_both": (("y_true", x), ("y_score", y)),
    }
    for name, v in checked[variant]:
        _check_unit(v, unit, name, where)
    if variant == "yu":
        a, b, coarse = _yu_pairs(x, y, resolution / 100.0, unit)
    elif variant == "naslib":
        a, b, coarse = _naslib_pairs(x, y, step)
    else:
        a, b, coarse = _round_both_pairs(x, y, step)
    for name, v in (("y_true", a), ("y_score", b)):
        if (v == v[0]).all():
            raise AnalysisError(
                f"{where}: after {variant!r} binning at {resolution} points, {name} has a single level; tau is undefined"
            )
    c = PairStats(a, b).compute(None, {"tau_counts"})
    tau = float(tau_from_counts(c, "b")[0])
    info = {
        "variant": variant,
        "resolution": float(resolution),
        "unit": unit,
        "levels": int(np.unique(coarse).size),
        "definition": SPARSE_TAU_VARIANTS[variant],
    }
    return MetricResult(f"sparse_kendall_tau[{variant}]", tau, x.size, n_omitted, None, info)


# --- top-K metrics ---------------------------------------------------------------------------


def _topk(y_true, y_score, k, where, nan_policy, stat):
    x, y, n_omitted = _pair(y_true, y_score, where, nan_policy, nonconstant=False)
    k = check_k(k, x.size, where)
    out = PairStats(x, y).compute(None, {stat}, (k,))
    return float(out[f"{stat}:{k}"][0]), k, x.size, n_omitted


def p_at_top_k(y_true: Any, y_score: Any, k: int, *, nan_policy: str = "raise") -> MetricResult:
    """P@topK: the share of the K highest-scored items that are among the K truly best.

    ``|predTop_K ∩ trueTop_K| / K`` (NASLib ``p_at_tb_k``, aw_nas), as the expectation over
    uniformly random tie-breaking on both sides (module docstring). ``info["overlap"]`` is the
    expected count ``K * statistic``.

    Raises
    ------
    AnalysisError
        ``k`` not an integer in ``1..n``, plus the usual input errors (constant input is allowed).
    """
    v, k, n, n_omitted = _topk(y_true, y_score, k, "p_at_top_k", nan_policy, "p_at_top_k")
    info = {"k": k, "ties": "expected", "overlap": v * k}
    return MetricResult("p_at_top_k", v, n, n_omitted, None, info)


def p_at_bottom_k(y_true: Any, y_score: Any, k: int, *, nan_policy: str = "raise") -> MetricResult:
    """P@bottomK: :func:`p_at_top_k` for the K lowest-scored and the K truly worst items."""
    v, k, n, n_omitted = _topk(y_true, y_score, k, "p_at_bottom_k", nan_policy, "p_at_bottom_k")
    info = {"k": k, "ties": "expected", "overlap": v * k}
    return MetricResult("p_at_bottom_k", v, n, n_omitted, None, info)


def kt_at_top_k(y_true: Any, y_score: Any, k: int, *, nan_policy: str = "raise") -> MetricResult:
    """KT@topK: Kendall tau-b between score and truth inside the predicted top K.

    The subset is every item scoring at least the K-th highest score, so a tie at the K-th place
    enlarges it (``info["subset_size"]``) instead of being cut arbitrarily.

    Raises
    ------
    AnalysisError
        Also when the subset has fewer than 2 items or is constant on either side.
    """
    where = "kt_at_top_k"
    x, y, n_omitted = _pair(y_true, y_score, where, nan_policy, nonconstant=False)
    k = check_k(k, x.size, where)
    kth = np.sort(y)[::-1][k - 1]
    sel = y >= kth
    try:
        r = kendall_tau(x[sel], y[sel])
    except AnalysisError as exc:
        raise AnalysisError(
            f"{where}: inside the predicted top {k} ({int(sel.sum())} items): {exc}"
        ) from None
    info = {"k": k, "subset_size": int(sel.sum()), "variant": "b"}
    return MetricResult("kt_at_top_k", r.statistic, x.size, n_omitted, None, info)


def br_at_k(
    y_true: Any,
    y_score: Any,
    k: int,
    *,
    population: Any = None,
    nan_policy: str = "raise",
) -> MetricResult:
    """BR@K: the best true rank among the K highest-scored items, as a fraction.

    ``statistic = rank / denominator`` with ``rank = 1 + #(items strictly better in truth)``
    for the best of the predicted top K (NASLib ``minmax_n_at_k``: ``(min rank + 1) / n``).
    Score ties at the K-th place give the expectation over random tie-breaking.

    Parameters
    ----------
    y_true, y_score : array-like of float, shape (n,)
    k : int
    population : array-like of float, optional
        Ground-truth values of a reference population (e.g. all 15,625 NB201 cells when
        ``y_true`` is a sample of them). Ranks then count better members of the population and
        the denominator is its size: Yu et al.'s "top-K percentile in the whole space".
        By default ranks and denominator are those of the scored items.
    nan_policy : {"raise", "omit"}
        Applies to ``y_true``/``y_score``; NaN in ``population`` always raises.

    Returns
    -------
    MetricResult
        ``info`` holds ``k``, ``rank`` (expected 1-based best rank), ``denominator``,
        ``denominator_of`` (``"scored items"`` or ``"population"``) and ``ties``.
    """
    where = "br_at_k"
    x, y, n_omitted = _pair(y_true, y_score, where, nan_policy, nonconstant=False)
    k = check_k(k, x.size, where)
    better = None
    denominator = x.size
    denominator_of = "scored items"
    if population is not None:
        (pop,), _ = prepare({"population": population}, where=where, nonconstant=False, min_n=1)
        srt = np.sort(pop)
        better = (srt.size - np.searchsorted(srt, x, side="right")).astype(np.int64)
        denominator = int(srt.size)
        denominator_of = "population"
    out = PairStats(x, y).compute(None, {"br_at_k"}, (k,), x_better=better)
    rank = float(out[f"br_at_k:{k}"][0]) + 1.0
    info = {
        "k": k,
        "rank": rank,
        "denominator": denominator,
        "denominator_of": denominator_of,
        "ties": "expected",
    }
    return MetricResult("br_at_k", rank / denominator, x.size, n_omitted, None, info)


# --- duplicates / isomorphism ----------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateAudit:
    """How many of the candidates are distinct classes (e.g. isomorphic NB201 cells).

    Attributes
    ----------
    n : int
        Candidates.
    n_distinct : int
        Distinct classes among them.
    n_redundant : int
        ``n - n_distinct``: candidates that repeat a class seen before.
    largest_class : int
        Size of the biggest class.
    class_sizes : dict
        ``{size: number of classes of that size}``.
    class_ids : ndarray of int
        Class of each candidate (0-based, in order of first appearance).
    first_index : ndarray of int
        Index of the first member of each class.
    tau_all, tau_distinct : float or None
        Kendall tau-b over all candidates and over one value per class (class means), when
        ``y_true`` and ``y_score`` were given: the gap shows how much repeats move the number.
    score_spread : float or None
        Largest within-class range of ``y_score`` (0 when equal classes get equal scores).
    """

    n: int
    n_distinct: int
    n_redundant: int
    largest_class: int
    class_sizes: dict[int, int]
    class_ids: np.ndarray = field(repr=False)
    first_index: np.ndarray = field(repr=False)
    tau_all: float | None = None
    tau_distinct: float | None = None
    score_spread: float | None = None

    @property
    def distinct_fraction(self) -> float:
        return self.n_distinct / self.n


def _factorize(keys: list) -> tuple[np.ndarray, np.ndarray]:
    ids: dict[Hashable, int] = {}
    out = np.empty(len(keys), dtype=np.int64)
    first = []
    for i, k in enumerate(keys):
        j = ids.get(k)
        if j is None:
            j = ids[k] = len(ids)
            first.append(i)
        out[i] = j
    return out, np.asarray(first, dtype=np.int64)


def _keys(keys: Iterable, key: Callable[[Any], Hashable] | None, where: str) -> list:
    items = list(keys)
    if key is not None:
        items = [key(a) for a in items]
    try:
        for k in items:
            hash(k)
    except TypeError:
        raise AnalysisError(
            f"{where}: class keys must be hashable (got {type(k).__name__}); pass key=..."
        ) from None
    return [k.tolist() if isinstance(k, np.generic) else k for k in items]


def deduplicate(
    keys: Iterable,
    *arrays: Any,
    reduce: str = "mean",
    key: Callable[[Any], Hashable] | None = None,
) -> tuple[np.ndarray, ...]:
    """One value per class: ``arrays`` reduced over the candidates that share a key.

    Parameters
    ----------
    keys : iterable of hashable
        Class of each candidate, e.g. ``[a.unique_str() for a in archs]`` or NB101 module hashes.
    *arrays : array-like of float, shape (n,)
    reduce : {"mean", "first"}
        Class mean (NaN-aware: NaN only if every member is NaN) or the first member's value.
    key : callable, optional
        Applied to each element of ``keys`` first (e.g. ``key=Arch.unique_str``).

    Returns
    -------
    tuple of ndarray
        ``(first_index, *reduced)``: index of each class's first member, then each array reduced
        to one value per class, in order of first appearance.
    """
    where = "deduplicate"
    check_choice("reduce", reduce, ("mean", "first"), where)
    ks = _keys(keys, key, where)
    ids, first = _factorize(ks)
    out = [first]
    for i, a in enumerate(arrays):
        v = np.asarray(a, dtype=float)
        if v.shape != (len(ks),):
            raise AnalysisError(f"{where}: array {i} has shape {v.shape}, expected ({len(ks)},)")
        if reduce == "first":
            out.append(v[first])
        else:
            ok = ~np.isnan(v)
            s = np.bincount(ids[ok], weights=v[ok], minlength=first.size)
            c = np.bincount(ids[ok], minlength=first.size)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(np.where(c > 0, s / np.maximum(c, 1), np.nan))
    return tuple(out)


def duplicate_audit(
    keys: Iterable,
    *,
    y_true: Any = None,
    y_score: Any = None,
    key: Callable[[Any], Hashable] | None = None,
    nan_policy: str = "raise",
) -> DuplicateAudit:
    """Count the distinct classes among candidates; optionally show how repeats move tau.

    Parameters
    ----------
    keys : iterable of hashable
        Class of each candidate (isomorphism key, module hash, arch string ...).
    y_true, y_score : array-like of float, optional
        If both are given, ``tau_all`` (all candidates) and ``tau_distinct`` (class means) are
        filled in, and ``score_spread`` tells whether one class got different scores.
    key : callable, optional
        Applied to each element of ``keys`` first.
    nan_policy : {"raise", "omit"}
        For the two taus.

    Examples
    --------
    >>> a = duplicate_audit(["x", "y", "x", "z", "x"])
    >>> a.n, a.n_distinct, a.largest_class, a.class_sizes
    (5, 3, 3, {1: 2, 3: 1})
    """
    where = "duplicate_audit"
    ks = _keys(keys, key, where)
    if not ks:
        raise AnalysisError(f"{where}: no candidates")
    ids, first = _factorize(ks)
    sizes = np.bincount(ids)
    size_counts = {int(s): int(c) for s, c in zip(*np.unique(sizes, return_counts=True))}
    tau_all = tau_distinct = spread = None
    if (y_true is None) != (y_score is None):
        raise AnalysisError(f"{where}: pass both y_true and y_score, or neither")
    if y_true is not None:
        t = np.asarray(y_true, dtype=float)
        s = np.asarray(y_score, dtype=float)
        if t.shape != (len(ks),) or s.shape != (len(ks),):
            raise AnalysisError(
                f"{where}: y_true and y_score must have one value per key ({len(ks)})"
            )
        tau_all = kendall_tau(t, s, nan_policy=nan_policy).statistic
        _, mt, ms = deduplicate(ks, t, s)
        tau_distinct = kendall_tau(mt, ms, nan_policy=nan_policy).statistic
        ok = ~np.isnan(s)
        hi = np.full(first.size, -np.inf)
        lo = np.full(first.size, np.inf)
        np.maximum.at(hi, ids[ok], s[ok])
        np.minimum.at(lo, ids[ok], s[ok])
        has = np.isfinite(hi) & np.isfinite(lo)
        spread = float((hi[has] - lo[has]).max()) if has.any() else 0.0
    return DuplicateAudit(
        n=len(ks),
        n_distinct=int(first.size),
        n_redundant=len(ks) - int(first.size),
        largest_class=int(sizes.max()),
        class_sizes=size_counts,
        class_ids=ids,
        first_index=first,
        tau_all=tau_all,
        tau_distinct=tau_distinct,
        score_spread=spread,
    )
