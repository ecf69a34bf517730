"""Displays: stored values (not pixels), composition on shared axes, vector and PNG output."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from nasbench_tools.analysis import (
    AnalysisError,
    CorrelationBudgetDisplay,
    CorrelationHeatmapDisplay,
    ErrorEDFDisplay,
    ProxyScatterDisplay,
    RankChangeDisplay,
    RankingDisplay,
    RIBarDisplay,
    bootstrap_ci,
    kendall_tau,
    rank_reports,
    relative_improvement,
    seed_agreement,
    spearman_rho,
)

from .conftest import YANG_CELLS


def test_scatter_display(zc_cifar10, tmp_path):
    acc = zc_cifar10["val_accuracy_200"]
    d = ProxyScatterDisplay.from_predictions(acc, zc_cifar10["nwot"], name="nwot")
    assert d.tau == pytest.approx(kendall_tau(acc, zc_cifar10["nwot"]).statistic)
    assert d.rho == pytest.approx(spearman_rho(acc, zc_cifar10["nwot"]).statistic)
    assert d.n_used == 724 and "τ_b = 0.593" in d.label
    assert d.ax_ is None
    fig, ax = plt.subplots()
    assert d.plot(ax=ax, legend=True) is d and d.ax_ is ax and d.figure_ is fig
    # compose: a second proxy on the same axes, legend beside the axes (not over the points)
    ProxyScatterDisplay.from_predictions(acc, zc_cifar10["synflow"], name="synflow").plot(
        ax=ax, legend=True
    )
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 2 and labels[1].startswith("synflow")
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.bbox.x1
    for suffix in (".pdf", ".svg", ".png"):
        d.savefig(tmp_path / f"s{suffix}")
        assert (tmp_path / f"s{suffix}").stat().st_size > 1000
    assert (tmp_path / "s.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(AnalysisError, match="unsupported"):
        d.savefig(tmp_path / "s.jpg")


def test_scatter_is_drawn_in_rank_space_by_default(zc_cifar10):
    # the defect: NASWOT's range and -1e8 sentinels squashed value-space panels to a line
    acc = zc_cifar10["val_accuracy_200"].to_numpy()
    jac = zc_cifar10["jacov"].to_numpy()  # one -1e8 failure value kept here on purpose
    d = ProxyScatterDisplay.from_predictions(acc, jac, name="jacov").plot()
    x, _y = d.scatter_.get_offsets().T
    assert d.kind_ == "scatter" and 0 < x.min() and x.max() == pytest.approx(100.0)
    assert d.ax_.get_xlim() == pytest.approx((-3, 103)) and d.n_clipped == 0
    # the point with the failure value is the lowest-ranked score, not an axis-stretching outlier
    assert x[np.argmin(jac)] == pytest.approx(100.0 / 724)
    assert "percentile rank" in d.ax_.get_xlabel() and "percentile rank" in d.ax_.get_ylabel()
    assert "tau_b$ 0.584" in d.ax_.get_title() and "(n = 724)" in d.ax_.get_title()


def test_value_space_clips_outliers_and_counts_them(zc_cifar10):
    acc = zc_cifar10["val_accuracy_200"].to_numpy()
    jac = zc_cifar10["jacov"].to_numpy()
    d = ProxyScatterDisplay.from_predictions(acc, jac, name="jacov").plot(space="value")
    x, _ = d.scatter_.get_offsets().T
    # Tukey's far-out fences (3 IQR beyond the quartiles), computed independently
    q1, q3 = np.quantile(jac, [0.25, 0.75])
    a1, a3 = np.quantile(acc, [0.25, 0.75])
    keep = (jac >= q1 - 3 * (q3 - q1)) & (jac <= q3 + 3 * (q3 - q1))
    keep &= (acc >= a1 - 3 * (a3 - a1)) & (acc <= a3 + 3 * (a3 - a1))
    assert x.size == keep.sum() and d.n_clipped == 724 - keep.sum() > 1
    assert x.min() > -1e7  # the -1e8 failure value is out of the axes, and counted
    assert f"{d.n_clipped:,} clipped" in d.ax_.get_title()
    full = ProxyScatterDisplay.from_predictions(acc, jac).plot(space="value", clip=None)
    assert full.n_clipped == 0 and full.xscale_ == "linear"
    # fisher spans decades: a log axis, fences on the log scale
    fisher = ProxyScatterDisplay.from_predictions(acc, zc_cifar10["fisher"]).plot(space="value")
    assert fisher.xscale_ == "log" and fisher.ax_.get_xscale() == "log"
    with pytest.raises(AnalysisError, match="clip"):
        d.plot(space="value", clip=-1)


def test_large_samples_are_binned(nb201_gt):
    y = nb201_gt["c10_valid200_mean"]
    d = ProxyScatterDisplay.from_predictions(y, nb201_gt["e12_cifar10_val"]).plot()
    assert d.kind_ == "hexbin" and d.scatter_.get_array().sum() == 15_625
    small = ProxyScatterDisplay.from_predictions(y[:500], nb201_gt["e12_cifar10_val"][:500])
    assert small.plot().kind_ == "scatter"
    # transparency grows with n
    assert small.scatter_.get_alpha() < 0.7


def test_rank_change_display():
    d = RankChangeDisplay.from_scores(
        YANG_CELLS[:, 0], YANG_CELLS[:, 1], names=("8 cells", "20 cells")
    )
    assert d.tau == pytest.approx(0.5355, abs=1e-4)
    assert sorted(d.ranks_a.tolist()) == list(range(1, 33)) and sorted(d.ranks_b.tolist()) == list(
        range(1, 33)
    )
    assert d.ranks_b[int(np.argmax(YANG_CELLS[:, 1]))] == 1
    d.plot(highlight_top=3)
    assert len(d.lines_) == 32 and "= 0.535" in d.ax_.get_title()
    assert d.ax_.yaxis_inverted()


def test_rank_change_of_the_best_keeps_their_global_ranks():
    a, b = YANG_CELLS[:, 0], YANG_CELLS[:, 1]
    full = RankChangeDisplay.from_scores(a, b)
    d = RankChangeDisplay.from_scores(a, b, top=5, by="b")
    assert sorted(d.ranks_b.tolist()) == [1, 2, 3, 4, 5] and d.n_total == 32
    best_b = np.argsort(-b, kind="stable")[:5]
    assert d.ranks_a.tolist() == full.ranks_a[best_b].tolist()
    assert d.tau == full.tau
    d.plot(yscale="log", highlight_top=2)
    coloured = [ln for ln in d.lines_ if ln.get_color() != "0.7"]
    assert sorted(int(ln.get_ydata()[1]) for ln in coloured) == [1, 2]  # the best at b
    assert d.ax_.get_yscale() == "log" and d.ax_.yaxis_inverted()
    with pytest.raises(AnalysisError, match="top"):
        RankChangeDisplay.from_scores(a, b, top=0)


def test_correlation_budget_display(nb201_gt):
    gt = nb201_gt["c10_valid200_mean"]
    budgets = {12: nb201_gt["e12_cifar10_val"], 200: nb201_gt["c10_valid200_s777"]}
    d = CorrelationBudgetDisplay.from_scores(gt, budgets, n_boot=30, seed=0, label="CIFAR-10")
    assert d.budgets.tolist() == [12, 200]
    ref = bootstrap_ci(gt, budgets[12], n_boot=30, seed=0)
    assert (d.values[0], d.low[0], d.high[0]) == pytest.approx((ref.estimate, ref.low, ref.high))
    assert d.n_used.tolist() == [15_625, 15_625] and d.n_valid.tolist() == [30, 30]
    d.plot(reference=0.91)
    assert d.band_ is not None and d.reference_ is not None
    assert d.reference_.get_label() == "seed vs seed 0.910"
    plain = CorrelationBudgetDisplay.from_scores(gt, budgets, n_boot=0, metric="spearman_rho")
    assert plain.low is None and plain.values[1] == pytest.approx(
        spearman_rho(gt, budgets[200]).statistic
    )


def test_ri_bar_display(tmp_path):
    res = {
        "DARTS": relative_improvement([97.1, 97.3, 97.2], [96.9, 96.8, 97.0], n_boot=200, seed=0),
        "NAO": relative_improvement(96.88, 96.46),
    }
    d = RIBarDisplay.from_results(res)
    assert d.names == ["DARTS", "NAO"]
    assert d.ri[1] == pytest.approx(100 * (96.88 - 96.46) / 96.46)
    assert np.isnan(d.low[1]) and d.low[0] == res["DARTS"].low
    d.plot()
    assert len(d.bars_) == 2 and d.errorbar_ is not None
    d.savefig(tmp_path / "ri.svg")
    assert (tmp_path / "ri.svg").read_text().lstrip().startswith("<?xml")


def test_error_edf_display():
    d = ErrorEDFDisplay.from_accuracies(
        {"a": [90.0, 95.0, 93.0], "b": [80.0, np.nan]}, nan_policy="omit"
    )
    x, y = d.edf("a")
    assert x.tolist() == pytest.approx([5.0, 7.0, 10.0]) and y.tolist() == pytest.approx(
        [1 / 3, 2 / 3, 1.0]
    )
    assert d.errors["b"].tolist() == [20.0]
    d.plot()
    assert set(d.lines_) == {"a", "b"}
    f = ErrorEDFDisplay.from_accuracies([0.9, 0.8], unit="fraction")
    assert f.errors[""].tolist() == pytest.approx([0.1, 0.2])


def test_heatmap_display(zc_cifar10):
    scores = {p: zc_cifar10[p] for p in ("nwot", "synflow", "params")}
    d = CorrelationHeatmapDisplay.from_scores(scores, y_true=zc_cifar10["val_accuracy_200"])
    assert d.names == ["ground truth", "nwot", "synflow", "params"]
    assert np.allclose(np.diag(d.matrix), 1.0) and np.allclose(d.matrix, d.matrix.T)
    assert d.matrix[0, 1] == pytest.approx(0.593, abs=5e-4)
    assert d.matrix[1, 2] == pytest.approx(kendall_tau(scores["nwot"], scores["synflow"]).statistic)
    assert d.n_used[0, 1] == 724
    d.plot()
    assert len(d.texts_) == 16 and d.colorbar_ is not None


def test_displays_on_subplots():
    fig, axes = plt.subplots(1, 2)
    a = RankChangeDisplay.from_scores([1, 2, 3], [1, 3, 2]).plot(ax=axes[0])
    b = ErrorEDFDisplay.from_errors({"x": [1.0, 2.0]}).plot(ax=axes[1])
    assert a.figure_ is b.figure_ is fig


def test_ranking_display_shows_seed_agreement_as_reference_lines(nb201_gt):
    gt = nb201_gt
    y = gt["c10_valid200_mean"]
    reports = rank_reports(
        y, {"12 epochs": gt["e12_cifar10_val"], "#params": gt["c10_params_mb"]}, n_boot=20, seed=0
    )
    runs = {s: gt[f"c10_valid200_s{s}"] for s in (777, 888, 999)}
    sa = seed_agreement(runs, n_boot=20, seed=0, nan_policy="omit")
    d = RankingDisplay.from_reports(reports, seed_agreement=sa)
    assert d.names == ["12 epochs", "#params"]  # best first
    assert d.references == {
        "seed vs seed (mean of 3 pairs)": (sa.between.value, sa.between.low, sa.between.high),
        "one seed vs mean of the others (mean of 3)": (sa.rest.value, sa.rest.low, sa.rest.high),
    }
    d.plot()
    labels = [t.get_text() for t in d.ax_.get_legend().get_texts()]
    assert labels[0] == f"seed vs seed (mean of 3 pairs): {sa.between.value:.3f}"
    assert not any("ceiling" in lab.lower() for lab in labels)
    # the defect: the axis started at 0, so whiskers of +-0.007 were invisible
    lo, hi = d.ax_.get_xlim()
    assert lo > 0.4 and hi < 1.0 and d.zero_line_ is None
    assert lo < min(d.low) and hi > sa.rest.high
    assert d.ax_.get_legend().get_bbox_to_anchor().y1 < d.ax_.bbox.y0  # below the axes
    assert "Kendall" in d.ax_.get_xlabel() and "_" not in d.ax_.get_xlabel().replace(
        "$\\tau_b$", ""
    )
    two = seed_agreement({777: runs[777], 888: runs[888]}, n_boot=0)
    assert list(RankingDisplay.seed_references(two)) == ["seed 777 vs seed 888"]
    with pytest.raises(AnalysisError, match="seed agreement is"):
        RankingDisplay.from_reports(reports, metric="spearman_rho", seed_agreement=two)


def test_ranking_display_draws_zero_only_when_in_range(zc_cifar10):
    acc = zc_cifar10["val_accuracy_200"]
    reps = rank_reports(acc, {p: zc_cifar10[p] for p in ("nwot", "plain")}, n_boot=20, seed=0)
    d = RankingDisplay.from_reports(reps).plot()
    assert d.zero_line_ is not None and d.ax_.get_xlim()[0] < reps["plain"].kendall_tau.low
    d = RankingDisplay.from_reports({"nwot": reps["nwot"]}).plot(zero_line="always")
    assert d.zero_line_ is not None


def test_topk_curve_display_against_p_at_top_k(zc_cifar10):
    from nasbench_tools.analysis import TopKCurveDisplay, p_at_top_k

    acc = zc_cifar10["val_accuracy_200"].to_numpy()
    scores = {p: zc_cifar10[p].to_numpy(dtype=float).copy() for p in ("nwot", "synflow")}
    scores["nwot"][:24] = np.nan  # n = 700 for nwot
    d = TopKCurveDisplay.from_predictions(acc, scores, fractions=[0.01, 0.05, 0.5])
    assert d.n_used == {"nwot": 700, "synflow": 724}
    assert d.ks["nwot"].tolist() == [7, 35, 350] and d.ks["synflow"].tolist() == [7, 36, 362]
    ok = ~np.isnan(scores["nwot"])
    for k, v in zip(d.ks["nwot"], d.values["nwot"]):
        assert v == pytest.approx(p_at_top_k(acc[ok], scores["nwot"][ok], int(k)).statistic)
    d.plot(legend="below")
    assert d.ax_.get_xscale() == "log" and set(d.lines_) == {"nwot", "synflow"}
    xr, yr = d.random_.get_data()
    assert np.allclose(yr, np.asarray(xr) / 100)  # random: P@K = K / n


def test_pairwise_test_display_orientation(zc_cifar10):
    from nasbench_tools.analysis import PairwiseTestDisplay, pairwise_tests

    acc = zc_cifar10["val_accuracy_200"]
    cmp = pairwise_tests(acc, {p: zc_cifar10[p] for p in ("plain", "nwot", "synflow")}, n_boot=50)
    d = PairwiseTestDisplay.from_comparison(cmp)
    assert d.names == ["nwot", "synflow", "plain"]  # best first
    t = cmp.test("nwot", "plain")
    assert d.diff[0, 2] == pytest.approx(t.diff) and d.diff[2, 0] == pytest.approx(-t.diff)
    assert d.significant[0, 2] == t.significant
    d.plot(annotate=True)
    texts = [x.get_text() for x in d.texts_]
    assert f"{t.diff:+.2f}{'*' if t.significant else ''}" in texts and len(texts) == 3
