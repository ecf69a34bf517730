"""Result tables as pandas DataFrames, exported to Markdown, LaTeX and CSV.

Builders turn result records into DataFrames (one row per proxy / method / setting, numbers kept
as floats); :func:`with_intervals` folds ``x, x_low, x_high`` columns into ``"0.593 [0.561,
0.628]"`` strings and BR@K into ``"3 / 15,625 [1, 12]"`` for print; the writers render any
DataFrame without optional dependencies (pandas' own ``to_markdown`` needs ``tabulate``, ``to_latex`` needs ``jinja2``).

pandas is imported when a function runs, so ``import nasbench_tools.analysis`` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AnalysisError
from .paper_tables import latex_escape as _latex_escape
from .results import format_interval, format_rank, is_missing, valid_note

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .baselines import RelativeImprovement
    from .depth_gap import DepthGapReport
    from .rank_summary import RankReport
    from .uncertainty import SeedSpread

__all__ = [
    "depth_gap_table",
    "rank_table",
    "ri_table",
    "seed_table",
    "to_csv",
    "to_latex",
    "to_markdown",
    "with_intervals",
]


def _pd():
    import pandas as pd

    return pd


def rank_table(reports: Mapping[str, RankReport]) -> pd.DataFrame:
    """One row per proxy from :func:`rank_report` results (columns of ``RankReport.as_dict``).

    Parameters
    ----------
    reports : mapping name -> RankReport
        E.g. the output of :func:`nasbench_tools.analysis.rank_reports`.
    """
    if not isinstance(reports, Mapping) or not reports:
        raise AnalysisError("rank_table: reports must be a non-empty mapping name -> RankReport")
    pd = _pd()
    df = pd.DataFrame.from_dict({k: r.as_dict() for k, r in reports.items()}, orient="index")
    df.index.name = "proxy"
    return df


def ri_table(results: Mapping[Any, RelativeImprovement]) -> pd.DataFrame:
    """One row per method (or per ``(method, dataset)`` key) from :func:`relative_improvement`.

    Columns: ``ri``, ``ri_low``, ``ri_high``, ``ri_n_valid``, ``n_boot``, ``acc_method``,
    ``acc_random``, ``n_method``, ``n_random``, ``welch_pvalue``, ``random_source``.
    """
    if not isinstance(results, Mapping) or not results:
        raise AnalysisError(
            "ri_table: results must be a non-empty mapping name -> RelativeImprovement"
        )
    pd = _pd()
    rows = {
        k: {
            "ri": r.ri,
            "ri_low": r.low,
            "ri_high": r.high,
            "ri_n_valid": r.n_valid,
            "n_boot": r.n_boot,
            "acc_method": r.acc_method,
            "acc_random": r.acc_random,
            "n_method": r.n_method,
            "n_random": r.n_random,
            "welch_pvalue": r.welch_pvalue,
            "random_source": r.random_source,
        }
        for k, r in results.items()
    }
    df = pd.DataFrame.from_dict(rows, orient="index")
    if all(isinstance(k, tuple) for k in results):
        df.index = pd.MultiIndex.from_tuples(list(results))
    df.index.name = df.index.name or "method"
    return df


def depth_gap_table(report: DepthGapReport) -> pd.DataFrame:
    """The depth-gap report as a two-column table (``quantity``, ``value``)."""
    pd = _pd()
    s = report.summary()
    return pd.DataFrame({"value": list(s.values())}, index=pd.Index(list(s), name="quantity"))


def seed_table(spreads: Mapping[str, SeedSpread]) -> pd.DataFrame:
    """One row per proxy from :func:`across_seeds` / :func:`seed_spread`: per-seed values, mean,
    std (with its ddof), min, max."""
    pd = _pd()
    rows = {}
    for name, s in spreads.items():
        row = {f"seed {k}": v for k, v in s.values.items()}
        row.update(mean=s.mean, std=s.std, ddof=s.ddof, min=s.min, max=s.max, n_seeds=s.n_seeds)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def with_intervals(
    df: pd.DataFrame,
    *,
    digits: int = 3,
    low: str = "_low",
    high: str = "_high",
    valid: str = "_n_valid",
    n_boot: str = "n_boot",
    rank: str = "_rank",
    denominator: str = "_denominator",
) -> pd.DataFrame:
    """Fold a value and its interval columns into one string column, for print.

    * ``x``, ``x{low}``, ``x{high}`` become ``"0.593 [0.561, 0.628]"`` in column ``x``. Where a
      ``x{valid}`` column (valid resamples) is below the row's ``n_boot`` column, the count is
      appended: ``"0.12 [0.01, 0.30] (180 of 200 resamples valid)"``.
    * A rank with its denominator, ``x{rank}`` (with its own interval and valid count) and
      ``x{denominator}``, becomes ``"3 / 15,625 [1, 12]"`` in column ``x``, replacing the
      fraction ``x`` (BR@K reads as a rank, never as ``0.000`` at n = 15,625).

    The partner columns are dropped; columns without partners are left alone, other numbers are
    not rounded here (the writers do that).
    """
    out = df.copy()
    cols = set(df.columns)
    drop: set[str] = set()

    def boot(row) -> Any:
        return row[n_boot] if n_boot in cols else None

    rank_cols = [c for c in df.columns if f"{c}{rank}" in cols and f"{c}{denominator}" in cols]
    for col in rank_cols:
        rk, den = f"{col}{rank}", f"{col}{denominator}"
        lo, hi, nv = f"{rk}{low}", f"{rk}{high}", f"{rk}{valid}"

        def fmt_rank(row, rk=rk, den=den, lo=lo, hi=hi, nv=nv):
            text = format_rank(row[rk], row[den], row.get(lo), row.get(hi))
            return text + valid_note(row.get(nv), boot(row)) if text else text

        out[col] = df.apply(fmt_rank, axis=1)
        drop |= {rk, lo, hi, nv, den, f"{col}{low}", f"{col}{high}", f"{col}{valid}"}
    for col in df.columns:
        if col in drop or col in rank_cols:
            continue
        lo, hi, nv = f"{col}{low}", f"{col}{high}", f"{col}{valid}"
        if lo in cols and hi in cols:

            def fmt(row, col=col, lo=lo, hi=hi, nv=nv):
                return format_interval(row[col], row[lo], row[hi], digits, row.get(nv), boot(row))

            out[col] = df.apply(fmt, axis=1)
            drop |= {lo, hi, nv}
    return out.drop(columns=[c for c in df.columns if c in drop])


def _cell(v: Any, floatfmt: str) -> str:
    if is_missing(v):
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return format(v, floatfmt)
    try:
        import numpy as np

        if isinstance(v, np.floating):
            return format(float(v), floatfmt)
        if isinstance(v, np.bool_):
            return "yes" if bool(v) else "no"
    except ImportError:  # pragma: no cover
        pass
    return str(v)


def _rows(df: pd.DataFrame, floatfmt: str, index: bool) -> tuple[list[str], list[list[str]]]:
    header = [str(c) for c in df.columns]
    body = [[_cell(v, floatfmt) for v in row] for row in df.itertuples(index=False, name=None)]
    if index:
        names = [n for n in df.index.names if n is not None]
        header = [" / ".join(map(str, names)) if names else "", *header]
        keys = [" / ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in df.index]
        body = [[k, *r] for k, r in zip(keys, body)]
    return header, body


def _write(text: str, path: str | Path | None) -> str:
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def to_markdown(
    df: pd.DataFrame, path: str | Path | None = None, *, floatfmt: str = ".3f", index: bool = True
) -> str:
    """GitHub-flavoured Markdown table (numbers right-aligned); also written to ``path`` if given."""
    header, body = _rows(df, floatfmt, index)
    numeric = [
        all(_is_num(r[j]) for r in body if r[j] != "") and any(r[j] != "" for r in body)
        for j in range(len(header))
    ]
    esc = [[c.replace("|", "\\|") for c in r] for r in [header, *body]]
    lines = [
        "| " + " | ".join(esc[0]) + " |",
        "|" + "|".join("---:" if num else ":---" for num in numeric) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return _write("\n".join(lines) + "\n", path)


def _is_num(s: str) -> bool:
    try:
        float(s.split(" [")[0])
        return True
    except ValueError:
        return False


def to_latex(
    df: pd.DataFrame,
    path: str | Path | None = None,
    *,
    floatfmt: str = ".3f",
    index: bool = True,
    caption: str | None = None,
    label: str | None = None,
) -> str:
    """A ``booktabs`` LaTeX table (``\\toprule``/``\\midrule``/``\\bottomrule``), text escaped.

    With ``caption`` or ``label`` the tabular is wrapped in a ``table`` float.
    """
    header, body = _rows(df, floatfmt, index)
    numeric = [
        all(_is_num(r[j]) for r in body if r[j] != "") and any(r[j] != "" for r in body)
        for j in range(len(header))
    ]
    spec = "".join("r" if num else "l" for num in numeric)
    lines = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
    lines.append(" & ".join(_latex_escape(h) for h in header) + " \\\\")
    lines.append("\\midrule")
    lines += [" & ".join(_latex_escape(c) for c in r) + " \\\\" for r in body]
    lines += ["\\bottomrule", "\\end{tabular}"]
    if caption is not None or label is not None:
        inner = ["\\begin{table}[t]", "\\centering"]
        if caption is not None:
            inner.append(f"\\caption{{{_latex_escape(caption)}}}")
        if label is not None:
            inner.append(f"\\label{{{label}}}")
        lines = [*inner, *lines, "\\end{table}"]
    return _write("\n".join(lines) + "\n", path)


def to_csv(df: pd.DataFrame, path: str | Path | None = None, *, index: bool = True) -> str:
    """CSV with full float precision (``repr`` round-trip); also written to ``path`` if given."""
    text = df.to_csv(index=index, float_format=None, lineterminator="\n")
    return _write(text, path)
