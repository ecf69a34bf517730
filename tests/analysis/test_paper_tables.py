"""Paper tables: one grid, the same content in Markdown, CSV and LaTeX; the headline table's
cells, best marks, stated K and seed-agreement rows."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_tools.analysis import (
    AnalysisError,
    format_estimate,
    headline_table,
    p_at_top_k,
    pairwise_table,
    pairwise_tests,
    proxy_table,
    rank_reports,
    seed_agreement,
    top_k_size,
)
from nasbench_tools.analysis.paper_tables import HeadlineGroup

from ._tables import from_csv, from_latex, from_markdown, grid_of

PROXIES = ("nwot", "synflow", "params", "plain")


@pytest.fixture(scope="module")
def reports():
    import pandas as pd

    from .conftest import EMBEDDED

    z = pd.read_csv(EMBEDDED / "nb201_zc_suite_zero_725archs.csv.gz")
    out = {}
    for ds, name in (("cifar10", "cifar10-valid"), ("cifar100", "cifar100")):
        d = z[z.dataset == ds]
        out[name] = rank_reports(
            d["val_accuracy_200"].to_numpy(),
            {p: d[p].to_numpy() for p in PROXIES},
            k=(10, "5%"),
            n_boot=40,
            seed=0,
        )
    return out


@pytest.fixture(scope="module")
def agreement(nb201_gt_module):
    gt = nb201_gt_module
    runs = {s: gt[f"c10_valid200_s{s}"].to_numpy() for s in (777, 888, 999)}
    return {
        m: seed_agreement(
            runs, m, k="5%" if m == "p_at_top_k" else None, n_boot=20, seed=0, nan_policy="omit"
        )
        for m in ("kendall_tau", "spearman_rho", "p_at_top_k")
    }


@pytest.fixture(scope="module")
def nb201_gt_module():
    import pandas as pd

    from .conftest import EMBEDDED

    return pd.read_csv(EMBEDDED / "nb201_ground_truth_combined.csv.gz")


def test_format_estimate_styles():
    assert format_estimate(0.648, 0.641, 0.655) == "0.648 [0.641, 0.655]"
    assert format_estimate(0.648, 0.641, 0.655, style="range") == "0.648 (0.641–0.655)"
    assert format_estimate(0.648, 0.641, 0.655, style="pm") == "0.648 ± 0.007"
    assert format_estimate(0.648, 0.641, 0.655, style="none") == "0.648"
    assert format_estimate(0.648, None, None, style="pm") == "0.648"
    assert format_estimate(float("nan")) == ""
    with pytest.raises(AnalysisError, match="interval style"):
        format_estimate(0.5, 0.4, 0.6, style="sd")


def test_headline_md_csv_and_tex_are_the_same_table(reports, agreement):
    # the defect: the .md and .tex tables differed (other columns, raw headers, no best mark)
    table = headline_table(
        [
            HeadlineGroup(
                "full", {"cifar10-valid": reports["cifar10-valid"]}, {"cifar10-valid": agreement}
            ),
            HeadlineGroup("second", {"cifar100": reports["cifar100"]}),
        ],
        interval="range",
    )
    grid = grid_of(table)
    assert from_markdown(table.to_markdown()) == grid
    assert from_csv(table.to_csv()) == grid
    assert from_latex(table.to_latex(caption="c", label="tab:x")) == grid
    # every proxy row, both reference rows, the two groups; 2 datasets x 4 columns
    assert [(g, lab) for g, lab, _ in grid] == [
        ("full", "NWOT"),
        ("full", "SynFlow"),
        ("full", "#params"),
        ("full", "plain"),
        ("full", "seed vs seed (benchmark)"),
        ("full", "one seed vs mean of the others (benchmark)"),
        ("second", "NWOT"),
        ("second", "SynFlow"),
        ("second", "#params"),
        ("second", "plain"),
    ]
    assert all(len(row) == 8 for _, _, row in grid)


def test_headline_cells_marks_and_stated_k(reports, agreement):
    table = headline_table(
        {"cifar10-valid": reports["cifar10-valid"]}, agreement={"cifar10-valid": agreement}
    )
    rows = {r.label: r for r in table.rows}
    r = reports["cifar10-valid"]["nwot"]
    cells = rows["NWOT"].cells
    assert cells[0] == "724"
    assert (
        cells[1] == f"{r.kendall_tau.value:.3f} [{r.kendall_tau.low:.3f}, {r.kendall_tau.high:.3f}]"
    )
    p5 = r.p_at_top("5%")
    assert cells[3].startswith(f"{p5.value:.3f} [")
    # P@top-5% is P@top-K with K = 5% of n: 36 of 724 (checked against the metric itself)
    import pandas as pd

    from .conftest import EMBEDDED

    z = pd.read_csv(EMBEDDED / "nb201_zc_suite_zero_725archs.csv.gz")
    d = z[z.dataset == "cifar10"]
    assert top_k_size("5%", 724) == 36
    assert p5.value == pytest.approx(p_at_top_k(d["val_accuracy_200"], d["nwot"], 36).statistic)
    # best per column: the largest among proxies, never a reference row
    taus = {p: reports["cifar10-valid"][p].kendall_tau.value for p in PROXIES}
    best = max(taus, key=taus.get)
    assert [lab for lab, row in rows.items() if row.best and row.best[1]] == [
        {"nwot": "NWOT"}.get(best, best)
    ]
    assert not any(rows["seed vs seed (benchmark)"].best)
    p_best = max(PROXIES, key=lambda p: reports["cifar10-valid"][p].p_at_top("5%").value)
    assert rows[{"synflow": "SynFlow", "nwot": "NWOT"}.get(p_best, p_best)].best[3]
    # K stated for every n in the table, including the agreement terms (8,169 and 15,625)
    note = next(n for n in table.notes if n.startswith("P@top-5%"))
    for n, k in ((724, 36), (15_625, 781), (8_169, 408)):
        assert f"n = {n:,}: K = {k:,}" in note and top_k_size("5%", n) == k
    ref = rows["seed vs seed (benchmark)"].cells
    assert ref[0] == "8,169–15,625"
    assert ref[1].startswith(f"{agreement['kendall_tau'].between.value:.3f} [")
    assert agreement["p_at_top_k"].k_used[(777, 888)] == 781
    assert agreement["p_at_top_k"].k_used[(777, 999)] == 408


def test_headline_latex_is_booktabs_with_human_headers(reports):
    table = headline_table(reports, interval="pm")
    tex = table.to_latex(caption="Proxies & datasets", label="tab:head", environment="table*")
    assert tex.startswith("\\begin{table*}[t]\n\\centering\n\\caption{Proxies \\& datasets}")
    assert "\\label{tab:head}" in tex and "\\toprule" in tex and "\\bottomrule" in tex
    assert "\\multicolumn{4}{c}{CIFAR-10} & \\multicolumn{4}{c}{CIFAR-100}" in tex
    assert "\\cmidrule(lr){2-5} \\cmidrule(lr){6-9}" in tex
    assert "Kendall $\\tau_b$ & Spearman $\\rho$ & P@top-5\\%" in tex
    assert "kendall\\_tau" not in tex and "n\\_boot" not in tex
    assert "$-$0.174 $\\pm$ " in tex  # plain's negative tau, a real minus sign
    bare = table.to_latex()
    assert bare.startswith("\\begin{tabular}") and "% P@top-5%" in bare


def test_headline_refuses_reports_without_the_size(reports):
    y = np.arange(20.0)
    r = rank_reports(y, {"a": y[::-1].copy()}, k=(10,), n_boot=0)
    with pytest.raises(AnalysisError, match=r"no top-K size '5%'.*k=\('5%',\)"):
        headline_table({"d": r})


def test_proxy_table_marks_the_smallest_best_rank(reports):
    t = proxy_table(reports["cifar10-valid"])
    assert [c.key for c in t.columns] == [
        "n",
        "n_omitted",
        "kendall_tau",
        "spearman_rho",
        "p_at_top_10",
        "p_at_top_5%",
        "br_at_10",
    ]
    br = {p: reports["cifar10-valid"][p].br_rank_at_k[10].value for p in PROXIES}
    best = min(br.values())
    for row in t.rows:
        raw = next(p for p in PROXIES if row.label.lower() in (p, p.replace("params", "#params")))
        assert row.best[-1] == (br[raw] == best)
    assert t.rows[0].label == "NWOT"  # sorted by tau, best first


def test_pairwise_table_marks_significant_pairs(zc_cifar10):
    y = zc_cifar10["val_accuracy_200"]
    cmp = pairwise_tests(y, {p: zc_cifar10[p] for p in ("nwot", "plain", "synflow")}, n_boot=100)
    t = pairwise_table(cmp)
    row = next(r for r in t.rows if (r.label, r.cells[0]) == ("NWOT", "plain"))
    assert row.best[1] and row.best[4] and row.cells[4] == "<0.0001"
    assert t.notes == [cmp.description]


def test_proxy_table_of_a_small_user_table_beside_the_benchmarks_reads_na(reports):
    """Bug: an 8-architecture score table in a section asked for P@top-10 stopped `nbt report`
    ("has no top-K size '10'"): the report skips a count larger than n, and the table refused."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=8)
    small = rank_reports(y, {"mine": y + rng.normal(size=8)}, k=(10, "5%"), n_boot=20, seed=0)
    assert "10" not in small["mine"].top
    both = {**reports["cifar10-valid"], "mine": small["mine"]}
    t = proxy_table(both, top=[10, "5%"])
    row = next(r for r in t.rows if r.label == "mine")
    cells = dict(zip([c.key for c in t.columns], row.cells))
    assert cells["p_at_top_10"] == "n/a" and cells["br_at_10"] == "n/a"
    assert cells["p_at_top_5%"] != "n/a" and cells["n"] == "8"
    assert not row.best[[c.key for c in t.columns].index("p_at_top_10")]
    assert any("n/a for mine" in note for note in t.notes)
    not_asked = {"mine": rank_reports(y, {"m": y}, k=("5%",), n_boot=0, seed=0)["m"]}
    with pytest.raises(AnalysisError, match="has no top-K size '1%'"):
        proxy_table({**reports["cifar10-valid"], **not_asked}, top=["1%"])
