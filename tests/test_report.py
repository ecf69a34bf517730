"""`nbt report` on the embedded data: numbers.json holds the published and recomputed numbers."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from nasbench_tools.cli.__main__ import main
from nasbench_tools.errors import NasbenchToolsError
from nasbench_tools.report import ReportConfig, build_report, compute_sections

from .analysis._tables import from_csv, from_latex, from_markdown


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One report on the embedded data, its folder and its computed sections (for the figure
    checks). One NB201 dataset keeps this fast; every kind of section and figure is written."""
    from nasbench_tools.report.build import write_folder

    out = tmp_path_factory.mktemp("r") / "report"
    out.mkdir()
    cfg = ReportConfig(n_boot=20, targets={"cifar10-valid": ["x-valid", 200]})
    sections, prov = compute_sections(cfg, progress=False)
    write_folder(cfg, sections, prov, out, time.perf_counter())
    return out, sections


@pytest.fixture(scope="module")
def report(built):
    return built[0]


@pytest.fixture(scope="module")
def numbers(report):
    return json.loads((report / "numbers.json").read_text())


def _tau(numbers, section, proxy):
    return numbers["sections"][section]["proxies"][proxy]["kendall_tau"]


def test_nb201_cifar10_numbers(numbers):
    sec = numbers["sections"]["nb201-cifar10-valid"]
    assert sec["ground_truth"]["split"] == "x-valid" and sec["ground_truth"]["epochs"] == 200
    assert _tau(numbers, "nb201-cifar10-valid", "12-epoch x-valid") == pytest.approx(
        0.648, abs=1e-3
    )
    assert _tau(numbers, "nb201-cifar10-valid", "NASWOT") == pytest.approx(0.570, abs=1e-3)
    assert sec["proxies"]["NASWOT"]["n"] == 15284 and sec["proxies"]["NASWOT"]["n_omitted"] == 341
    lo, hi = (
        sec["proxies"]["NASWOT"]["kendall_tau_low"],
        sec["proxies"]["NASWOT"]["kendall_tau_high"],
    )
    assert lo < 0.570 < hi


def test_seed_agreement_replaces_the_noise_ceiling(numbers, report):
    # the defect: tau(777, 888) = 0.910 was called a ceiling, but one seed ranks the 2-3 seed
    # mean (the ground truth) at 0.951; the report now gives seed vs seed and seed vs the rest
    sec = numbers["sections"]["nb201-cifar10-valid"]
    assert "noise_ceiling" not in sec
    sa = sec["seed_agreement"]
    assert sa["metric"] == "kendall_tau_b"
    pairs = sa["seed_vs_seed"]
    assert set(pairs) == {"777 vs 888", "777 vs 999", "888 vs 999"}
    assert pairs["777 vs 888"]["value"] == pytest.approx(0.910, abs=1e-3)
    assert (pairs["777 vs 888"]["n"], pairs["777 vs 999"]["n"]) == (15_625, 8_169)
    rest = sa["seed_vs_mean_of_other_seeds"]
    assert rest["777"]["value"] == pytest.approx(0.915, abs=1e-3)
    assert rest["999"]["value"] == pytest.approx(0.924, abs=1e-3) and rest["999"]["n"] == 8_169
    lo, hi = pairs["777 vs 888"]["low"], pairs["777 vs 888"]["high"]
    assert lo < 0.910 < hi and pairs["777 vs 888"]["n_valid"] == 20
    index = (report / "index.md").read_text()
    assert "777 vs 888 **0.910 [" in index and "seed 777 **0.915 [" in index
    for text in (index, (report / "numbers.json").read_text()):
        assert "ceiling" not in text.lower() and "upper bound" not in text.lower()


def test_zero_cost_cifar10_numbers(numbers):
    expected = {
        "nwot": 0.593,
        "jacov": 0.583,  # 0.584 with NASLib's failure value -1e8 kept
        "params": 0.562,
        "synflow": 0.537,
        "flops": 0.520,
        "snip": 0.443,
        "plain": -0.174,
    }
    sec = numbers["sections"]["zc-cifar10-valid"]
    for proxy, tau in expected.items():
        assert sec["proxies"][proxy]["kendall_tau"] == pytest.approx(tau, abs=1e-3), proxy
        assert sec["proxies"][proxy]["n"] == (723 if proxy == "jacov" else 724)


def _raw_zc(dataset):
    import pandas as pd

    from nasbench_tools.groundtruth.formats.embedded_csv import embedded_path

    z = pd.read_csv(embedded_path("nb201_zc_suite_zero_725archs.csv.gz"))
    return z[z.dataset == dataset]


