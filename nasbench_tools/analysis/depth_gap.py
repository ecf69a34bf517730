"""Depth-gap report: do rankings at the search depth (or fidelity) hold at the evaluation depth?

The same architectures are scored twice (e.g. trained with 8 and with 20 cells, or for 12 and
200 epochs). The report gives the rank agreement (tau-b, rho, r, top-k overlap, BR@k, rank
displacement, discordant pairs), the accuracy shift, and, always beside them, the **seed-noise
floor**: the agreement of one setting with itself across seeds (tau between two single seeds).
A depth gap is only reported as significant when the bootstrap interval of
``tau_noise - tau_depth`` excludes 0.

BR@k reads in the search direction: the architectures ranked in the top k at setting a (the
search depth) are looked up at setting b (the evaluation depth), and the best of their ranks
there is reported (1-based, out of ``n_used``; ties at a at the k-th place give the expectation
over random tie-breaking, ties at b share the better rank).

On Yang et al.'s 32 architectures (8 vs 20 cells, appendix A of the method spec) tau-b is 0.5355
and the seed-to-seed tau-b at 20 cells is 0.4760: the depth change moves the ranking no more than
retraining with another seed does, and the interval of the difference contains 0. The best
8-cell architecture ranks 3rd of 32 at 20 cells (BR@1 = 3 / 32).

When ``acc_a``/``acc_b`` have several seed rows, tau_depth is computed between seed means while
the noise floor is between two single seeds; a mean is less noisy than one seed, so tau_depth can
then exceed the noise floor without the depths agreeing better than seeds do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import AnalysisError
from ._common import (
    check_choice,
    check_confidence,
    check_ks,
    check_n_boot,
    prepare,
    rng_from,
    seed_label,
)
from .bootstrap import (
    CI_METHODS,
    DEFAULT_N_BOOT,
    PairStats,
    Request,
    estimate,
    point_values,
    replicates,
)
from .ranking import kendall_tau
from .results import Estimate, format_rank

__all__ = ["DepthGapReport", "NoiseFloor", "depth_gap_report"]


@dataclass(frozen=True)
class NoiseFloor:
    """Kendall tau-b between two single seeds of one setting, with its bootstrap interval.

    The agreement of a setting with itself across seeds: a depth gap counts only beyond it.
    """

    label: str
    tau: Estimate
    n_used: int
    paired: bool


@dataclass(frozen=True)
class DepthGapReport:
    """Rank agreement between two depths or fidelities, next to the seed-noise floor.

    Attributes
    ----------
    names : (str, str)
        Labels of setting a (search) and b (evaluation).
    kendall_tau, spearman_rho, pearson_r : Estimate
        Between the (seed-averaged) accuracies at a and at b, with bootstrap intervals.
    kendall_pvalue : float
    p_at_k : dict
        ``{k: P@topK}``, the a-top-k against the b-top-k (expected under random tie-breaking).
    overlap : dict
        ``{k: k * P@topK}``: expected number of shared architectures.
    br_at_k : dict
        ``{k: (rank, fraction)}``: the best rank at b (evaluation) among the k best architectures
        at a (search), 1-based and as a fraction of ``n_used``. :meth:`br_text` prints it as
        ``"3 / 32"``.
    rank_shift_mean, rank_shift_max : float
        Mean and largest ``|rank_a - rank_b|`` (average ranks).
    discordant_fraction, concordant_fraction : float
        Shares of the ``n(n-1)/2`` pairs ordered differently / alike (ties in neither).
    shift_mean, shift_sd : float
        Mean and standard deviation (ddof=1) of ``acc_b - acc_a``.
    slope, intercept : float
        Least-squares fit ``acc_b ~ slope * acc_a + intercept``.
    noise : dict
        ``{label: NoiseFloor}`` for every seed pair given.
    delta : dict
        ``{label: Estimate}`` of ``tau_noise - tau_depth``.
    significant : dict
        ``{label: bool}``: the interval of ``delta`` excludes 0 (a depth gap beyond seed noise).
    proxy : dict or None
        With a proxy: ``{"tau_a": Estimate, "tau_b": Estimate, "difference": Estimate}``
        (tau of the proxy against a and against b; the difference is paired).
    """

    names: tuple[str, str]
    n_used: int
    n_omitted: int
    kendall_tau: Estimate
    kendall_pvalue: float
    spearman_rho: Estimate
    pearson_r: Estimate
    p_at_k: dict[int, float]
    overlap: dict[int, float]
    br_at_k: dict[int, tuple[float, float]]
    rank_shift_mean: float
    rank_shift_max: float
    discordant_fraction: float
    concordant_fraction: float
    shift_mean: float
    shift_sd: float
    slope: float
    intercept: float
    noise: dict[str, NoiseFloor]
    delta: dict[str, Estimate]
    significant: dict[str, bool]
    proxy: dict[str, Estimate] | None
    n_boot: int
    confidence: float
    ci_method: str
    seed: int | str | None
    replicates: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def br_text(self, k: int) -> str:
        """BR@k as a rank with its denominator, e.g. ``"3 / 32"``."""
        return format_rank(self.br_at_k[k][0], self.n_used)

    def summary(self) -> dict[str, Any]:
        """Flat ``{row: value}`` for a table (see :func:`nasbench_tools.analysis.depth_gap_table`).

        BR@k rows hold the rank as text with its denominator (``"3 / 32"``); an estimate whose
        bootstrap had undefined resamples gets a ``valid resamples`` row beside it.
        """
        a, b = self.names
        d: dict[str, Any] = {"n": self.n_used}

        def put(name: str, e: Estimate) -> None:
            d[name] = e.value
            d[f"{name} low"] = e.low
            d[f"{name} high"] = e.high
            if e.n_invalid:
                d[f"{name} valid resamples"] = f"{e.n_valid} of {e.n_boot}"

        put(f"tau-b ({a} vs {b})", self.kendall_tau)
        d["tau-b p-value"] = self.kendall_pvalue
        put("spearman rho", self.spearman_rho)
        put("pearson r", self.pearson_r)
        for k, v in self.overlap.items():
            d[f"top-{k} overlap"] = v
        for k in self.br_at_k:
            d[f"best {b} rank among the {a} top-{k}"] = self.br_text(k)
        d["mean |rank change|"] = self.rank_shift_mean
        d["max |rank change|"] = self.rank_shift_max
        d["discordant pairs"] = self.discordant_fraction
        d[f"mean shift ({b} - {a})"] = self.shift_mean
        d["sd shift"] = self.shift_sd
        d["slope"] = self.slope
        for label, nf in self.noise.items():
            put(f"seed tau-b ({label})", nf.tau)
            put(f"delta = seed tau - depth tau ({label})", self.delta[label])
            d[f"depth gap beyond seed noise ({label})"] = self.significant[label]
        if self.proxy:
            for key, e in self.proxy.items():
                put(f"proxy {key}", e)
        return d


def _settings(acc: Any, name: str, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(per-arch value, per-seed rows or None)`` from a 1-D or (n_seeds, n) input."""
    try:
        a = np.asarray(acc, dtype=float)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(f"{where}: {name} must be numeric ({exc})") from None
    if a.ndim == 1:
        return a, None
    if a.ndim == 2 and a.shape[0] >= 1:
        return a.mean(axis=0), (a if a.shape[0] >= 2 else None)
    raise AnalysisError(
        f"{where}: {name} must be 1-D (n,) or 2-D (n_seeds, n), got shape {a.shape}"
    )


