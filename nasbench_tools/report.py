"""``nbt report``: one folder that compares proxies against ground truth, with every number kept.

The report composes the analysis layer (rank metrics with bootstrap intervals, the benchmark's
seed-noise ceiling, duplicate audits), its displays and its tables into::

    OUT/index.md          what was compared, the headline tables, links to everything
    OUT/numbers.json      every number, the resolved config, data hashes, package version
    OUT/config.json       the resolved config alone
    OUT/tables/           one table per section, as Markdown, LaTeX and CSV
    OUT/figures/          forest plot against the noise ceiling and heatmap per section (PNG and
                          PDF), a scatter of every proxy against the ground truth (PNG, one
                          panel per proxy)

Sections: for each NB201 dataset, the ground truth at its target split and budget (seed mean)
against the 12-epoch accuracy, #params, NASWOT and any user score table, beside the benchmark's
own seed-to-seed agreement; the NAS-Bench-Suite-Zero proxies against the accuracy that suite
recorded; and the NB101 sample's proxies over all 500 rows and over the 292 distinct cells.
The folder is written atomically.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .errors import AnalysisError, NasbenchToolsError, QueryError

__all__ = ["ReportConfig", "Section", "build_report", "compute_sections"]

#: Our dataset name -> the NAS-Bench-Suite-Zero table's name for it.
ZC_DATASETS = {
    "cifar10-valid": "cifar10",
    "cifar100": "cifar100",
    "ImageNet16-120": "ImageNet16-120",
}


@dataclass
class ReportConfig:
    """Everything that decides a report's numbers (dumped next to them)."""

    ground_truth: str = "nb201"
    #: dataset -> (split, epochs) of the ground truth each proxy is ranked against (seed mean).
    targets: dict = field(
        default_factory=lambda: {
            "cifar10-valid": ["x-valid", 200],
            "cifar100": ["ori-test", 200],
            "ImageNet16-120": ["ori-test", 200],
        }
    )
    #: the low-fidelity proxy: the same dataset's accuracy at this split after 12 epochs.
    low_fidelity: list = field(default_factory=lambda: ["x-valid", 12])
    noise_seeds: list = field(default_factory=lambda: [777, 888])
    embedded_scores: bool = True
    nb101_sample: bool = True
    scores: list = field(default_factory=list)
    n_boot: int = 200
    seed: int = 0
    k: list = field(default_factory=lambda: [10, 50, 100])
    figures: str = "all"  # "all" | "summary" | "none"

    def validate(self) -> None:
        if self.figures not in ("all", "summary", "none"):
            raise NasbenchToolsError(
                f"figures must be 'all', 'summary' or 'none', got {self.figures!r}"
            )
        if isinstance(self.n_boot, bool) or not isinstance(self.n_boot, int) or self.n_boot < 0:
            raise NasbenchToolsError(f"n_boot must be a non-negative int, got {self.n_boot!r}")
        if len(self.noise_seeds) != 2:
            raise NasbenchToolsError(f"noise_seeds must name two seeds, got {self.noise_seeds!r}")


@dataclass
class Section:
    """One comparison: a ground truth, the proxies ranked against it, and their reports."""

    slug: str
    title: str
    ground_truth: dict
    pairs: dict  # name -> (y_true, y_score)
    reports: dict = field(default_factory=dict)
    noise: object = None
    audit: object = None
    notes: list = field(default_factory=list)
    heatmap: bool = False


# =========================================================================== assembling pairs
def _nb201_sections(cfg: ReportConfig, gt, user_tables) -> list[Section]:
    from .scores import load_scores

    naswot = load_scores("nb201-naswot") if cfg.embedded_scores else None
    sections = []
    for dataset, (split, epochs) in cfg.targets.items():
        query = dict(dataset=dataset, split=split, epochs=int(epochs))
        y = np.asarray(gt.vector(**query))
        desc = query | {
            "seed": "mean",
            "benchmark": gt.provenance.get("benchmark", gt.name),
            "n": len(y),
        }
        sec = Section(
            f"nb201-{dataset}", f"NAS-Bench-201 {dataset}: {split} after {epochs} epochs", desc, {}
        )
        lf_split, lf_epochs = cfg.low_fidelity
        try:
            v = gt.vector(dataset=dataset, split=lf_split, epochs=int(lf_epochs))
            sec.pairs[f"{lf_epochs}-epoch {lf_split}"] = (y, np.asarray(v))
        except QueryError as exc:
            sec.notes.append(f"no {lf_epochs}-epoch proxy: {exc}")
        try:
            sec.pairs["#params"] = (y, np.asarray(gt.vector(dataset=dataset, metric="params")))
        except QueryError as exc:
            sec.notes.append(f"no #params: {exc}")
        if naswot is not None:
            sec.pairs["NASWOT"] = (naswot.ground_truth(gt, **query), naswot["naswot"])
        for table in user_tables:
            wanted = table.meta.get("dataset")
            if wanted is not None and ZC_DATASETS.get(dataset) != wanted and wanted != dataset:
                continue
            yt = table.ground_truth(gt, **query)
            for name in table.columns:
                sec.pairs[f"{table.meta.get('label', 'scores')}:{name}"] = (yt, table[name])
        s1, s2 = cfg.noise_seeds
        try:
            runs = {s1: gt.vector(seed=s1, **query), s2: gt.vector(seed=s2, **query, missing="nan")}
            sec.noise = runs
        except QueryError as exc:
            sec.notes.append(f"no seed-noise ceiling: {exc}")
        sections.append(sec)
    return sections


