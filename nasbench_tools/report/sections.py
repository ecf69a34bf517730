"""``nbt report``: one folder that compares proxies against ground truth, with every number kept.

The report composes the analysis layer (rank metrics with bootstrap intervals, the benchmark's
seed agreement, duplicate audits), its displays and its tables into::

    OUT/index.md          what was compared, the headline tables, links to every figure and table
    OUT/numbers.json      every number, the resolved config, data hashes, package version
    OUT/config.json       the resolved config alone
    OUT/tables/           one table per section, as Markdown, LaTeX and CSV
    OUT/figures/          per section, as PNG and PDF: a forest plot of the proxies beside the
                          seed agreement, a heatmap (zero-cost sections) and a scatter of every
                          proxy against the ground truth (one panel per proxy)

Sections: for each NB201 dataset, the ground truth at its target split and budget (seed mean)
against the 12-epoch accuracy, #params, NASWOT and any user score table, beside the benchmark's
seed agreement (Kendall tau between two seeds, and of one seed against the mean of the others;
context, not a limit: the ground truth is a mean of 2-3 seeds, which a proxy can rank better
than one seed ranks another); the NAS-Bench-Suite-Zero proxies against the accuracy that
suite recorded, with NASLib's failure value ``-1e8`` excluded as missing and counted
(``zc_sentinels``, see :mod:`nasbench_tools.scores`); and the NB101 sample's proxies over all 500
rows and over the 292 distinct cells. BR@K is printed as a rank with its denominator
(``3 / 15,625``). A score table goes to the sections of the dataset its metadata names as its
target (every NB201 section without one); a section notes a table whose scores were computed on
other images than its ground truth's (:func:`nasbench_tools.scores.data_note`: NASWOT's CIFAR-10
scores against CIFAR-100 are a transfer question) or whose target split or budget differs. The
folder is written atomically (:func:`nasbench_tools._io.atomic_write`).
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from ._io import atomic_write
from .errors import AnalysisError, NasbenchToolsError, QueryError
from .scores import SENTINEL_POLICIES, ScoreTable, data_note

__all__ = ["ReportConfig", "Section", "build_report", "compute_sections"]

#: The search space the report's sections are written for (its datasets, the embedded tables).
SPACE = "nb201"


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
    #: seeds of the benchmark compared with each other: "all" (every seed the target has) or a
    #: list of at least two.
    agreement_seeds: list | str = "all"
    embedded_scores: bool = True
    #: NAS-Bench-Suite-Zero's failure value -1e8: "exclude" (missing, counted) or "keep" (raw).
    zc_sentinels: str = "exclude"
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
        seeds = self.agreement_seeds
        if seeds != "all" and (
            not isinstance(seeds, list | tuple)
            or len(set(seeds)) < 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds)
        ):
            raise NasbenchToolsError(
                f"agreement_seeds must be 'all' or a list of at least two seeds, got {seeds!r}"
            )
        if self.zc_sentinels not in SENTINEL_POLICIES:
            raise NasbenchToolsError(
                f"zc_sentinels must be one of {SENTINEL_POLICIES}, got {self.zc_sentinels!r}"
            )


@dataclass
class Section:
    """One comparison: a ground truth, the proxies ranked against it, and their reports."""

    slug: str
    title: str
    ground_truth: dict
    pairs: dict  # name -> (y_true, y_score)
    reports: dict = field(default_factory=dict)
    seed_runs: dict | None = None  # seed -> vector, turned into agreement
    agreement: object = None  # SeedAgreement
    score_policy: dict | None = None  # sentinel policy and counts of a score table
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
            _note(sec, data_note(naswot.meta, dataset, "NASWOT"))
        for table in user_tables:
            _add_user_table(sec, table, gt, query)
        try:
            if cfg.agreement_seeds == "all":
                col = gt.vector(seed="all", **query, missing="nan")
                sec.seed_runs = {s: col.values[:, i] for i, s in enumerate(col.seeds)}
            else:
                sec.seed_runs = {
                    s: gt.vector(seed=s, **query, missing="nan") for s in cfg.agreement_seeds
                }
            if len(sec.seed_runs) < 2:
                sec.notes.append(f"no seed agreement: only seeds {list(sec.seed_runs)}")
                sec.seed_runs = None
        except QueryError as exc:
            sec.notes.append(f"no seed agreement: {exc}")
        sections.append(sec)
    return sections


def _note(sec: Section, note: str | None) -> None:
    if note:
        sec.notes.append(note)


def _add_user_table(sec: Section, table: ScoreTable, gt, query: dict) -> None:
    """A user table's columns as proxies of an NB201 section, unless the table was made for
    another dataset; notes when its images or its target differ from the section's."""
    dataset = query["dataset"]
    target = table.meta.get("target") or {}
    wanted = _wanted_dataset(table)
    if wanted is not None and wanted != dataset:
        return
    label = table.meta.get("label", "scores")
    yt = table.ground_truth(gt, **query)
    for name in table.columns:
        sec.pairs[f"{label}:{name}"] = (yt, table[name])
    _note(sec, data_note(table.meta, dataset))
    differs = [
        f"{k} {target[k]}" for k in ("split", "epochs") if k in target and target[k] != query[k]
    ]
    if differs:
        _note(
            sec,
            f"{label}: the table was made for {dataset} {', '.join(differs)}; it is ranked here "
            f"against {query['split']} after {query['epochs']} epochs",
        )