def _pair_arg(p: Any, label: str, where: str) -> tuple[Any, Any] | None:
    """The two seeds of a ``noise_*`` argument (converted and checked later, with the rest)."""
    if p is None:
        return None
    try:
        s1, s2 = p
    except (TypeError, ValueError):
        raise AnalysisError(f"{where}: {label} must be a pair (seed_x, seed_y) of arrays") from None
    return s1, s2


def depth_gap_report(
    acc_a: Any,
    acc_b: Any,
    *,
    names: Sequence[str] = ("a", "b"),
    noise_a: Any = None,
    noise_b: Any = None,
    noise_paired: bool = False,
    proxy: Any = None,
    k: Sequence[int] | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = 0.95,
    method: str = "percentile",
    seed: int | np.random.Generator = 0,
    nan_policy: str = "raise",
) -> DepthGapReport:
    """Rank agreement of the same architectures at two depths/fidelities, with the noise floor.

    Parameters
    ----------
    acc_a, acc_b : array-like, shape (n,) or (n_seeds, n)
        Accuracies at setting a (search depth) and b (evaluation depth); rows are seeds, which
        are averaged. With two or more rows (and no ``noise_*`` given) the seeds also give that
        setting's noise floor.
    names : (str, str)
        Labels, e.g. ``("8 cells", "20 cells")``.
    noise_a, noise_b : (array, array), optional
        Two seeds of setting a / b. They may be other architectures than ``acc_a``/``acc_b``
        (Yang et al.'s seed pairs are): then they are resampled independently.
    noise_paired : bool
        The given noise pairs cover the same architectures, in the same order, as ``acc_a``:
        resample them jointly (a tighter interval for the difference).
    proxy : array-like, shape (n,), optional
        A proxy computed at setting a (e.g. a supernet score): adds tau against a and against
        b and their paired difference, separating the proxy's error from the depth gap.
    k : sequence of int, optional
        Top-k sizes; default ``(1, 5, 10, ceil(0.1 n))`` (those <= n).
    n_boot : int
        Resamples (default 1000). Must be >= 1: the report is about intervals.
    confidence, method, seed, nan_policy
        As :func:`nasbench_tools.analysis.bootstrap_ci`.

    Returns
    -------
    DepthGapReport
    """
    where = "depth_gap_report"
    n_boot = check_n_boot(n_boot, where, allow_zero=False)
    confidence = check_confidence(confidence, where)
    check_choice("method", method, CI_METHODS, where)
    inp = _inputs(acc_a, acc_b, names, noise_a, noise_b, noise_paired, proxy, k, nan_policy, where)
    rng = rng_from(seed, where)
    depth = PairStats(inp.x, inp.y)
    est = _point_estimates(depth, inp)
    joint = _joint_replicates(depth, inp, n_boot, rng)
    floors, noise_reps = _noise_floors(inp, joint, n_boot, rng, confidence, method, nan_policy)
    depth_reps = joint["depth"]
    tau_e = estimate(est[_TAU], depth_reps[_TAU], confidence, method)
    # the depth gap beyond seed noise: tau_noise - tau_depth, over the same resamples
    delta = {
        label: estimate(
            nf.tau.value - tau_e.value, noise_reps[label] - depth_reps[_TAU], confidence, method
        )
        for label, nf in floors.items()
    }
    return DepthGapReport(
        names=inp.names,
        n_used=inp.x.size,
        n_omitted=inp.n_omitted,
        kendall_tau=tau_e,
        spearman_rho=estimate(est["spearman_rho"], depth_reps["spearman_rho"], confidence, method),
        pearson_r=estimate(est["pearson_r"], depth_reps["pearson_r"], confidence, method),
        **_top_k_fields(est, inp),
        **_shift_fields(depth, inp.x, inp.y),
        noise=floors,
        delta=delta,
        significant={label: bool(de.low > 0 or de.high < 0) for label, de in delta.items()},
        proxy=_proxy_taus(inp, joint, confidence, method),
        n_boot=n_boot,
        confidence=confidence,
        ci_method=method,
        seed=seed_label(seed),
        replicates={
            "tau": depth_reps[_TAU],
            **{f"noise:{k_}": r for k_, r in noise_reps.items()},
        },
    )


