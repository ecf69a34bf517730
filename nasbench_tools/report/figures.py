"""The report's figures, drawn at the width they are printed (one column 3.3 in, or the full 7 in).

:data:`FIGURES` maps a kind to its builder, default width and caption. A builder takes a computed
:class:`~nasbench_tools.report.sections.Section` and a width (``"column"``, ``"full"`` or inches)
and returns ``(figure, numbers)`` (the numbers the figure shows, for ``numbers.json``) or None
when the section has nothing to draw. Everything is drawn inside
:func:`~nasbench_tools.analysis.style.paper_style` with constrained layout and saved at its exact
size (no cropping), so a PDF included at ``\\columnwidth`` keeps 8 pt text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..analysis.style import figure_width, metric_label, paper_style, proxy_label
from .sections import Section

__all__ = ["FIGURES", "FIGURE_FORMATS", "FigureKind", "draw", "save"]

#: Every figure is written in these formats (PNG to look at, PDF for papers).
FIGURE_FORMATS = ("png", "pdf")
#: PNG resolution (the PDF is vector, with hexbins and dense scatters rasterised at 300 dpi).
PNG_DPI = 200


@dataclass(frozen=True)
class FigureKind:
    """A kind of figure: its builder, the width it is written at, and its caption."""

    build: Callable
    width: str | Callable  # "column", "full", or (section) -> one of them
    caption: Callable[..., str]  # (section, **the builder's options) -> text
    summary: bool = True  # drawn with figures="summary" too


def _figure(width, height):
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(figure_width(width), height), layout="constrained")


def _names(sec: Section) -> list[str]:
    """Proxies with a report, best Kendall tau first."""
    return sorted(sec.reports, key=lambda n: -sec.reports[n].kendall_tau.value)


# =========================================================================== builders
def ranking(sec: Section, width):
    """Forest plot: Kendall tau per proxy with its interval, beside the seed agreement."""
    from ..analysis import RankingDisplay

    if not sec.reports:
        return None
    reports = {proxy_label(n): sec.reports[n] for n in sec.reports}
    sa = sec.agreement.get("kendall_tau")
    n_ref = 0 if sa is None else (1 if len(sa.pairs) == 1 else 2)
    fig = _figure(width, 0.16 * len(reports) + 0.75 + 0.16 * n_ref)
    ax = fig.add_subplot()
    d = RankingDisplay.from_reports(reports, seed_agreement=sa).plot(ax=ax, legend="none")
    if n_ref:
        h, lab = ax.get_legend_handles_labels()
        fig.legend(h, lab, loc="outside lower center", ncols=1)
    shown = {
        "values": dict(zip(d.names, d.values.tolist())),
        "references": {k: v[0] for k, v in d.references.items()},
    }
    return fig, shown


def _panel_title(name: str, tau: float, rho: float, n: int, clipped: int) -> str:
    line = rf"$\tau_b$ {tau:.3f}, $\rho$ {rho:.3f}"
    last = f"n = {n:,}" + (f", {clipped:,} clipped" if clipped else "")
    return f"{proxy_label(name)}\n{line}\n{last}"


def scatter(sec: Section, width, *, space: str = "rank"):
    """One panel per proxy against the ground truth, in rank space (or clipped value space);
    hexbins above 2,000 architectures."""
    from ..analysis import ProxyScatterDisplay

    names = _names(sec)
    if not names:
        return None
    w = figure_width(width)
    ncols = min(len(names), 2 if w < 5 else 4)
    nrows = math.ceil(len(names) / ncols)
    panel = w / ncols
    fig = _figure(width, nrows * (panel * 0.78 + 0.42) + 0.35)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=space == "rank", sharey=True)
    shown = {}
    for ax, name in zip(axes.ravel(), names):
        d = ProxyScatterDisplay.from_predictions(
            sec.y_true, sec.scores[name], name=name, nan_policy="omit"
        )
        d.plot(ax=ax, space=space, title=False, xlabel="", ylabel="", rasterized=True)
        ax.set_title(_panel_title(name, d.tau, d.rho, d.n_used, d.n_clipped), fontsize=7)
        shown[name] = {
            "kendall_tau_b": d.tau,
            "spearman_rho": d.rho,
            "n": d.n_used,
            "clipped": d.n_clipped,
            "kind": d.kind_,
        }
        if space == "value":
            ax.tick_params(axis="x", labelsize=6)
            ax.xaxis.get_offset_text().set_fontsize(6)
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    if space == "rank":
        fig.supxlabel("proxy score, percentile rank (100 = highest)")
        fig.supylabel(f"{sec.truth_label}\npercentile rank (100 = best)")
    else:
        fig.supxlabel("proxy score\n(beyond 3 IQR of the quartiles: clipped, counted)")
        fig.supylabel(f"{sec.truth_label}\n(%)")
    return fig, {"space": space, "panels": shown}


def heatmap(sec: Section, width):
    """Kendall tau between every two proxies and the ground truth."""
    from ..analysis import CorrelationHeatmapDisplay

    if not sec.heatmap or not sec.reports:
        return None
    names = _names(sec)
    scores = {proxy_label(n): sec.scores[n] for n in names}
    k = len(scores) + 1
    w = figure_width(width)
    fig = _figure(width, min(w * 0.85, 0.26 * k + 1.3))
    ax = fig.add_subplot()
    d = CorrelationHeatmapDisplay.from_scores(scores, y_true=sec.y_true, true_name="ground truth")
    d.plot(ax=ax)
    return fig, {"names": d.names, "kendall_tau_b": d.matrix.tolist(), "n": d.n_used.tolist()}


def topk(sec: Section, width):
    """P@top-K against K as a fraction of n, beside random."""
    if sec.curves is None:
        return None
    w = figure_width(width)
    c = sec.curves
    order = _names(sec)
    ncols = max(1, int(w // 1.6))
    rows = math.ceil((len(order) + 1) / ncols)
    fig = _figure(width, 2.0 + 0.15 * rows)
    ax = fig.add_subplot()
    sub = type(c)(order, c.fractions, c.ks, c.values, c.n_used)
    sub.plot(ax=ax, legend="none", labels={n: proxy_label(n) for n in order})
    h, lab = ax.get_legend_handles_labels()
    fig.legend(h, lab, loc="outside lower center", ncols=ncols)
    return fig, {}


def pairwise(sec: Section, width):
    """The paired tests between every two proxies, as a triangle of differences."""
    from ..analysis import PairwiseTestDisplay

    if sec.pairwise is None:
        return None
    k = len(sec.pairwise.names)
    w = figure_width(width)
    h = min(w * 0.8, 0.3 * k + 1.3)
    fig = _figure(width, h)
    ax = fig.add_subplot()
    d = PairwiseTestDisplay.from_comparison(sec.pairwise)
    # about 1.2 in go to the tick labels; a cell needs about 0.3 in for "+0.12*"
    cell = min(h - 1.2, w - 2.2) / max(k - 1, 1)
    d.plot(ax=ax, labels={n: proxy_label(n) for n in d.names}, annotate=cell >= 0.3)
    return fig, {}


def budget(sec: Section, width):
    """Kendall tau of each proxy against the ground truth at each budget of one split."""
    from ..analysis import CorrelationBudgetDisplay

    b = sec.budget
    if not b or not b["proxies"]:
        return None
    w = figure_width(width)
    fig = _figure(width, 2.3 + 0.15 * math.ceil(len(b["proxies"]) / max(1, int(w // 1.6))))
    ax = fig.add_subplot()
    for name, rows in b["proxies"].items():
        CorrelationBudgetDisplay.from_values(
            [r["epochs"] for r in rows],
            [r["value"] for r in rows],
            low=[r["low"] for r in rows],
            high=[r["high"] for r in rows],
            metric="kendall_tau",
            label=proxy_label(name),
        ).plot(
            ax=ax,
            xlabel="training budget of the ground truth (epochs)",
            ylabel=f"{metric_label('kendall_tau', 'mathtext')} vs {b['split']} acc.",
            legend=False,
        )
    ax.set_xscale("log")
    ax.set_xticks(b["budgets"], labels=[str(e) for e in b["budgets"]])
    ax.minorticks_off()
    h, lab = ax.get_legend_handles_labels()
    fig.legend(h, lab, loc="outside lower center", ncols=max(1, int(w // 1.6)))
    return fig, {}


def rank_change(sec: Section, width):
    """Where the best architectures at the full budget ranked at the lowest budget."""
    if sec.rank_change is None:
        return None
    fig = _figure(width, 2.6)
    ax = fig.add_subplot()
    rc = sec.rank_change
    rc.plot(ax=ax, yscale="log", title=False)
    ax.set_ylabel(f"rank among {rc.n_total:,} (1 = best), log scale")
    ax.set_title(f"{rc.ranks_a.size} best at {rc.names[1]}; all: " + rf"$\tau_b$ = {rc.tau:.3f}")
    return fig, {}


# =========================================================================== registry
def _scatter_caption(sec: Section, space: str = "rank") -> str:
    big = any(r.n_used > 2000 for r in sec.reports.values())
    what = sec.truth_label.replace("\n", ", ")
    how = (
        "in rank space: percentile ranks, 100 = the highest score / the best architecture"
        if space == "rank"
        else "in value space: points beyond 3 interquartile ranges of the quartiles are left "
        "out of the axes and counted in each panel's title; a score spanning decades is on a "
        "log axis"
    )
    return (
        f"Every proxy against the ground truth ({what}), one panel each, {how}"
        + ("; hexagons shade the number of architectures (log scale)" if big else "")
        + "."
    )


FIGURES: dict[str, FigureKind] = {
    "ranking": FigureKind(
        ranking,
        "column",
        lambda s, **_: (
            "Kendall τ_b per proxy with its 95% bootstrap interval (the axis spans the "
            "values, not 0 to 1), beside the benchmark's seed agreement (dashed lines, intervals "
            "shaded)."
        ),
    ),
    "topk": FigureKind(
        topk,
        "column",
        lambda s, **_: (
            "P@top-K against K as a share of the architectures each proxy scored (log "
            "axis), so sections of different sizes compare; dotted: random ranking (K / n)."
        ),
    ),
    "pairwise": FigureKind(
        pairwise,
        lambda s: "column" if s.pairwise is None or len(s.pairwise.names) <= 5 else "full",
        lambda s, **_: (
            "Paired bootstrap tests: each cell is the row proxy's Kendall τ_b minus the "
            "column proxy's, on the architectures both scored; * marks a difference significant "
            f"after {'Holm' if s.pairwise is None or s.pairwise.correction == 'holm' else s.pairwise.correction} correction "
            "(p < 0.05)."
        ),
    ),
    "heatmap": FigureKind(
        heatmap,
        "full",
        lambda s, **_: "Kendall τ_b between every two proxies and the ground truth.",
    ),
    "budget": FigureKind(
        budget,
        "column",
        lambda s, **_: (
            "Kendall τ_b of each proxy against the ground truth at each training budget "
            "of the same split (95% bootstrap bands)."
        ),
    ),
    "rank_change": FigureKind(
        rank_change,
        "column",
        lambda s, **_: (
            f"The {20} best architectures after the full budget and their rank after the "
            "shortest one (log axis; coloured: the five best)."
        ),
    ),
    "scatter": FigureKind(scatter, "full", _scatter_caption, summary=False),
}


def draw(kind: str, sec: Section, width=None, **options):
    """Build one figure of ``kind`` for ``sec`` inside the paper style: ``(figure, numbers)``
    or None."""
    k = FIGURES[kind]
    if width is None:
        width = k.width(sec) if callable(k.width) else k.width
    with paper_style():
        return k.build(sec, width, **options)


def save(fig, fig_dir: Path, stem: str) -> list[str]:
    """Write ``fig`` as PNG and PDF at its exact size; returns the file names."""
    names = []
    with paper_style():  # TrueType fonts in the PDF are an rc setting read at save time
        for ext in FIGURE_FORMATS:
            p = fig_dir / f"{stem}.{ext}"
            fig.savefig(p, dpi=PNG_DPI if ext == "png" else 300)
            names.append(p.name)
            # the first save placed everything (in figure fractions and points, the same at any
            # resolution): the next format keeps that layout instead of solving it again
            fig.set_layout_engine("none")
    return names
