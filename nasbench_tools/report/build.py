"""Writing the report folder: tables, figures, numbers.json, config.json, index.md, index.html."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import __version__
from .._io import atomic_write
from ..errors import NasbenchToolsError
from .compute import AGREEMENT_TEXT, compute_sections, headline, numbers
from .config import ReportConfig
from .document import Document
from .figures import FIGURES, draw, save
from .sections import Section

__all__ = ["TIES_TEXT", "build_report"]

#: The multiple-comparison correction of the paired tests, in words.
CORRECTION_TEXT = {
    "holm": "adjusted for the number of pairs by Holm's step-down procedure",
    "bonferroni": "adjusted for the number of pairs by Bonferroni's correction",
    "none": "not adjusted for the number of pairs (no multiple-comparison correction)",
}

#: Which pairs of proxies are tested, in words.
PAIRS_TEXT = {"all": "every two proxies", "best": "each proxy and the best one"}

#: How ties are treated, said once in the report.
TIES_TEXT = (
    "Ties. Kendall tau-b and Spearman rho count ties as ties (tau-b's denominator and average "
    "ranks). P@top-K and BR@K are expectations over breaking ties uniformly at random, on both "
    "the score and the ground-truth side: when 30 architectures share the score at the K-th "
    "place, each of them enters the top K with the same probability. That is why P@top-10 can "
    "read 0.017 (an expected 0.17 of 10) and BR@10 a fractional rank such as 2.3."
)


def build_report(
    cfg: ReportConfig, out: str | Path, *, overwrite: bool = False, progress: bool = True
) -> Path:
    """Compute every section and write the report folder ``out`` atomically; returns ``out``.

    ``out`` is checked and its temporary reserved before anything is computed; an existing
    empty folder is replaced, a non-empty one only with ``overwrite``. The folder appears
    complete or not at all (:func:`nasbench_tools._io.atomic_write`).
    """
    out = Path(out)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise NasbenchToolsError(
            f"{out}: exists and is not empty; pass overwrite=True (nbt report --force)"
        )
    t0 = time.perf_counter()
    with atomic_write(out, overwrite=overwrite or out.is_dir(), folder=True) as tmp:
        sections, prov = compute_sections(cfg, progress=progress)
        write_folder(cfg, sections, prov, tmp, t0)
    return out


def write_folder(cfg: ReportConfig, sections: list[Section], prov: dict, tmp: Path, t0: float):
    """Figures, tables, numbers.json, config.json, index.md and index.html into ``tmp``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (tmp / "figures").mkdir()
    (tmp / "tables").mkdir()
    head = headline(cfg, sections)
    tables = {"headline": _write_headline(head, tmp / "tables")} if head is not None else {}
    figs: dict[str, dict] = {}
    for sec in sections:
        tables[sec.slug] = _write_tables(cfg, sec, tmp / "tables")
        figs[sec.slug] = {"files": {}, "numbers": {}, "captions": {}}
        if cfg.figures == "none":
            continue
        for kind, fk in FIGURES.items():
            if cfg.figures == "summary" and not fk.summary:
                continue
            opts = {"space": cfg.scatter} if kind == "scatter" else {}
            made = draw(kind, sec, **opts)
            if made is None:
                continue
            fig, shown = made
            figs[sec.slug]["files"][kind] = save(fig, tmp / "figures", f"{sec.slug}_{kind}")
            figs[sec.slug]["captions"][kind] = fk.caption(sec, **opts).rstrip(".")
            plt.close(fig)
            if shown:
                figs[sec.slug]["numbers"][f"figure_{kind}"] = shown
    nums = numbers(cfg, sections, prov, head, figs)
    search_md = _search(cfg, tmp, nums)
    nums["provenance"]["seconds"] = round(time.perf_counter() - t0, 2)
    (tmp / "numbers.json").write_text(json.dumps(nums, indent=2, default=_json_default) + "\n")
    (tmp / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    doc = _document(cfg, sections, nums, head, tables, figs)
    if search_md:
        doc.markdown_section(search_md)
    (tmp / "index.md").write_text(doc.markdown(), encoding="utf-8")
    if cfg.html:
        (tmp / "index.html").write_text(doc.html(), encoding="utf-8")


def _search(cfg: ReportConfig, tmp: Path, nums: dict) -> str:
    """The search section of ``cfg.search``'s trajectory files (figures into ``figures/``);
    its numbers go under ``"search"``. Empty when no file is given."""
    if not cfg.search:
        return ""
    from ..search import search_section

    md, _paths, found = search_section(
        cfg.search,
        tmp / "figures",
        at_queries=tuple(cfg.search_at_queries),
        link_base=tmp,
        n_boot=max(cfg.n_boot, 1),
        seed=cfg.seed,
    )
    nums["search"] = found
    return md


# =========================================================================== tables
def _write_headline(head, table_dir: Path) -> list[str]:
    head.to_markdown(table_dir / "headline.md")
    head.to_latex(table_dir / "headline.tex", environment="table*")
    head.to_csv(table_dir / "headline.csv")
    _numbers_csv(head.data, table_dir / "headline_numbers.csv")
    return ["headline.md", "headline.tex", "headline.csv", "headline_numbers.csv"]


def _numbers_csv(rows: list[dict], path: Path) -> None:
    import csv

    keys = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: _plain(r.get(k)) for k in keys})


