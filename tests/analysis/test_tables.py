"""Tables: DataFrames and their Markdown, LaTeX and CSV renderings."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from nasbench_tools.analysis import (
    AnalysisError,
    across_seeds,
    rank_reports,
    rank_table,
    seed_table,
    to_csv,
    to_latex,
    to_markdown,
    with_intervals,
)


@pytest.fixture
def table(zc_cifar10):
    acc = zc_cifar10["val_accuracy_200"]
    reps = rank_reports(
        acc,
        {"nwot": zc_cifar10["nwot"], "grad_norm": zc_cifar10["grad_norm"]},
        k=(10,),
        n_boot=30,
        seed=0,
    )
    return rank_table(reps)


def test_with_intervals(table):
    out = with_intervals(table[["kendall_tau", "kendall_tau_low", "kendall_tau_high", "n"]])
    assert list(out.columns) == ["kendall_tau", "n"]
    v, lo, hi = table.loc["nwot", ["kendall_tau", "kendall_tau_low", "kendall_tau_high"]]
    assert out.loc["nwot", "kendall_tau"] == f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


def test_markdown(table, tmp_path):
    df = table[["n", "kendall_tau", "spearman_rho", "tau_variant"]]
    text = to_markdown(df, tmp_path / "t.md")
    lines = text.strip().splitlines()
    assert lines[0] == "| proxy | n | kendall_tau | spearman_rho | tau_variant |"
    assert lines[1] == "|:---|---:|---:|---:|:---|"
    assert lines[2].startswith("| nwot | 724 | 0.593 |")
    assert len(lines) == 4
    assert (tmp_path / "t.md").read_text() == text
    pipe = pd.DataFrame({"a|b": [1.0]}, index=["x"])
    assert "a\\|b" in to_markdown(pipe)


def test_latex(table, tmp_path):
    df = table[["n", "kendall_tau", "p_at_top_10"]]
    text = to_latex(df, tmp_path / "t.tex", caption="Zero-cost proxies, 95% CI", label="tab:zc")
    assert "\\begin{tabular}{lrrr}" in text and "\\toprule" in text and "\\bottomrule" in text
    assert "p\\_at\\_top\\_10" in text and "95\\% CI" in text and "\\label{tab:zc}" in text
    assert "nwot & 724 & 0.593" in text
    assert (tmp_path / "t.tex").read_text() == text


def test_csv_round_trip(table, tmp_path):
    text = to_csv(table, tmp_path / "t.csv")
    back = pd.read_csv(io.StringIO(text), index_col=0)
    np.testing.assert_allclose(
        back["kendall_tau"].to_numpy(), table["kendall_tau"].to_numpy(), rtol=0, atol=0
    )
    assert (tmp_path / "t.csv").read_text() == text


def test_seed_table_and_errors(zc_cifar10):
    acc = zc_cifar10["val_accuracy_200"].to_numpy()
    s = across_seeds(acc, {0: zc_cifar10["nwot"], 1: zc_cifar10["jacov"]})
    df = seed_table({"mixed": s})
    assert list(df.columns[:2]) == ["seed 0", "seed 1"] and df.loc["mixed", "ddof"] == 1
    with pytest.raises(AnalysisError):
        rank_table({})


def test_br_at_k_prints_as_rank_with_denominator(nb201_gt):
    # the defect: at n = 15,625 BR@K printed as "0.000 [0.000, 0.000]"
    gt = nb201_gt
    y, s = gt["c10_valid200_mean"].to_numpy(), gt["e12_cifar10_val"].to_numpy()
    reps = rank_reports(y, {"12 epochs": s}, k=(10,), n_boot=20, seed=0)
    r = reps["12 epochs"]
    # naive oracle: the 10 highest scores (no tie at the 10th place here), their best true rank
    top = np.argsort(-s, kind="stable")[:10]
    assert s[top[-1]] > np.sort(s)[-11]
    best = 1 + int((y > y[top].max()).sum())
    assert r.br_rank_at_k[10].value == best and r.br_at_k[10].value == best / 15_625
    d = r.as_dict()
    assert (d["br_at_10_rank"], d["br_at_10_denominator"]) == (best, 15_625)
    assert d["br_at_10"] == pytest.approx(best / 15_625)
    assert d["br_at_10_rank_low"] == pytest.approx(d["br_at_10_low"] * 15_625)
    printed = with_intervals(rank_table(reps)).loc["12 epochs", "br_at_10"]
    lo, hi = r.br_rank_at_k[10].low, r.br_rank_at_k[10].high
    assert printed == f"{best} / 15,625 [{lo:.1f}, {hi:.1f}]".replace(".0,", ",").replace(
        ".0]", "]"
    )
    assert r.br_text(10) == printed
    text = to_markdown(with_intervals(rank_table(reps)))
    assert "0.000 [0.000, 0.000]" not in text.split("br_at_10")[-1]
    for col in ("br_at_10_rank", "br_at_10_denominator", "br_at_10_low", "br_at_10_n_valid"):
        assert col not in with_intervals(rank_table(reps)).columns


def test_format_rank_cases():
    from nasbench_tools.analysis.results import format_rank

    assert format_rank(3.0, 15_625) == "3 / 15,625"
    assert format_rank(2.5, 32, 1.0, 6.25) == "2.5 / 32 [1, 6.2]"
    assert format_rank(1234.0, 15_625, 1000.04, 2000.0) == "1,234 / 15,625 [1,000, 2,000]"
    assert format_rank(float("nan"), 10) == ""
