"""Tables for a paper: one grid of formatted cells, rendered as Markdown, LaTeX, CSV and HTML.

A :class:`PaperTable` holds what a reader sees: human column headers (``Kendall τ_b``, not
``kendall_tau``), column groups (datasets), row groups, each cell's text and whether it is the
best in its column, notes and a caption. Its four renderings come from that one grid, so the
``.md``, ``.tex`` and ``.csv`` files are the same table by construction; only the markup
differs (bold is ``**x**``, ``\\textbf{x}``, ``<b>x</b>``, and in CSV a trailing ``*``).

Builders:

* :func:`headline_table`: proxies (rows) x datasets (column groups) with Kendall τ_b, Spearman
  ρ and P@top-K (K as a fraction of n, stated), their intervals, n per cell, the benchmark's
  seed-agreement rows and the best value per column marked; :meth:`PaperTable.concat` stacks
  several (for example the full-space proxies over the zero-cost proxies of a sample, which
  are ranked against another ground truth and so form their own row group).
* :func:`proxy_table`: one section's proxies with every top-K size asked.
* :func:`pairwise_table`: a :class:`~nasbench_tools.analysis.PairwiseComparison` as a table.

Intervals are printed as the user chooses (:func:`format_estimate`): ``"0.648 [0.641, 0.655]"``
(``"brackets"``), ``"0.648 (0.641–0.655)"`` (``"range"``), ``"0.648 ± 0.007"`` (``"pm"``, half
the interval's width: not a standard error) or the value alone (``"none"``).

This module imports numpy only; pandas is not needed.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import AnalysisError
from .results import is_missing
from .style import metric_label, proxy_label

__all__ = [
    "INTERVAL_STYLES",
    "HeadlineGroup",
    "PaperColumn",
    "PaperRow",
    "PaperTable",
    "dataset_label",
    "format_estimate",
    "headline_table",
    "pairwise_table",
    "proxy_table",
]

#: How an interval is printed beside its value (see :func:`format_estimate`).
INTERVAL_STYLES = ("brackets", "range", "pm", "none")
#: The seed-agreement rows of a headline table, as labelled.
SEED_VS_SEED = "seed vs seed (benchmark)"
SEED_VS_REST = "one seed vs mean of the others (benchmark)"

_DATASETS = {
    "cifar10-valid": "CIFAR-10",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "ImageNet16-120": "ImageNet16-120",
}


def dataset_label(dataset: str) -> str:
    """A dataset's name for print (``cifar10-valid`` -> ``CIFAR-10``)."""
    return _DATASETS.get(dataset, dataset)


def format_estimate(
    value: Any,
    low: Any = None,
    high: Any = None,
    *,
    style: str = "brackets",
    digits: int = 3,
) -> str:
    """``value`` with its interval in one of :data:`INTERVAL_STYLES`.

    ``"brackets"``: ``0.648 [0.641, 0.655]``; ``"range"``: ``0.648 (0.641–0.655)``; ``"pm"``:
    ``0.648 ± 0.007`` where 0.007 is half the interval's width (say so in the caption: it is not
    a standard error); ``"none"``: ``0.648``. Without bounds the value alone; a missing value
    is ``""``.
    """
    if style not in INTERVAL_STYLES:
        raise AnalysisError(f"interval style must be one of {INTERVAL_STYLES}, got {style!r}")
    if is_missing(value):
        return ""
    text = f"{value:.{digits}f}"
    if style == "none" or is_missing(low) or is_missing(high):
        return text
    if style == "brackets":
        return f"{text} [{low:.{digits}f}, {high:.{digits}f}]"
    if style == "range":
        return f"{text} ({low:.{digits}f}–{high:.{digits}f})"
    return f"{text} ± {(high - low) / 2:.{digits}f}"


# =========================================================================== the grid
@dataclass(frozen=True)
class PaperColumn:
    """One column: its header in plain text (Markdown, CSV), LaTeX and HTML, and its group (a
    dataset, printed above a run of columns)."""

    key: str
    text: str
    latex: str
    html: str
    group: str = ""


