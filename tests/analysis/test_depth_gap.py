"""Depth-gap report on Yang et al.'s 32 architectures (8 vs 20 cells) and synthetic cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as ss

from nasbench_tools.analysis import AnalysisError, depth_gap_report, depth_gap_table

from .conftest import YANG_CELLS, YANG_SEEDS


@pytest.fixture(scope="module")
def yang():
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


def test_depth_gap_errors():
    x = YANG_CELLS[:, 0]
    with pytest.raises(AnalysisError, match="differ in length"):
        depth_gap_report(x, x[:-1])
    with pytest.raises(AnalysisError, match="n_boot"):
        depth_gap_report(x, YANG_CELLS[:, 1], n_boot=0)
    with pytest.raises(AnalysisError, match="pair"):
        depth_gap_report(x, YANG_CELLS[:, 1], noise_a=x)
    with pytest.raises(AnalysisError, match="k"):
        depth_gap_report(x, YANG_CELLS[:, 1], k=(5, 100))
