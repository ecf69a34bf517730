"""rank_report: every number against the single-metric functions and scipy; speed."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as ss

from nasbench_tools.analysis import (
    AnalysisError,
    bootstrap_ci,
    br_at_k,
    kt_at_top_k,
    p_at_top_k,
    rank_report,
    rank_reports,
    rank_table,
)

PUBLISHED = {
    "nwot": 0.593,
    "jacov": 0.584,
    "params": 0.562,
    "synflow": 0.537,
    "flops": 0.520,
    "snip": 0.443,
    "plain": -0.174,
}


def test_report_numbers_match_the_single_functions(zc_cifar10):
    acc = zc_cifar10["val_accuracy_200"].to_numpy()
    s = zc_cifar10["synflow"].to_numpy()
    r = rank_report(acc, s, k=(10, 50), n_boot=100, seed=3)
    assert r.kendall_tau.value == pytest.approx(ss.kendalltau(acc, s).statistic, abs=1e-12)
    assert r.kendall_pvalue == pytest.approx(ss.kendalltau(acc, s).pvalue)
    assert r.spearman_rho.value == pytest.approx(ss.spearmanr(acc, s).statistic, abs=1e-12)
    assert r.pearson_r.value == pytest.approx(ss.pearsonr(acc, s).statistic, abs=1e-12)
    assert r.weighted_tau.value == pytest.approx(ss.weightedtau(acc, s).statistic, abs=1e-10)
    for k in (10, 50):
        assert r.p_at_top_k[k].value == pytest.approx(p_at_top_k(acc, s, k).statistic)
        assert r.br_at_k[k].value == pytest.approx(br_at_k(acc, s, k).statistic)
        assert r.kt_at_top_k[k] == pytest.approx(kt_at_top_k(acc, s, k).statistic)
    # intervals: same resamples as bootstrap_ci with the same seed
    b = bootstrap_ci(acc, s, "kendall_tau", n_boot=100, seed=3)
    assert (r.kendall_tau.low, r.kendall_tau.high) == pytest.approx((b.low, b.high))
    b = bootstrap_ci(acc, s, "br_at_k", k=10, n_boot=100, seed=3)
    assert (r.br_at_k[10].low, r.br_at_k[10].high) == pytest.approx((b.low, b.high))
    for e in (r.kendall_tau, r.spearman_rho, r.pearson_r, r.weighted_tau, r.p_at_top_k[10]):
        assert e.low <= e.value <= e.high
    assert (r.n_used, r.n_boot, r.seed, r.tau_variant, r.ties) == (724, 100, 3, "b", "expected")


def test_reports_and_table_for_all_zero_cost_proxies(zc_cifar10):
    acc = zc_cifar10["val_accuracy_200"]
    reps = rank_reports(acc, {p: zc_cifar10[p] for p in PUBLISHED}, n_boot=50, seed=0)
    for p, tau in PUBLISHED.items():
        assert reps[p].kendall_tau.value == pytest.approx(tau, abs=5e-4)
    df = rank_table(reps)
    assert list(df.index) == list(PUBLISHED)
    for col in (
        "n",
        "kendall_tau",
        "kendall_tau_low",
        "kendall_tau_high",
        "p_at_top_10",
        "br_at_100_high",
        "kt_at_top_50",
    ):
        assert col in df.columns
    assert df.loc["plain", "kendall_tau"] < 0  # signed


def test_report_without_bootstrap_needs_no_seed():
    r = rank_report([1, 2, 3, 4, 5], [2, 1, 3, 5, 4], k=(2,), n_boot=0, seed=None)
    assert r.kendall_tau.low is None and r.seed is None and r.n_boot == 0
    assert "kendall_tau_low" not in r.as_dict()


def test_report_skips_oversized_k_and_infinite_pearson():
    x = np.arange(8.0)
    y = np.array([0, 2, 1, 3, 5, 4, np.inf, 7.0])
    r = rank_report(x, y, k=(2, 50), n_boot=20, seed=0)
    assert r.ks == (2,) and any("k=50" in n for n in r.notes)
    assert r.pearson_r is None and any("pearson" in n for n in r.notes)
    with pytest.raises(AnalysisError, match="positive integer"):
        rank_report(x, y, k=(0,))
    with pytest.raises(AnalysisError, match="explicit seed"):
        rank_report(x, y, seed=None)


def test_report_nan_policy(nb201_gt):
    # NASWOT is empty for the 341 cells whose cell is disconnected
    gt = nb201_gt
    with pytest.raises(AnalysisError, match="NaN"):
        rank_report(gt["c10_valid200_mean"], gt["naswot_v1_score"])
    r = rank_report(
        gt["c10_valid200_mean"], gt["naswot_v1_score"], nan_policy="omit", n_boot=20, seed=0
    )
    assert (r.n_used, r.n_omitted) == (15_625 - 341, 341)


@pytest.mark.timeout(300)  # a hang guard, not a speed claim (benchmarks/ measures the speed)
def test_full_size_report_with_default_resamples(nb201_gt):
    gt = nb201_gt
    acc = gt["c10_valid200_mean"].to_numpy()
    score = gt["e12_cifar10_val"].to_numpy()
    r = rank_report(acc, score)  # defaults: k = (10, 50, 100), 200 resamples
    assert r.n_used == 15_625 and r.n_boot == 200
    assert r.kendall_tau.low < r.kendall_tau.value < r.kendall_tau.high


@pytest.mark.slow
@pytest.mark.timeout(600)  # a hang guard, not a speed claim
def test_forty_full_size_reports_are_finite(nb201_gt):
    gt = nb201_gt
    truths = [
        gt[c].to_numpy()
        for c in (
            "c10_valid200_mean",
            "c100_valtest200_mean",
            "in16_valtest200_mean",
            "c10_test200_nb201v1_1",
        )
    ]
    proxies = [
        gt[c].to_numpy()
        for c in (
            "e12_cifar10_val",
            "e12_cifar100_val",
            "e12_imagenet_val",
            "c10_params_mb",
            "naswot_v1_score",
            "e12_cifar10_test",
            "e12_cifar100_test",
            "e12_imagenet_test",
            "c10_valid200_s777",
            "c100_valtest200_s777",
        )
    ]
    for y in truths:
        for s in proxies:
            r = rank_report(y, s, nan_policy="omit")
            assert np.isfinite(r.kendall_tau.value) and r.kendall_tau.low <= r.kendall_tau.high


def _valid_resamples(x, y, n_boot, seed):
    """How many resamples leave both sides with two or more distinct values (tau defined)."""
    from nasbench_tools.analysis import bootstrap_weights

    count = 0
    for w in bootstrap_weights(len(x), n_boot, seed):
        for col in w.T:
            idx = np.repeat(np.arange(len(x)), col)
            count += np.unique(x[idx]).size > 1 and np.unique(y[idx]).size > 1
    return count


def test_undefined_resamples_are_counted_in_every_estimate():
    # the defect: undefined resamples were dropped from the interval without a count
    from nasbench_tools.analysis import depth_gap_report, depth_gap_table, with_intervals

    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([1.0, 3.0, 2.0, 4.0])
    expected = _valid_resamples(x, y, 200, 1)
    assert 150 < expected < 200
    r = rank_report(x, y, k=(2,), n_boot=200, seed=1)
    assert (r.kendall_tau.n_valid, r.kendall_tau.n_boot) == (expected, 200)
    assert r.kendall_tau.n_invalid == 200 - expected
    assert r.spearman_rho.n_valid == expected
    assert r.p_at_top_k[2].n_valid == 200  # defined on every resample
    d = r.as_dict()
    assert d["kendall_tau_n_valid"] == expected and d["p_at_top_2_n_valid"] == 200
    printed = with_intervals(rank_table({"p": r})).loc["p"]
    assert printed["kendall_tau"].endswith(f"({expected} of 200 resamples valid)")
    assert "resamples valid" not in printed["p_at_top_2"]
    assert r.kendall_tau.format().endswith(f"({expected} of 200 resamples valid)")
    g = depth_gap_report(x, y, n_boot=200, seed=1, k=(1,))
    assert (g.kendall_tau.n_valid, g.kendall_tau.n_boot) == (expected, 200)
    table = depth_gap_table(g)
    assert table.loc["tau-b (a vs b) valid resamples", "value"] == f"{expected} of 200"
    assert "spearman rho valid resamples" in table.index
    assert not any("valid resamples" in q for q in depth_gap_table(_big_gap()).index)


def _big_gap():
    from nasbench_tools.analysis import depth_gap_report

    rng = np.random.default_rng(0)
    a = rng.normal(size=60)
    return depth_gap_report(a, a + rng.normal(size=60), n_boot=50, seed=0)