@dataclass(frozen=True)
class PaperRow:
    """One row: a label, one text per column, which cells are the best of their column, and a
    kind: ``"data"``, ``"reference"`` (printed in italics, never marked best) or ``"group"``
    (a row-group heading; no cells)."""

    label: str
    cells: tuple[str, ...] = ()
    best: tuple[bool, ...] = ()
    kind: str = "data"


@dataclass
class PaperTable:
    """A table as a reader sees it; see the module docstring.

    ``data`` holds the numbers behind the cells (one dict per cell: row, column, value, low,
    high, n, k ...) for ``numbers.json`` and machine use.
    """

    row_header: str
    columns: list[PaperColumn]
    rows: list[PaperRow]
    notes: list[str] = field(default_factory=list)
    caption: str | None = None
    label: str | None = None
    data: list[dict] = field(default_factory=list)

    def __post_init__(self):
        n = len(self.columns)
        for r in self.rows:
            if r.kind != "group" and (len(r.cells) != n or len(r.best) != n):
                raise AnalysisError(
                    f"PaperTable: row {r.label!r} has {len(r.cells)} cells for {n} columns"
                )

    # ------------------------------------------------------------------ content
    def cells(self) -> list[tuple[str, str, str, str, bool]]:
        """Every cell as ``(row group, row label, column group, column key, text, best)``
        (without markup): what every rendering shows."""
        out, group = [], ""
        for r in self.rows:
            if r.kind == "group":
                group = r.label
                continue
            for c, text, best in zip(self.columns, r.cells, r.best):
                out.append((group, r.label, c.group, c.key, text, best))
        return out

    @staticmethod
    def concat(tables: Sequence[PaperTable], *, notes: Sequence[str] = ()) -> PaperTable:
        """Stack tables with the same columns (their rows, groups, notes and data in order)."""
        if not tables:
            raise AnalysisError("PaperTable.concat: no tables")
        first = tables[0]
        for t in tables[1:]:
            if [c.key for c in t.columns] != [c.key for c in first.columns] or [
                c.group for c in t.columns
            ] != [c.group for c in first.columns]:
                raise AnalysisError("PaperTable.concat: the tables have different columns")
        seen: list[str] = []
        for t in tables:
            seen += [n for n in t.notes if n not in seen]
        return PaperTable(
            first.row_header,
            list(first.columns),
            [r for t in tables for r in t.rows],
            [*seen, *notes],
            first.caption,
            first.label,
            [d for t in tables for d in t.data],
        )

    def with_caption(self, caption: str | None = None, label: str | None = None) -> PaperTable:
        return replace(self, caption=caption, label=label)

    # ------------------------------------------------------------------ renderings
    def _flat_headers(self) -> list[str]:
        return [self.row_header] + [f"{c.group} {c.text}".strip() for c in self.columns]

    def to_markdown(self, path: str | Path | None = None) -> str:
        """GitHub-flavoured Markdown: flat headers (``CIFAR-10 Kendall τ_b``), best in bold,
        row groups as bold rows, reference rows in italics, notes below."""

        def esc(s: str) -> str:
            return s.replace("|", "\\|")

        heads = self._flat_headers()
        lines = [
            "| " + " | ".join(esc(h) for h in heads) + " |",
            "|:---|" + "|".join("---:" for _ in self.columns) + "|",
        ]
        for r in self.rows:
            if r.kind == "group":
                lines.append("| **" + esc(r.label) + "** |" + " |" * len(self.columns))
                continue
            label = f"*{esc(r.label)}*" if r.kind == "reference" else esc(r.label)
            cells = [f"**{esc(t)}**" if b and t else esc(t) for t, b in zip(r.cells, r.best)]
            lines.append("| " + " | ".join([label, *cells]) + " |")
        text = "\n".join(lines) + "\n"
        if self.notes:
            text += "\n" + "\n".join(f"- {n}" for n in self.notes) + "\n"
        return _write(text, path)

    def to_csv(self, path: str | Path | None = None) -> str:
        """The same grid as CSV: a ``group`` column (the row group), the row label, one column
        per header (``CIFAR-10 Kendall τ_b``); the best cell of a column ends in ``*``."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["group", *self._flat_headers()])
        group = ""
        for r in self.rows:
            if r.kind == "group":
                group = r.label
                continue
            w.writerow(
                [group, r.label] + [t + "*" if b and t else t for t, b in zip(r.cells, r.best)]
            )
        return _write(buf.getvalue(), path)

    def to_latex(
        self,
        path: str | Path | None = None,
        *,
        caption: str | None = None,
        label: str | None = None,
        environment: str = "table",
        notes: bool = True,
    ) -> str:
        """A booktabs table: grouped headers over ``\\cmidrule``, human headers (``Kendall
        $\\tau_b$``), the best in ``\\textbf``, row groups as ``\\multicolumn`` rows, reference
        rows in ``\\textit``. With a caption or a label (given here or stored) it is wrapped
        in ``environment`` (``table`` or ``table*``) with the notes below the tabular; without,
        the bare tabular with the notes as comments. Needs ``\\usepackage{booktabs}``."""
        if environment not in ("table", "table*"):
            raise AnalysisError(f"environment must be 'table' or 'table*', got {environment!r}")
        caption = caption if caption is not None else self.caption
        label = label if label is not None else self.label
        ncol = len(self.columns) + 1
        lines = [f"\\begin{{tabular}}{{l{'r' * len(self.columns)}}}", "\\toprule"]
        lines += self._latex_group_header()
        lines.append(
            " & ".join([latex_escape(self.row_header)] + [c.latex for c in self.columns]) + " \\\\"
        )
        lines.append("\\midrule")
        first = True
        for r in self.rows:
            if r.kind == "group":
                if not first:
                    lines.append("\\midrule")
                lines.append(
                    f"\\multicolumn{{{ncol}}}{{l}}{{\\emph{{{latex_escape(r.label)}}}}} \\\\"
                )
                first = False
                continue
            first = False
            lab = latex_escape(r.label)
            if r.kind == "reference":
                lab = f"\\textit{{{lab}}}"
            cells = []
            for t, b in zip(r.cells, r.best):
                c = latex_cell(t)
                cells.append(f"\\textbf{{{c}}}" if b and t else c)
            lines.append(" & ".join([lab, *cells]) + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}"]
        if caption is None and label is None:
            if notes and self.notes:
                lines += [f"% {n}" for n in self.notes]
            return _write("\n".join(lines) + "\n", path)
        out = [f"\\begin{{{environment}}}[t]", "\\centering"]
        if caption is not None:
            out.append(f"\\caption{{{latex_escape(caption)}}}")
        if label is not None:
            out.append(f"\\label{{{label}}}")
        out += lines
        if notes and self.notes:
            out.append("\\par\\smallskip{\\footnotesize")
            out += [latex_escape(n) + r"\par" for n in self.notes]
            out.append("}")
        out.append(f"\\end{{{environment}}}")
        return _write("\n".join(out) + "\n", path)

    def _latex_group_header(self) -> list[str]:
        runs = _runs([c.group for c in self.columns])
        if all(not g for g, _, _ in runs):
            return []
        cells, rules = [""], []
        for g, start, stop in runs:
            span = stop - start
            cells.append(
                f"\\multicolumn{{{span}}}{{c}}{{{latex_escape(g)}}}" if g else " & " * (span - 1)
            )
            if g:
                rules.append(f"\\cmidrule(lr){{{start + 2}-{stop + 1}}}")
        return [" & ".join(cells) + " \\\\", " ".join(rules)]

    def to_html(self, *, table_class: str = "paper") -> str:
        """An HTML ``<table>`` (grouped headers as ``colspan``, best in ``<b>``, notes in a
        ``<p class="notes">`` after it). Text is escaped."""
        from html import escape

        runs = _runs([c.group for c in self.columns])
        out = [f'<table class="{table_class}">', "<thead>"]
        if any(g for g, _, _ in runs):
            out.append("<tr><th></th>")
            for g, start, stop in runs:
                out.append(f'<th colspan="{stop - start}" class="group">{escape(g)}</th>')
            out.append("</tr>")
        out.append("<tr><th>" + escape(self.row_header) + "</th>")
        out += [f"<th>{c.html}</th>" for c in self.columns]
        out.append("</tr></thead><tbody>")
        for r in self.rows:
            if r.kind == "group":
                out.append(
                    f'<tr class="rowgroup"><th colspan="{len(self.columns) + 1}">'
                    f"{escape(r.label)}</th></tr>"
                )
                continue
            lab = escape(r.label)
            cls = ' class="reference"' if r.kind == "reference" else ""
            out.append(f"<tr{cls}><th>{lab}</th>")
            for t, b in zip(r.cells, r.best):
                out.append(f"<td><b>{escape(t)}</b></td>" if b and t else f"<td>{escape(t)}</td>")
            out.append("</tr>")
        out.append("</tbody></table>")
        if self.notes:
            out.append('<ul class="notes">')
            out += [f"<li>{escape(n)}</li>" for n in self.notes]
            out.append("</ul>")
        return "\n".join(out)


def _runs(groups: list[str]) -> list[tuple[str, int, int]]:
    """Runs of equal consecutive groups: ``(group, start, stop)``."""
    out: list[tuple[str, int, int]] = []
    for i, g in enumerate(groups):
        if out and out[-1][0] == g:
            out[-1] = (g, out[-1][1], i + 1)
        else:
            out.append((g, i, i + 1))
    return out


def _write(text: str, path: str | Path | None) -> str:
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "τ": r"$\tau$",
    "ρ": r"$\rho$",
    "±": r"$\pm$",
    "–": "--",
    "†": r"\textsuperscript{\dag}",
    "≥": r"$\geq$",
    "→": r"$\rightarrow$",
    "−": "$-$",
}


def latex_escape(s: str) -> str:
    """Text for LaTeX: special characters escaped, τ ρ ± – † as math or dashes."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s)