def _zc_sections(cfg: ReportConfig) -> list[Section]:
    from .scores import load_scores

    sections = []
    for dataset in cfg.targets:
        if dataset not in ZC_DATASETS:
            continue
        t = load_scores("nb201-zc", dataset=ZC_DATASETS[dataset])
        y = t["val_accuracy"]
        desc = {
            "dataset": dataset,
            "value": "val_accuracy recorded by NAS-Bench-Suite-Zero: one 200-epoch run's "
            + ("cifar10-valid ori-test" if dataset == "cifar10-valid" else f"{dataset} x-test")
            + " accuracy (NASLib's eval_acc1es[-1])",
            "n": len(t),
            "source": t.meta.get("source"),
        }
        sec = Section(
            f"zc-{dataset}",
            f"NAS-Bench-Suite-Zero proxies, {dataset} (n = {len(t)})",
            desc,
            {},
            heatmap=True,
        )
        for p in t.meta["proxies"]:
            sec.pairs[p] = (y, t[p])
        sections.append(sec)
    return sections


def _nb101_sections(cfg: ReportConfig) -> list[Section]:
    from .analysis import deduplicate, duplicate_audit
    from .scores import load_scores

    t = load_scores("nb101-zc")
    y = t["val_accuracy"]
    proxies = t.meta["proxies"]
    audit = duplicate_audit(t.keys.tolist(), y_true=y, y_score=t["synflow"])
    desc = {
        "value": "val_accuracy of one randomly drawn NB101 repeat at 108 epochs (NAS-Bench-Suite-Zero)",
        "n_rows": len(t),
        "n_distinct": audit.n_distinct,
        "source": t.meta.get("source"),
    }
    rows = Section(
        "nb101-zc-all-rows",
        f"NB101 sample: zero-cost proxies over all {len(t)} rows",
        desc,
        {},
        heatmap=True,
    )
    rows.audit = audit
    for p in proxies:
        rows.pairs[p] = (y, t[p])
    dedup = deduplicate(t.keys.tolist(), y, *(t[p] for p in proxies), reduce="mean")
    yd, *pd_ = dedup.arrays if hasattr(dedup, "arrays") else dedup[1:]
    distinct = Section(
        "nb101-zc-distinct",
        f"NB101 sample: zero-cost proxies over the {audit.n_distinct} distinct cells (duplicates averaged)",
        desc | {"n": audit.n_distinct},
        {p: (yd, v) for p, v in zip(proxies, pd_)},
    )
    return [rows, distinct]


# =========================================================================== computing
def compute_sections(cfg: ReportConfig, *, progress: bool = True) -> tuple[list[Section], dict]:
    """Assemble and compute every section; returns ``(sections, provenance)``."""
    from tqdm.auto import tqdm

    from .analysis import noise_ceiling, rank_report
    from .cli._common import open_ground_truth
    from .scores import ScoreTable

    cfg.validate()
    gt = open_ground_truth(cfg.ground_truth)
    if gt.space != "nb201":
        raise NasbenchToolsError(f"the report's ground truth must be NB201 for now, got {gt.space}")
    tables = []
    for i, path in enumerate(cfg.scores):
        t = ScoreTable.read(path)
        t.meta.setdefault("label", Path(path).name.split(".")[0] or f"scores{i}")
        tables.append(t)
    sections = _nb201_sections(cfg, gt, tables)
    if cfg.embedded_scores:
        sections += _zc_sections(cfg)
    if cfg.nb101_sample:
        sections += _nb101_sections(cfg)
    total = sum(len(s.pairs) for s in sections)
    with tqdm(total=total, desc="ranking", disable=not progress, unit="pair") as bar:
        for sec in sections:
            for name, (y_true, y_score) in sec.pairs.items():
                try:
                    sec.reports[name] = rank_report(
                        y_true,
                        y_score,
                        k=tuple(cfg.k),
                        n_boot=cfg.n_boot,
                        seed=cfg.seed,
                        nan_policy="omit",
                    )
                except AnalysisError as exc:
                    sec.notes.append(f"{name} left out: {exc}")
                bar.update()
            if isinstance(sec.noise, dict):
                sec.noise = noise_ceiling(
                    sec.noise, n_boot=cfg.n_boot, seed=cfg.seed, nan_policy="omit"
                )
    prov = {
        "package_version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "ground_truth": {
            k: v for k, v in gt.provenance.items() if isinstance(v, str | int | float)
        },
        "score_tables": [t.meta for t in tables],
    }
    return sections, prov