def _plain(v):
    if v is None:
        return ""
    if isinstance(v, float | np.floating):
        return repr(float(v))
    return v


def _write_tables(cfg: ReportConfig, sec: Section, table_dir: Path) -> dict:
    """The section's proxy table (md/tex/csv, one grid), its full numbers (CSV) and its
    paired tests (md/tex/csv)."""
    from ..analysis import pairwise_table, proxy_table, rank_table, to_csv

    if not sec.reports:
        return {}
    t = proxy_table(
        sec.reports,
        top=cfg.top,
        interval=cfg.interval,
        caption=sec.title,
        label=f"tab:{sec.slug}",
    )
    t.to_markdown(table_dir / f"{sec.slug}.md")
    t.to_latex(table_dir / f"{sec.slug}.tex")
    t.to_csv(table_dir / f"{sec.slug}.csv")
    to_csv(rank_table(sec.reports), table_dir / f"{sec.slug}_numbers.csv")
    out = {"proxies": t, "files": [f"{sec.slug}.{e}" for e in ("md", "tex", "csv")]}
    out["files"].append(f"{sec.slug}_numbers.csv")
    if sec.pairwise is not None:
        p = pairwise_table(
            sec.pairwise,
            caption=f"Paired tests: {sec.title}",
            label=f"tab:{sec.slug}-pairwise",
        )
        p.to_markdown(table_dir / f"{sec.slug}_pairwise.md")
        p.to_latex(table_dir / f"{sec.slug}_pairwise.tex")
        p.to_csv(table_dir / f"{sec.slug}_pairwise.csv")
        out["pairwise"] = p
        out["pairwise_files"] = [f"{sec.slug}_pairwise.{e}" for e in ("md", "tex", "csv")]
    return out


# =========================================================================== index
def _links(files: list[str]) -> str:
    return ", ".join(
        f"[{f.rsplit('.', 1)[1] if '_numbers' not in f else 'all numbers (csv)'}](tables/{f})"
        for f in files
    )


def _document(cfg, sections, nums, head, tables, figs) -> Document:
    doc = Document("Proxy ranking report")
    gt = nums["provenance"]["ground_truth"]
    doc.para(
        f"nasbench_tools {__version__}; ground truth `{cfg.ground_truth}` "
        f"({gt.get('benchmark', '')}, sha256 {str(gt.get('source_sha256', ''))[:16]}...); "
        f"{cfg.n_boot} bootstrap resamples over architectures, seed {cfg.seed}, 95% percentile "
        "intervals (a cell marked † has an interval from fewer valid resamples; numbers.json "
        "counts them). Correlations are signed (never absolute values); Kendall tau is tau-b. "
        "Every number is in `numbers.json`; the resolved config is in `config.json`; this page "
        "is also `index.html`."
    )
    doc.heading("How to read the numbers", anchor="reading")
    pool = (
        "every row of a section uses the architectures all its proxies scored (`--pool common`)"
        if cfg.pool == "common"
        else "each row uses the architectures its proxy scored; n is stated per row and a "
        "section warns when its rows use different sets (`--pool common` makes them equal)"
    )
    doc.bullets(
        [
            "P@top-K: the share of the K best-scored architectures that are among the K truly "
            "best. K is a count (`10`) or a share of the architectures a row scored (`5%`: K = "
            "5% of n, rounded; stated in every table), so sections of 292 and 15,625 "
            f"architectures compare. Sizes here: {', '.join(map(str, cfg.top))}.",
            "BR@K: the best true rank among the K best-scored architectures, out of the "
            "architectures scored (`3 / 15,625`).",
            TIES_TEXT,
            f"Pools: {pool}.",
            f"Paired tests: for {PAIRS_TEXT[cfg.pairs]} of a section, the difference in Kendall tau-b on the architectures both scored, "
            "resampled together; two-sided p-values from the bootstrap standard error, "
            f"{CORRECTION_TEXT[cfg.correction]}; significant where the adjusted p < 0.05.",
            AGREEMENT_TEXT,
        ]
    )
    if head is not None:
        doc.heading("Headline table", anchor="headline")
        doc.para(head.caption)
        doc.table(head)
        doc.para("Files: " + _links(tables["headline"]) + " (the LaTeX uses booktabs).")
    doc.heading("Sections", anchor="contents")
    doc.bullets([f"[{s.title}](#{s.slug})" for s in sections])
    for sec in sections:
        _section(
            doc,
            cfg,
            sec,
            nums["sections"][sec.slug],
            tables.get(sec.slug, {}),
            figs[sec.slug]["files"],
        )
    return doc