def test_zc_failure_sentinels_are_excluded_and_counted(numbers, report):
    # the defect: -1e8 ("the proxy failed") entered the correlations as a score
    import scipy.stats as ss

    raw = _raw_zc("cifar10")
    sec = numbers["sections"]["zc-cifar10-valid"]
    policy = sec["score_policy"]
    assert policy["policy"] == "exclude" and policy["sentinel_value"] == -1e8
    for proxy in sec["proxies"]:
        n_sent = int((raw[proxy] == -1e8).sum())
        assert policy["counts"][proxy] == n_sent
        assert sec["proxies"][proxy]["sentinels_excluded"] == n_sent
    jac = sec["proxies"]["jacov"]
    assert (jac["sentinels_excluded"], jac["n"], jac["n_omitted"]) == (1, 723, 1)
    clean = raw[raw.jacov != -1e8]
    r_clean = ss.pearsonr(clean.val_accuracy_200, clean.jacov).statistic
    r_raw = ss.pearsonr(raw.val_accuracy_200, raw.jacov).statistic
    assert jac["pearson_r"] == pytest.approx(r_clean, abs=1e-12)
    assert (round(r_clean, 3), round(r_raw, 3)) == (0.652, 0.385)
    index = (report / "index.md").read_text()
    assert "excluded as missing" in index and "epe_nas 1, jacov 1." in index


def test_nb101_sample_duplicates(numbers):
    sec = numbers["sections"]["nb101-zc-all-rows"]
    assert sec["duplicate_audit"]["n"] == 500 and sec["duplicate_audit"]["n_distinct"] == 292
    assert numbers["sections"]["nb101-zc-distinct"]["proxies"]["synflow"]["n"] == 292


def test_provenance_and_config(numbers, report):
    prov = numbers["provenance"]
    assert prov["ground_truth"]["benchmark"] == "NATS-tss-v1_0-3ffb9"
    assert len(prov["ground_truth"]["source_sha256"]) == 64
    assert prov["package_version"]
    assert numbers["config"]["n_boot"] == 20 and numbers["config"]["seed"] == 0
    assert json.loads((report / "config.json").read_text()) == numbers["config"]


def test_index_links_every_figure_and_every_link_resolves(report):
    # the defect: index.md searched for "_scatter_" while the files are "{slug}_scatter.png"
    import re

    index = (report / "index.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", index)
    anchors = [t for t in links if t.startswith("#")]
    targets = [t for t in links if not t.startswith("#")]
    assert targets and all((report / t).is_file() for t in targets)
    assert anchors == [
        f"#{slug}" for slug in json.loads((report / "numbers.json").read_text())["sections"]
    ]
    figs = sorted(p.name for p in (report / "figures").iterdir())
    linked = {t.split("/", 1)[1] for t in targets if t.startswith("figures/")}
    assert set(figs) == linked
    tables = {p.name for p in (report / "tables").iterdir()}
    assert tables == {t.split("/", 1)[1] for t in targets if t.startswith("tables/")}
    assert "![nb201-cifar10-valid scatter](figures/nb201-cifar10-valid_scatter.png)" in index


def _pdf_width_inches(path) -> float:
    m = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", path.read_bytes())
    return float(m.group(1)) / 72


def test_every_figure_in_png_and_pdf_at_paper_width(report):
    figs = {p.name for p in (report / "figures").iterdir()}
    stems = {f.rsplit(".", 1)[0] for f in figs}
    assert figs == {f"{s}.{e}" for s in stems for e in ("png", "pdf")}
    for slug in ("nb201-cifar10-valid", "zc-cifar10-valid", "nb101-zc-all-rows"):
        assert {f"{slug}_{k}" for k in ("ranking", "scatter", "topk", "pairwise")} <= stems
    assert "zc-cifar10-valid_heatmap" in stems
    # budgets on one split exist for CIFAR-10 x-valid (12 and 200 epochs)
    assert {"nb201-cifar10-valid_budget", "nb201-cifar10-valid_rank_change"} <= stems
    for f in figs:
        head = (report / "figures" / f).read_bytes()[:4]
        assert head == (b"%PDF" if f.endswith(".pdf") else b"\x89PNG"), f
        if f.endswith(".pdf"):
            # a paired-test triangle of up to 5 proxies fits one column; of more, the full width
            wide = re.search(r"_(scatter|heatmap)\.pdf$", f) or (
                f.endswith("_pairwise.pdf") and not f.startswith("nb201-")
            )
            assert _pdf_width_inches(report / "figures" / f) == pytest.approx(
                7.0 if wide else 3.3, abs=0.01
            ), f


def test_br_at_k_printed_as_rank_in_index_and_tables(numbers, report):
    d = numbers["sections"]["nb201-cifar10-valid"]["proxies"]["NASWOT"]
    assert d["br_at_10_denominator"] == 15_284
    assert d["br_at_10"] == pytest.approx(d["br_at_10_rank"] / 15_284)
    rank = f"{d['br_at_10_rank']:,.1f}".removesuffix(".0")
    for text in (
        (report / "index.md").read_text(),
        (report / "tables/nb201-cifar10-valid.md").read_text(),
    ):
        row = next(
            line for line in text.splitlines() if line.startswith("| NASWOT ") and " / " in line
        )
        assert f"| {rank} / 15,284 [" in row
        assert "0.000 [0.000, 0.000] |" not in row.split("|")[-2]


