"""Does proxy A rank better than proxy B? Paired bootstrap tests between every pair of proxies.

:func:`pairwise_tests` runs the paired bootstrap test of
:func:`~nasbench_tools.analysis.paired_bootstrap_test` for every pair of proxies (or each
against the best) on one ground truth, and corrects the p-values for the number of pairs
(Holm's step-down procedure by default, or Bonferroni).

Pairing. A pair is compared on the architectures both proxies scored (and the ground truth
has); each resample draws those architectures once and scores both proxies on it, so the
difference keeps the pairing. Pairs over the same architectures share their resamples, and the
resamples depend only on ``(seed, number of architectures, n_boot)``: with an int seed a pair's
replicates are exactly those of :func:`paired_bootstrap_test` with the same seed.

p-values. ``pvalue="normal"`` (default): two-sided, from the bootstrap standard error of the
difference, ``p = 2 Φ(-|Δ| / SE)``. ``pvalue="percentile"``: the bootstrap count of
:func:`paired_bootstrap_test` (two-sided), which cannot go below ``2 / (n_boot + 1)``; with
many pairs and a few hundred resamples that floor times the number of pairs is above any usual
level, which is why the normal form is the default. The interval of the difference is the
percentile interval either way.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
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
    PairStats,
    interval,
    make_request,
    point_values,
    replicates,
)

__all__ = [
    "CORRECTIONS",
    "PVALUES",
    "PairTest",
    "PairwiseComparison",
    "adjust_pvalues",
    "pairwise_tests",
]

#: Multiple-comparison corrections: Holm's step-down, Bonferroni, or none.
CORRECTIONS = ("holm", "bonferroni", "none")
#: How a pair's p-value is computed (see the module docstring).
PVALUES = ("normal", "percentile")


@dataclass(frozen=True)
class PairTest:
    """One tested pair: ``diff = metric(a) - metric(b)`` on the ``n`` architectures both
    scored, its percentile interval, bootstrap standard error, p-value, adjusted p-value and
    whether the adjusted p-value is below ``alpha``. ``skipped`` says why a pair was not
    tested (then the numbers are NaN)."""

    a: str
    b: str
    value_a: float
    value_b: float
    diff: float
    low: float
    high: float
    se: float
    p: float
    p_adjusted: float
    significant: bool
    n: int
    n_valid: int
    skipped: str = ""


@dataclass(frozen=True)
class PairwiseComparison:
    """Every pair's :class:`PairTest` and how they were computed (:func:`pairwise_tests`)."""

    metric: str
    names: list[str]
    tests: list[PairTest]
    pairs: str
    correction: str
    pvalue: str
    alpha: float
    n_boot: int
    confidence: float
    seed: int | str

    def test(self, a: str, b: str) -> PairTest:
        """The test of ``a`` against ``b`` (either order; the difference is ``a - b``)."""
        for t in self.tests:
            if (t.a, t.b) == (a, b):
                return t
            if (t.a, t.b) == (b, a):
                return PairTest(
                    a,
                    b,
                    t.value_b,
                    t.value_a,
                    -t.diff,
                    -t.high,
                    -t.low,
                    t.se,
                    t.p,
                    t.p_adjusted,
                    t.significant,
                    t.n,
                    t.n_valid,
                    t.skipped,
                )
        raise AnalysisError(f"PairwiseComparison: no test of {a!r} against {b!r}")

    def matrix(self, field: str = "diff") -> np.ndarray:
        """``(k, k)`` array over :attr:`names`: ``[i, j]`` is the test of ``names[i]`` against
        ``names[j]`` (``diff``, ``low``, ``high`` are oriented row minus column; ``p``,
        ``p_adjusted`` and ``significant`` are symmetric); NaN where no test was made."""
        k = len(self.names)
        out = np.full((k, k), np.nan)
        pos = {n: i for i, n in enumerate(self.names)}
        for t in self.tests:
            i, j = pos[t.a], pos[t.b]
            v = float(getattr(t, field))
            out[i, j] = v
            if field == "diff":
                out[j, i] = -v
            elif field == "low":
                out[j, i] = -t.high
            elif field == "high":
                out[j, i] = -t.low
            else:
                out[j, i] = v
        return out

    @property
    def n_tests(self) -> int:
        """Pairs tested (the ``m`` of the correction)."""
        return sum(1 for t in self.tests if not t.skipped)

    @property
    def description(self) -> str:
        """How the tests were made, in a sentence (for a caption)."""
        from .style import metric_label

        m = metric_label(self.metric, "text")
        which = "every pair of proxies" if self.pairs == "all" else "each proxy against the best"
        p = (
            "two-sided p from the bootstrap standard error of the difference (z = Δ / SE)"
            if self.pvalue == "normal"
            else "two-sided bootstrap p (the share of resampled differences on the other side "
            "of 0, with +1 correction)"
        )
        corr = {
            "holm": f"Holm's step-down correction over the {self.n_tests} pairs",
            "bonferroni": f"Bonferroni correction over the {self.n_tests} pairs",
            "none": "no multiple-comparison correction",
        }[self.correction]
        return (
            f"Paired bootstrap test of the difference in {m} for {which}, on the architectures "
            f"both scored ({self.n_boot} resamples, the same resamples for both proxies of a "
            f"pair; {int(self.confidence * 100)}% percentile interval of the difference); {p}; "
            f"{corr}; significant where the adjusted p < {self.alpha:g}."
        )

    def to_frame(self):
        """One row per pair (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame([t.__dict__ for t in self.tests])


def adjust_pvalues(p: Any, method: str = "holm") -> np.ndarray:
    """Family-wise adjusted p-values: ``"holm"`` (step-down: the i-th smallest times
    ``m - i + 1``, made monotone, capped at 1), ``"bonferroni"`` (times ``m``, capped) or
    ``"none"``. NaN entries are left out of ``m`` and stay NaN."""
    check_choice("method", method, CORRECTIONS, "adjust_pvalues")
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if not m:
        return out
    if method == "none":
        out[ok] = p[ok]
    elif method == "bonferroni":
        out[ok] = np.minimum(1.0, p[ok] * m)
    else:
        order = ok[np.argsort(p[ok], kind="stable")]
        scaled = p[order] * (m - np.arange(m))
        out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def pairwise_tests(
    y_true: Any,
    scores: Mapping[str, Any],
    metric: str = "kendall_tau",
    *,
    k: Any = None,
    variant: str = "b",
    pairs: str = "all",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
    pvalue: str = "normal",
    correction: str = "holm",
    alpha: float = 0.05,
    nan_policy: str = "omit",
) -> PairwiseComparison:
    """Paired bootstrap tests between proxies against one ground truth, corrected for the
    number of pairs.

    Parameters
    ----------
    y_true : array-like, shape (n,)
    scores : mapping name -> array-like (n,)
        At least two proxies, aligned with ``y_true`` (NaN = not scored).
    metric, k, variant
        A metric of :data:`~nasbench_tools.analysis.BOOTSTRAP_METRICS`; ``k`` for top-K
        metrics (a count, or ``"5%"`` of each pair's architectures).
    pairs : {"all", "best"}
        Every pair, or each proxy against the best one (the largest point value on the
        architectures it scored).
    n_boot, confidence, seed
        Resamples (at least 1), interval level, explicit seed.
    pvalue : {"normal", "percentile"}
        See the module docstring.
    correction : {"holm", "bonferroni", "none"}
    alpha : float
        Family-wise level for ``significant``.
    nan_policy : {"omit", "raise"}
        ``"omit"``: each pair on the architectures where the ground truth and both proxies
        have values.

    Returns
    -------
    PairwiseComparison
        Names in the order given (``"best"``: the best first). A pair with fewer than three
        shared architectures, or constant on them, is listed as skipped (with the reason) and
        left out of the correction.
    """
    where = "pairwise_tests"
    n_boot = check_n_boot(n_boot, where, allow_zero=False)
    confidence = check_confidence(confidence, where)
    _check_choices(metric, pairs, pvalue, correction, nan_policy, alpha, where)
    x, vecs = _vectors(y_true, scores, nan_policy, where)
    names = list(vecs)
    spec = BOOTSTRAP_METRICS[metric]
    if pairs == "best":
        names = _best_first(x, vecs, metric, k, variant, where)
        todo = [(names[0], b) for b in names[1:]]
    else:
        todo = list(itertools.combinations(names, 2))
    gen = seed if isinstance(seed, np.random.Generator) else None
    raw: dict[tuple[str, str], dict] = {}
    for mask, group in _by_pool(x, vecs, todo):
        rng = gen if gen is not None else rng_from(seed, where)
        opts = (spec, metric, k, variant, n_boot, rng, confidence, pvalue, where)
        raw.update(_test_group(x, vecs, mask, group, *opts))
    return PairwiseComparison(
        metric=spec.label(metric, k, variant),
        names=names,
        tests=_corrected(todo, raw, correction, alpha),
        pairs=pairs,
        correction=correction,
        pvalue=pvalue,
        alpha=float(alpha),
        n_boot=n_boot,
        confidence=confidence,
        seed=seed_label(seed),
    )


def _by_pool(x, vecs, todo) -> list[tuple[np.ndarray, list[tuple[str, str]]]]:
    """The pairs grouped by the architectures they share (a mask each): pairs over the same
    architectures share their resamples."""
    masks: dict[bytes, list[tuple[str, str]]] = {}
    keep = {}
    for a, b in todo:
        mask = ~(np.isnan(x) | np.isnan(vecs[a]) | np.isnan(vecs[b]))
        key = np.packbits(mask).tobytes()
        masks.setdefault(key, []).append((a, b))
        keep[key] = mask
    return [(keep[key], group) for key, group in masks.items()]


def _check_choices(metric, pairs, pvalue, correction, nan_policy, alpha, where) -> None:
    check_choice("metric", metric, tuple(BOOTSTRAP_METRICS), where)
    check_choice("pairs", pairs, ("all", "best"), where)
    check_choice("pvalue", pvalue, PVALUES, where)
    check_choice("correction", correction, CORRECTIONS, where)
    check_choice("nan_policy", nan_policy, ("omit", "raise"), where)
    if not isinstance(alpha, float | int) or isinstance(alpha, bool) or not 0 < alpha < 1:
        raise AnalysisError(f"{where}: alpha must be in (0, 1), got {alpha!r}")


def _vectors(y_true, scores, nan_policy, where) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The ground truth and every proxy as float vectors of one length (checked)."""
    if not isinstance(scores, Mapping) or len(scores) < 2:
        raise AnalysisError(f"{where}: scores must map at least two names to arrays")
    x = as_vector(y_true, "y_true", where)
    vecs = {str(name): as_vector(v, f"scores[{name!r}]", where) for name, v in scores.items()}
    for name, v in vecs.items():
        if v.size != x.size:
            raise AnalysisError(
                f"{where}: scores[{name!r}] has {v.size} values, y_true has {x.size}"
            )
        if nan_policy == "raise" and (np.isnan(v).any() or np.isnan(x).any()):
            prepare({"y_true": x, name: v}, where=where, nan_policy="raise")
    return x, vecs


def _corrected(todo, raw, correction, alpha) -> list[PairTest]:
    """The tests of ``todo`` with their p-values adjusted over the pairs tested."""
    adj = adjust_pvalues(np.array([raw[pr]["p"] for pr in todo], dtype=float), correction)
    return [
        PairTest(
            a=a,
            b=b,
            value_a=raw[(a, b)]["va"],
            value_b=raw[(a, b)]["vb"],
            diff=raw[(a, b)]["diff"],
            low=raw[(a, b)]["low"],
            high=raw[(a, b)]["high"],
            se=raw[(a, b)]["se"],
            p=raw[(a, b)]["p"],
            p_adjusted=float(pa),
            significant=bool(pa < alpha) if not np.isnan(pa) else False,
            n=raw[(a, b)]["n"],
            n_valid=raw[(a, b)]["n_valid"],
            skipped=raw[(a, b)]["skipped"],
        )
        for (a, b), pa in zip(todo, adj)
    ]


def _request(metric, k, variant, n, where):
    if isinstance(k, str):
        from .rank_summary import top_k_size

        k = top_k_size(k, n)
    return make_request(metric, k, variant, n, where)


def _best_first(x, vecs, metric, k, variant, where) -> list[str]:
    """Names sorted by their point value on the architectures each scored (best first)."""
    vals = {}
    for name, v in vecs.items():
        m = ~(np.isnan(x) | np.isnan(v))
        (xs, vs), _ = prepare({"y_true": x[m], name: v[m]}, where=where, min_n=3)
        req = _request(metric, k, variant, xs.size, where)
        vals[name] = point_values(PairStats(xs, vs), [req])[req.label]
    return sorted(vecs, key=lambda n: -vals[n])


def _test_group(
    x, vecs, mask, group, spec, metric, k, variant, n_boot, rng, confidence, pvalue, where
):
    """The pairs of ``group``, all over the architectures of ``mask``: one structure per proxy,
    replicates over the same resamples, differences per pair."""
    n = int(mask.sum())
    involved = list(dict.fromkeys(p for pr in group for p in pr))
    structs, bad = _structures(x, vecs, mask, involved, spec, where)
    if n < 3:
        bad = {name: f"only {n} shared architectures" for name in involved}
    ok = [p for p in involved if p not in bad]
    vals, reps = {}, {}
    if ok:
        req = _request(metric, k, variant, max(n, 3), where)
        vals = {p: point_values(structs[p], [req])[req.label] for p in ok}
        rs = replicates([structs[p] for p in ok], [[req]] * len(ok), n, n_boot, rng)
        reps = {p: r[req.label] for p, r in zip(ok, rs)}
    out: dict[tuple[str, str], dict] = {}
    for a, b in group:
        reason = bad.get(a) or bad.get(b)
        if reason:
            nan = float("nan")
            out[(a, b)] = dict(va=nan, vb=nan, diff=nan, low=nan, high=nan, se=nan, p=nan)
            out[(a, b)] |= dict(n=n, n_valid=0, skipped=reason)
        else:
            out[(a, b)] = _pair(vals[a], vals[b], reps[a] - reps[b], confidence, pvalue)
            out[(a, b)] |= dict(n=n, skipped="")
    return out


def _structures(x, vecs, mask, involved, spec, where) -> tuple[dict, dict]:
    """Each proxy's :class:`PairStats` on the architectures of ``mask``, or why it has none."""
    structs, bad = {}, {}
    for name in involved:
        try:
            (xs, vs), _ = prepare(
                {"y_true": x[mask], name: vecs[name][mask]},
                where=where,
                min_n=3,
                finite=spec.finite,
                nonconstant=spec.nonconstant,
            )
            structs[name] = PairStats(xs, vs)
        except AnalysisError as exc:
            bad[name] = str(exc).removeprefix(f"{where}: ")
    return structs, bad


def _pair(va: float, vb: float, diffs: np.ndarray, confidence: float, pvalue: str) -> dict:
    """One pair's difference, its percentile interval, standard error and p-value."""
    from scipy.stats import norm

    from .uncertainty import bootstrap_pvalue

    d = va - vb
    low, high, n_valid, se = interval(d, diffs, confidence, "percentile")
    if pvalue == "percentile":
        p = bootstrap_pvalue(diffs, "two-sided")
    elif not np.isfinite(se) or se == 0:
        p = 1.0 if d == 0 else 0.0
    else:
        p = float(2.0 * norm.sf(abs(d) / se))
    return dict(va=va, vb=vb, diff=d, low=low, high=high, se=se, p=p, n_valid=n_valid)
