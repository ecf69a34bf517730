"""Relative improvement over random: Yang et al.'s table, intervals, random baselines."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats as ss

from nasbench_tools.analysis import (
    AnalysisError,
    expected_random_accuracy,
    random_baseline,
    relative_improvement,
    ri_table,
)

# method_spec 6.3: RI printed by the authors' notebook, and the (rounded) means behind it
RI_PRINTED = {
    "CIFAR10": {
        "DARTS": 0.32,
        "PDARTS": 0.52,
        "NSGANET": -0.48,
        "ENAS": 0.01,
        "CNAS": 0.74,
        "MANAS": 0.18,
        "StacNAS": 0.43,
        "NAO": 0.44,
    },
    "CIFAR100": {
        "DARTS": 0.23,
        "PDARTS": 2.00,
        "NSGANET": 1.37,
        "ENAS": -3.44,
        "CNAS": -0.89,
        "MANAS": -0.20,
        "StacNAS": 2.87,
        "NAO": -0.01,
    },
}
MEANS = {  # (method mean, random mean)
    "CIFAR10": {"DARTS": (97.24, 96.92), "PDARTS": (97.12, 96.62), "NSGANET": (96.18, 96.64), "ENAS": (95.85, 95.84), "CNAS": (94.51, 93.82), "MANAS": (97.18, 97.01), "StacNAS": (97.39, 96.98), "NAO": (96.88, 96.46)},
    "CIFAR100": {"DARTS": (82.37, 82.18), "PDARTS": (82.46, 80.84), "NSGANET": (77.31, 76.27), "ENAS": (78.02, 80.80), "CNAS": (75.66, 76.34), "MANAS": (82.07, 82.24), "StacNAS": (83.59, 81.26), "NAO": (81.69, 81.70)},
}  # fmt: skip


@pytest.mark.parametrize("dataset", ["CIFAR10", "CIFAR100"])
def test_yang_ri_columns_from_printed_means(dataset):
    for method, (acc_m, acc_r) in MEANS[dataset].items():
        r = relative_improvement(acc_m, acc_r)
        assert r.ri == pytest.approx(RI_PRINTED[dataset][method], abs=0.02), method
        assert r.low is None and r.random_source == "given" and r.n_method == r.n_random == 1


def test_ri_with_runs(rng):
    method = 97.0 + 0.2 * rng.normal(size=8)
    rand = 96.6 + 0.3 * rng.normal(size=8)
    r = relative_improvement(method, rand, n_boot=2000, seed=0)
    assert r.ri == pytest.approx(100 * (method.mean() - rand.mean()) / rand.mean())
    assert r.low < r.ri < r.high
    assert r.welch_pvalue == pytest.approx(ss.ttest_ind(method, rand, equal_var=False).pvalue)
    assert r.random_source == "runs" and r.n_boot == 2000 and r.seed == 0
    # a fixed random baseline: only the method side varies
    fixed = relative_improvement(method, 96.6, n_boot=500, seed=0)
    assert fixed.welch_pvalue is None and fixed.low < fixed.ri < fixed.high


def test_ri_errors():
    with pytest.raises(AnalysisError, match="positive"):
        relative_improvement(90.0, 0.0)
    with pytest.raises(AnalysisError, match="NaN"):
        relative_improvement([97.0, np.nan], [96.0, 96.5])
    assert relative_improvement([97.0, np.nan], [96.0, 96.5], nan_policy="omit").n_method == 1
    with pytest.raises(AnalysisError, match="explicit seed"):
        relative_improvement([97.0, 97.1], [96.0, 96.5], seed=None)


def test_expected_random_accuracy_hand_computed():
    v = [1.0, 2.0, 3.0]
    assert expected_random_accuracy(v) == pytest.approx(2.0)
    # best of 2: pairs {1,2} -> 2, {1,3} -> 3, {2,3} -> 3
    assert expected_random_accuracy(v, best_of=2) == pytest.approx(8 / 3)
    assert expected_random_accuracy(v, best_of=3) == pytest.approx(3.0)
    w = [5.0, 1.0, 4.0, 4.0, 2.0]
    brute = np.mean([max(c) for c in itertools.combinations(w, 3)])
    assert expected_random_accuracy(w, best_of=3) == pytest.approx(brute)


def test_random_baseline_from_ground_truth(nb201_gt):
    gt = nb201_gt["c10_valid200_mean"].to_numpy()
    runs = random_baseline(gt, n_runs=2000, seed=0)
    assert np.isin(runs, gt).all()
    assert runs.mean() == pytest.approx(gt.mean(), abs=0.6)  # sd of gt ~ 12.5 / sqrt(2000)
    assert np.array_equal(runs, random_baseline(gt, n_runs=2000, seed=0))
    best10 = random_baseline(gt, n_runs=300, seed=1, best_of=10)
    assert best10.mean() == pytest.approx(expected_random_accuracy(gt, best_of=10), abs=0.3)
    with pytest.raises(TypeError):
        random_baseline(gt, n_runs=5)  # the seed has no default
    with pytest.raises(AnalysisError, match="best_of"):
        random_baseline(gt, n_runs=5, seed=0, best_of=0)
    # the best NB201 CIFAR-10 cell against uniformly random cells
    r = relative_improvement(gt.max(), gt, n_boot=200, seed=0)
    assert r.ri == pytest.approx(100 * (gt.max() - gt.mean()) / gt.mean())
    assert r.low < r.ri < r.high


def test_ri_table():
    res = {(d, m): relative_improvement(*MEANS[d][m]) for d in MEANS for m in ("DARTS", "NAO")}
    df = ri_table(res)
    assert list(df.columns[:3]) == ["ri", "ri_low", "ri_high"]
    assert df.loc[("CIFAR10", "DARTS"), "ri"] == pytest.approx(100 * 0.32 / 96.92)


def test_ri_counts_undefined_resamples():
    # a resampled random baseline with mean 0 has no RI: counted out of n_valid, not dropped
    rand = np.array([-1.0, -1.0, 1.0, 1.0, 1.0, 1.0])  # mean 1/3; 3 + 3 draws average to 0
    r = relative_improvement([1.0, 2.0], rand, n_boot=400, seed=3)
    finite = np.isfinite(r.replicates)
    assert 0 < (~finite).sum() and r.n_valid == finite.sum() < 400
    lo, hi = np.quantile(r.replicates[finite], [0.025, 0.975])
    assert (r.low, r.high) == pytest.approx((lo, hi))
    assert relative_improvement(97.2, 96.9).n_valid is None  # no interval, no count
