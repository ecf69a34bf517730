"""The paper style, display names and the layout check (overlapping or cut-off text)."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pytest

from nasbench_tools.analysis import AnalysisError, layout_problems, metric_label, paper_style
from nasbench_tools.analysis.style import COLUMN_WIDTH, FULL_WIDTH, figure_width, proxy_label


def test_layout_check_finds_overlapping_text():
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2), layout="constrained")
    ax.text(0.5, 0.5, "first label")
    ax.text(0.52, 0.5, "second label")
    problems = layout_problems(fig)
    assert problems == ["'first label' overlaps 'second label'"]


def test_layout_check_finds_text_outside_the_canvas():
    fig, _ax = plt.subplots(figsize=(COLUMN_WIDTH, 2), layout="constrained")
    fig.text(0.9, 0.5, "a label running off the page")
    (problem,) = layout_problems(fig)
    assert problem.startswith("'a label running off the page' falls outside the canvas")


def test_layout_check_finds_colliding_tick_labels_and_passes_a_clean_figure():
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2), layout="constrained")
    names = [f"a long proxy name {i}" for i in range(8)]
    ax.set_xticks(range(8), labels=names)
    assert any("overlaps" in p for p in layout_problems(fig))
    ax.set_xticks(range(8), labels=names, rotation=90)
    assert layout_problems(fig) == []


def test_tick_labels_outside_the_view_are_not_counted():
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2), layout="constrained")
    ax.set_xticks([0, 1, 2, 3], labels=["a", "b", "c", "d"])
    ax.set_xlim(-0.5, 1.5)  # "c" and "d" are not drawn
    fig.text(0.02, 0.02, "c")  # would overlap nothing that is drawn
    assert layout_problems(fig) == []


def test_paper_style_sets_paper_sizes_and_embeddable_fonts():
    with paper_style():
        assert matplotlib.rcParams["font.size"] == 8
        assert matplotlib.rcParams["xtick.labelsize"] == 7
        assert matplotlib.rcParams["pdf.fonttype"] == 42
    with paper_style(font__size=9):
        assert matplotlib.rcParams["font.size"] == 9
    assert matplotlib.rcParams["pdf.fonttype"] != 42 or matplotlib.rcParams["font.size"] != 8


def test_widths_and_names():
    assert (figure_width("column"), figure_width("full"), figure_width(5)) == (3.3, 7.0, 5.0)
    assert (COLUMN_WIDTH, FULL_WIDTH) == (3.3, 7.0)
    with pytest.raises(AnalysisError, match="figure width"):
        figure_width("page")
    assert metric_label("kendall_tau") == "Kendall τ_b"
    assert metric_label("kendall_tau_b", "latex") == r"Kendall $\tau_b$"
    assert metric_label("p_at_top_k", "latex", "5%") == r"P@top-5\%"
    assert metric_label("p_at_top_k", "text", 10) == "P@top-10"
    assert metric_label("something_else") == "something else"
    assert proxy_label("synflow") == "SynFlow" and proxy_label("mine:x") == "mine:x"