def _noise_dict(nc) -> dict | None:
    if nc is None or isinstance(nc, dict):
        return None
    return {
        "metric": nc.metric,
        "statistic": nc.statistic,
        "low": nc.low,
        "high": nc.high,
        "pairs": {f"{a} vs {b}": v for (a, b), v in nc.pairs.items()},
        "n": nc.n_used,
        "n_omitted": nc.n_omitted,
    }


def _numbers(cfg: ReportConfig, sections: list[Section], prov: dict) -> dict:
    out = {"config": asdict(cfg), "provenance": prov, "sections": {}}
    for sec in sections:
        d = {
            "title": sec.title,
            "ground_truth": sec.ground_truth,
            "proxies": {n: r.as_dict() | {"notes": list(r.notes)} for n, r in sec.reports.items()},
            "notes": sec.notes,
        }
        if sec.noise is not None:
            d["noise_ceiling"] = _noise_dict(sec.noise)
        if sec.audit is not None:
            a = sec.audit
            d["duplicate_audit"] = {
                "n": a.n,
                "n_distinct": a.n_distinct,
                "n_redundant": a.n_redundant,
                "largest_class": a.largest_class,
                "class_sizes": {str(k): v for k, v in a.class_sizes.items()},
            }
        out["sections"][sec.slug] = d
    return out


# =========================================================================== writing
def _figures(sec: Section, fig_dir: Path, mode: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .analysis import CorrelationHeatmapDisplay, ProxyScatterDisplay, RankingDisplay

    written = []
    if not sec.reports:
        return written
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(sec.reports) + 1.2))
    nc = None if isinstance(sec.noise, dict) else sec.noise
    RankingDisplay.from_reports(sec.reports, noise_ceiling=nc).plot(ax=ax)
    ax.set_title(sec.title, fontsize="small")
    for ext in ("png", "pdf"):
        p = fig_dir / f"{sec.slug}_ranking.{ext}"
        fig.savefig(p, bbox_inches="tight", dpi=150)
        written.append(p.name)
    plt.close(fig)
    if sec.heatmap:
        scores = {n: sec.pairs[n][1] for n in sec.reports}
        y = next(iter(sec.pairs.values()))[0]
        k = len(scores) + 1
        fig, ax = plt.subplots(figsize=(0.55 * k + 2, 0.5 * k + 1))
        CorrelationHeatmapDisplay.from_scores(scores, y_true=y, true_name="ground truth").plot(
            ax=ax
        )
        ax.set_title(f"Kendall tau between proxies: {sec.title}", fontsize="small")
        for ext in ("png", "pdf"):
            p = fig_dir / f"{sec.slug}_heatmap.{ext}"
            fig.savefig(p, bbox_inches="tight", dpi=150)
            written.append(p.name)
        plt.close(fig)
    if mode == "all":
        names = list(sec.reports)
        ncols = min(4, len(names))
        nrows = -(-len(names) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.9 * nrows), squeeze=False)
        for ax, name in zip(axes.ravel(), names):
            y_true, y_score = sec.pairs[name]
            d = ProxyScatterDisplay.from_predictions(y_true, y_score, name=name, nan_policy="omit")
            finite = d.y_score[np.isfinite(d.y_score)]
            wide = (
                finite.size and finite.min() > 0 and finite.max() / max(finite.min(), 1e-300) > 1e3
            )
            d.plot(ax=ax, xscale="log" if wide else "linear", s=2, rasterized=True)
            ax.legend(loc="lower right", fontsize="xx-small")
            ax.set_xlabel(name, fontsize="small")
        for ax in axes.ravel()[len(names) :]:
            ax.set_visible(False)
        fig.suptitle(f"{sec.title}: one panel per proxy (y: ground truth)", fontsize="small")
        fig.tight_layout()
        p = fig_dir / f"{sec.slug}_scatter.png"
        fig.savefig(p, dpi=110)
        written.append(p.name)
        plt.close(fig)
    return written


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")