def latex_cell(s: str) -> str:
    """A numeric cell for LaTeX: a minus sign is ``$-$`` (not a hyphen), then escaped."""
    out = []
    for i, ch in enumerate(s):
        if ch == "-" and (i == 0 or s[i - 1] in " [(–,") and i + 1 < len(s) and s[i + 1].isdigit():
            out.append("$-$")
        else:
            out.append(latex_escape(ch))
    return "".join(out)


# =========================================================================== builders
def _count(n: Any) -> str:
    return f"{int(n):,}" if not is_missing(n) else ""


def _n_text(ns: Sequence[int]) -> str:
    lo, hi = min(ns), max(ns)
    return _count(lo) if lo == hi else f"{lo:,}–{hi:,}"


def _mark_best(values: list[float | None]) -> list[bool]:
    finite = [v for v in values if v is not None and not math.isnan(v)]
    if not finite:
        return [False] * len(values)
    best = max(finite)
    return [v is not None and not math.isnan(v) and v == best for v in values]


def _cell(e, style: str, digits: int) -> tuple[str, bool]:
    """Text of an Estimate and whether its interval came from fewer resamples than drawn."""
    if e is None:
        return "", False
    text = format_estimate(e.value, e.low, e.high, style=style, digits=digits)
    short = e.n_boot is not None and e.n_valid is not None and e.n_valid < e.n_boot
    return text + ("†" if short and text else ""), short


