"""`nbt report` on the embedded data: numbers.json holds the published and recomputed numbers."""

from __future__ import annotations

import json

import pytest

from nasbench_tools.cli.__main__ import main
from nasbench_tools.errors import NasbenchToolsError
from nasbench_tools.report import ReportConfig, build_report


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "report"
    build_report(ReportConfig(n_boot=20), out, progress=False)
    return out


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
    assert sec["noise_ceiling"]["statistic"] == pytest.approx(0.910, abs=1e-3)
    assert sec["noise_ceiling"]["pairs"] == {"777 vs 888": pytest.approx(0.910, abs=1e-3)}
    lo, hi = (
        sec["proxies"]["NASWOT"]["kendall_tau_low"],
        sec["proxies"]["NASWOT"]["kendall_tau_high"],
    )
    assert lo < 0.570 < hi


def test_zero_cost_cifar10_numbers(numbers):
    expected = {
        "nwot": 0.593,
        "jacov": 0.584,
        "params": 0.562,
        "synflow": 0.537,
        "flops": 0.520,
        "snip": 0.443,
        "plain": -0.174,
    }
    sec = numbers["sections"]["zc-cifar10-valid"]
    for proxy, tau in expected.items():
        assert sec["proxies"][proxy]["kendall_tau"] == pytest.approx(tau, abs=1e-3), proxy
        assert sec["proxies"][proxy]["n"] == 724


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


def test_files(report):
    figs = {p.name for p in (report / "figures").iterdir()}
    for slug in ("nb201-cifar10-valid", "zc-cifar10-valid", "nb101-zc-all-rows"):
        assert {f"{slug}_ranking.png", f"{slug}_ranking.pdf", f"{slug}_scatter.png"} <= figs
    assert {"zc-cifar10-valid_heatmap.png", "zc-cifar10-valid_heatmap.pdf"} <= figs
    tables = {p.name for p in (report / "tables").iterdir()}
    assert {
        "nb201-cifar10-valid.md",
        "nb201-cifar10-valid.tex",
        "nb201-cifar10-valid.csv",
    } <= tables
    index = (report / "index.md").read_text()
    assert "0.910" in index and "figures/nb201-cifar10-valid_ranking.png" in index


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
    rc = main(["report", "--out", str(out), "--target", "cifar10-valid:x-valid"])
    assert rc == 2
