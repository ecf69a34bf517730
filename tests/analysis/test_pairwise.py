"""Paired tests between every two proxies: the same resamples as paired_bootstrap_test, Holm's
correction against a naive implementation, skipped pairs, each-against-the-best."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import norm

from nasbench_tools.analysis import (
    AnalysisError,
    adjust_pvalues,
    kendall_tau,
    paired_bootstrap_test,
    pairwise_tests,
)

PROXIES = ("nwot", "jacov", "synflow", "params")


@pytest.fixture
def zc(zc_cifar10):
    y = zc_cifar10["val_accuracy_200"].to_numpy()
    scores = {p: zc_cifar10[p].to_numpy(dtype=float).copy() for p in PROXIES}
    scores["jacov"][scores["jacov"] == -1e8] = np.nan  # NASLib's failure value: not a score
    return y, scores


def test_every_pair_matches_paired_bootstrap_test_on_the_architectures_both_scored(zc):
    # the defect guarded: a pair compared on different architectures (or resamples) than the
    # single paired test would use; jacov misses one architecture, so its pairs use 723
    y, scores = zc
    cmp = pairwise_tests(y, scores, n_boot=200, seed=3, pvalue="percentile", correction="none")
    assert cmp.n_tests == 6 and [(t.a, t.b) for t in cmp.tests] == list(
        itertools.combinations(PROXIES, 2)
    )
    for t in cmp.tests:
        ref = paired_bootstrap_test(
            y,
            scores[t.a],
            scores[t.b],
            n_boot=200,
            seed=3,
            alternative="two-sided",
            nan_policy="omit",
        )
        assert t.n == ref.n_used == (723 if "jacov" in (t.a, t.b) else 724)
        assert t.diff == pytest.approx(ref.difference, abs=1e-12)
        assert (t.low, t.high) == pytest.approx((ref.low, ref.high), abs=1e-12)
        assert t.p == pytest.approx(ref.pvalue) and t.p_adjusted == t.p
        # an independent check of the point values
        m = ~np.isnan(scores[t.a]) & ~np.isnan(scores[t.b])
        va = kendall_tau(y[m], scores[t.a][m]).statistic
        assert t.value_a == pytest.approx(va, abs=1e-12)


def test_normal_pvalue_comes_from_the_bootstrap_standard_error(zc):
    y, scores = zc
    cmp = pairwise_tests(y, scores, n_boot=300, seed=0, correction="none")
    for t in cmp.tests:
        assert t.p == pytest.approx(2 * norm.sf(abs(t.diff) / t.se), rel=1e-9)
    # nwot vs params: 0.593 vs 0.562; synflow vs params differ by 0.025 with a wide interval
    assert cmp.test("params", "nwot").diff == pytest.approx(-cmp.test("nwot", "params").diff)
    lo, hi = cmp.test("nwot", "params").low, cmp.test("nwot", "params").high
    assert cmp.test("params", "nwot").low == pytest.approx(-hi)
    assert cmp.test("params", "nwot").high == pytest.approx(-lo)


def _naive_holm(p):
    p = list(p)
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def test_holm_against_a_naive_step_down_and_a_hand_example():
    # hand example: p = 0.01, 0.04, 0.03, 0.005 -> sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1
    # = 0.02, 0.03, 0.06, 0.04 -> monotone 0.02, 0.03, 0.06, 0.06
    assert adjust_pvalues([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx(
        [0.03, 0.06, 0.06, 0.02]
    )
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.uniform(0, 0.3, size=rng.integers(1, 12))
        assert adjust_pvalues(p).tolist() == pytest.approx(_naive_holm(p))
    assert adjust_pvalues([0.01, 0.2], "bonferroni").tolist() == pytest.approx([0.02, 0.4])
    assert adjust_pvalues([0.01, np.nan, 0.02]).tolist()[::2] == pytest.approx([0.02, 0.02])
    assert np.isnan(adjust_pvalues([0.01, np.nan, 0.02])[1])
    with pytest.raises(AnalysisError, match="method"):
        adjust_pvalues([0.1], "fdr")


def test_correction_is_applied_to_the_reported_pairs(zc):
    y, scores = zc
    raw = pairwise_tests(y, scores, n_boot=200, seed=0, correction="none")
    holm = pairwise_tests(y, scores, n_boot=200, seed=0)
    assert [t.p for t in raw.tests] == [t.p for t in holm.tests]
    expected = _naive_holm([t.p for t in raw.tests])
    assert [t.p_adjusted for t in holm.tests] == pytest.approx(expected)
    assert [t.significant for t in holm.tests] == [p < 0.05 for p in expected]
    assert "Holm's step-down correction over the 6 pairs" in holm.description


def test_a_pair_without_enough_shared_architectures_is_skipped_not_fatal():
    y = np.arange(10.0)
    a = np.where(np.arange(10) < 5, np.arange(10.0), np.nan)
    b = np.where(np.arange(10) >= 5, np.arange(10.0), np.nan)
    c = np.arange(10.0)[::-1].copy()
    cmp = pairwise_tests(y, {"a": a, "b": b, "c": c}, n_boot=50, seed=0)
    ab = cmp.test("a", "b")
    assert ab.skipped and "0 shared" in ab.skipped and np.isnan(ab.p)
    assert cmp.n_tests == 2 and not np.isnan(cmp.test("a", "c").p)


def test_each_against_the_best(zc):
    y, scores = zc
    cmp = pairwise_tests(y, scores, pairs="best", n_boot=100, seed=0)
    assert cmp.names[0] == "nwot" and [t.a for t in cmp.tests] == ["nwot"] * 3
    assert all(t.diff > 0 for t in cmp.tests)


def test_bad_arguments_name_themselves(zc):
    y, scores = zc
    with pytest.raises(AnalysisError, match="at least two"):
        pairwise_tests(y, {"nwot": scores["nwot"]})
    with pytest.raises(AnalysisError, match="correction"):
        pairwise_tests(y, scores, correction="fdr")
    with pytest.raises(AnalysisError, match=r"scores\['x'\] has 3 values"):
        pairwise_tests(y, {"nwot": scores["nwot"], "x": [1.0, 2.0, 3.0]})
    with pytest.raises(AnalysisError, match="alpha"):
        pairwise_tests(y, scores, alpha=1.5)
