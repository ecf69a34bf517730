"""Depth-gap report on Yang et al.'s 32 architectures (8 vs 20 cells) and synthetic cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats as ss

from nasbench_tools.analysis import (
    AnalysisError,
    bootstrap_weights,
    depth_gap_report,
    depth_gap_table,
)

from .conftest import YANG_CELLS, YANG_SEEDS


@pytest.fixture
def yang():
    # function scope (0.2 s): mutation testing attributes tests to the code they run
    return depth_gap_report(
        YANG_CELLS[:, 0],
        YANG_CELLS[:, 1],
        names=("8 cells", "20 cells"),
        noise_b=(YANG_SEEDS[:, 0], YANG_SEEDS[:, 1]),
        n_boot=4000,
        seed=0,
    )


def test_yang_agreement_numbers(yang):
    # method_spec appendix A: tau-b 0.53550, rho 0.72841, r 0.74842; p = 1.8e-5
    assert yang.kendall_tau.value == pytest.approx(0.5355, abs=1e-4)
    assert yang.spearman_rho.value == pytest.approx(0.7284, abs=1e-4)
    assert yang.pearson_r.value == pytest.approx(0.7484, abs=1e-4)
    assert yang.kendall_pvalue == pytest.approx(1.8e-5, abs=0.1e-5)
    assert yang.n_used == 32
    # top-5 overlap 3/5, top-10 7/10
    assert yang.overlap[5] == pytest.approx(3.0) and yang.overlap[10] == pytest.approx(7.0)
    assert yang.p_at_k[10] == pytest.approx(0.7)
    assert sorted(yang.overlap) == [1, 4, 5, 10]  # default k: 1, 5, 10, ceil(0.1 n)


def test_yang_noise_floor_and_delta(yang):
    nf = yang.noise["20 cells"]
    assert nf.tau.value == pytest.approx(0.4760, abs=1e-4)
    assert nf.n_used == 32 and not nf.paired
    assert nf.tau.low == pytest.approx(0.263, abs=0.02) and nf.tau.high == pytest.approx(
        0.654, abs=0.02
    )
    d = yang.delta["20 cells"]
    assert d.value == pytest.approx(0.4760 - 0.5355, abs=2e-4)  # about -0.06
    assert d.low < 0 < d.high
    assert yang.significant == {"20 cells": False}
    assert yang.kendall_tau.low == pytest.approx(0.330, abs=0.02)
    assert yang.kendall_tau.high == pytest.approx(0.705, abs=0.02)


def test_yang_rank_and_shift_numbers(yang):
    x, y = YANG_CELLS[:, 0], YANG_CELLS[:, 1]
    ra, rb = ss.rankdata(-x), ss.rankdata(-y)
    assert yang.rank_shift_mean == pytest.approx(np.abs(ra - rb).mean())
    assert yang.rank_shift_max == pytest.approx(np.abs(ra - rb).max())
    assert yang.shift_mean == pytest.approx(0.41, abs=0.005)  # spec 7.1: mean gain +0.41 pt
    assert yang.shift_sd == pytest.approx(np.std(y - x, ddof=1))
    slope, intercept = np.polyfit(x, y, 1)
    assert (yang.slope, yang.intercept) == pytest.approx((slope, intercept))
    # 377 concordant, 113 discordant of 496 pairs (3 + 3 tied)
    assert yang.discordant_fraction == pytest.approx(113 / 496)
    assert yang.concordant_fraction == pytest.approx(377 / 496)


def test_summary_table(yang):
    df = depth_gap_table(yang)
    assert df.loc["tau-b (8 cells vs 20 cells)", "value"] == pytest.approx(0.5355, abs=1e-4)
    assert df.loc["depth gap beyond seed noise (20 cells)", "value"] == False  # noqa: E712


def test_seed_rows_give_paired_noise_floor(rng):
    n = 60
    true = rng.normal(size=n)
    a = np.vstack([true + 0.1 * rng.normal(size=n) for _ in range(2)])
    b = np.vstack([rng.permutation(true) + 0.1 * rng.normal(size=n) for _ in range(1)])
    b = np.vstack([b[0], b[0] + 0.1 * rng.normal(size=n)])
    r = depth_gap_report(a, b, n_boot=500, seed=1)
    assert set(r.noise) == {"a", "b"} and all(nf.paired for nf in r.noise.values())
    assert r.noise["a"].tau.value == pytest.approx(ss.kendalltau(a[0], a[1]).statistic)
    assert r.kendall_tau.value == pytest.approx(ss.kendalltau(a.mean(0), b.mean(0)).statistic)
    # b is a shuffled ranking: tau near 0, far below both noise floors -> significant
    assert r.significant == {"a": True, "b": True}


def test_proxy_columns(rng):
    n = 80
    a = rng.normal(size=n)
    b = a + 0.5 * rng.normal(size=n)
    proxy = a + 0.3 * rng.normal(size=n)
    r = depth_gap_report(a, b, proxy=proxy, n_boot=300, seed=0)
    assert r.proxy["tau_a"].value == pytest.approx(ss.kendalltau(a, proxy).statistic)
    assert r.proxy["tau_b"].value == pytest.approx(ss.kendalltau(b, proxy).statistic)
    d = r.proxy["difference"]
    assert d.value == pytest.approx(r.proxy["tau_b"].value - r.proxy["tau_a"].value)
    assert d.low <= d.value <= d.high


# --- BR@k direction and top-k overlap, against naive implementations ---------------------------


def _rank(values, i):
    """1-based rank of item i: 1 + the number of items strictly better."""
    return 1 + sum(1 for v in values if v > values[i])


def _top_k_draws(values, k):
    """Every equally likely top-k set under uniformly random tie-breaking at the k-th place."""
    kth = sorted(values, reverse=True)[k - 1]
    sure = [i for i, v in enumerate(values) if v > kth]
    tied = [i for i, v in enumerate(values) if v == kth]
    return [sure + list(c) for c in itertools.combinations(tied, k - len(sure))]


def naive_best_rank(search, evaluate, k):
    """Expected best rank at `evaluate` among the top k at `search` (exact, by enumeration)."""
    draws = _top_k_draws(list(search), k)
    return sum(min(_rank(list(evaluate), i) for i in d) for d in draws) / len(draws)


def naive_overlap(a, b, k):
    """Expected |top-k(a) & top-k(b)|, ties at both k-th places broken independently."""
    da, db = _top_k_draws(list(a), k), _top_k_draws(list(b), k)
    return sum(len(set(x) & set(y)) for x in da for y in db) / (len(da) * len(db))


def test_depth_gap_br_at_k_is_the_evaluation_rank_of_the_search_top_k(yang):
    # hand-checked on Yang et al.'s data: the best 8-cell architecture (96.99) reaches 97.36 at 20
    # cells, where only 97.39 and 97.37 are better: rank 3 of 32. The reverse reading (the best
    # 20-cell architecture looked up at 8 cells) gives rank 6, which the report used to print.
    x, y = YANG_CELLS[:, 0], YANG_CELLS[:, 1]
    assert yang.br_at_k[1] == (3.0, 3 / 32)
    assert naive_best_rank(y, x, 1) == 6.0  # the wrong direction, for the record
    for k, (rank, frac) in yang.br_at_k.items():
        assert rank == pytest.approx(naive_best_rank(x, y, k), abs=1e-12)
        assert frac == pytest.approx(rank / 32, abs=1e-12)
    assert yang.br_text(1) == "3 / 32"
    table = depth_gap_table(yang)
    assert table.loc["best 20 cells rank among the 8 cells top-1", "value"] == "3 / 32"
    assert table.loc["best 20 cells rank among the 8 cells top-10", "value"] == "1 / 32"


@pytest.mark.parametrize("trial", range(12))
def test_depth_gap_top_k_numbers_match_naive_with_ties(trial):
    r = np.random.default_rng(100 + trial)
    n = int(r.integers(6, 12))
    a = r.integers(0, 4, n).astype(float)  # many ties on both sides
    b = r.integers(0, 5, n).astype(float)
    a[:2], b[:2] = (0.0, 3.0), (4.0, 0.0)  # never constant
    rep = depth_gap_report(a, b, k=range(1, n + 1), n_boot=2, seed=0)
    for k in range(1, n + 1):
        assert rep.br_at_k[k][0] == pytest.approx(naive_best_rank(a, b, k), abs=1e-9), k
        assert rep.br_at_k[k][1] == pytest.approx(naive_best_rank(a, b, k) / n, abs=1e-9), k
        assert rep.overlap[k] == pytest.approx(naive_overlap(a, b, k), abs=1e-9), k
        assert rep.p_at_k[k] == pytest.approx(naive_overlap(a, b, k) / k, abs=1e-9), k


# --- the summary table --------------------------------------------------------------------------


def test_summary_rows_hold_the_report_fields(yang):
    e = yang
    a, b = "8 cells", "20 cells"

    def trio(name, est):
        return {name: est.value, f"{name} low": est.low, f"{name} high": est.high}

    nf, de = e.noise[b], e.delta[b]
    expected = {"n": 32}
    expected |= trio(f"tau-b ({a} vs {b})", e.kendall_tau)
    expected["tau-b p-value"] = e.kendall_pvalue
    expected |= trio("spearman rho", e.spearman_rho) | trio("pearson r", e.pearson_r)
    expected |= {f"top-{k} overlap": e.overlap[k] for k in (1, 4, 5, 10)}
    expected |= {
        f"best {b} rank among the {a} top-1": "3 / 32",
        f"best {b} rank among the {a} top-4": "3 / 32",
        f"best {b} rank among the {a} top-5": "3 / 32",
        f"best {b} rank among the {a} top-10": "1 / 32",
    }
    expected |= {
        "mean |rank change|": e.rank_shift_mean,
        "max |rank change|": e.rank_shift_max,
        "discordant pairs": e.discordant_fraction,
        f"mean shift ({b} - {a})": e.shift_mean,
        "sd shift": e.shift_sd,
        "slope": e.slope,
    }
    expected |= trio(f"seed tau-b ({b})", nf.tau) | trio(f"delta = seed tau - depth tau ({b})", de)
    expected[f"depth gap beyond seed noise ({b})"] = False
    assert e.summary() == expected
    assert list(e.summary()) == list(expected)  # row order of the table
    assert list(depth_gap_table(e)["value"]) == list(expected.values())


def test_summary_with_proxy_rows(rng):
    a = rng.normal(size=50)
    r = depth_gap_report(a, a + rng.normal(size=50), proxy=a + rng.normal(size=50), n_boot=50)
    s = r.summary()
    for key in ("tau_a", "tau_b", "difference"):
        est = r.proxy[key]
        assert (s[f"proxy {key}"], s[f"proxy {key} low"], s[f"proxy {key} high"]) == (
            est.value,
            est.low,
            est.high,
        )
    assert r.noise == {} and not any(q.startswith("seed tau") for q in s)


# --- rank displacement, shift and counts, hand-checked -----------------------------------------


def test_rank_displacement_and_shift_hand_checked():
    r = depth_gap_report([3.0, 2.0, 1.0, 0.0], [0.0, 2.0, 1.0, 3.0], n_boot=5)
    # ranks at a: 1 2 3 4; at b: 4 2 3 1 -> |changes| 3 0 0 3
    assert (r.rank_shift_mean, r.rank_shift_max) == (1.5, 3.0)
    # b - a: -3 0 0 3 -> mean 0, sd sqrt(18 / 3)
    assert r.shift_mean == 0.0 and r.shift_sd == pytest.approx(np.sqrt(6.0))
    # pairs: (1,2) d, (1,3) d, (1,4) d, (2,3) c, (2,4) d, (3,4) d -> 1 concordant, 5 discordant
    assert (r.concordant_fraction, r.discordant_fraction) == (1 / 6, 5 / 6)
    slope, intercept = np.polyfit([3.0, 2, 1, 0], [0.0, 2, 1, 3], 1)
    assert (r.slope, r.intercept) == pytest.approx((slope, intercept))
    ties = depth_gap_report([1.0, 1.0, 0.0, 2.0], [0.0, 1.0, 1.0, 2.0], n_boot=5)
    # ranks a: 2.5 2.5 4 1; b: 4 2.5 2.5 1 -> |changes| 1.5 0 1.5 0
    assert (ties.rank_shift_mean, ties.rank_shift_max) == (0.75, 1.5)
    assert ties.n_used == 4 and ties.n_omitted == 0


def test_default_k_sizes():
    def ks(n):
        a = np.arange(n, dtype=float)
        return tuple(depth_gap_report(a, a[::-1].copy(), n_boot=2).overlap)

    assert ks(3) == (1,)
    assert ks(10) == (1, 5, 10)
    assert ks(32) == (1, 4, 5, 10)
    assert ks(200) == (1, 5, 10, 20)


# --- inputs and errors --------------------------------------------------------------------------


def test_seed_rows_are_averaged_and_one_row_has_no_noise_floor():
    a = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    b = np.array([2.0, 1.0, 3.0, 5.0, 4.0])
    one_row = depth_gap_report(a, b, n_boot=20)
    flat = depth_gap_report(a[0], b, n_boot=20)
    assert one_row.noise == {} and one_row.kendall_tau == flat.kendall_tau
    rows = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 2.0, 1.0, 4.0, 6.0]])
    two = depth_gap_report(rows, b, n_boot=20, names=("a8", "b20"))
    assert two.kendall_tau.value == pytest.approx(ss.kendalltau(rows.mean(0), b).statistic)
    assert list(two.noise) == ["a8"] and two.noise["a8"].paired
    assert two.noise["a8"].tau.value == pytest.approx(ss.kendalltau(rows[0], rows[1]).statistic)


def test_depth_gap_errors_name_the_function_and_argument():
    x, y = YANG_CELLS[:, 0], YANG_CELLS[:, 1]
    cases = [
        (dict(acc_a=x, acc_b=x[:-1]), "inputs differ in length"),
        (dict(n_boot=0), "n_boot must be >= 1"),
        (dict(confidence=1.5), "confidence must lie strictly between 0 and 1"),
        (dict(method="bca"), "method='bca' is not one of"),
        (dict(names=("a", "b", "c")), "names must be two labels"),
        (dict(noise_a=x), "noise_a must be a pair"),
        (dict(noise_b=5), "noise_b must be a pair"),
        (dict(k=(5, 100)), "k=100 must lie in 1..32"),
        (dict(seed=None), "resampling needs an explicit seed"),
        (dict(nan_policy="drop"), "nan_policy='drop' is not one of"),
        (dict(acc_a=np.ones((2, 2, 32))), r"acc_a must be 1-D \(n,\) or 2-D"),
        (dict(acc_b=np.ones((0, 32))), r"acc_b must be 1-D \(n,\) or 2-D"),
        (dict(acc_a=3.0), r"acc_a must be 1-D"),
        (dict(acc_a=[["x"] * 32, ["y"] * 32]), "acc_a must be numeric"),
        (dict(acc_a=np.ones((2, 0)), acc_b=np.ones((2, 0))), "at least 3 valid pairs, got 0"),
        (dict(acc_a=x[:2], acc_b=y[:2]), "needs at least 3 valid pairs, got 2"),
        (dict(acc_b=np.r_[y[:-1], np.inf]), "acc_b holds infinite values"),
        (dict(acc_b=np.r_[y[:-1], np.nan]), "nan_policy='raise'"),
        (dict(noise_b=(x[:2], y[:2])), r" \(b noise\): needs at least 3 valid pairs, got 2"),
        (dict(noise_b=(np.r_[x[:-1], np.nan], y)), r"\(b noise\): 1 position.*seed_x 1"),
        (dict(noise_b=(x, np.r_[np.nan, y[1:]])), r"\(b noise\): 1 position.*seed_y 1"),
    ]
    for kw, message in cases:
        args = {"acc_a": x, "acc_b": y} | kw
        acc_a, acc_b = args.pop("acc_a"), args.pop("acc_b")
        with pytest.raises(AnalysisError, match=r"^depth_gap_report.*" + message):
            depth_gap_report(acc_a, acc_b, **args)


def test_nan_policy_omit_drops_pairs(rng):
    a = rng.normal(size=40)
    b = a + rng.normal(size=40)
    b_nan = b.copy()
    b_nan[[3, 7]] = np.nan
    r = depth_gap_report(a, b_nan, n_boot=30, nan_policy="omit")
    keep = ~np.isnan(b_nan)
    clean = depth_gap_report(a[keep], b[keep], n_boot=30)
    assert (r.n_used, r.n_omitted) == (38, 2)
    assert r.kendall_tau == clean.kendall_tau and r.br_at_k == clean.br_at_k
    # unpaired noise seeds with a NaN: dropped under "omit" too
    s1 = rng.normal(size=20)
    s2 = s1 + rng.normal(size=20)
    s2[0] = np.nan
    nf = depth_gap_report(a, b, noise_b=(s1, s2), n_boot=30, nan_policy="omit").noise["b"]
    assert nf.n_used == 19 and not nf.paired and nf.label == "b"
    assert nf.tau.value == pytest.approx(ss.kendalltau(s1[1:], s2[1:]).statistic)
    three = depth_gap_report(a[:3], b[:3], noise_b=(s1[1:4], s2[1:4]), n_boot=30)
    assert three.n_used == 3 and three.noise["b"].n_used == 3


# --- resampling: pairing, intervals, records ---------------------------------------------------


def _materialise(n, n_boot, rng):
    return [np.repeat(np.arange(n), c) for w in bootstrap_weights(n, n_boot, rng) for c in w.T]


def _tau(a, b):
    if np.unique(a).size < 2 or np.unique(b).size < 2:
        return np.nan
    return ss.kendalltau(a, b).statistic


def test_paired_noise_shares_the_depth_resamples(rng):
    n, n_boot = 30, 80
    a = rng.normal(size=n)
    b = a + rng.normal(size=n)
    s1, s2 = b + 0.5 * rng.normal(size=n), b + 0.5 * rng.normal(size=n)
    r = depth_gap_report(a, b, noise_b=(s1, s2), noise_paired=True, n_boot=n_boot, seed=3)
    idx = _materialise(n, n_boot, np.random.default_rng(3))
    depth = np.array([_tau(a[i], b[i]) for i in idx])
    noise = np.array([_tau(s1[i], s2[i]) for i in idx])
    np.testing.assert_allclose(r.replicates["tau"], depth, atol=1e-12)
    np.testing.assert_allclose(r.replicates["noise:b"], noise, atol=1e-12)
    assert set(r.replicates) == {"tau", "noise:b"}
    nf = r.noise["b"]
    assert nf.paired and nf.n_used == n and nf.label == "b"
    assert (nf.tau.low, nf.tau.high) == pytest.approx(tuple(np.quantile(noise, [0.025, 0.975])))
    diff = noise - depth
    assert r.delta["b"].value == pytest.approx(nf.tau.value - r.kendall_tau.value)
    assert (r.delta["b"].low, r.delta["b"].high) == pytest.approx(
        tuple(np.quantile(diff, [0.025, 0.975]))
    )
    assert r.significant["b"] == bool(np.quantile(diff, 0.025) > 0 or np.quantile(diff, 0.975) < 0)


def test_unpaired_noise_is_resampled_on_its_own(yang):
    # Yang's seed pairs are other architectures: drawn after the depth resamples, same generator
    g = np.random.default_rng(0)
    depth_idx = _materialise(32, 4000, g)
    noise_idx = _materialise(32, 4000, g)
    x, y = YANG_CELLS[:, 0], YANG_CELLS[:, 1]
    s1, s2 = YANG_SEEDS[:, 0], YANG_SEEDS[:, 1]
    depth = np.array([_tau(x[i], y[i]) for i in depth_idx[:300]])
    noise = np.array([_tau(s1[i], s2[i]) for i in noise_idx[:300]])
    np.testing.assert_allclose(yang.replicates["tau"][:300], depth, atol=1e-12)
    np.testing.assert_allclose(yang.replicates["noise:20 cells"][:300], noise, atol=1e-12)
    assert yang.kendall_tau.n_valid == yang.kendall_tau.n_boot == 4000


def test_basic_interval_and_records(rng):
    a = rng.normal(size=25)
    b = a + rng.normal(size=25)
    s1, s2 = rng.normal(size=25), rng.normal(size=25)
    pct = depth_gap_report(a, b, noise_b=(s1, s2), proxy=a + b, n_boot=200, seed=5)
    basic = depth_gap_report(
        a, b, noise_b=(s1, s2), proxy=a + b, n_boot=200, seed=5, method="basic", confidence=0.9
    )
    q = np.quantile(basic.replicates["tau"], [0.05, 0.95])
    t = basic.kendall_tau.value
    assert (basic.kendall_tau.low, basic.kendall_tau.high) == pytest.approx(
        (2 * t - q[1], 2 * t - q[0])
    )
    qn = np.quantile(basic.replicates["noise:b"], [0.05, 0.95])
    tn = basic.noise["b"].tau.value
    assert (basic.noise["b"].tau.low, basic.noise["b"].tau.high) == pytest.approx(
        (2 * tn - qn[1], 2 * tn - qn[0])
    )
    assert (basic.ci_method, basic.confidence, basic.n_boot) == ("basic", 0.9, 200)
    assert (pct.ci_method, pct.confidence, pct.seed) == ("percentile", 0.95, 5)
    assert basic.proxy["tau_a"].low != pct.proxy["tau_a"].low
    default = depth_gap_report(a, b, noise_b=(s1, s2), proxy=a + b, n_boot=200)
    same = depth_gap_report(a, b, noise_b=(s1, s2), proxy=a + b, n_boot=200, seed=0)
    assert default.seed == 0 and default.kendall_tau == same.kendall_tau
    assert default.noise["b"].tau == same.noise["b"].tau
    g = depth_gap_report(a, b, n_boot=20, seed=np.random.default_rng(0))
    assert g.seed == "Generator" and g.proxy is None


def test_identical_settings_are_no_depth_gap():
    # tau = 1 at both settings and between seeds in every resample: delta is exactly [0, 0]
    a = np.arange(12.0)
    r = depth_gap_report(a, a.copy(), noise_a=(a, a.copy()), noise_paired=True, n_boot=50)
    d = r.delta["a"]
    assert (d.value, d.low, d.high) == (0.0, 0.0, 0.0)
    assert r.significant == {"a": False}
    assert r.noise["a"].paired and r.noise["a"].n_used == 12


def test_the_interval_method_reaches_every_estimate(rng):
    """Every interval of the report honours ``method``: with the same seed (same replicates) and
    confidence, each "basic" interval is its percentile interval reflected about the value."""
    a = rng.normal(size=30)
    b = a + rng.normal(size=30)
    s1, s2 = rng.normal(size=30), rng.normal(size=30)
    kw = dict(noise_b=(s1, s2), proxy=a + 0.5 * b, n_boot=200, seed=3, confidence=0.9)
    pct = depth_gap_report(a, b, method="percentile", **kw)
    basic = depth_gap_report(a, b, method="basic", **kw)

    def pairs(r):
        return {
            "kendall_tau": r.kendall_tau,
            "spearman_rho": r.spearman_rho,
            "pearson_r": r.pearson_r,
            "delta b": r.delta["b"],
            **{f"proxy {k}": e for k, e in r.proxy.items()},
        }

    p, q = pairs(pct), pairs(basic)
    for name, e in p.items():
        f = q[name]
        assert f.value == e.value, name
        assert (f.low, f.high) == pytest.approx((2 * e.value - e.high, 2 * e.value - e.low)), name
        assert (f.low, f.high) != pytest.approx((e.low, e.high)), name  # not symmetric by chance