#: Label of Kendall tau-b in the bootstrap engine.
_TAU = "kendall_tau_b"


@dataclass(frozen=True)
class _Inputs:
    """The checked inputs: the setting labels, the (seed-mean) accuracies ``x`` (setting a) and
    ``y`` (setting b) and the proxy on the pairs kept by the NaN policy, each setting's two noise
    seeds (``None`` if not given) and whether they are paired with ``x``/``y``, the K sizes."""

    names: tuple[str, str]
    x: np.ndarray
    y: np.ndarray
    proxy: np.ndarray | None
    noise: dict[str, tuple[Any, Any] | None]
    paired: dict[str, bool]
    n_omitted: int
    ks: tuple[int, ...]


def _inputs(
    acc_a, acc_b, names, noise_a, noise_b, noise_paired, proxy, k, nan_policy, where
) -> _Inputs:
    """Check the arguments, take the seed noise from seed rows where not given, and drop the
    pairs the NaN policy drops (from every paired vector at once)."""
    names = tuple(str(s) for s in names)
    if len(names) != 2:
        raise AnalysisError(f"{where}: names must be two labels, got {names!r}")
    a_mean, a_seeds = _settings(acc_a, "acc_a", where)
    b_mean, b_seeds = _settings(acc_b, "acc_b", where)
    cols = {"acc_a": a_mean, "acc_b": b_mean}
    if proxy is not None:
        cols["proxy"] = proxy
    noise_in = {
        names[0]: _pair_arg(noise_a, "noise_a", where),
        names[1]: _pair_arg(noise_b, "noise_b", where),
    }
    paired = dict.fromkeys(noise_in, bool(noise_paired))
    for label, seeds in ((names[0], a_seeds), (names[1], b_seeds)):
        if noise_in[label] is None and seeds is not None:
            noise_in[label] = (seeds[0], seeds[1])
            paired[label] = True
    for label, pr in noise_in.items():
        if pr is not None and paired[label]:
            cols[f"noise:{label}:0"], cols[f"noise:{label}:1"] = pr
    vecs, n_omitted = prepare(cols, where=where, nan_policy=nan_policy, min_n=3, finite=True)
    v = dict(zip(cols, vecs))
    for label, pr in noise_in.items():
        if pr is not None and paired[label]:
            noise_in[label] = (v[f"noise:{label}:0"], v[f"noise:{label}:1"])
    n = v["acc_a"].size
    if k is None:
        ks = tuple(sorted({kk for kk in (1, 5, 10, math.ceil(0.1 * n)) if kk <= n}))
    else:
        ks = check_ks(tuple(k), n, where)
    return _Inputs(names, v["acc_a"], v["acc_b"], v.get("proxy"), noise_in, paired, n_omitted, ks)