def test_existing_folder_is_not_overwritten(report):
    with pytest.raises(NasbenchToolsError, match="not empty"):
        build_report(ReportConfig(n_boot=0, figures="none"), report, progress=False)


def test_cli_main_job_small(tmp_path, capsys):
    out = tmp_path / "rep"
    rc = main(
        [
            "report",
            "--out",
            str(out),
            "--n-boot",
            "0",
            "--figures",
            "none",
            "--no-nb101",
            "--no-embedded-scores",
            "--target",
            "cifar10-valid:x-valid:200",
            "--no-progress",
        ]
    )
    assert rc == 0 and "report written to" in capsys.readouterr().out
    numbers = json.loads((out / "numbers.json").read_text())
    assert list(numbers["sections"]) == ["nb201-cifar10-valid"]
    assert numbers["config"]["zc_sentinels"] == "exclude"
    rc = main(["report", "--out", str(out), "--target", "cifar10-valid:x-valid"])
    assert rc == 2


def test_cli_zc_sentinels_keep_opts_out(tmp_path):
    import scipy.stats as ss

    out = tmp_path / "keep"
    args = ["report", "--out", str(out), "--n-boot", "0", "--figures", "none", "--no-nb101"]
    args += ["--target", "cifar10-valid:x-valid:200", "--no-progress", "--zc-sentinels", "keep"]
    assert main(args) == 0
    numbers = json.loads((out / "numbers.json").read_text())
    sec = numbers["sections"]["zc-cifar10-valid"]
    assert sec["score_policy"]["policy"] == "keep" and sec["score_policy"]["counts"]["jacov"] == 1
    jac = sec["proxies"]["jacov"]
    raw = _raw_zc("cifar10")
    assert (jac["n"], jac["sentinels_excluded"]) == (724, 0)
    assert jac["pearson_r"] == pytest.approx(
        ss.pearsonr(raw.val_accuracy_200, raw.jacov).statistic, abs=1e-12
    )
    assert "KEPT as scores" in (out / "index.md").read_text()
    with pytest.raises(SystemExit):
        main([*args[:-1], "maybe"])


# ----------------------------------------------------------------------------- user score tables
def _small(tmp_path, scores, **kw):
    cfg = ReportConfig(
        n_boot=0,
        figures="none",
        embedded_scores=False,
        nb101_sample=False,
        targets={"cifar10-valid": ["x-valid", 200]},
        scores=[str(s) for s in scores],
        **kw,
    )
    out = build_report(cfg, tmp_path / "rep", progress=False)
    numbers = json.loads((out / "numbers.json").read_text())
    return numbers["sections"]["nb201-cifar10-valid"], (out / "index.md").read_text()


def _user_csv(tmp_path, name="mine.csv", sidecar=None):
    import numpy as np

    from nasbench_tools.groundtruth import load

    y = load("nb201").vector(dataset="cifar10-valid", split="x-valid", epochs=200)
    idx = np.arange(0, 15625, 7)
    p = tmp_path / name
    p.write_text("index,acc_copy\n" + "".join(f"{i},{float(y[i])!r}\n" for i in idx))
    if sidecar is not None:
        (tmp_path / f"{name}.meta.json").write_text(json.dumps(sidecar))
    return p


def test_user_table_without_sidecar_is_ranked_and_its_data_is_called_unknown(tmp_path):
    sec, index = _small(tmp_path, [_user_csv(tmp_path)])
    d = sec["proxies"]["mine:acc_copy"]
    assert d["kendall_tau"] == pytest.approx(1.0) and d["n"] == len(range(0, 15625, 7))
    assert any("does not say which images" in n for n in sec["notes"])
    assert "does not say which images" in index


def test_user_table_on_other_images_is_called_a_transfer_question(tmp_path):
    side = {"space": "nb201", "data": "fashion-mnist", "label": "fm"}
    sec, index = _small(tmp_path, [_user_csv(tmp_path, sidecar=side)])
    assert "fm:acc_copy" in sec["proxies"]
    note = next(n for n in sec["notes"] if n.startswith("fm: "))
    assert "Fashion-MNIST images, ranked against cifar10-valid" in note
    assert "transfer question" in note and note in index


def test_user_table_on_the_same_images_gets_no_warning(tmp_path):
    side = {"space": "nb201", "data": "cifar10", "label": "c10"}
    sec, _ = _small(tmp_path, [_user_csv(tmp_path, sidecar=side)])
    assert "c10:acc_copy" in sec["proxies"] and not sec["notes"]


