"""The report's search section: settings kept apart, numbers equal the analysis functions',
figures written."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from nasbench_tools.search import (
    Budget,
    SearchError,
    final_result,
    queries_to_optimum,
    ri_over_random,
    run_searches,
    write_trajectories,
)
from nasbench_tools.search.displays import CurveDisplay, PredictorCurveDisplay, SurvivalDisplay
from nasbench_tools.search.report import SearchSection, search_section


@pytest.fixture(scope="module")
def runs(nb201_oracle):
    b = Budget(seconds=4000)
    rs = run_searches(nb201_oracle, "random", b, repeats=20, seed=0, progress=False)
    rea = run_searches(nb201_oracle, "rea", b, repeats=20, seed=0, progress=False)
    wk = run_searches(
        nb201_oracle,
        "weaknas",
        Budget(queries=30),
        repeats=3,
        seed=0,
        progress=False,
        options={"init_samples": 10, "per_iteration": 10, "top_k": 30},
    )
    return rs, rea, wk


def test_section_numbers_are_the_analysis_numbers(runs):
    rs, rea, wk = runs
    s = SearchSection([rs, rea, wk], at_queries=(20,), n_boot=200, seed=1)
    nums = s.numbers()["settings"]
    assert len(nums) == 2  # a 4000 s setting and a 30-query one, never one table
    time_rows = {r["strategy"]: r for r in nums[0]["rows"]}
    f = final_result(rea, n_boot=200, seed=1)
    assert time_rows["rea"]["mean"] == f.mean and time_rows["rea"]["ci"] == [f.low, f.high]
    ri = ri_over_random(rea, rs, n_boot=200, seed=1)
    assert time_rows["rea"]["ri_over_random"]["ri"] == ri.ri
    assert "ri_over_random" not in time_rows["random"]
    assert (
        time_rows["rea"]["optimum_queried"]["fraction"] == queries_to_optimum(rea).fraction_reached
    )
    wk_rows = nums[1]["at_queries"]
    assert {r["counting"] for r in wk_rows} == {"every query counted", "WeakNAS's counting"}


def test_section_markdown_and_figures(runs, tmp_path):
    rs, rea, wk = runs
    paths = []
    for t, name in ((rs, "rs"), (rea, "rea"), (wk, "wk")):
        paths.append(write_trajectories(t, tmp_path / f"{name}.npz"))
    s = SearchSection(paths, at_queries=(20,), n_boot=100)
    figs = s.figures(tmp_path)
    md = s.to_markdown(figures={k: [p.name for p in v] for k, v in figs.items()})
    assert "### nb201-cifar10-4000s" in md and "### nb201-cifar10-30q" in md
    assert "| rea | 20 |" in md and "RI over random" in md
    assert "joins nb201 (signal, cost) and nb201-v1_1 (report)" in md
    written = [p for v in figs.values() for p in v]
    assert all(p.exists() and p.stat().st_size > 5000 for p in written)
    names = {p.name for p in written}
    assert "nb201-cifar10-4000s-regret-seconds.png" in names
    assert "nb201-cifar10-30q-weaknas-counting.png" in names
    assert "nb201-cifar10-30q-predictor-tau.png" in names


def test_section_needs_trajectories_and_a_folder(runs, tmp_path):
    with pytest.raises(SearchError, match="at least one"):
        SearchSection([])
    with pytest.raises(SearchError, match="not a folder"):
        SearchSection([runs[0]], n_boot=10).figures(tmp_path / "missing")


def test_displays_hold_the_values_they_draw(runs):
    import matplotlib

    matplotlib.use("Agg")
    rs, rea, _ = runs
    d = CurveDisplay.from_trajectories([rs, rea], x="seconds", y="regret", n_boot=50).plot()
    assert len(d.lines_) == 2
    np.testing.assert_array_equal(d.lines_[1].get_ydata(), d.curves[1].mean)
    sv = SurvivalDisplay.from_trajectories([rea]).plot()
    assert sv.survivals[0].fraction_reached == queries_to_optimum(rea).fraction_reached
    with pytest.raises(SearchError, match="call plot"):
        CurveDisplay.from_trajectories([rs], n_boot=0).savefig("x.png")
    with pytest.raises(SearchError, match="metric must be"):
        PredictorCurveDisplay([], metric="rho")


def test_search_section_returns_markdown_linking_the_figures_it_wrote(runs, tmp_path):
    rs, rea, _ = runs
    figdir = tmp_path / "figures"
    figdir.mkdir()
    md, paths, numbers = search_section([rs, rea], figdir, link_base=tmp_path, n_boot=50)
    assert paths and all(p.parent == figdir and p.exists() for p in paths)
    for p in paths:  # links relative to the Markdown's folder, each figure once
        assert md.count(f"](figures/{p.name})") == 1
    want = SearchSection([rs, rea], n_boot=50).numbers()
    assert json.dumps(numbers, sort_keys=True) == json.dumps(want, sort_keys=True)  # NaN-safe
    assert md == SearchSection([rs, rea], n_boot=50).to_markdown(
        figures={numbers["settings"][0]["id"]: [f"figures/{p.name}" for p in paths]}
    )


def test_a_single_run_has_no_interval_and_says_so(nb201_oracle):
    b = Budget(seconds=3000)
    rs = run_searches(nb201_oracle, "random", b, repeats=5, seed=0, progress=False)
    one = run_searches(nb201_oracle, "rea", b, repeats=1, seed=0, progress=False)
    md = SearchSection([rs, one], n_boot=50).to_markdown()
    row = next(line for line in md.splitlines() if line.startswith("| rea |"))
    assert row.count("[no interval]") == 1 and "(1 run)" in row and "nan" not in row
    ri_cell = row.split("|")[8].strip()  # RI over random keeps the interval random's runs give
    assert re.fullmatch(r"[+-]\d+\.\d{3} \[[+-]\d+\.\d{3}, [+-]\d+\.\d{3}\]", ri_cell)
    rs_row = next(line for line in md.splitlines() if line.startswith("| random |"))
    assert "[no interval]" not in rs_row


def test_regret_axis_labels_several_ticks_within_the_curves(runs):
    import matplotlib

    matplotlib.use("Agg")
    rs, rea, _ = runs
    d = CurveDisplay.from_trajectories([rs, rea], x="queries", y="regret", n_boot=0).plot()
    d.figure_.canvas.draw()
    lo, hi = d.ax_.get_ylim()
    shown = [
        t.get_text()
        for t in d.ax_.get_yticklabels()
        if t.get_text() and lo <= t.get_position()[1] <= hi
    ]
    assert len(shown) >= 3, shown  # not a lone "10^0"
    assert all(float(s) >= 0 for s in shown)  # written as plain numbers