def _point_estimates(depth: PairStats, inp: _Inputs) -> dict[str, float]:
    """tau-b, rho and r between the settings; P@topK and BR@K with the top-k sets taken at a
    (the search setting, the "score" role) and ranked at b (the "truth" role)."""
    reqs = [Request("kendall_tau"), Request("spearman_rho"), Request("pearson_r")]
    est = point_values(depth, reqs)
    topk_reqs = [Request("p_at_top_k", kk) for kk in inp.ks]
    topk_reqs += [Request("br_rank_at_k", kk) for kk in inp.ks]
    est.update(point_values(PairStats(inp.y, inp.x), topk_reqs))
    return est


def _joint_replicates(
    depth: PairStats, inp: _Inputs, n_boot: int, rng: np.random.Generator
) -> dict[str, dict[str, np.ndarray]]:
    """Replicates of everything on the same architectures, over the same resamples: the depth
    pair (tau, rho, r), the proxy against a and against b, and each paired noise floor."""
    tau = [Request("kendall_tau")]
    structures = [depth]
    requests = [[Request("kendall_tau"), Request("spearman_rho"), Request("pearson_r")]]
    tags = ["depth"]
    if inp.proxy is not None:
        structures += [PairStats(inp.x, inp.proxy), PairStats(inp.y, inp.proxy)]
        requests += [tau, tau]
        tags += ["proxy_a", "proxy_b"]
    for label, pr in inp.noise.items():
        if pr is not None and inp.paired[label]:
            structures.append(PairStats(*pr))
            requests.append(tau)
            tags.append(f"noise:{label}")
    return dict(zip(tags, replicates(structures, requests, inp.x.size, n_boot, rng)))