_SHORT_NOTE = (
    "† the interval comes from fewer valid resamples than drawn (numbers.json counts them)."
)


@dataclass(frozen=True)
class HeadlineGroup:
    """A row group of :func:`headline_table`: a heading (or None), ``{dataset: {proxy:
    RankReport}}`` and, optionally, ``{dataset: {metric: SeedAgreement}}`` for the reference
    rows."""

    name: str | None
    results: Mapping[str, Mapping[str, Any]]
    agreement: Mapping[str, Mapping[str, Any]] | None = None


_HEADLINE_METRICS = ("kendall_tau", "spearman_rho", "p_at_top_k")


def headline_table(
    results: Mapping[str, Mapping[str, Any]] | Sequence[HeadlineGroup],
    *,
    top: Any = "5%",
    agreement: Mapping[str, Mapping[str, Any]] | None = None,
    group: str | None = None,
    interval: str = "brackets",
    digits: int = 3,
    datasets: Mapping[str, str] | None = None,
    caption: str | None = None,
    label: str | None = None,
) -> PaperTable:
    """Proxies (rows) x datasets (column groups): n, Kendall τ_b, Spearman ρ and P@top-K.

    Parameters
    ----------
    results : mapping dataset -> (mapping proxy -> RankReport), or a list of HeadlineGroup
        :func:`~nasbench_tools.analysis.rank_report` results; each must have been asked for the
        top-K size ``top`` (``rank_report(..., k=("5%",))``). A proxy missing on a dataset
        leaves its cells empty. Several :class:`HeadlineGroup` stack row groups that share the
        columns (for example proxies ranked against another ground truth).
    top : str or int
        The P@top-K size: a fraction of each cell's n (``"5%"``: K = 5% of n, rounded, stated
        in the notes for every n) or a count.
    agreement : mapping dataset -> {"kendall_tau": SeedAgreement, "spearman_rho": ...,
        "p_at_top_k": ...}, optional
        With a single group: the benchmark's seed agreement
        (:func:`~nasbench_tools.analysis.seed_agreement`, the P@top-K one with ``k=top``) as
        two reference rows, seed vs seed (the mean over pairs of seeds) and one seed vs the mean
        of the others (the mean over seeds), in italics and never marked best.
    group : str, optional
        With a single group: its heading.
    interval : one of :data:`INTERVAL_STYLES`
    digits : int
    datasets : mapping dataset -> label, optional
        Column-group labels (default :func:`dataset_label`).
    caption, label : str, optional
        For :meth:`PaperTable.to_latex`.

    The best value per column (largest, proxies only, within a row group) is marked.
    """
    from .rank_summary import top_label

    groups = _headline_groups(results, agreement, group)
    top = top_label(top)
    ds = list(dict.fromkeys(d for g in groups for d in g.results))
    labels = {d: (datasets or {}).get(d, dataset_label(d)) for d in ds}
    columns = []
    for d in ds:
        columns.append(PaperColumn(f"{d}/n", "n", "$n$", "<i>n</i>", labels[d]))
        columns += [PaperColumn(f"{d}/{m}", *_labels(m, top), labels[d]) for m in _HEADLINE_METRICS]
    rows, data, ks, short, refs = [], [], {}, [False], False
    for g in groups:
        if g.name is not None:
            rows.append(PaperRow(g.name, kind="group"))
        rows += _proxy_rows(g, ds, top, interval, digits, data, ks, short)
        if g.agreement:
            ref_rows, ref_data, ref_ks = _agreement_rows(g.agreement, ds, interval, digits)
            rows += ref_rows
            data += [d | {"group": g.name or ""} for d in ref_data]
            for n, k in ref_ks.items():
                ks.setdefault(n, k)
            refs = True
    return PaperTable(
        "proxy", columns, rows, _headline_notes(refs, top, ks, short[0]), caption, label, data
    )


