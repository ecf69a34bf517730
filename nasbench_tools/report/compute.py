"""Everything the report computes, per section: rank reports, seed agreement, paired tests,
P@K curves, the budget curve and the rank change; then the headline table and numbers.json."""

from __future__ import annotations

import datetime as _dt
import platform
from dataclasses import asdict

import numpy as np

from .. import __version__
from ..errors import AnalysisError, NasbenchToolsError
from .config import ReportConfig
from .sections import SPACE, Section, assemble_sections, user_table

__all__ = ["AGREEMENT_TEXT", "compute_sections", "headline", "numbers"]

#: What the seed agreement is, in the report's words.
AGREEMENT_TEXT = (
    "Seed agreement of the benchmark with itself (Kendall tau-b between single training runs). "
    "It is context, not a limit on what a proxy can reach: the ground truth here is the mean of "
    "2-3 seeds, which is less noisy than one seed, so a proxy can rank it better than one seed "
    "ranks another."
)
#: The architectures drawn in the rank-change figure: the best at the full budget.
RANK_CHANGE_TOP = 20


def compute_sections(cfg: ReportConfig, *, progress: bool = True) -> tuple[list[Section], dict]:
    """Assemble and compute every section; returns ``(sections, provenance)``."""
    from tqdm.auto import tqdm

    from ..groundtruth.target import open_ground_truth
    from ..spaces import get_space

    cfg.validate()
    gt = open_ground_truth(cfg.ground_truth)
    if get_space(gt.space) is not get_space(SPACE):
        raise NasbenchToolsError(
            f"the report's ground truth must be {get_space(SPACE).title} for now, got "
            f"{get_space(gt.space).title}"
        )
    tables = [user_table(path, gt, cfg) for path in cfg.scores]
    sections = assemble_sections(cfg, gt, tables)
    total = sum(len(s.scores) + 1 for s in sections)
    with tqdm(total=total, desc="ranking", disable=not progress, unit="proxy") as bar:
        for sec in sections:
            _rank(sec, cfg, bar)
            _agreement(sec, cfg)
            _pairwise(sec, cfg)
            _curves(sec)
            if sec.kind == "benchmark":
                _budget(sec, cfg, gt)
            bar.update()
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


def _rank(sec: Section, cfg: ReportConfig, bar) -> None:
    from ..analysis import rank_report

    for name, score in sec.scores.items():
        try:
            sec.reports[name] = rank_report(
                sec.y_true,
                score,
                k=tuple(cfg.ks),
                n_boot=cfg.n_boot,
                seed=cfg.seed,
                nan_policy="omit",
            )
        except AnalysisError as exc:
            sec.notes.append(f"{name} left out: {exc}")
        bar.update()


#: The metrics of the seed-agreement rows (the headline table's columns).
AGREEMENT_METRICS = ("kendall_tau", "spearman_rho", "p_at_top_k")


def _agreement(sec: Section, cfg: ReportConfig) -> None:
    from ..analysis import seed_agreement

    if sec.seed_runs is None:
        return
    for metric in AGREEMENT_METRICS:
        try:
            sec.agreement[metric] = seed_agreement(
                sec.seed_runs,
                metric,
                k=cfg.headline_top if metric == "p_at_top_k" else None,
                n_boot=cfg.n_boot,
                seed=cfg.seed,
                nan_policy="omit",
            )
        except AnalysisError as exc:
            sec.notes.append(f"no seed agreement ({metric}): {exc}")
            if metric == "kendall_tau":
                return


def _pairwise(sec: Section, cfg: ReportConfig) -> None:
    from ..analysis import pairwise_tests

    names = list(sec.reports)
    if len(names) < 2 or not cfg.n_boot:  # the tests need resamples
        return
    sec.pairwise = pairwise_tests(
        sec.y_true,
        {n: sec.scores[n] for n in names},
        "kendall_tau",
        pairs=cfg.pairs,
        n_boot=cfg.n_boot,
        seed=cfg.seed,
        correction=cfg.correction,
    )


def _curves(sec: Section) -> None:
    from ..analysis import TopKCurveDisplay

    if sec.reports:
        sec.curves = TopKCurveDisplay.from_predictions(
            sec.y_true, {n: sec.scores[n] for n in sec.reports}
        )