def _noise_floors(
    inp: _Inputs,
    joint: dict[str, dict[str, np.ndarray]],
    n_boot: int,
    rng: np.random.Generator,
    confidence: float,
    method: str,
    nan_policy: str,
) -> tuple[dict[str, NoiseFloor], dict[str, np.ndarray]]:
    """Each setting's seed-vs-seed tau with its interval: paired noise from the joint
    replicates, unpaired noise resampled on its own (after the joint resamples, in setting
    order), and the replicates of each."""
    floors: dict[str, NoiseFloor] = {}
    reps_of: dict[str, np.ndarray] = {}
    for label, pr in inp.noise.items():
        if pr is None:
            continue
        if inp.paired[label]:
            s1, s2 = pr
            reps = joint[f"noise:{label}"][_TAU]
        else:
            (s1, s2), _ = prepare(
                {"seed_x": pr[0], "seed_y": pr[1]},
                where=f"depth_gap_report ({label} noise)",
                nan_policy=nan_policy,
                min_n=3,
            )
            ps = PairStats(s1, s2)
            reps = replicates([ps], [[Request("kendall_tau")]], s1.size, n_boot, rng)[0][_TAU]
        tau_nf = estimate(kendall_tau(s1, s2).statistic, reps, confidence, method)
        floors[label] = NoiseFloor(label, tau_nf, int(s1.size), inp.paired[label])
        reps_of[label] = reps
    return floors, reps_of


def _proxy_taus(
    inp: _Inputs, joint: dict[str, dict[str, np.ndarray]], confidence: float, method: str
) -> dict[str, Estimate] | None:
    """The proxy's tau against a and against b, and their paired difference (None without one)."""
    if inp.proxy is None:
        return None
    ta, tb = joint["proxy_a"][_TAU], joint["proxy_b"][_TAU]
    va = kendall_tau(inp.x, inp.proxy).statistic
    vb = kendall_tau(inp.y, inp.proxy).statistic
    return {
        "tau_a": estimate(va, ta, confidence, method),
        "tau_b": estimate(vb, tb, confidence, method),
        "difference": estimate(vb - va, tb - ta, confidence, method),
    }


def _top_k_fields(est: dict[str, float], inp: _Inputs) -> dict[str, dict]:
    """P@topK, the expected overlap ``k * P@topK`` and BR@k (rank, fraction) per k."""
    n = inp.x.size
    return {
        "p_at_k": {kk: est[f"p_at_top_k@{kk}"] for kk in inp.ks},
        "overlap": {kk: kk * est[f"p_at_top_k@{kk}"] for kk in inp.ks},
        "br_at_k": {
            kk: (est[f"br_rank_at_k@{kk}"], est[f"br_rank_at_k@{kk}"] / n) for kk in inp.ks
        },
    }


def _shift_fields(depth: PairStats, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Kendall p-value, rank displacement, (dis)concordant shares, accuracy shift and the
    least-squares line ``y ~ slope * x + intercept``."""
    from scipy.stats import kendalltau, rankdata

    counts = depth.compute(None, {"tau_counts"})
    n0 = float(counts["n_pairs"][0])
    # 1-based average ranks, best (largest) first
    shift = np.abs(rankdata(-x) - rankdata(-y))
    d = y - x
    slope, intercept = np.polyfit(x, y, 1)
    return {
        "kendall_pvalue": float(kendalltau(x, y).pvalue),
        "rank_shift_mean": float(shift.mean()),
        "rank_shift_max": float(shift.max()),
        "discordant_fraction": float(counts["n_discordant"][0]) / n0,
        "concordant_fraction": float(counts["n_concordant"][0]) / n0,
        "shift_mean": float(d.mean()),
        "shift_sd": float(d.std(ddof=1)),
        "slope": float(slope),
        "intercept": float(intercept),
    }