def _labels(metric: str, k: Any = None) -> tuple[str, str, str]:
    """A metric's column header in text, LaTeX and HTML."""
    return tuple(metric_label(metric, f, k) for f in ("text", "latex", "html"))


def _headline_groups(results, agreement, group) -> list[HeadlineGroup]:
    if isinstance(results, Mapping):
        groups = [HeadlineGroup(group, results, agreement)]
    else:
        groups = list(results)
        if agreement is not None or group is not None:
            raise AnalysisError("headline_table: with groups, give agreement in each group")
    if not groups or not all(isinstance(g, HeadlineGroup) and g.results for g in groups):
        raise AnalysisError(
            "headline_table: results must map dataset -> {proxy: RankReport} (or be a list of "
            "non-empty HeadlineGroup)"
        )
    return groups


def _headline_notes(refs: bool, top: str, ks: dict, short: bool) -> list[str]:
    notes = []
    if refs:
        notes.append(
            "Benchmark seed agreement (italics): single training runs of the same "
            "architectures against each other (the mean over pairs of seeds) and one run against "
            "the mean of the other runs (the mean over seeds). Context, not a limit: the ground "
            "truth is a mean of seeds, which a proxy can rank better than one seed ranks another."
        )
    if top.endswith("%"):
        listed = ", ".join(f"n = {n:,}: K = {k:,}" for n, k in sorted(ks.items(), reverse=True))
        notes.append(
            f"P@top-{top}: the share of the K best-scored architectures that are among the K "
            f"truly best, K = {top} of n rounded ({listed})."
        )
    else:
        notes.append(f"P@top-{top}: K = {top} for every cell.")
    if short:
        notes.append(_SHORT_NOTE)
    return notes


