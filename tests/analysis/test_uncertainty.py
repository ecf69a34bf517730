"""Bootstrap intervals, seed spread, seed agreement and the paired test.

The fast bootstrap evaluates resamples as integer weights; its replicates are checked against
scipy run on the materialised resamples (same seed, same draws).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as ss

from nasbench_tools.analysis import (
    AnalysisError,
    across_seeds,
    bootstrap_ci,
    bootstrap_weights,
    kendall_tau,
    paired_bootstrap_test,
    seed_agreement,
    seed_spread,
    spearman_rho,
)

from .conftest import YANG_CELLS, YANG_SEEDS


def materialised(n, n_boot, seed):
    """Index arrays of the resamples behind ``bootstrap_weights`` (counts -> repeated indices)."""
    out = []
    for w in bootstrap_weights(n, n_boot, seed):
        for col in w.T:
            out.append(np.repeat(np.arange(n), col))
    return out


@pytest.fixture
def noisy_pair(rng):
    x = rng.integers(0, 40, 120).astype(float)
    y = x + rng.normal(scale=8, size=120).round(0)
    return x, y


def test_weights_are_resamples():
    ws = list(bootstrap_weights(50, 30, seed=1))
    w = np.hstack(ws)
    assert w.shape == (50, 30)
    assert (w.sum(axis=0) == 50).all() and (w >= 0).all()
    again = np.hstack(list(bootstrap_weights(50, 30, seed=1)))
    assert np.array_equal(w, again)
    assert not np.array_equal(w, np.hstack(list(bootstrap_weights(50, 30, seed=2))))


@pytest.mark.parametrize(
    ("metric", "scipy_fn"),
    [
        ("kendall_tau", lambda a, b: ss.kendalltau(a, b).statistic),
        ("spearman_rho", lambda a, b: ss.spearmanr(a, b).statistic),
        ("pearson_r", lambda a, b: ss.pearsonr(a, b).statistic),
        ("weighted_tau", lambda a, b: ss.weightedtau(a, b).statistic),
    ],
)
def test_replicates_equal_scipy_on_materialised_resamples(noisy_pair, metric, scipy_fn):
    x, y = noisy_pair
    r = bootstrap_ci(x, y, metric, n_boot=40, seed=7)
    ref = [scipy_fn(x[i], y[i]) for i in materialised(x.size, 40, 7)]
    np.testing.assert_allclose(r.replicates, ref, atol=1e-10)
    assert r.estimate == pytest.approx(scipy_fn(x, y), abs=1e-12)


def test_topk_replicates_equal_direct_computation(noisy_pair):
    from nasbench_tools.analysis import br_at_k, p_at_top_k

    x, y = noisy_pair
    for metric, fn in (("p_at_top_k", p_at_top_k), ("br_at_k", br_at_k)):
        r = bootstrap_ci(x, y, metric, k=10, n_boot=25, seed=5)
        ref = [fn(x[i], y[i], 10).statistic for i in materialised(x.size, 25, 5)]
        np.testing.assert_allclose(r.replicates, ref, atol=1e-10)
        assert r.metric == f"{metric}@10"


def test_callable_metric_uses_the_same_resamples(noisy_pair):
    x, y = noisy_pair
    fast = bootstrap_ci(x, y, "kendall_tau", n_boot=60, seed=11)
    slow = bootstrap_ci(x, y, lambda a, b: ss.kendalltau(a, b).statistic, n_boot=60, seed=11)
    np.testing.assert_allclose(fast.replicates, slow.replicates, atol=1e-12)
    assert (fast.low, fast.high) == pytest.approx((slow.low, slow.high))


def test_interval_properties(noisy_pair):
    x, y = noisy_pair
    r = bootstrap_ci(x, y, n_boot=500, seed=0)
    assert r.low < r.estimate < r.high
    assert r.n_valid == 500 and r.seed == 0 and r.method == "percentile"
    assert (r.low, r.high) == pytest.approx(tuple(np.quantile(r.replicates, [0.025, 0.975])))
    assert r.std_error == pytest.approx(r.replicates.std(ddof=1))
    basic = bootstrap_ci(x, y, n_boot=500, seed=0, method="basic")
    assert basic.low == pytest.approx(2 * r.estimate - r.high)
    assert basic.high == pytest.approx(2 * r.estimate - r.low)
    narrow = bootstrap_ci(x, y, n_boot=500, seed=0, confidence=0.5)
    assert r.low < narrow.low < narrow.high < r.high
    # a Generator is an explicit seed too; same state, same result
    g = bootstrap_ci(x, y, n_boot=500, seed=np.random.default_rng(0))
    assert (g.low, g.high, g.seed) == (r.low, r.high, "Generator")


def test_yang_depth_gap_interval_matches_spec():
    # method_spec 1.6: tau = 0.535, bootstrap CI [0.330, 0.705] (10,000 resamples)
    r = bootstrap_ci(YANG_CELLS[:, 0], YANG_CELLS[:, 1], n_boot=10_000, seed=0)
    assert r.estimate == pytest.approx(0.5355, abs=1e-4)
    assert r.low == pytest.approx(0.330, abs=0.02)
    assert r.high == pytest.approx(0.705, abs=0.02)


def test_bootstrap_errors(noisy_pair):
    x, y = noisy_pair
    with pytest.raises(AnalysisError, match="explicit seed"):
        bootstrap_ci(x, y, seed=None)
    with pytest.raises(AnalysisError, match="n_boot"):
        bootstrap_ci(x, y, n_boot=0)
    with pytest.raises(AnalysisError, match="confidence"):
        bootstrap_ci(x, y, confidence=1.5)
    with pytest.raises(AnalysisError, match="needs k"):
        bootstrap_ci(x, y, "p_at_top_k")
    with pytest.raises(AnalysisError, match="takes no k"):
        bootstrap_ci(x, y, "kendall_tau", k=5)
    with pytest.raises(AnalysisError, match="metric"):
        bootstrap_ci(x, y, "auc")
    with pytest.raises(AnalysisError, match="at least 3"):
        bootstrap_ci([1, 2], [2, 1])
    with pytest.raises(AnalysisError, match="method"):
        bootstrap_ci(x, y, method="bca")


def test_tiny_samples_record_undefined_resamples():
    # with 4 points some resamples are constant: counted out of n_valid, not turned into numbers
    r = bootstrap_ci([1, 2, 3, 4], [1, 3, 2, 4], n_boot=200, seed=1)
    assert 0 < r.n_valid < 200
    assert np.isnan(r.replicates).sum() == 200 - r.n_valid


# --- paired test -----------------------------------------------------------------------------


def test_paired_test_detects_better_proxy(rng):
    truth = rng.normal(size=300)
    good = truth + rng.normal(scale=0.3, size=300)
    bad = truth + rng.normal(scale=2.0, size=300)
    t = paired_bootstrap_test(truth, good, bad, n_boot=400, seed=0)
    assert t.estimate_a == pytest.approx(ss.kendalltau(truth, good).statistic)
    assert t.estimate_b == pytest.approx(ss.kendalltau(truth, bad).statistic)
    assert t.difference == pytest.approx(t.estimate_a - t.estimate_b)
    assert t.low > 0 and t.pvalue == pytest.approx(1 / 401)
    # the differences are those of the two one-proxy bootstraps on the same resamples
    a = bootstrap_ci(truth, good, n_boot=400, seed=0).replicates
    b = bootstrap_ci(truth, bad, n_boot=400, seed=0).replicates
    np.testing.assert_allclose(t.replicates, a - b)
    rev = paired_bootstrap_test(truth, bad, good, n_boot=400, seed=0)
    assert rev.pvalue == pytest.approx(1.0)
    assert paired_bootstrap_test(
        truth, bad, good, n_boot=400, seed=0, alternative="less"
    ).pvalue == pytest.approx(1 / 401)
    two = paired_bootstrap_test(truth, good, bad, n_boot=400, seed=0, alternative="two-sided")
    assert two.pvalue == pytest.approx(2 / 401)


def test_paired_test_same_proxy_is_not_better(rng):
    truth = rng.normal(size=100)
    s = truth + rng.normal(size=100)
    t = paired_bootstrap_test(truth, s, s.copy(), n_boot=100, seed=0)
    assert t.difference == 0.0 and t.low == 0.0 and t.high == 0.0
    assert t.pvalue == 1.0


def test_paired_test_nan_policy(rng):
    truth = rng.normal(size=50)
    a = truth + rng.normal(size=50)
    b = truth + rng.normal(size=50)
    a[3] = np.nan
    b[7] = np.nan
    with pytest.raises(AnalysisError, match="NaN"):
        paired_bootstrap_test(truth, a, b, n_boot=10)
    t = paired_bootstrap_test(truth, a, b, n_boot=10, nan_policy="omit")
    assert (t.n_used, t.n_omitted) == (48, 2)


# --- seeds and noise ceiling -----------------------------------------------------------------


def test_seed_spread_hand_computed():
    s = seed_spread({"s0": 0.5, "s1": 0.6, "s2": 0.7})
    assert s.mean == pytest.approx(0.6) and s.std == pytest.approx(0.1) and s.ddof == 1
    assert s.sem == pytest.approx(0.1 / np.sqrt(3))
    assert (s.min, s.max, s.n_seeds) == (0.5, 0.7, 3)
    assert seed_spread([0.5, 0.6, 0.7], ddof=0).std == pytest.approx(np.sqrt(0.02 / 3))
    with pytest.raises(AnalysisError, match="ddof"):
        seed_spread([0.5], ddof=1)
    with pytest.raises(AnalysisError, match="NaN"):
        seed_spread([0.5, np.nan])


def test_across_seeds(nb201_gt):
    # the 12-epoch proxy against each 200-epoch seed of the NB201 ground truth
    gt = nb201_gt
    seeds = {s: gt[f"c10_valid200_s{s}"].to_numpy() for s in (777, 888)}
    proxy = gt["e12_cifar10_val"].to_numpy()
    # per-seed ground truth, one proxy
    s = across_seeds(seeds, {777: proxy, 888: proxy})
    assert s.values[777] == pytest.approx(ss.kendalltau(seeds[777], proxy).statistic)
    assert s.values[888] == pytest.approx(ss.kendalltau(seeds[888], proxy).statistic)
    assert s.std == pytest.approx(np.std(list(s.values.values()), ddof=1))
    # one ground truth, proxies per seed, as a 2-D array
    rows = np.vstack([proxy, proxy + 0.1 * np.arange(proxy.size) % 3])
    s2 = across_seeds(gt["c10_valid200_mean"], rows, metric="spearman_rho")
    assert s2.values[0] == pytest.approx(spearman_rho(gt["c10_valid200_mean"], proxy).statistic)
    assert s2.metric == "spearman_rho" and s2.n_seeds == 2


def _rest_mean(cols: np.ndarray, i: int) -> np.ndarray:
    """Mean of the other columns where any is present (written out, not the code under test)."""
    others = np.delete(cols, i, axis=1)
    out = np.full(cols.shape[0], np.nan)
    for r in range(cols.shape[0]):
        vals = [v for v in others[r] if not np.isnan(v)]
        if vals:
            out[r] = sum(vals) / len(vals)
    return out


def test_seed_agreement_nb201(nb201_gt):
    gt = nb201_gt
    s777, s888 = gt["c10_valid200_s777"].to_numpy(), gt["c10_valid200_s888"].to_numpy()
    two = seed_agreement({777: s777, 888: s888}, n_boot=0)
    assert two.between.value == pytest.approx(ss.kendalltau(s777, s888).statistic, abs=1e-12)
    assert two.between.value == pytest.approx(0.910, abs=5e-4)
    assert two.n_pairs_used == {(777, 888): 15_625} and two.between.low is None
    # with two runs, "the mean of the others" is the other run
    assert two.vs_rest[777].value == pytest.approx(two.between.value, abs=1e-12)

    cols = gt[["c10_valid200_s777", "c10_valid200_s888", "c10_valid200_s999"]].to_numpy()
    three = seed_agreement(dict(zip((777, 888, 999), cols.T)), n_boot=0, nan_policy="omit")
    ok = ~np.isnan(cols[:, 2])
    assert ok.sum() == 8_169  # seed 999 is missing for 7,456 cells
    assert three.n_pairs_used == {(777, 888): 15_625, (777, 999): 8_169, (888, 999): 8_169}
    assert three.pairs[(777, 999)].value == pytest.approx(
        ss.kendalltau(cols[ok, 0], cols[ok, 2]).statistic, abs=1e-12
    )
    assert three.between.value == pytest.approx(np.mean([e.value for e in three.pairs.values()]))
    for i, s in enumerate((777, 888, 999)):
        rest = _rest_mean(cols, i)
        m = ~np.isnan(cols[:, i]) & ~np.isnan(rest)
        ref = ss.kendalltau(rest[m], cols[m, i]).statistic
        assert three.vs_rest[s].value == pytest.approx(ref, abs=1e-12)
        assert three.n_rest_used[s] == m.sum()
    # measured here (README): one seed against the mean of the others
    assert three.vs_rest[777].value == pytest.approx(0.915, abs=5e-4)
    assert three.vs_rest[999].value == pytest.approx(0.924, abs=5e-4)
    with pytest.raises(AnalysisError, match="NaN"):
        seed_agreement({777: cols[:, 0], 999: cols[:, 2]}, n_boot=0)


def test_seed_agreement_is_not_an_upper_bound(nb201_gt):
    # the defect: "a proxy cannot rank better than seed 777 vs 888" is false; the ground truth is
    # the mean of 2-3 seeds, and one seed ranks that mean better than it ranks another seed
    gt = nb201_gt
    s777, s888 = gt["c10_valid200_s777"].to_numpy(), gt["c10_valid200_s888"].to_numpy()
    mean = gt["c10_valid200_mean"].to_numpy()
    sa = seed_agreement({777: s777, 888: s888}, n_boot=0)
    seed_as_proxy = ss.kendalltau(mean, s777).statistic
    assert seed_as_proxy == pytest.approx(0.951, abs=5e-4)
    assert seed_as_proxy > sa.between.value + 0.03
    import nasbench_tools.analysis as analysis

    assert not hasattr(analysis, "noise_ceiling") and not hasattr(analysis, "NoiseCeiling")
    doc = (seed_agreement.__doc__ + analysis.SeedAgreement.__doc__).lower()
    assert "ceiling" not in doc and "upper bound" not in doc


def test_seed_agreement_intervals_resample_pairwise_complete_rows(rng):
    # the interval of a term with missing values comes from the same resamples of all n items,
    # each restricted to the items that term can use: check against scipy on those resamples
    n = 40
    base = rng.normal(size=n)
    runs = np.column_stack([base + 0.5 * rng.normal(size=n) for _ in range(3)])
    runs[rng.choice(n, 12, replace=False), 2] = np.nan
    sa = seed_agreement(dict(enumerate(runs.T)), n_boot=60, seed=4, nan_policy="omit")
    ok = ~np.isnan(runs[:, 2])
    ref = []
    for idx in materialised(n, 60, 4):
        keep = idx[ok[idx]]
        a, b = runs[keep, 0], runs[keep, 2]
        ref.append(ss.kendalltau(a, b).statistic if np.unique(a).size > 1 else np.nan)
    ref = np.asarray(ref)
    e = sa.pairs[(0, 2)]
    lo, hi = np.quantile(ref[~np.isnan(ref)], [0.025, 0.975])
    assert (e.low, e.high) == pytest.approx((lo, hi), abs=1e-12)
    assert e.n_boot == 60 and e.n_valid == int((~np.isnan(ref)).sum())
    assert sa.seed == 4 and sa.n_items == n and sa.n_runs == 3


def test_seed_agreement_yang_seeds():
    r = seed_agreement([YANG_SEEDS[:, 0], YANG_SEEDS[:, 1]], n_boot=10_000, seed=0)
    assert r.between.value == pytest.approx(0.4760, abs=1e-4)  # appendix A
    assert r.between.low == pytest.approx(0.263, abs=0.02)
    assert r.between.high == pytest.approx(0.654, abs=0.02)
    assert r.between.n_valid == r.between.n_boot == 10_000
    stored = kendall_tau(YANG_SEEDS[:24, 0], YANG_SEEDS[:24, 1]).statistic
    assert stored == pytest.approx(0.5835, abs=1e-4)


def test_seed_agreement_needs_two_runs():
    with pytest.raises(AnalysisError, match="at least 2"):
        seed_agreement([np.arange(5.0)])
    with pytest.raises(AnalysisError, match="differ in length"):
        seed_agreement([np.arange(5.0), np.arange(6.0)])
