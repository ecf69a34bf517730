"""Depth-gap report on Yang et al.'s 32 architectures (8 vs 20 cells) and synthetic cases."""

from __future__ import annotations

import itertools

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