def _proxy_rows(g, ds, top, interval, digits, data, ks, short) -> list[PaperRow]:
    """The proxy rows of one group, best per column marked within the group."""
    proxies: list[str] = []
    for d in ds:
        proxies += [p for p in g.results.get(d, {}) if p not in proxies]
    grid: dict[str, list[tuple[str, float | None]]] = {}
    for p in proxies:
        cells: list[tuple[str, float | None]] = []
        for d in ds:
            rep = g.results.get(d, {}).get(p)
            if rep is None:
                cells += [("", None)] * (1 + len(_HEADLINE_METRICS))
                continue
            if top not in rep.top:
                raise AnalysisError(
                    f"headline_table: the report of {p!r} on {d!r} has no top-K size {top!r} "
                    f"(it has {list(rep.top)}); pass k=({top!r},) to rank_report"
                )
            ks[rep.n_used] = rep.top[top]
            cells.append((_count(rep.n_used), None))
            for m in _HEADLINE_METRICS:
                e = rep.p_at_top(top) if m == "p_at_top_k" else getattr(rep, m)
                text, s_ = _cell(e, interval, digits)
                short[0] |= s_
                cells.append((text, e.value))
                data.append(
                    {
                        "group": g.name or "",
                        "row": p,
                        "dataset": d,
                        "metric": m,
                        "value": e.value,
                        "low": e.low,
                        "high": e.high,
                        "n_valid": e.n_valid,
                        "n_boot": e.n_boot,
                        "n": rep.n_used,
                        "k": rep.top[top] if m == "p_at_top_k" else None,
                        "top": top if m == "p_at_top_k" else None,
                    }
                )
        grid[p] = cells
    ncol = len(ds) * (1 + len(_HEADLINE_METRICS))
    best = [_mark_best([grid[p][j][1] for p in proxies]) for j in range(ncol)]
    return [
        PaperRow(
            proxy_label(p),
            tuple(t for t, _ in grid[p]),
            tuple(best[j][i] for j in range(ncol)),
        )
        for i, p in enumerate(proxies)
    ]


def _agreement_rows(agreement, ds, interval, digits):
    metrics = _HEADLINE_METRICS
    rows, data, ks = [], [], {}
    for label, attr, used in (
        (SEED_VS_SEED, "between", "n_pairs_used"),
        (SEED_VS_REST, "rest", "n_rest_used"),
    ):
        cells = []
        for d in ds:
            by_metric = (agreement or {}).get(d) or {}
            if not by_metric:
                cells += [""] * 4
                continue
            any_sa = next(iter(by_metric.values()))
            cells.append(_n_text(list(getattr(any_sa, used).values())))
            for m in metrics:
                sa = by_metric.get(m)
                if sa is None:
                    cells.append("")
                    continue
                e = getattr(sa, attr)
                text, _ = _cell(e, interval, digits)
                cells.append(text)
                terms = getattr(sa, used)
                if m == "p_at_top_k":
                    for key, n in terms.items():
                        if key in sa.k_used:
                            ks[n] = sa.k_used[key]
                data.append(
                    {
                        "row": label,
                        "dataset": d,
                        "metric": m,
                        "value": e.value,
                        "low": e.low,
                        "high": e.high,
                        "n_valid": e.n_valid,
                        "n_boot": e.n_boot,
                        "n": sorted(set(terms.values())),
                        "k": sorted(set(sa.k_used.values())) or None,
                        "reference": True,
                    }
                )
        rows.append(PaperRow(label, tuple(cells), (False,) * len(cells), kind="reference"))
    return rows, data, ks


