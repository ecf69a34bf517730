"""One look for every figure: sizes for a two-column paper, fonts, names, and a layout check.

A figure made for a paper is drawn at the width it will be printed, so its text is printed at
the size it was set in: one column of a two-column paper is about 3.3 in wide
(:data:`COLUMN_WIDTH`; ICML 3.25 in, NeurIPS single column 5.5 in, CVPR 3.25 in), the full
text width about 7 in (:data:`FULL_WIDTH`). :func:`paper_style` sets fonts of 8 pt (7 pt for
ticks and legends), thin lines, TrueType fonts in PDF (Type 3 fonts are refused by some
camera-ready checks) and 300 dpi for PNG. Include such a PDF with
``\\includegraphics[width=\\columnwidth]{...}`` and nothing is rescaled.

Names: :func:`metric_label` and :func:`proxy_label` turn ``kendall_tau`` and ``grad_norm`` into
what a reader expects (``Kendall τ_b``, ``grad-norm``) in plain text, Markdown, HTML, LaTeX or
matplotlib's mathtext.

:func:`layout_problems` draws a figure and lists every pair of text elements whose boxes
overlap and every text element that falls outside the canvas (the checks a reader makes by eye:
tick labels running into each other, a legend covering a title, a label cut off at the edge).

matplotlib is imported inside the functions that draw.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ..errors import AnalysisError

__all__ = [
    "COLUMN_WIDTH",
    "FULL_WIDTH",
    "PAPER_RC",
    "figure_width",
    "layout_problems",
    "metric_label",
    "paper_style",
    "proxy_label",
]

#: One column of a two-column paper, in inches.
COLUMN_WIDTH = 3.3
#: The full text width of a two-column paper, in inches.
FULL_WIDTH = 7.0

#: matplotlib settings of :func:`paper_style`.
PAPER_RC: dict[str, Any] = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "figure.titlesize": 8,
    "figure.labelsize": 8,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "savefig.dpi": 300,
    "figure.dpi": 100,
    "image.cmap": "viridis",
}


@contextlib.contextmanager
def paper_style(**overrides: Any) -> Iterator[None]:
    """Inside this block figures use :data:`PAPER_RC` (plus ``overrides``, rc names with dots
    replaced by ``__``: ``paper_style(font__size=9)``)."""
    import matplotlib

    rc = dict(PAPER_RC)
    rc.update({k.replace("__", "."): v for k, v in overrides.items()})
    with matplotlib.rc_context(rc):
        yield


def figure_width(width: Any) -> float:
    """Inches from ``"column"`` (3.3), ``"full"`` (7.0) or a positive number."""
    if isinstance(width, str):
        if width == "column":
            return COLUMN_WIDTH
        if width == "full":
            return FULL_WIDTH
    elif isinstance(width, int | float) and not isinstance(width, bool) and 0 < width <= 40:
        return float(width)
    raise AnalysisError(
        f"figure width must be 'column' ({COLUMN_WIDTH} in), 'full' ({FULL_WIDTH} in) or a "
        f"number of inches, got {width!r}"
    )


# --------------------------------------------------------------------------- names
# metric -> (plain text, LaTeX, HTML, mathtext)
_METRICS = {
    "kendall_tau": (
        "Kendall τ_b",
        r"Kendall $\tau_b$",
        "Kendall τ<sub>b</sub>",
        r"Kendall $\tau_b$",
    ),
    "spearman_rho": ("Spearman ρ", r"Spearman $\rho$", "Spearman ρ", r"Spearman $\rho$"),
    "pearson_r": ("Pearson r", r"Pearson $r$", "Pearson <i>r</i>", r"Pearson $r$"),
    "weighted_tau": (
        "weighted τ",
        r"weighted $\tau$",
        "weighted τ",
        r"weighted $\tau$",
    ),
    "p_at_top_k": ("P@top-{k}", r"P@top-{k}", "P@top-{k}", "P@top-{k}"),
    "br_at_k": ("BR@{k}", r"BR@{k}", "BR@{k}", "BR@{k}"),
}
_FORMATS = ("text", "latex", "html", "mathtext")


def metric_label(metric: str, fmt: str = "text", k: Any = None) -> str:
    """A metric's name for print: ``metric_label("kendall_tau", "latex")`` is
    ``Kendall $\\tau_b$``; top-K metrics take ``k`` (``"5%"`` or ``10``)."""
    if fmt not in _FORMATS:
        raise AnalysisError(f"metric_label: fmt must be one of {_FORMATS}, got {fmt!r}")
    base = metric.split("@")[0]
    if base.startswith("kendall_tau"):
        base = "kendall_tau"
    if base not in _METRICS:
        return metric.replace("_", " ")
    text = _METRICS[base][_FORMATS.index(fmt)]
    if "{k}" in text:
        kk = "K" if k is None else str(k)
        if fmt == "latex":
            kk = kk.replace("%", r"\%")
        text = text.format(k=kk)
    return text


#: Display names of NAS-Bench-Suite-Zero's proxies (the papers' spelling).
PROXY_NAMES = {
    "nwot": "NWOT",
    "jacov": "Jacov",
    "synflow": "SynFlow",
    "snip": "SNIP",
    "grasp": "GraSP",
    "fisher": "Fisher",
    "grad_norm": "grad-norm",
    "l2_norm": "L2-norm",
    "epe_nas": "EPE-NAS",
    "plain": "plain",
    "params": "#params",
    "flops": "FLOPs",
    "zen": "Zen",
}


def proxy_label(name: str) -> str:
    """A proxy's display name: NAS-Bench-Suite-Zero's keys as their papers spell them
    (``synflow`` -> ``SynFlow``); other names (``NASWOT``, ``mine:acc``) as given."""
    return PROXY_NAMES.get(name, name)


# --------------------------------------------------------------------------- layout check
def _texts(fig) -> list:
    """Every visible, non-empty text artist of ``fig`` (titles, labels, legends, annotations,
    colorbar labels, and the tick labels matplotlib draws at the current limits)."""
    from matplotlib.text import Text

    ticks, drawn = set(), set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks |= {id(tick.label1), id(tick.label2)}
            if ax.get_visible():
                # the ticks inside the view limits: the ones drawn
                for tick in axis._update_ticks():
                    drawn |= {id(tick.label1), id(tick.label2)}
    out = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        if id(t) in ticks and id(t) not in drawn:
            continue
        out.append(t)
    return out


def _describe(t) -> str:
    text = t.get_text().replace("\n", " ")
    return repr(text[:40])


def layout_problems(fig, *, tolerance: float = 0.5) -> list[str]:
    """Texts of ``fig`` that overlap each other or fall outside the canvas, as sentences.

    The figure is drawn with its own renderer; each text's box comes from
    ``Text.get_window_extent`` (axis-aligned: exact for text at 0 or 90 degrees; the box of text
    at another angle is larger than its glyphs, so such text is checked conservatively and may
    be reported where it does not touch). Two boxes overlap when they share more than ``tolerance``
    pixels in both directions; a box is outside when it crosses an edge of the figure by more
    than ``tolerance`` pixels. An empty list means a clean layout.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t, t.get_window_extent(renderer)) for t in _texts(fig)]
    w, h = fig.bbox.width, fig.bbox.height
    problems = []
    for t, b in boxes:
        if b.x0 < -tolerance or b.y0 < -tolerance or b.x1 > w + tolerance or b.y1 > h + tolerance:
            problems.append(
                f"{_describe(t)} falls outside the canvas ({b.x0:.0f}..{b.x1:.0f} x "
                f"{b.y0:.0f}..{b.y1:.0f} px on {w:.0f} x {h:.0f})"
            )
    for i in range(len(boxes)):
        ti, bi = boxes[i]
        for j in range(i + 1, len(boxes)):
            tj, bj = boxes[j]
            dx = min(bi.x1, bj.x1) - max(bi.x0, bj.x0)
            dy = min(bi.y1, bj.y1) - max(bi.y0, bj.y0)
            if dx > tolerance and dy > tolerance:
                problems.append(f"{_describe(ti)} overlaps {_describe(tj)}")
    return problems