def _section(doc: Document, cfg, sec: Section, d: dict, tabs: dict, figs: dict) -> None:
    doc.heading(sec.title, anchor=sec.slug)
    doc.para("Ground truth: `" + json.dumps(sec.ground_truth, default=str) + "`")
    if d.get("seed_agreement"):
        doc.para(AGREEMENT_TEXT)
        doc.bullets(_agreement_lines(d["seed_agreement"]))
    if d.get("score_policy"):
        doc.para(d["score_policy"]["text"])
    if d.get("duplicate_audit"):
        a = d["duplicate_audit"]
        doc.para(
            f"Duplicate audit: {a['n']} rows hold {a['n_distinct']} distinct cells "
            f"({a['n_redundant']} repeats)."
        )
    if sec.pool.get("warning"):
        doc.para("**Warning:** " + sec.pool["warning"])
    if sec.pool.get("note"):
        doc.para(sec.pool["note"])
    if "proxies" in tabs:
        doc.table(tabs["proxies"])
    if d.get("counterpart_agreement"):
        doc.para(COUNTERPART_TEXT)
        doc.bullets(_counterpart_lines(d["counterpart_agreement"]))
    doc.bullets(list(sec.notes))
    doc.bullets(list(sec.figure_notes))
    for kind, files in figs.items():
        fk = FIGURES[kind]
        doc.figure(
            fk.caption(sec).rstrip("."), [f"figures/{f}" for f in files], f"{sec.slug} {kind}"
        )
    if "pairwise" in tabs:
        n_sig = sum(t.significant for t in sec.pairwise.tests)
        doc.table(
            tabs["pairwise"],
            details=f"Paired tests: {n_sig} of {sec.pairwise.n_tests} pairs differ significantly",
        )
    files = tabs.get("files", []) + tabs.get("pairwise_files", [])
    if files:
        doc.para("Tables: " + _links(files))


COUNTERPART_TEXT = (
    "Agreement with the stored values of the same proxy: how well our scores rank the "
    "architectures both scored (finite values) as the stored ones do. This checks the "
    "implementation and the setting (data, image size, classes, seed), not the proxy's quality."
)


def _counterpart_lines(entries: dict) -> list[str]:
    from ..scores import DATA_SOURCES

    out = []
    for e in entries.values():
        data = DATA_SOURCES.get(e["data"], e["data"]) if e.get("data") else "unstated data"
        out.append(
            f"`{e['ours']}` ({data}) vs {e['whose']}'s `{e['theirs']}`: Spearman rho "
            f"**{e['spearman_rho']:.4f}**, Kendall tau-b {e['kendall_tau_b']:.4f} "
            f"(n = {e['n']:,})"
        )
    return out


def _agreement_lines(d: dict) -> list[str]:
    from ..analysis.results import format_interval

    def fmt(e: dict) -> str:
        v = format_interval(e["value"], e["low"], e["high"], 3, e["n_valid"], d["n_boot"])
        return f"**{v}** (n = {e['n']:,})"

    pairs = "; ".join(f"{k} {fmt(e)}" for k, e in d["seed_vs_seed"].items())
    rest = "; ".join(f"seed {k} {fmt(e)}" for k, e in d["seed_vs_mean_of_other_seeds"].items())
    return [f"seed vs seed: {pairs}", f"one seed vs the mean of the other seeds: {rest}"]


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, set):
        return sorted(o)
    return str(o)