def _budget(sec: Section, cfg: ReportConfig, gt) -> None:
    """Kendall tau of each proxy against the ground truth at every budget of the target split
    (with bootstrap intervals), and where the best architectures at the full budget rank at the
    lowest one; only where the ground truth has several budgets on the same split."""
    from ..analysis import RankChangeDisplay

    d, split = sec.dataset, sec.ground_truth["split"]
    budgets = sorted(
        {k.epochs for k in gt.columns if (k.dataset, k.split, k.metric) == (d, split, "accuracy")}
    )
    if len(budgets) < 2:
        lf_split, lf_epochs = cfg.low_fidelity
        if lf_split != split and sec.scores.get(f"{lf_epochs}-epoch {lf_split}") is not None:
            sec.figure_notes.append(
                f"No budget or rank-change figure: the ground truth has {split} only after "
                f"{', '.join(map(str, budgets))} epochs; its {lf_epochs}-epoch accuracy is "
                f"{lf_split} (NB201 v1_1), another split, and a curve across the two would mix "
                "splits."
            )
        return
    acc = {b: np.asarray(gt.vector(dataset=d, split=split, epochs=b), dtype=float) for b in budgets}
    curves = {
        name: [_tau_at(acc[b], sec.scores[name], b, cfg) for b in budgets]
        for name in sec.reports
        if name not in sec.derived
    }
    lo_b, hi_b = budgets[0], budgets[-1]
    sec.budget = {
        "dataset": d,
        "split": split,
        "budgets": budgets,
        "metric": "kendall_tau_b",
        "proxies": curves,
        "n_boot": max(cfg.n_boot, 2),
    }
    sec.rank_change = RankChangeDisplay.from_scores(
        acc[lo_b],
        acc[hi_b],
        names=(f"{lo_b} epochs", f"{hi_b} epochs"),
        top=RANK_CHANGE_TOP,
        by="b",
    )
    sec.budget["rank_change"] = {
        "from_epochs": lo_b,
        "to_epochs": hi_b,
        "kendall_tau_b_all": sec.rank_change.tau,
        "n": sec.rank_change.n_total,
        "top": RANK_CHANGE_TOP,
        "ranks_from": sec.rank_change.ranks_a.tolist(),
        "ranks_to": sec.rank_change.ranks_b.tolist(),
    }


def _tau_at(acc: np.ndarray, score, epochs: int, cfg: ReportConfig) -> dict:
    """Kendall tau-b of ``score`` against the accuracy after ``epochs``, with its interval."""
    from ..analysis import bootstrap_ci

    r = bootstrap_ci(
        acc, score, "kendall_tau", n_boot=max(cfg.n_boot, 2), seed=cfg.seed, nan_policy="omit"
    )
    return {
        "epochs": epochs,
        "value": r.estimate,
        "low": r.low,
        "high": r.high,
        "n": r.n_used,
        "n_valid": r.n_valid,
    }


# =========================================================================== headline
def headline(cfg: ReportConfig, sections: list[Section]):
    """The headline table: the full-space proxies of every NB201 dataset, with the seed
    agreement rows, over the zero-cost proxies of NAS-Bench-Suite-Zero's sample (another ground
    truth, so another row group). None when no NB201 section ranked anything."""
    from ..analysis import headline_table
    from ..analysis.paper_tables import HeadlineGroup

    nb_secs = [s for s in sections if s.kind == "benchmark" and s.reports]
    if not nb_secs:
        return None
    n = max(len(s.y_true) for s in nb_secs)
    groups = [
        HeadlineGroup(
            f"{benchmark_title(nb_secs)}, all {n:,} architectures (ground truth: seed mean)",
            {s.dataset: s.reports for s in nb_secs},
            {s.dataset: s.agreement for s in nb_secs if s.agreement},
        )
    ]
    zc_secs = [s for s in sections if s.kind == "zc" and s.reports]
    if zc_secs:
        ns = sorted({len(s.y_true) for s in zc_secs})
        size = f"{ns[0]:,}" if ns[0] == ns[-1] else f"{ns[0]:,}-{ns[-1]:,}"
        groups.append(
            HeadlineGroup(
                f"NAS-Bench-Suite-Zero sample, {size} architectures (ground truth: the "
                "accuracy it recorded, one run)",
                {s.dataset: s.reports for s in zc_secs},
            )
        )
    table = headline_table(groups, top=cfg.headline_top, interval=cfg.interval)
    table.caption = cfg.caption if cfg.caption is not None else headline_caption(cfg, sections)
    table.label = cfg.label
    return table


def benchmark_title(sections: list[Section]) -> str:
    """What to call the ground truth of the benchmark sections: NAS-Bench-201 for the official
    releases, else the benchmark's own name (a store built by ``nbt build-bench`` is not
    NAS-Bench-201, though it is in its space)."""
    names = {s.ground_truth.get("benchmark") for s in sections if s.kind == "benchmark"}
    built = sorted(n for n in names if n and n.startswith("nbt build-bench"))
    return "; ".join(built) if built else "NAS-Bench-201"