def proxy_table(
    reports: Mapping[str, Any],
    *,
    top: Sequence[Any] | None = None,
    interval: str = "brackets",
    digits: int = 3,
    sort: bool = True,
    caption: str | None = None,
    label: str | None = None,
) -> PaperTable:
    """One row per proxy: n, omitted, Kendall τ_b, Spearman ρ, P@top-K for every size in
    ``top`` (default: every size the reports were asked for) and BR@K (as a rank out of n) for
    the first size; best per column marked (BR@K: the smallest rank). Sorted by Kendall τ_b
    (best first) unless ``sort=False``."""
    from .rank_summary import top_label

    if not isinstance(reports, Mapping) or not reports:
        raise AnalysisError("proxy_table: reports must be a non-empty mapping name -> RankReport")
    names = list(reports)
    if sort:
        names.sort(key=lambda n: -reports[n].kendall_tau.value)
    first = reports[names[0]]
    sizes = [top_label(t) for t in (top if top is not None else list(first.top))]
    for n in names:
        missing = [
            s for s in sizes if s not in reports[n].top and not _larger_than_n(s, reports[n])
        ]
        if missing:
            raise AnalysisError(
                f"proxy_table: the report of {n!r} has no top-K size {missing[0]!r} "
                f"(it has {list(reports[n].top)})"
            )
    br = sizes[0] if sizes else None
    cols = [
        PaperColumn("n", "n", "$n$", "<i>n</i>"),
        PaperColumn("n_omitted", "omitted", "omitted", "omitted"),
        PaperColumn("kendall_tau", *_labels("kendall_tau")),
        PaperColumn("spearman_rho", *_labels("spearman_rho")),
        *(PaperColumn(f"p_at_top_{s}", *_labels("p_at_top_k", s)) for s in sizes),
        *([PaperColumn(f"br_at_{br}", *_labels("br_at_k", br))] if br is not None else []),
    ]
    values: list[list[float | None]] = []
    texts: list[list[str]] = []
    short = False
    data: list[dict] = []
    for n in names:
        row_t, row_v, s_ = _proxy_row(n, reports[n], sizes, br, interval, digits, data)
        short |= s_
        texts.append(row_t)
        values.append(row_v)
    best = [_mark_best([values[i][j] for i in range(len(names))]) for j in range(len(cols))]
    rows = [
        PaperRow(proxy_label(n), tuple(texts[i]), tuple(best[j][i] for j in range(len(cols))))
        for i, n in enumerate(names)
    ]
    return PaperTable(
        "proxy", cols, rows, _proxy_notes(names, reports, sizes, br, short), caption, label, data
    )


def _larger_than_n(size: str, r) -> bool:
    """A top-K count the report skipped because it exceeds the architectures it ranked."""
    return not size.endswith("%") and int(size) > r.n_used


def _proxy_row(name, r, sizes, br, interval, digits, data) -> tuple[list, list, bool]:
    """One proxy's cell texts and values (BR@K negated: a smaller rank is better) and whether
    an interval is short of resamples; its numbers go to ``data``. A top-K count larger than
    the proxy's n reads ``n/a``."""
    from .results import format_rank

    row_t = [_count(r.n_used), _count(r.n_omitted)]
    row_v: list[float | None] = [None, None]
    short = False
    for key, e in [
        ("kendall_tau", r.kendall_tau),
        ("spearman_rho", r.spearman_rho),
        *[(f"p_at_top_{s}", r.p_at_top(s) if s in r.top else None) for s in sizes],
    ]:
        if e is None:
            row_t.append("n/a")
            row_v.append(None)
            data.append({"row": name, "column": key, "value": None, "low": None, "high": None})
            continue
        text, s_ = _cell(e, interval, digits)
        short |= s_
        row_t.append(text)
        row_v.append(e.value)
        data.append({"row": name, "column": key, "value": e.value, "low": e.low, "high": e.high})
    if br is not None and br not in r.top:
        row_t.append("n/a")
        row_v.append(None)
        data.append({"row": name, "column": f"br_at_{br}", "rank": None, "n": r.n_used})
    elif br is not None:
        e = r.br_rank_at(br)
        row_t.append(format_rank(e.value, r.n_used, e.low, e.high))
        row_v.append(-e.value)
        data.append(
            {
                "row": name,
                "column": f"br_at_{br}",
                "rank": e.value,
                "low": e.low,
                "high": e.high,
                "n": r.n_used,
            }
        )
    return row_t, row_v, short


