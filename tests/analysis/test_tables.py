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
