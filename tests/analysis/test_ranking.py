"""Ranking metrics against scipy, hand-computed cases, published numbers and real data."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.stats as ss

from nasbench_tools.analysis import (
    AnalysisError,
    br_at_k,
    deduplicate,
    duplicate_audit,
    kendall_tau,
    kt_at_top_k,
    p_at_bottom_k,
    p_at_top_k,
    pearson_r,
    sparse_kendall_tau,
    spearman_rho,
    weighted_tau,
)
from nasbench_tools.errors import NasbenchToolsError

from .conftest import YANG_CELLS


def tied_pairs(rng, n, levels=6):
    """Integer-valued pairs with many ties in both vectors and a positive trend."""
    x = rng.integers(0, levels, n).astype(float)
    y = x + rng.integers(0, 3, n)
    return x, y


# --- Kendall tau -----------------------------------------------------------------------------


def test_kendall_hand_computed_no_ties():
    # pairs: 5 concordant, 1 discordant -> (5 - 1) / 6
    r = kendall_tau([1, 2, 3, 4], [1, 3, 2, 4])
    assert r.statistic == pytest.approx(4 / 6)
    assert r.info["n_concordant"] == 5 and r.info["n_discordant"] == 1
    assert r.metric == "kendall_tau_b" and r.n_used == 4 and r.n_omitted == 0


def test_kendall_hand_computed_with_ties():
    # x = [1,1,2,3], y = [1,2,2,3]: P = 4, Q = 0, one pair tied only in x, one only in y
    x, y = [1, 1, 2, 3], [1, 2, 2, 3]
    b = kendall_tau(x, y)
    assert b.statistic == pytest.approx(4 / np.sqrt(5 * 5))  # 0.8
    assert (b.info["x_ties"], b.info["y_ties"], b.info["xy_ties"]) == (1, 1, 0)
    assert kendall_tau(x, y, variant="a").statistic == pytest.approx(4 / 6)
    # tau-c: 2 (P - Q) / (n^2 (m - 1) / m), m = 3 distinct values
    assert kendall_tau(x, y, variant="c").statistic == pytest.approx(8 / (16 * 2 / 3))


def test_kendall_is_signed():
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]).statistic == -1.0
    assert spearman_rho([1, 2, 3, 4], [4, 3, 2, 1]).statistic == pytest.approx(-1.0)
    assert pearson_r([1, 2, 3, 4], [4, 3, 2, 1]).statistic == pytest.approx(-1.0)


@pytest.mark.parametrize("n", [2, 3, 5, 17, 200, 3000])
def test_kendall_matches_scipy_with_ties(rng, n):
    for _ in range(5):
        x, y = tied_pairs(rng, n)
        if len(set(x)) < 2 or len(set(y)) < 2:
            continue
        for variant in ("b", "c"):
            ref = ss.kendalltau(x, y, variant=variant).statistic
            assert kendall_tau(x, y, variant=variant).statistic == pytest.approx(ref, abs=1e-12)


def test_kendall_matches_scipy_continuous_and_pvalue(rng):
    x = rng.normal(size=500)
    y = x + rng.normal(size=500)
    r = kendall_tau(x, y, pvalue=True)
    ref = ss.kendalltau(x, y)
    assert r.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert r.pvalue == pytest.approx(ref.pvalue)
    assert kendall_tau(x, y).pvalue is None


def test_kendall_tau_a_from_scipy_counts(rng):
    # tau-a = (P - Q) / n0; P - Q from scipy's tau-b and the tie counts
    x, y = tied_pairs(rng, 300)
    r = kendall_tau(x, y, variant="b")
    n0 = 300 * 299 / 2
    s = ss.kendalltau(x, y).statistic * np.sqrt((n0 - r.info["x_ties"]) * (n0 - r.info["y_ties"]))
    assert kendall_tau(x, y, variant="a").statistic == pytest.approx(s / n0, abs=1e-12)
    # ties from scipy's own definition: sum t (t - 1) / 2 over tie groups
    _, cx = np.unique(x, return_counts=True)
    assert r.info["x_ties"] == int((cx * (cx - 1) // 2).sum())


def test_kendall_allows_infinities():
    x = [1.0, 2.0, np.inf, 3.0]
    y = [1.0, 2.0, 4.0, -np.inf]
    assert kendall_tau(x, y).statistic == pytest.approx(ss.kendalltau(x, y).statistic)
    with pytest.raises(AnalysisError, match="infinite"):
        pearson_r(x, y)


@pytest.mark.parametrize("fn", [kendall_tau, spearman_rho, pearson_r, weighted_tau])
def test_input_errors(fn):
    with pytest.raises(AnalysisError, match="differ in length"):
        fn([1, 2, 3], [1, 2])
    with pytest.raises(AnalysisError, match="at least 2 valid pairs"):
        fn([1.0], [2.0])
    with pytest.raises(AnalysisError, match="constant"):
        fn([1, 1, 1], [1, 2, 3])
    with pytest.raises(AnalysisError, match="constant"):
        fn([1, 2, 3], [5, 5, 5])
    with pytest.raises(AnalysisError, match="1-D"):
        fn([[1, 2], [3, 4]], [[1, 2], [3, 4]])
    with pytest.raises(AnalysisError, match="numeric"):
        fn(["a", "b"], [1, 2])
    with pytest.raises(AnalysisError, match="nan_policy"):
        fn([1, 2, 3], [1, 2, 3], nan_policy="ignore")


def test_error_family():
    with pytest.raises(NasbenchToolsError):
        kendall_tau([1], [1])
    with pytest.raises(ValueError):
        kendall_tau([1], [1])


@pytest.mark.parametrize("fn", [kendall_tau, spearman_rho, pearson_r, weighted_tau])
def test_nan_policy(fn):
    x = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0])
    y = np.array([2.0, 1.0, 3.0, np.nan, 6.0, 5.0])
    with pytest.raises(AnalysisError, match="NaN"):
        fn(x, y)
    r = fn(x, y, nan_policy="omit")
    assert (r.n_used, r.n_omitted) == (4, 2)
    keep = ~(np.isnan(x) | np.isnan(y))
    assert r.statistic == pytest.approx(fn(x[keep], y[keep]).statistic)
    # omitting can leave too few pairs: an error, not a number
    with pytest.raises(AnalysisError, match="at least 2 valid pairs"):
        fn([1.0, np.nan, 3.0], [np.nan, 2.0, 4.0], nan_policy="omit")


def test_bad_variant():
    with pytest.raises(AnalysisError, match="variant"):
        kendall_tau([1, 2], [1, 2], variant="d")


@pytest.mark.timeout(300)  # a hang guard, not a speed claim: a quadratic tau would take hours
def test_kendall_whole_nb101_size_with_ties_equals_scipy(rng):
    # 423,624 = every NB101 cell, rounded so that ties are many; the speed is benchmarks' business
    n = 423_624
    x = rng.normal(size=n).round(3)
    y = (x + rng.normal(size=n)).round(3)
    r = kendall_tau(x, y)
    assert r.statistic == pytest.approx(ss.kendalltau(x, y).statistic, abs=1e-12)


# --- Spearman, Pearson, weighted tau ----------------------------------------------------------


@pytest.mark.parametrize("n", [3, 10, 400, 20_000])
def test_spearman_pearson_match_scipy(rng, n):
    x, y = tied_pairs(rng, n)
    y = y + 0.25 * rng.normal(size=n).round(1)
    assert spearman_rho(x, y).statistic == pytest.approx(ss.spearmanr(x, y).statistic, abs=1e-12)
    assert pearson_r(x, y).statistic == pytest.approx(ss.pearsonr(x, y).statistic, abs=1e-12)
    assert spearman_rho(x, y, pvalue=True).pvalue == pytest.approx(ss.spearmanr(x, y).pvalue)
    assert pearson_r(x, y, pvalue=True).pvalue == pytest.approx(ss.pearsonr(x, y).pvalue)


def test_weighted_tau_scipy_doc_example():
    # scipy.stats.weightedtau documentation: "-0.56694968153682723"
    r = weighted_tau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0])
    assert r.statistic == pytest.approx(-0.56694968153682723, abs=1e-15)


@pytest.mark.parametrize("n", [2, 7, 50, 20_000])
def test_weighted_tau_matches_scipy(rng, n):
    for _ in range(3):
        x, y = tied_pairs(rng, n, levels=max(2, n // 3))
        if len(set(x)) < 2 or len(set(y)) < 2:
            continue
        assert weighted_tau(x, y).statistic == pytest.approx(
            ss.weightedtau(x, y).statistic, abs=1e-10
        )
        assert weighted_tau(x, y).statistic == pytest.approx(weighted_tau(y, x).statistic)


def test_zero_cost_published_signed_kendall(zc_cifar10):
    # NAS-Bench-Suite-Zero CIFAR-10 (724 archs), signed Kendall tau vs val_accuracy_200
    published = {
        "nwot": 0.593,
        "jacov": 0.584,
        "params": 0.562,
        "synflow": 0.537,
        "flops": 0.520,
        "snip": 0.443,
        "plain": -0.174,
    }
    acc = zc_cifar10["val_accuracy_200"].to_numpy()
    for proxy, tau in published.items():
        r = kendall_tau(acc, zc_cifar10[proxy].to_numpy())
        assert r.n_used == 724
        assert r.statistic == pytest.approx(tau, abs=5e-4), proxy


def test_nb201_seed_agreement(nb201_gt):
    # CIFAR-10 valid, 200 epochs, seed 777 vs 888 over the archs that have both: 0.910
    r = kendall_tau(nb201_gt["c10_valid200_s777"], nb201_gt["c10_valid200_s888"], nan_policy="omit")
    assert r.statistic == pytest.approx(0.910, abs=5e-4)
    assert r.n_used == 15_625


# --- sparse Kendall tau ----------------------------------------------------------------------


def yu_reference(model_perfs, gt_perfs, threshold):
    """Transcription of kcyu2014/nas-landmarkreg compute_sparse_rank_metric (ids = positions)."""
    model_perfs = [p * (1e-2 if 1 < np.average(model_perfs) < 100 else 1.0) for p in model_perfs]
    gt_perfs = [p * (1e-2 if 1 < np.average(gt_perfs) < 100 else 1.0) for p in gt_perfs]
    ids = list(range(len(gt_perfs)))
    s_model_ids = [ids[i] for i in np.argsort(model_perfs, kind="stable")]
    order = np.argsort(gt_perfs, kind="stable")
    gt_ids, s_gt = [ids[i] for i in order], [gt_perfs[i] for i in order]
    mult = 1 / threshold if threshold < 1.0 else 1.0
    c_perf, c_rank, ranks, rank_map = 0.0, -1, [], {}
    for r, p in zip(gt_ids, s_gt):
        if p * mult // 1 > c_perf * mult // 1:
            c_rank += 1
        rank_map[r] = c_rank
        ranks.append(c_rank)
        c_perf = p
    return ss.kendalltau(ranks, [rank_map[i] for i in s_model_ids]).statistic


def test_sparse_naslib_is_kendall_of_rounded_predictions(zc_cifar10, rng):
    acc = zc_cifar10["val_accuracy_200"].to_numpy()
    pred = acc + rng.normal(scale=1.0, size=acc.size)
    # NASLib compute_scores: kt_1dec / kt_2dec
    for res, decimals in ((0.1, 1), (0.01, 2)):
        r = sparse_kendall_tau(acc, pred, variant="naslib", resolution=res)
        assert r.statistic == pytest.approx(
            ss.kendalltau(acc, np.round(pred, decimals)).statistic, abs=1e-12
        )
        assert r.info["variant"] == "naslib" and r.metric == "sparse_kendall_tau[naslib]"
    # the same in fractions
    f = sparse_kendall_tau(acc / 100, pred / 100, variant="naslib", resolution=0.1, unit="fraction")
    assert f.statistic == pytest.approx(
        ss.kendalltau(acc, np.round(pred / 100, 3)).statistic, abs=1e-12
    )


def test_sparse_yu_matches_reference_transcription(zc_cifar10, rng):
    acc = zc_cifar10["val_accuracy_200"].to_numpy()
    pred = acc + rng.normal(scale=2.0, size=acc.size)
    for res in (1.0, 0.1, 0.01):
        r = sparse_kendall_tau(acc, pred, variant="yu", resolution=res)
        assert r.statistic == pytest.approx(yu_reference(pred, acc, res / 100), abs=1e-12)
        assert r.info["variant"] == "yu"


def test_sparse_round_both_yang_fixture():
    # method_spec 1.5: both of Yang's 8/20-cell vectors rounded to 0.1 -> 0.5856 (0.5355 raw)
    r = sparse_kendall_tau(YANG_CELLS[:, 0], YANG_CELLS[:, 1], variant="round_both", resolution=0.1)
    assert r.statistic == pytest.approx(0.5856, abs=1e-4)
    assert r.info == {**r.info, "variant": "round_both", "resolution": 0.1, "unit": "percent"}


def test_sparse_variants_differ_and_are_labelled():
    x, y = YANG_CELLS[:, 0], YANG_CELLS[:, 1]
    vals = {v: sparse_kendall_tau(x, y, variant=v) for v in ("naslib", "yu", "round_both")}
    assert len({round(r.statistic, 6) for r in vals.values()}) == 3
    assert {r.metric for r in vals.values()} == {
        "sparse_kendall_tau[naslib]",
        "sparse_kendall_tau[yu]",
        "sparse_kendall_tau[round_both]",
    }


def test_sparse_unit_and_argument_errors():
    x = YANG_CELLS[:, 0]
    with pytest.raises(AnalysisError, match="fraction"):
        sparse_kendall_tau(x, x + 0.1, variant="yu", unit="fraction")
    with pytest.raises(AnalysisError, match="look like fractions"):
        sparse_kendall_tau(x / 100, x / 100, variant="round_both")
    with pytest.raises(AnalysisError, match="resolution"):
        sparse_kendall_tau(x, x, resolution=0)
    with pytest.raises(AnalysisError, match="variant"):
        sparse_kendall_tau(x, x, variant="white")
    with pytest.raises(AnalysisError, match="single level"):
        sparse_kendall_tau(x, x, variant="round_both", resolution=10.0)


# --- top-K -----------------------------------------------------------------------------------


def naslib_p_at_top_k(pred, true, k):
    """NASLib p_at_tb_k (top part), valid without ties."""
    pred, true = np.asarray(pred), np.asarray(true)
    inds = np.argsort(pred)[::-1]
    ranks = np.zeros(len(pred))
    ranks[np.argsort(true)] = np.arange(len(pred))[::-1]
    return len(np.where(ranks[inds[:k]] < k)[0]) / k, len(
        np.where(ranks[inds[len(pred) - k :]] >= len(pred) - k)[0]
    ) / k


def naslib_br_at_k(pred, true, k):
    """NASLib minmax_n_at_k: (best rank + 1) / n, valid without ties."""
    ranks = np.zeros(len(true))
    ranks[np.argsort(true)] = np.arange(len(true))[::-1]
    best = ranks[np.argsort(pred)[::-1][:k]].min()
    return (best + 1) / len(true)


def test_p_at_top_k_hand_computed():
    t = [5, 4, 3, 2, 1]
    s = [5, 3, 4, 1, 2]
    assert p_at_top_k(t, s, 2).statistic == 0.5  # predicted {0, 2}, true {0, 1}
    assert p_at_top_k(t, s, 3).statistic == 1.0
    assert p_at_bottom_k(t, s, 2).statistic == 1.0  # predicted {3, 4}, true {3, 4}
    assert p_at_bottom_k(t, s, 1).statistic == 0.0
    r = p_at_top_k(t, s, 2)
    assert r.info == {"k": 2, "ties": "expected", "overlap": 1.0}


def test_p_at_top_k_ties_give_the_expectation():
    # all scores tied: the top-1 pick is uniform over 4 items, one of which is truly best
    assert p_at_top_k([4, 3, 2, 1], [1, 1, 1, 1], 1).statistic == pytest.approx(0.25)
    # truth tied: any of the two tied best counts with probability 1/2
    assert p_at_top_k([9, 9, 1, 0], [3, 2, 1, 0], 1).statistic == pytest.approx(0.5)


def test_top_k_match_naslib_without_ties(rng):
    n = 400
    t = rng.permutation(n).astype(float)
    s = t + rng.normal(scale=60, size=n)
    for k in (1, 5, 10, 50, 400):
        top, bottom = naslib_p_at_top_k(s, t, k)
        assert p_at_top_k(t, s, k).statistic == pytest.approx(top)
        assert p_at_bottom_k(t, s, k).statistic == pytest.approx(bottom)
        assert br_at_k(t, s, k).statistic == pytest.approx(naslib_br_at_k(s, t, k))


def test_br_at_k_ties_hand_computed():
    # scores all tied, k = 2 of 4: best rank 1 w.p. 1/2, 2 w.p. 1/3, 3 w.p. 1/6 -> 5/3
    r = br_at_k([4, 3, 2, 1], [0, 0, 0, 0], 2)
    assert r.info["rank"] == pytest.approx(5 / 3)
    assert r.statistic == pytest.approx(5 / 12)
    assert r.info["denominator"] == 4 and r.info["denominator_of"] == "scored items"
    # truth ties share the better rank: both items tie for best
    assert br_at_k([7, 7, 1], [1, 2, 0], 1).info["rank"] == 1.0


def test_br_at_k_against_a_population():
    # sample of 3 from a population of 10; the best predicted has 2 better in the population
    pop = np.arange(10.0)
    r = br_at_k([7.0, 3.0, 1.0], [5.0, 9.0, 0.0], 1, population=pop)
    assert r.info["rank"] == 7.0  # predicted best is the 3.0 item: 6 better (4..9) -> rank 7
    assert r.info["denominator"] == 10 and r.info["denominator_of"] == "population"
    assert r.statistic == pytest.approx(0.7)
    r2 = br_at_k([7.0, 3.0, 1.0], [9.0, 5.0, 0.0], 1, population=pop)
    assert r2.info["rank"] == 3.0  # 7.0 has 8 and 9 above it


def test_kt_at_top_k():
    rng = np.random.default_rng(3)
    t = rng.normal(size=100)
    s = t + rng.normal(size=100)
    top = np.argsort(s)[::-1][:20]
    r = kt_at_top_k(t, s, 20)
    assert r.statistic == pytest.approx(ss.kendalltau(s[top], t[top]).statistic)
    assert r.info["subset_size"] == 20
    # a tie at the K-th score enlarges the subset instead of cutting it arbitrarily
    assert kt_at_top_k([1, 2, 3, 4], [4, 3, 3, 1], 2).info["subset_size"] == 3
    with pytest.raises(AnalysisError, match="predicted top 2"):
        kt_at_top_k([1, 1, 3, 4], [4, 3, 2, 1], 2)


def test_top_k_errors():
    with pytest.raises(AnalysisError, match="1..3"):
        p_at_top_k([1, 2, 3], [1, 2, 3], 4)
    with pytest.raises(AnalysisError, match="integer"):
        br_at_k([1, 2, 3], [1, 2, 3], 1.5)
    with pytest.raises(AnalysisError, match="1..3"):
        p_at_top_k([1, 2, 3], [1, 2, 3], 0)


# --- duplicates ------------------------------------------------------------------------------


def test_duplicate_audit_hand_computed():
    a = duplicate_audit(["x", "y", "x", "z", "x"])
    assert (a.n, a.n_distinct, a.n_redundant, a.largest_class) == (5, 3, 2, 3)
    assert a.class_sizes == {1: 2, 3: 1}
    assert a.class_ids.tolist() == [0, 1, 0, 2, 0]
    assert a.first_index.tolist() == [0, 1, 3]
    assert a.tau_all is None


def test_duplicates_inflate_tau():
    # 3 distinct archs scored perfectly, one repeated many times with varying score noise
    keys = ["a", "b", "c"] + ["a"] * 6
    truth = [1.0, 2.0, 3.0] + [1.0] * 6
    score = [1.0, 2.0, 3.0, 0.5, 0.9, 1.2, 0.7, 1.1, 0.8]  # the six repeats of 'a' vary
    a = duplicate_audit(keys, y_true=truth, y_score=score)
    assert a.tau_distinct == pytest.approx(1.0)
    assert a.tau_all == pytest.approx(ss.kendalltau(truth, score).statistic)
    assert a.score_spread == pytest.approx(1.2 - 0.5)
    first, mt, ms = deduplicate(keys, truth, score)
    assert mt.tolist() == [1.0, 2.0, 3.0]
    assert first.tolist() == [0, 1, 2]
    assert ms.tolist() == pytest.approx([np.mean([1.0, 0.5, 0.9, 1.2, 0.7, 1.1, 0.8]), 2.0, 3.0])
    assert deduplicate(keys, score, reduce="first")[1].tolist() == [1.0, 2.0, 3.0]


def test_duplicate_audit_nb201_isomorphism_classes():
    # every NB201 cell keyed by NATS-Bench's get_unique_str: 6,466 classes (README)
    from nasbench_tools.spaces.nb201 import isomorphism_class_ids

    a = duplicate_audit(isomorphism_class_ids("unique"))
    assert (a.n, a.n_distinct) == (15_625, 6_466)
    assert sum(size * count for size, count in a.class_sizes.items()) == 15_625


def test_duplicate_audit_key_callable_and_errors():
    from nasbench_tools.spaces import Arch

    archs = [Arch.from_index(i) for i in (0, 1, 2, 0)]
    a = duplicate_audit(archs, key=Arch.to_string)
    assert a.n_distinct == 3
    with pytest.raises(AnalysisError, match="hashable"):
        duplicate_audit([[1, 2], [3]])
    with pytest.raises(AnalysisError, match="both"):
        duplicate_audit(["a", "b"], y_true=[1, 2])


def test_import_is_light():
    code = (
        "import sys, nasbench_tools.analysis; "
        "print(','.join(m for m in ('torch', 'matplotlib', 'pandas', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ----------------------------------------------------------------------------- top-K as a share
def test_top_k_as_a_share_of_n_resolves_per_sample():
    from nasbench_tools.analysis import parse_top, rank_report, top_k_size

    # the defect: K fixed at 10/50/100 while n ranges from 292 to 15,625
    assert parse_top("10,1%,5%") == [10, "1%", "5%"]
    assert parse_top([10, " 5 % ".replace(" ", ""), "2.50%"]) == [10, "5%", "2.5%"]
    assert [top_k_size("5%", n) for n in (292, 724, 15_284, 15_625)] == [15, 36, 764, 781]
    assert top_k_size("0.01%", 100) == 1  # never 0
    for bad in ("0%", "150%", "-3", "ten", 0.05, 0, True):
        with pytest.raises(AnalysisError):
            parse_top([bad])
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    s = y + rng.normal(size=300)
    r = rank_report(y, s, k=(10, "5%"), n_boot=0)
    assert r.top == {"10": 10, "5%": 15} and r.ks == (10, 15)
    assert r.p_at_top("5%").value == pytest.approx(p_at_top_k(y, s, 15).statistic)
    assert r.p_at_top(10) is r.p_at_top_k[10]
    with pytest.raises(AnalysisError, match="no top-K size '1%'"):
        r.p_at_top("1%")
    s[:40] = np.nan
    r = rank_report(y, s, k=("5%",), n_boot=0, nan_policy="omit")
    assert r.top == {"5%": 13}  # 5% of the 260 scored


def test_seed_agreement_with_a_share_uses_each_terms_own_k():
    from nasbench_tools.analysis import seed_agreement

    rng = np.random.default_rng(1)
    base = rng.normal(size=400)
    runs = {s: base + rng.normal(scale=0.3, size=400) for s in (1, 2, 3)}
    runs[3][200:] = np.nan  # run 3 exists for 200 architectures
    sa = seed_agreement(runs, "p_at_top_k", k="5%", n_boot=0, nan_policy="omit")
    assert sa.k_used[(1, 2)] == 20 and sa.k_used[(1, 3)] == 10 and sa.k_used[1] == 20
    assert sa.metric == "p_at_top_k@5%"
    ok = ~np.isnan(runs[3])
    assert sa.pairs[(1, 3)].value == pytest.approx(
        p_at_top_k(runs[1][ok], runs[3][ok], 10).statistic
    )