def headline_caption(cfg: ReportConfig, sections: list[Section]) -> str:
    targets = "; ".join(
        f"{s.dataset} {s.ground_truth['split']} after {s.ground_truth['epochs']} epochs"
        for s in sections
        if s.kind == "benchmark"
    )
    style = {
        "brackets": "[low, high]",
        "range": "(low-high)",
        "pm": "+- half the interval's width",
        "none": "(intervals in numbers.json)",
    }[cfg.interval]
    return (
        f"Ranking quality of proxies against {benchmark_title(sections)} ({targets}; mean over "
        "seeds). "
        f"Kendall tau-b, Spearman rho and P@top-{cfg.headline_top}, each with its 95% "
        f"bootstrap interval over architectures {style} ({cfg.n_boot} resamples); n is the "
        "number of architectures a cell uses; best per column and row group in bold."
    )


# =========================================================================== numbers.json
def _estimate_dict(e, n) -> dict:
    return {"value": e.value, "low": e.low, "high": e.high, "n_valid": e.n_valid, "n": n}


def _agreement_dict(by_metric: dict) -> dict | None:
    sa = by_metric.get("kendall_tau")
    if sa is None:
        return None
    out = _one_agreement(sa)
    out["what"] = AGREEMENT_TEXT
    out["by_metric"] = {m: _one_agreement(a) for m, a in by_metric.items()}
    return out


def _one_agreement(sa) -> dict:
    d = {
        "metric": sa.metric,
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
    if sa.k_used:
        d["k_used"] = {
            (f"{k[0]} vs {k[1]}" if isinstance(k, tuple) else str(k)): v
            for k, v in sa.k_used.items()
        }
    return d


def _proxy_dict(sec: Section, name: str, r) -> dict:
    d = r.as_dict() | {"notes": list(r.notes)}
    d["top"] = {
        spec: {
            "k": k,
            "p_at_top_k": _estimate_dict(r.p_at_top_k[k], r.n_used),
            "br_rank_at_k": _estimate_dict(r.br_rank_at_k[k], r.n_used),
        }
        for spec, k in r.top.items()
    }
    if sec.score_policy is not None:
        policy = sec.score_policy
        excluded = policy.get("counts", {})
        d["sentinels_excluded"] = excluded.get(name, 0) if policy["policy"] == "exclude" else 0
    if name in sec.user:
        d["user_table"] = sec.user[name]
    return d


def numbers(cfg: ReportConfig, sections: list[Section], prov: dict, head, figures: dict) -> dict:
    """Every number the report shows, with the resolved config and the provenance."""
    out = {"config": asdict(cfg), "provenance": prov, "sections": {}}
    if head is not None:
        out["headline"] = {
            "top": cfg.headline_top,
            "caption": head.caption,
            "notes": head.notes,
            "cells": head.data,
        }
    for sec in sections:
        d = {
            "title": sec.title,
            "ground_truth": sec.ground_truth,
            "pool": sec.pool,
            "proxies": {n: _proxy_dict(sec, n, r) for n, r in sec.reports.items()},
            "notes": sec.notes,
            "figure_notes": sec.figure_notes,
        }
        if sec.agreement:
            d["seed_agreement"] = _agreement_dict(sec.agreement)
        if sec.score_policy is not None:
            d["score_policy"] = sec.score_policy
        if sec.counterparts:
            d["counterpart_agreement"] = sec.counterparts
        if sec.audit is not None:
            a = sec.audit
            d["duplicate_audit"] = {
                "n": a.n,
                "n_distinct": a.n_distinct,
                "n_redundant": a.n_redundant,
                "largest_class": a.largest_class,
                "class_sizes": {str(k): v for k, v in a.class_sizes.items()},
            }
        d |= _figure_numbers(sec)
        d.update(figures.get(sec.slug, {}).get("numbers", {}))
        out["sections"][sec.slug] = d
    return out


def _figure_numbers(sec: Section) -> dict:
    """The paired tests, the P@K curves and the budget curves of a section."""
    d: dict = {}
    if sec.pairwise is not None:
        c = sec.pairwise
        d["pairwise"] = {
            "metric": c.metric,
            "description": c.description,
            "pairs": c.pairs,
            "correction": c.correction,
            "pvalue": c.pvalue,
            "alpha": c.alpha,
            "n_boot": c.n_boot,
            "n_tests": c.n_tests,
            "tests": [t.__dict__ for t in c.tests],
        }
    if sec.curves is not None:
        c = sec.curves
        d["p_at_k_curve"] = {
            n: {
                "n": c.n_used[n],
                "k": c.ks[n].tolist(),
                "k_fraction": (c.ks[n] / c.n_used[n]).tolist(),
                "p_at_top_k": c.values[n].tolist(),
            }
            for n in c.names
        }
    if sec.budget is not None:
        d["budget"] = sec.budget
    return d
