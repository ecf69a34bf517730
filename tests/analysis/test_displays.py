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
    assert d.plot(ax=ax) is d and d.ax_ is ax and d.figure_ is fig
    # compose: a second proxy on the same axes
    ProxyScatterDisplay.from_predictions(acc, zc_cifar10["synflow"], name="synflow").plot(
        ax=ax, xscale="symlog"
    )
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 2 and labels[1].startswith("synflow")
    for suffix in (".pdf", ".svg", ".png"):
        d.savefig(tmp_path / f"s{suffix}")
        assert (tmp_path / f"s{suffix}").stat().st_size > 1000
    assert (tmp_path / "s.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(AnalysisError, match="unsupported"):
        d.savefig(tmp_path / "s.jpg")


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
    assert len(d.lines_) == 32 and "τ_b = 0.535" in d.ax_.get_title()
    assert d.ax_.yaxis_inverted()


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
    two = seed_agreement({777: runs[777], 888: runs[888]}, n_boot=0)
    assert list(RankingDisplay.seed_references(two)) == ["seed 777 vs seed 888"]
    with pytest.raises(AnalysisError, match="seed agreement is"):
        RankingDisplay.from_reports(reports, metric="spearman_rho", seed_agreement=two)