def _wanted_dataset(table: ScoreTable) -> str | None:
    """The benchmark dataset a table was made for (its target's, or the section it was read
    from), or None."""
    return (table.meta.get("target") or {}).get("dataset", table.meta.get("dataset"))


def _zc_sections(cfg: ReportConfig) -> list[Section]:
    from .scores import EMBEDDED_SCORES, load_scores

    sections = []
    zc = EMBEDDED_SCORES.get("nb201-zc")
    for dataset in cfg.targets:
        if dataset not in zc.sections:
            continue
        t = load_scores(zc.name, dataset=dataset, sentinels=cfg.zc_sentinels)
        y = t["val_accuracy"]
        target = t.meta["target"]
        desc = {
            "dataset": dataset,
            "value": "val_accuracy recorded by NAS-Bench-Suite-Zero: one 200-epoch run's "
            + f"{target['dataset']} {target['split']}"
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
        sec.score_policy = _score_policy(t)
        for p in t.meta["proxies"]:
            sec.pairs[p] = (y, t[p])
        sections.append(sec)
    return sections


def _nb101_sections(cfg: ReportConfig) -> list[Section]:
    from .analysis import deduplicate, duplicate_audit
    from .scores import load_scores

    t = load_scores("nb101-zc", sentinels=cfg.zc_sentinels)
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
    rows.score_policy = _score_policy(t)
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
    distinct.score_policy = rows.score_policy
    return [rows, distinct]


def _score_policy(t) -> dict:
    """The sentinel policy of a NAS-Bench-Suite-Zero table and its counts, for the report."""
    sent = t.meta["sentinels"]
    excluded = sent["policy"] == "exclude"
    counts = sent["counts"]
    hits = {p: n for p, n in counts.items() if n}
    listed = ", ".join(f"{p} {n}" for p, n in hits.items()) or "none in this table"
    text = (
        "Failure values: NAS-Bench-Suite-Zero stores -1e8 where a proxy came out NaN or infinite "
        "(NASLib ZeroCost.query). "
        + (
            "Those values are excluded as missing (no score), so the architecture is left out "
            "of that proxy's numbers"
            if excluded
            else "They are KEPT as scores (zc_sentinels='keep'), ranked below every real score"
        )
        + f": {listed}."
    )
    inf = {p: n for p, n in t.meta.get("infinite", {}).items() if n}
    if inf:
        text += (
            " Infinite scores are real values and kept ("
            + ", ".join(f"{p} {n}" for p, n in inf.items())
            + "; e.g. nwot = -inf, the log-determinant of a singular kernel); Pearson r needs "
            "finite values and is left out for those proxies."
        )
    return {
        "sentinel_value": sent["value"],
        "policy": sent["policy"],
        "counts": counts,
        "infinite": t.meta.get("infinite", {}),
        "text": text,
    }


# =========================================================================== computing
def compute_sections(cfg: ReportConfig, *, progress: bool = True) -> tuple[list[Section], dict]:
    """Assemble and compute every section; returns ``(sections, provenance)``."""
    from tqdm.auto import tqdm

    from .analysis import rank_report, seed_agreement
    from .groundtruth.target import open_ground_truth
    from .spaces import get_space

    cfg.validate()
    gt = open_ground_truth(cfg.ground_truth)
    if get_space(gt.space) is not get_space(SPACE):
        raise NasbenchToolsError(
            f"the report's ground truth must be {get_space(SPACE).title} for now, got "
            f"{get_space(gt.space).title}"
        )
    tables = [_user_table(path, gt, cfg) for path in cfg.scores]
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
            if sec.seed_runs is not None:
                try:
                    sec.agreement = seed_agreement(
                        sec.seed_runs, n_boot=cfg.n_boot, seed=cfg.seed, nan_policy="omit"
                    )
                except AnalysisError as exc:
                    sec.notes.append(f"no seed agreement: {exc}")
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


def _user_table(path: str, gt, cfg: ReportConfig) -> ScoreTable:
    """A ``--scores`` table, keyed in the ground truth's space and by architecture, made for a
    dataset the report ranks (or for none in particular)."""
    t = ScoreTable.read(path, space=gt.space)
    if t.level != "arch":
        raise NasbenchToolsError(
            f"{path}: an operator-level score table ((edge, op) rows) cannot be ranked against "
            "architectures; give a table keyed by architecture"
        )
    wanted = _wanted_dataset(t)
    if wanted is not None and wanted not in cfg.targets:
        raise NasbenchToolsError(
            f"{path}: the table was made for dataset {wanted!r}, which this report does not "
            f"rank (datasets: {', '.join(cfg.targets)}); add --target {wanted}:SPLIT:EPOCHS"
        )
    return t


#: What the seed agreement is, in the report's words.
AGREEMENT_TEXT = (
    "Seed agreement of the benchmark with itself (Kendall tau-b between single training runs). "
    "It is context, not a limit on what a proxy can reach: the ground truth here is the mean of "
    "2-3 seeds, which is less noisy than one seed, so a proxy can rank it better than one seed "
    "ranks another."
)


def _estimate_dict(e, n: int) -> dict:
    return {"value": e.value, "low": e.low, "high": e.high, "n_valid": e.n_valid, "n": n}


def _agreement_dict(sa) -> dict | None:
    if sa is None:
        return None
    return {
        "metric": sa.metric,
        "what": AGREEMENT_TEXT,
        "seed_vs_seed": {
            f"{a} vs {b}": _estimate_dict(e, sa.n_pairs_used[(a, b)])
            for (a, b), e in sa.pairs.items()
        },
        "seed_vs_seed_mean": _estimate_dict(sa.between, min(sa.n_pairs_used.values())),
        "seed_vs_mean_of_other_seeds": {
            str(s): _estimate_dict(e, sa.n_rest_used[s]) for s, e in sa.vs_rest.items()
        },
        "seed_vs_mean_of_other_seeds_mean": _estimate_dict(sa.rest, min(sa.n_rest_used.values())),
        "n_boot": sa.n_boot,
    }


def _numbers(cfg: ReportConfig, sections: list[Section], prov: dict) -> dict:
    out = {"config": asdict(cfg), "provenance": prov, "sections": {}}
    for sec in sections:
        excluded = (sec.score_policy or {}).get("counts", {})
        policy = (sec.score_policy or {}).get("policy")
        proxies = {}
        for name, r in sec.reports.items():
            d = r.as_dict() | {"notes": list(r.notes)}
            if sec.score_policy is not None:
                d["sentinels_excluded"] = excluded.get(name, 0) if policy == "exclude" else 0
            proxies[name] = d
        d = {
            "title": sec.title,
            "ground_truth": sec.ground_truth,
            "proxies": proxies,
            "notes": sec.notes,
        }
        if sec.agreement is not None:
            d["seed_agreement"] = _agreement_dict(sec.agreement)
        if sec.score_policy is not None:
            d["score_policy"] = sec.score_policy
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
#: Every figure is written in these formats (PNG to look at, PDF for papers).
FIGURE_FORMATS = ("png", "pdf")


def _save(fig, fig_dir: Path, stem: str, **kw) -> list[str]:
    names = []
    for ext in FIGURE_FORMATS:
        p = fig_dir / f"{stem}.{ext}"
        fig.savefig(p, **kw)
        names.append(p.name)
    return names


def _figures(sec: Section, fig_dir: Path, mode: str) -> dict[str, list[str]]:
    """Draw the section's figures; returns ``{kind: [file names]}`` (kind: ranking, heatmap,
    scatter)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .analysis import CorrelationHeatmapDisplay, ProxyScatterDisplay, RankingDisplay

    written: dict[str, list[str]] = {}
    if not sec.reports:
        return written
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(sec.reports) + 1.2))
    RankingDisplay.from_reports(sec.reports, seed_agreement=sec.agreement).plot(ax=ax)
    ax.set_title(sec.title, fontsize="small")
    written["ranking"] = _save(fig, fig_dir, f"{sec.slug}_ranking", bbox_inches="tight", dpi=150)
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
        written["heatmap"] = _save(
            fig, fig_dir, f"{sec.slug}_heatmap", bbox_inches="tight", dpi=150
        )
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
        written["scatter"] = _save(fig, fig_dir, f"{sec.slug}_scatter", dpi=110)
        plt.close(fig)
    return written


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


def _agreement_md(d: dict) -> list[str]:
    def fmt(e: dict) -> str:
        from .analysis.results import format_interval

        return f"**{format_interval(e['value'], e['low'], e['high'], 3, e['n_valid'], d['n_boot'])}** (n = {e['n']:,})"

    pairs = "; ".join(f"{k} {fmt(e)}" for k, e in d["seed_vs_seed"].items())
    rest = "; ".join(f"seed {k} {fmt(e)}" for k, e in d["seed_vs_mean_of_other_seeds"].items())
    return [
        AGREEMENT_TEXT,
        "",
        f"- seed vs seed: {pairs}",
        f"- one seed vs the mean of the other seeds: {rest}",
        "",
    ]


_FIGURE_TITLES = {
    "ranking": "Kendall tau per proxy beside the seed agreement",
    "heatmap": "Kendall tau between proxies",
    "scatter": "every proxy against the ground truth",
}


def _index_md(cfg: ReportConfig, sections: list[Section], numbers: dict, files: dict) -> str:
    lines = _header_md(cfg, numbers)
    for sec in sections:
        lines += _section_md(cfg, sec, numbers["sections"][sec.slug], files.get(sec.slug, {}))
    return "\n".join(lines) + "\n"


def _header_md(cfg: ReportConfig, numbers: dict) -> list[str]:
    gt = numbers["provenance"]["ground_truth"]
    return [
        "# Proxy ranking report",
        "",
        f"nasbench_tools {__version__}; ground truth `{cfg.ground_truth}` "
        f"({gt.get('benchmark', '')}, sha256 {str(gt.get('source_sha256', ''))[:16]}...); "
        f"{cfg.n_boot} bootstrap resamples over architectures, seed {cfg.seed}, 95% percentile "
        "intervals (an interval notes how many resamples were valid when some were not). "
        "Correlations are signed (never absolute values); Kendall tau is tau-b. "
        "BR@K is the best true rank among the K highest-scored architectures, out of the "
        "architectures scored. "
        "Every number is in `numbers.json`; the resolved config is in `config.json`.",
        "",
    ]


def _section_md(cfg: ReportConfig, sec: Section, d: dict, figs: dict) -> list[str]:
    """One section of index.md: ground truth, seed agreement, score policy, duplicate audit,
    the headline table, notes, figures and links to the tables."""
    lines = [
        f"## {sec.title}",
        "",
        "Ground truth: `" + json.dumps(sec.ground_truth, default=str) + "`",
        "",
    ]
    if d.get("seed_agreement"):
        lines += _agreement_md(d["seed_agreement"])
    if d.get("score_policy"):
        lines += [d["score_policy"]["text"], ""]
    if d.get("duplicate_audit"):
        a = d["duplicate_audit"]
        lines += [
            f"Duplicate audit: {a['n']} rows hold {a['n_distinct']} distinct cells "
            f"({a['n_redundant']} repeats).",
            "",
        ]
    if sec.reports:
        lines += [_headline_table_md(cfg, sec), ""]
    lines += [f"- note: {note}" for note in sec.notes]
    lines += _figures_md(sec, figs)
    lines += [
        f"Tables: [md](tables/{sec.slug}.md), [tex](tables/{sec.slug}.tex), "
        f"[csv](tables/{sec.slug}.csv)",
        "",
    ]
    return lines


def _headline_table_md(cfg: ReportConfig, sec: Section) -> str:
    """tau, rho, P@K and BR@K (smallest K) per proxy, best tau first, with intervals."""
    from .analysis import rank_table, to_markdown, with_intervals

    df = rank_table(sec.reports)
    k0 = min(cfg.k) if cfg.k else None
    heads = ("kendall_tau", "spearman_rho")
    if k0 is not None:
        heads += (f"p_at_top_{k0}", f"br_at_{k0}")
    cols = [
        c
        for c in df.columns
        if c in ("n", "n_omitted", "n_boot") or any(c == h or c.startswith(h + "_") for h in heads)
    ]
    short = with_intervals(df[cols].sort_values("kendall_tau", ascending=False))
    return to_markdown(short.drop(columns=["n_boot"], errors="ignore"))


def _figures_md(sec: Section, figs: dict) -> list[str]:
    lines = []
    for kind, names in figs.items():
        png = next((f for f in names if f.endswith(".png")), None)
        links = ", ".join(f"[{f.rsplit('.', 1)[1].upper()}](figures/{f})" for f in names)
        lines += [f"{_FIGURE_TITLES.get(kind, kind).capitalize()} ({links}):", ""]
        if png:
            lines += [f"![{sec.slug} {kind}](figures/{png})", ""]
    return lines


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
        _write_folder(cfg, sections, prov, tmp, t0)
    return out


def _write_folder(cfg: ReportConfig, sections: list[Section], prov: dict, tmp: Path, t0: float):
    """Figures, tables, numbers.json, config.json and index.md into the folder ``tmp``."""
    (tmp / "figures").mkdir()
    (tmp / "tables").mkdir()
    files = {}
    for sec in sections:
        if cfg.figures != "none":
            files[sec.slug] = _figures(sec, tmp / "figures", cfg.figures)
        _tables(sec, tmp / "tables")
    numbers = _numbers(cfg, sections, prov)
    numbers["provenance"]["seconds"] = round(time.perf_counter() - t0, 2)
    (tmp / "numbers.json").write_text(json.dumps(numbers, indent=2, default=_json_default) + "\n")
    (tmp / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    (tmp / "index.md").write_text(_index_md(cfg, sections, numbers, files))


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