def test_user_table_made_for_another_target(tmp_path):
    other = {"space": "nb201", "data": "cifar100", "target": {"dataset": "cifar100"}}
    split = {
        "space": "nb201",
        "data": "cifar10",
        "label": "t",
        "target": {"dataset": "cifar10-valid", "split": "ori-test"},
    }
    a = _user_csv(tmp_path, "other.csv", other)
    b = _user_csv(tmp_path, "t.csv", split)
    sec, _ = _small(tmp_path, [b])
    assert "t:acc_copy" in sec["proxies"]
    assert any("made for cifar10-valid split ori-test" in n for n in sec["notes"])
    # a table made for a dataset the report does not rank is an error, not silently left out
    (tmp_path / "again").mkdir()
    with pytest.raises(NasbenchToolsError, match=r"other\.csv: the table was made for dataset "):
        _small(tmp_path / "again", [a, b])
    assert not (tmp_path / "again" / "rep").exists()


def test_user_table_goes_only_to_its_target_section(tmp_path):
    side = {"space": "nb201", "data": "cifar100", "target": {"dataset": "cifar100"}}
    a = _user_csv(tmp_path, "c100.csv", side)
    cfg = ReportConfig(
        n_boot=0,
        figures="none",
        embedded_scores=False,
        nb101_sample=False,
        targets={"cifar10-valid": ["x-valid", 200], "cifar100": ["ori-test", 200]},
        scores=[str(a)],
    )
    out = build_report(cfg, tmp_path / "rep", progress=False)
    secs = json.loads((out / "numbers.json").read_text())["sections"]
    assert "c100:acc_copy" in secs["nb201-cifar100"]["proxies"]
    assert not any(k.startswith("c100:") for k in secs["nb201-cifar10-valid"]["proxies"])


def test_operator_level_table_is_refused_and_nothing_is_written(tmp_path):
    from nasbench_tools.spaces import get_space

    p = tmp_path / "alphas.csv"
    pairs = get_space("nb201").operators()
    p.write_text("edge,op,alpha\n" + "".join(f"{e},{o},{i}\n" for i, (e, o) in enumerate(pairs)))
    with pytest.raises(NasbenchToolsError, match=r"alphas\.csv: an operator-level score table"):
        _small(tmp_path, [p])
    assert sorted(x.name for x in tmp_path.iterdir()) == ["alphas.csv"]


def test_report_into_a_file_path_is_refused(tmp_path):
    from nasbench_tools.errors import OutputPathError

    f = tmp_path / "rep"
    f.write_text("")
    with pytest.raises(OutputPathError, match="exists and is not a folder"):
        build_report(ReportConfig(n_boot=0, figures="none"), f, progress=False)