def _proxy_notes(names, reports, sizes, br, short) -> list[str]:
    notes = []
    for s in sizes:
        small = [n for n in names if s not in reports[n].top]
        if small:
            notes.append(
                f"P@top-{s}: n/a for {', '.join(proxy_label(n) for n in small)}, which ranked "
                f"fewer than {s} architectures."
            )
    ns = sorted({reports[n].n_used for n in names}, reverse=True)
    for s in sizes:
        if s.endswith("%"):
            ks = ", ".join(
                f"{reports[n].top[s]:,} at n = {reports[n].n_used:,}"
                for n in _one_per_n(names, reports)
            )
            notes.append(f"P@top-{s}: K = {s} of n rounded ({ks}).")
    if br is not None:
        notes.append(
            f"BR@{br}: the best true rank among the K = {br} best-scored architectures, "
            "out of the architectures scored."
        )
    if len(ns) > 1:
        notes.append(
            f"The rows are computed on different sets of architectures (n from {ns[-1]:,} to "
            f"{ns[0]:,}): each proxy on the architectures it scored."
        )
    if short:
        notes.append(_SHORT_NOTE)
    return notes


def _one_per_n(names, reports):
    seen, out = set(), []
    for n in names:
        if reports[n].n_used not in seen:
            seen.add(reports[n].n_used)
            out.append(n)
    return out


#: The corrections as a header names them.
_CORRECTION_NAME = {"holm": "Holm", "bonferroni": "Bonferroni", "none": "uncorrected"}


def pairwise_table(
    comparison: Any, *, digits: int = 3, caption: str | None = None, label: str | None = None
) -> PaperTable:
    """Every tested pair of a :class:`~nasbench_tools.analysis.PairwiseComparison`: the
    difference (row proxy minus column proxy) with its interval, n, the p-value and the
    adjusted p-value; significant pairs marked."""
    cmp = comparison
    m = metric_label(cmp.metric, "text")
    cols = [
        PaperColumn("b", "vs", "vs", "vs"),
        PaperColumn(
            "diff",
            f"Δ {m}",
            f"$\\Delta$ {metric_label(cmp.metric, 'latex')}",
            f"Δ {metric_label(cmp.metric, 'html')}",
        ),
        PaperColumn("n", "n", "$n$", "<i>n</i>"),
        PaperColumn("p", "p", "$p$", "<i>p</i>"),
        PaperColumn(
            "p_adjusted",
            f"p ({_CORRECTION_NAME[cmp.correction]})",
            f"$p$ ({_CORRECTION_NAME[cmp.correction]})",
            f"<i>p</i> ({_CORRECTION_NAME[cmp.correction]})",
        ),
    ]
    rows = []
    for t in cmp.tests:
        if t.skipped:
            cells = (proxy_label(t.b), "", _count(t.n), "", f"not tested: {t.skipped}")
            rows.append(PaperRow(proxy_label(t.a), cells, (False,) * 5))
            continue
        cells = (
            proxy_label(t.b),
            format_estimate(t.diff, t.low, t.high, digits=digits),
            _count(t.n),
            _p_text(t.p),
            _p_text(t.p_adjusted),
        )
        rows.append(
            PaperRow(proxy_label(t.a), cells, (False, t.significant, False, False, t.significant))
        )
    return PaperTable("proxy", cols, rows, [cmp.description], caption, label)


def _p_text(p: float) -> str:
    if is_missing(p):
        return ""
    if p < 1e-4:
        return "<0.0001"
    return f"{p:.4f}"