def _tables(sec: Section, table_dir: Path) -> list[str]:
    from .analysis import rank_table, to_csv, to_latex, to_markdown, with_intervals

    if not sec.reports:
        return []
    df = rank_table(sec.reports)
    to_csv(df, table_dir / f"{sec.slug}.csv")
    short = with_intervals(
        df[
            [
                c
                for c in df.columns
                if c.startswith(("n", "kendall_tau", "spearman_rho", "p_at_top", "br_at"))
            ]
        ]
    )
    to_markdown(short, table_dir / f"{sec.slug}.md")
    to_latex(short, table_dir / f"{sec.slug}.tex")
    return [f"{sec.slug}.{e}" for e in ("csv", "md", "tex")]


def _index_md(cfg: ReportConfig, sections: list[Section], numbers: dict, files: dict) -> str:
    from .analysis import to_markdown, with_intervals

    lines = [
        "# Proxy ranking report",
        "",
        f"nasbench_tools {__version__}; ground truth `{cfg.ground_truth}` "
        f"({numbers['provenance']['ground_truth'].get('benchmark', '')}, sha256 "
        f"{str(numbers['provenance']['ground_truth'].get('source_sha256', ''))[:16]}...); "
        f"{cfg.n_boot} bootstrap resamples over architectures, seed {cfg.seed}, 95% percentile intervals. "
        "Correlations are signed (never absolute values); Kendall tau is tau-b. "
        "Every number is in `numbers.json`; the resolved config is in `config.json`.",
        "",
    ]
    for sec in sections:
        d = numbers["sections"][sec.slug]
        lines += [
            f"## {sec.title}",
            "",
            "Ground truth: `" + json.dumps(sec.ground_truth, default=str) + "`",
            "",
        ]
        if d.get("noise_ceiling"):
            nc = d["noise_ceiling"]
            lines += [
                f"Seed-noise ceiling (Kendall tau between benchmark seeds {', '.join(nc['pairs'])}): "
                f"**{nc['statistic']:.3f}** [{nc['low']:.3f}, {nc['high']:.3f}], n = {nc['n']}.",
                "",
            ]
        if d.get("duplicate_audit"):
            a = d["duplicate_audit"]
            lines += [
                f"Duplicate audit: {a['n']} rows hold {a['n_distinct']} distinct cells ({a['n_redundant']} repeats).",
                "",
            ]
        if sec.reports:
            from .analysis import rank_table

            df = rank_table(sec.reports)
            cols = [
                c
                for c in df.columns
                if c in ("n", "n_omitted")
                or c.startswith(("kendall_tau", "spearman_rho", "p_at_top_10"))
            ]
            lines += [
                to_markdown(with_intervals(df[cols].sort_values("kendall_tau", ascending=False))),
                "",
            ]
        for note in sec.notes:
            lines.append(f"- note: {note}")
        for f in files.get(sec.slug, []):
            if f.endswith("_ranking.png") or f.endswith("_heatmap.png"):
                lines.append(f"![{f}](figures/{f})")
        scatters = [f for f in files.get(sec.slug, []) if "_scatter_" in f]
        if scatters:
            lines.append(
                "Scatter plots: "
                + ", ".join(f"[{f.split('_scatter_')[1][:-4]}](figures/{f})" for f in scatters)
            )
        lines += [
            "",
            f"Tables: [md](tables/{sec.slug}.md), [tex](tables/{sec.slug}.tex), [csv](tables/{sec.slug}.csv)",
            "",
        ]
    return "\n".join(lines) + "\n"


def build_report(
    cfg: ReportConfig, out: str | Path, *, overwrite: bool = False, progress: bool = True
) -> Path:
    """Compute every section and write the report folder ``out`` atomically; returns ``out``."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise NasbenchToolsError(
            f"{out}: exists and is not empty; pass overwrite=True (nbt report --force)"
        )
    t0 = time.perf_counter()
    sections, prov = compute_sections(cfg, progress=progress)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "figures").mkdir(parents=True)
        (tmp / "tables").mkdir()
        files = {}
        for sec in sections:
            if cfg.figures != "none":
                files[sec.slug] = _figures(sec, tmp / "figures", cfg.figures)
            _tables(sec, tmp / "tables")
        numbers = _numbers(cfg, sections, prov)
        numbers["provenance"]["seconds"] = round(time.perf_counter() - t0, 2)
        (tmp / "numbers.json").write_text(
            json.dumps(numbers, indent=2, default=_json_default) + "\n"
        )
        (tmp / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
        (tmp / "index.md").write_text(_index_md(cfg, sections, numbers, files))
        if out.exists():
            old = out.with_name(f".{out.name}.{os.getpid()}.old")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