def test_the_report_builder_does_not_import_the_cli():
    # the defect: nasbench_tools/report.py imported cli._common.open_ground_truth
    import ast
    from pathlib import Path

    import nasbench_tools.report as report

    tree = ast.parse(Path(report.__file__).read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert imported and not [m for m in imported if m == "cli" or ".cli" in f".{m}"]


def test_naswot_against_other_images_is_called_a_transfer_question(tmp_path, numbers):
    # NASWOT's scores were computed on CIFAR-10 images: fine for cifar10-valid, a transfer
    # question for CIFAR-100
    assert not numbers["sections"]["nb201-cifar10-valid"]["notes"]
    cfg = ReportConfig(
        n_boot=0, figures="none", nb101_sample=False, targets={"cifar100": ["ori-test", 200]}
    )
    out = build_report(cfg, tmp_path / "rep", progress=False)
    sec = json.loads((out / "numbers.json").read_text())["sections"]["nb201-cifar100"]
    assert sec["notes"] == [
        "NASWOT: scores computed on CIFAR-10 images, ranked against cifar100 (CIFAR-100 "
        "images): a transfer question (does a ranking on one image set carry over to another), "
        "not a same-data comparison"
    ]
    assert sec["notes"][0] in (out / "index.md").read_text()


# ----------------------------------------------------------------------------- paper outputs
def test_headline_table_md_csv_tex_are_one_table_with_every_cell_in_numbers(report, numbers):
    md = (report / "tables/headline.md").read_text()
    tex = (report / "tables/headline.tex").read_text()
    csv_ = (report / "tables/headline.csv").read_text()
    grid = from_markdown(md)
    assert grid == from_csv(csv_) == from_latex(tex)
    assert "\\begin{table*}" in tex and "\\label{tab:headline}" in tex and "\\caption{" in tex
    assert "Kendall $\\tau_b$" in tex and "kendall\\_tau" not in tex
    rows = {(g[:20], label): row for g, label, row in grid}
    nb = "NAS-Bench-201, all 1"
    cells = {
        (c["row"], c["metric"]): c
        for c in numbers["headline"]["cells"]
        if "reference" not in c and c["group"].startswith(nb)
    }
    # the 12-epoch row: n, then tau, rho, P@top-5% with intervals, each from numbers.json
    row = rows[(nb, "12-epoch x-valid")]
    assert row[0] == ("15,625", False)
    for j, m in enumerate(("kendall_tau", "spearman_rho", "p_at_top_k"), start=1):
        c = cells[("12-epoch x-valid", m)]
        assert row[j][0] == f"{c['value']:.3f} [{c['low']:.3f}, {c['high']:.3f}]"
    assert cells[("12-epoch x-valid", "p_at_top_k")]["k"] == 781
    assert cells[("NASWOT", "p_at_top_k")]["k"] == 764 and rows[(nb, "NASWOT")][0][0] == "15,284"
    # best per column marked: the 12-epoch accuracy has the best tau of the full-space rows
    assert row[1][1] and not rows[(nb, "NASWOT")][1][1]
    for label in ("seed vs seed (benchmark)", "one seed vs mean of the others (benchmark)"):
        assert rows[(nb, label)][0][0] == "8,169–15,625"
    # the zero-cost sample is its own row group (another ground truth)
    assert (("NAS-Bench-Suite-Zero", "SynFlow")) in {(g[:20], lab) for g, lab, _ in grid}
    assert "n = 15,625: K = 781" in md and "n = 724: K = 36" in md


def _floats(obj, out):
    if isinstance(obj, dict):
        for v in obj.values():
            _floats(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _floats(v, out)
    elif isinstance(obj, float):
        out.add(f"{obj:.3f}")
        out.add(f"{round(obj):,}")  # a rank bound printed without its ".0"
    elif isinstance(obj, int) and not isinstance(obj, bool):
        out.add(f"{obj:,}")


def test_numbers_json_holds_every_number_of_the_index(report, numbers):
    known: set[str] = set()
    _floats(numbers, known)
    index = (report / "index.md").read_text()
    shown = set(re.findall(r"(?<![\w.])-?\d+\.\d{3}(?!\d)", index))
    shown |= set(re.findall(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\d])", index))
    assert len(shown) > 100
    assert shown <= known, sorted(shown - known)[:20]


def test_every_figure_number_is_in_numbers_json(numbers):
    sec = numbers["sections"]["zc-cifar10-valid"]
    panels = sec["figure_scatter"]["panels"]
    assert sec["figure_scatter"]["space"] == "rank"
    assert panels["synflow"]["kendall_tau_b"] == pytest.approx(
        sec["proxies"]["synflow"]["kendall_tau"]
    )
    assert panels["jacov"]["n"] == 723
    hm = sec["figure_heatmap"]
    assert hm["names"][0] == "ground truth" and len(hm["kendall_tau_b"]) == 13
    c10 = numbers["sections"]["nb201-cifar10-valid"]
    assert c10["budget"]["budgets"] == [12, 200] and c10["budget"]["split"] == "x-valid"
    rc = c10["budget"]["rank_change"]
    assert rc["kendall_tau_b_all"] == pytest.approx(0.648, abs=1e-3) and sorted(
        rc["ranks_to"]
    ) == list(range(1, 21))
    curve = c10["p_at_k_curve"]["NASWOT"]
    assert curve["n"] == 15_284 and curve["k"][0] == 15  # 0.1% of 15,284
    pw = sec["pairwise"]
    assert pw["correction"] == "holm" and pw["n_tests"] == 66 and "Holm" in pw["description"]


def test_paired_tests_are_in_the_report(report, numbers):
    md = (report / "tables/zc-cifar10-valid_pairwise.md").read_text()
    assert from_markdown(md) == from_csv(
        (report / "tables/zc-cifar10-valid_pairwise.csv").read_text()
    )
    index = (report / "index.md").read_text()
    assert "Holm's step-down correction over the 66 pairs" in index
    assert "adjusted for the number of pairs by Holm's step-down procedure" in index
    t = next(
        t
        for t in numbers["sections"]["zc-cifar10-valid"]["pairwise"]["tests"]
        if {t["a"], t["b"]} == {"nwot", "plain"}
    )
    assert t["significant"] and t["diff"] * (1 if t["a"] == "nwot" else -1) > 0.7


def test_ties_are_explained_once(report):
    index = (report / "index.md").read_text()
    assert index.count("expectations over breaking ties uniformly at random") == 1


def test_index_html_has_the_same_tables_and_figures(report):
    html = (report / "index.html").read_text()
    md = (report / "index.md").read_text()
    assert html.count("<table") == md.count("\n|:---|")
    imgs = re.findall(r'<img src="([^"]+)"', html)
    assert imgs == re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert all((report / i).is_file() for i in imgs)
    assert "http://" not in html and "https://" not in html  # opens without a network


def _layout_cases():
    from nasbench_tools.report.figures import FIGURES

    return [
        (slug, kind, width, space)
        for slug in ("nb201-cifar10-valid", "zc-cifar10-valid", "nb101-zc-all-rows")
        for kind in FIGURES
        for width in ("column", "full")
        for space in (("rank", "value") if kind == "scatter" else (None,))
    ]


@pytest.mark.parametrize("slug,kind,width,space", _layout_cases())
def test_figures_at_paper_width_have_no_overlapping_or_cut_text(built, slug, kind, width, space):
    # the defect: overlapping tick labels (NB101 jacov), legends over the points, titles cut
    import matplotlib.pyplot as plt

    from nasbench_tools.analysis import layout_problems
    from nasbench_tools.report.figures import draw

    sec = next(s for s in built[1] if s.slug == slug)
    made = draw(kind, sec, width, **({"space": space} if space else {}))
    if made is None:  # a heatmap for zero-cost sections; budgets where one split has two
        assert (kind, sec.kind) in {
            ("heatmap", "benchmark"),
            ("budget", "zc"),
            ("rank_change", "zc"),
            ("budget", "nb101-sample"),
            ("rank_change", "nb101-sample"),
        }
        return
    fig, _ = made
    try:
        assert fig.get_figwidth() == pytest.approx({"column": 3.3, "full": 7.0}[width])
        assert layout_problems(fig) == []
        if space == "value":
            _assert_not_squashed(fig)
    finally:
        plt.close(fig)


def _assert_not_squashed(fig):
    """In value space, the middle 90% of each panel's points spans a good part of its axes."""
    for ax in fig.axes:
        if not ax.get_visible() or not ax.collections:
            continue
        pts = ax.collections[0].get_offsets()
        if len(pts) < 20:
            continue
        scales = (ax.get_xscale(), ax.get_yscale())
        for dim, lim in ((0, ax.get_xlim()), (1, ax.get_ylim())):
            v = np.asarray(pts)[:, dim]
            if scales[dim] == "log":  # the share of the axis a span takes is in log units
                v, lim = np.log10(v[v > 0]), np.log10(lim)
            lo, hi = np.quantile(v, [0.05, 0.95])
            assert (hi - lo) / (lim[1] - lim[0]) > 0.15, ax.get_title()


@pytest.mark.slow
def test_index_html_in_headless_chromium(report, tmp_path):
    """A browser opens index.html from the folder: every figure loads, every table is there."""
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's package)")
    folder = tmp_path / "report"
    shutil.copytree(report, folder)
    probe = (
        "<script>window.addEventListener('load', () => { const r = [...document.images].map("
        "i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]); const p = "
        "document.createElement('pre'); p.id = 'probe'; p.textContent = JSON.stringify({images: r,"
        " tables: document.querySelectorAll('table').length}); document.body.appendChild(p); });"
        "</script></body>"
    )
    page = folder / "probe.html"
    page.write_text((folder / "index.html").read_text().replace("</body>", probe))
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=20000",
        "--dump-dom",
        page.as_uri(),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    m = re.search(r'<pre id="probe">(.*?)</pre>', res.stdout, re.S)
    assert m, res.stderr[-2000:]
    import html as _html

    probe_out = json.loads(_html.unescape(m.group(1)))
    md = (report / "index.md").read_text()
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert [src for src, _ in probe_out["images"]] == figures
    assert all(ok for _, ok in probe_out["images"]), [s for s, ok in probe_out["images"] if not ok]
    # the headline table, and per section its proxy table and its paired tests
    sections = json.loads((report / "numbers.json").read_text())["sections"].values()
    expected = 1 + sum(bool(s["proxies"]) + ("pairwise" in s) for s in sections)
    assert probe_out["tables"] == md.count("\n|:---|") == expected >= 9


# ----------------------------------------------------------------------------- fair pools
def _table_of_500(tmp_path):
    """A user table over 500 archs keyed by arch string: 300 of NAS-Bench-Suite-Zero's CIFAR-10
    sample and 200 others; the score is the 12-epoch accuracy (a real low-fidelity proxy)."""
    from nasbench_tools.groundtruth import load
    from nasbench_tools.scores import load_scores
    from nasbench_tools.spaces.nb201 import Arch

    gt = load("nb201")
    zc = np.asarray(load_scores("nb201-zc", dataset="cifar10-valid").keys, dtype=int)
    others = np.setdiff1d(np.arange(15625), zc)[::70][:200]
    idx = np.concatenate([zc[:300], others])
    assert len(idx) == len(set(idx.tolist())) == 500
    score = gt.vector(dataset="cifar10-valid", split="x-valid", epochs=12)
    p = tmp_path / "mine500.csv"
    rows = "".join(f"{Arch.from_index(int(i)).to_string()},{float(score[i])!r}\n" for i in idx)
    p.write_text("arch_str,twelve\n" + rows)
    side = {"space": "nb201", "label": "mine", "data": "cifar10"}
    (tmp_path / "mine500.csv.meta.json").write_text(json.dumps(side))
    return p, idx, score


def _pool_report(tmp_path, table, pool):
    cfg = ReportConfig(
        n_boot=0,
        figures="none",
        nb101_sample=False,
        targets={"cifar10-valid": ["x-valid", 200]},
        scores=[str(table)],
        pool=pool,
    )
    out = build_report(cfg, tmp_path / f"rep-{pool}", progress=False)
    return json.loads((out / "numbers.json").read_text()), (out / "index.md").read_text()


def test_user_table_of_500_archs_joins_the_zero_cost_section_with_its_overlap(tmp_path):
    # the defect: a 500-arch table sat beside proxies on 15,284-15,625 archs with no warning,
    # and was missing from the NAS-Bench-Suite-Zero sections (the only place synflow appears)
    import scipy.stats as ss

    from nasbench_tools.scores import load_scores

    table, idx, score = _table_of_500(tmp_path)
    numbers, index = _pool_report(tmp_path, table, "each")
    zc = numbers["sections"]["zc-cifar10-valid"]
    mine = zc["proxies"]["mine:twelve"]
    assert mine["n"] == 300 and mine["user_table"]["overlap"] == 300
    assert "mine: joined on the architectures it shares with this sample" in index
    assert "mine:twelve n = 300 of 724" in index
    # oracle: scipy's tau-b on the 300 shared archs, against the suite's recorded accuracy
    t = load_scores("nb201-zc", dataset="cifar10-valid")
    keys = np.asarray(t.keys, dtype=int)
    shared = np.isin(keys, idx)
    expected = ss.kendalltau(np.asarray(t["val_accuracy"])[shared], score[keys[shared]])
    assert mine["kendall_tau"] == pytest.approx(expected.statistic, abs=1e-12)
    nb = numbers["sections"]["nb201-cifar10-valid"]
    assert nb["proxies"]["mine:twelve"]["n"] == 500
    assert nb["pool"]["n_per_row"]["mine:twelve"] == 500
    assert "different sets of architectures" in nb["pool"]["warning"]
    assert zc["pool"]["warning"] and "--pool common" in index
    assert {c["n"] for c in numbers["headline"]["cells"] if c["row"] == "mine:twelve"} == {
        300,
        500,
    }


def test_pool_common_gives_every_row_of_a_section_the_same_architectures(tmp_path):
    table, _, _ = _table_of_500(tmp_path)
    numbers, index = _pool_report(tmp_path, table, "common")
    for slug in ("nb201-cifar10-valid", "zc-cifar10-valid"):
        sec = numbers["sections"][slug]
        ns = {p["n"] for p in sec["proxies"].values()}
        assert len(ns) == 1, (slug, ns)
        assert ns == {sec["pool"]["n_common"]} and "warning" not in sec["pool"]
        assert sec["pool"]["note"].startswith("Pool: common.")
    # NASWOT has no score for 341 disconnected cells; the 500 drawn here contain some of them
    nb = numbers["sections"]["nb201-cifar10-valid"]
    assert nb["pool"]["n_common"] <= 500 and nb["pool"]["n_per_row"]["mine:twelve"] <= 500
    assert numbers["sections"]["zc-cifar10-valid"]["pool"]["n_common"] <= 300
    assert "Pool: common." in index


def test_report_includes_a_search_section_when_given_trajectories(tmp_path, capsys):
    """`nbt report --search` renders `nbt search` trajectories (tables, figures, numbers) in
    index.md and index.html alike; without the option there is no Search section."""
    runs = []
    for strategy in ("random", "rea"):
        out = tmp_path / f"{strategy}.npz"
        args = ["search", "--strategy", strategy, "--protocol", "nb201-cifar10", "--repeats", "3"]
        assert main([*args, "--seed", "0", "--no-progress", "-o", str(out)]) == 0
        runs.append(str(out))
    common = ["--n-boot", "10", "--no-embedded-scores", "--no-nb101", "--figures", "none"]
    common += ["--target", "cifar10-valid:x-valid:200", "--no-progress"]
    rep = tmp_path / "rep"
    assert main(["report", "--out", str(rep), *common, "--search", *runs,
                 "--search-at-queries", "50"]) == 0  # fmt: skip
    md = (rep / "index.md").read_text()
    page = (rep / "index.html").read_text()
    nums = json.loads((rep / "numbers.json").read_text())["search"]
    assert "## Search" in md and "### nb201-cifar10-12000s" in md
    assert "<h2>Search</h2>" in page and "<td>rea</td>" in page and "<td>random</td>" in page
    assert "| strategy | counting | 50 queries |" in md and "<th>50 queries</th>" in page
    figures = re.findall(r"\]\((figures/nb201-cifar10-12000s-[^)]+\.png)\)", md)
    assert figures and all((rep / f).is_file() for f in figures)
    assert all(f'src="{f}"' in page for f in figures)
    (setting,) = nums["settings"]
    assert {r["strategy"] for r in setting["rows"]} == {"random", "rea"}
    plain = tmp_path / "plain"
    assert main(["report", "--out", str(plain), *common]) == 0
    assert "## Search" not in (plain / "index.md").read_text()
    assert "search" not in json.loads((plain / "numbers.json").read_text())
    capsys.readouterr()
    bad = ["report", "--out", str(tmp_path / "x"), *common, "--search", *runs]
    assert main([*bad, "--search-at-queries", "ten"]) == 2
    assert "--search-at-queries 'ten': expected query counts" in capsys.readouterr().err


def test_our_proxies_are_compared_with_their_suite_zero_counterparts(tmp_path):
    """A user table whose columns are registry proxy names gets, in the NAS-Bench-Suite-Zero
    section, Spearman and Kendall against the suite's own column of that proxy on the shared
    architectures (signed: a negated copy is -1, never +1); columns without a counterpart get
    none. Oracle: scipy on the raw suite file."""
    import scipy.stats as ss

    raw = _raw_zc("cifar10").sort_values("index")
    rng = np.random.default_rng(3)
    keep = raw.iloc[rng.permutation(len(raw))[:400]]
    noisy = keep.synflow.to_numpy() * np.exp(rng.normal(0, 0.5, len(keep)))
    csv = tmp_path / "ours.csv"
    rows = zip(keep["index"], noisy, -keep.grasp.to_numpy(), keep.val_accuracy_200)
    csv.write_text(
        "index,synflow,grasp,acc\n"
        + "".join(f"{i},{float(a)!r},{float(b)!r},{float(c)!r}\n" for i, a, b, c in rows)
    )
    (tmp_path / "ours.csv.meta.json").write_text(
        json.dumps({"space": "nb201", "data": "none", "label": "ours"})
    )
    cfg = ReportConfig(
        n_boot=0, figures="none", nb101_sample=False, targets={"cifar10-valid": ["x-valid", 200]},
        scores=[str(csv)],
    )  # fmt: skip
    out = build_report(cfg, tmp_path / "rep", progress=False)
    nums = json.loads((out / "numbers.json").read_text())
    agree = nums["sections"]["zc-cifar10-valid"]["counterpart_agreement"]
    assert set(agree) == {"ours:synflow", "ours:grasp"}
    s = agree["ours:synflow"]
    assert (s["theirs"], s["n"]) == ("synflow", 400)
    assert s["spearman_rho"] == pytest.approx(ss.spearmanr(keep.synflow, noisy).statistic)
    assert s["kendall_tau_b"] == pytest.approx(ss.kendalltau(keep.synflow, noisy).statistic)
    assert 0.1 < s["spearman_rho"] < 0.999  # the noise is visible, not a copy
    assert agree["ours:grasp"]["spearman_rho"] == pytest.approx(-1.0)
    assert "counterpart_agreement" not in nums["sections"]["nb201-cifar10-valid"]
    index = (out / "index.md").read_text()
    assert "`ours:synflow` (no images (data-free)) vs NAS-Bench-Suite-Zero's `synflow`" in index
    assert f"**{s['spearman_rho']:.4f}**" in index and "(n = 400)" in index


def test_a_sample_ground_truth_joins_the_embedded_scores_on_the_architectures_it_holds():
    """Bug: a built store of 60 NB201 classes (the pilot in data/builds/) made the default
    report fail, because the embedded NASWOT table scores all 15,625 architectures and the
    join asked the 60-architecture ground truth for each. Now the table joins on the 60; the
    oracle is the table looked up by key here."""
    from nasbench_tools.groundtruth.target import open_ground_truth
    from nasbench_tools.scores import load_scores

    store = Path(__file__).resolve().parents[1] / "data" / "builds" / "pilot_cpu_e5.h5"
    cfg = ReportConfig(
        ground_truth=str(store), n_boot=0, figures="none", nb101_sample=False,
        targets={"fashion-mnist": ["valid", 5]},
    )  # fmt: skip
    sections, _ = compute_sections(cfg, progress=False)
    (sec,) = sections
    gt = open_ground_truth(str(store))
    naswot = load_scores("nb201-naswot")
    by_key = dict(zip(naswot.keys.tolist(), np.asarray(naswot["naswot"], dtype=float)))
    expected = np.array([by_key[int(k)] for k in gt.archs.keys])
    assert len(sec.scores["NASWOT"]) == len(gt) == 60
    np.testing.assert_array_equal(sec.scores["NASWOT"], expected)
