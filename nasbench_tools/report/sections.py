"""The report's sections: a ground truth and the proxies ranked against it, on one axis.

Every section holds one ground-truth vector and one vector per proxy, aligned to the same
architectures (NaN where a proxy did not score one), so "which architectures does each row use"
is a mask, the common pool is their intersection, and a user's score table joins a section by
looking its architectures up, whatever that section's architectures are:

* ``nb201-<dataset>``: all 15,625 NB201 cells; the ground truth at the target split and budget
  (seed mean), the 12-epoch accuracy, #params, NASWOT, the user's tables.
* ``zc-<dataset>``: the ~724 cells NAS-Bench-Suite-Zero scored, against the accuracy it
  recorded; its 12 proxies, and the user's tables on the cells they share with it (the overlap
  n is stated).
* ``nb101-zc-all-rows`` / ``nb101-zc-distinct``: the suite's 500 NB101 rows (292 distinct
  cells).

A user's table that scores an architecture on several rows is averaged per architecture (and
the section says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..analysis import kendall_tau, spearman_rho
from ..errors import NasbenchToolsError, QueryError
from ..scores import SUITE_ZERO_COUNTERPARTS, ScoreTable, data_note
from .config import ReportConfig

__all__ = ["SPACE", "Section", "assemble_sections", "counterpart_agreement", "user_table"]

#: The search space the report's sections are written for (its datasets, the embedded tables).
SPACE = "nb201"


@dataclass
class Section:
    """One comparison: a ground truth, the proxies ranked against it, and what was computed.

    ``y_true`` and every ``scores[name]`` are aligned (one entry per architecture of the
    section; NaN = no value). ``kind`` is ``"benchmark"`` (the whole space against the
    benchmark's ground truth), ``"zc"`` (NAS-Bench-Suite-Zero's NB201 sample) or
    ``"nb101-sample"`` (its NB101 sample).
    """

    slug: str
    title: str
    ground_truth: dict
    y_true: np.ndarray
    scores: dict = field(default_factory=dict)
    kind: str = "benchmark"
    dataset: str | None = None
    ids: np.ndarray | None = None  # NB201 index per entry (nb201 / zc sections)
    truth_label: str = "ground truth"  # what the y axis is, for figures (may hold a newline)
    figure_notes: list = field(default_factory=list)  # figures left out, and why
    reports: dict = field(default_factory=dict)
    seed_runs: dict | None = None  # seed -> vector, turned into agreement
    agreement: dict = field(default_factory=dict)  # metric -> SeedAgreement
    score_policy: dict | None = None  # sentinel policy and counts of a score table
    audit: object = None
    notes: list = field(default_factory=list)
    heatmap: bool = False
    user: dict = field(default_factory=dict)  # proxy name -> {"label", "overlap", "rows"}
    derived: set = field(default_factory=set)  # proxies read from the ground truth itself
    pool: dict = field(default_factory=dict)
    pairwise: object = None
    curves: object = None
    budget: dict | None = None
    rank_change: object = None
    counterparts: dict = field(default_factory=dict)  # user key -> agreement with a stored row

    @property
    def pairs(self) -> dict:
        """``{name: (y_true, y_score)}`` for every proxy."""
        return {n: (self.y_true, s) for n, s in self.scores.items()}


def _note(sec: Section, note: str | None) -> None:
    if note and note not in sec.notes:
        sec.notes.append(note)


# =========================================================================== user tables
def user_table(path: str, gt, cfg: ReportConfig) -> ScoreTable:
    """A ``--scores`` table, keyed in the ground truth's space and by architecture, made for a
    dataset the report ranks (or for none in particular)."""
    t = ScoreTable.read(path, space=gt.space)
    if t.level != "arch":
        raise NasbenchToolsError(
            f"{path}: an operator-level score table ((edge, op) rows) cannot be ranked against "
            "architectures; give a table keyed by architecture"
        )
    wanted = wanted_dataset(t)
    if wanted is not None and wanted not in cfg.targets:
        raise NasbenchToolsError(
            f"{path}: the table was made for dataset {wanted!r}, which this report does not "
            f"rank (datasets: {', '.join(cfg.targets)}); add --target {wanted}:SPLIT:EPOCHS"
        )
    return t


def wanted_dataset(table: ScoreTable) -> str | None:
    """The benchmark dataset a table was made for (its target's, or the section it was read
    from), or None."""
    return (table.meta.get("target") or {}).get("dataset", table.meta.get("dataset"))


def _per_arch(table: ScoreTable, gt, name: str) -> tuple[np.ndarray, int]:
    """The table's column ``name`` on the ground truth's axis (NaN where not scored); rows of
    one architecture averaged, rows of architectures the ground truth does not hold (a sample
    of the space) left out. Returns the vector and how many architectures had several rows."""
    pos = gt.archs.rows(table.keys.tolist())
    v = np.asarray(table[name], dtype=float)
    n = len(gt)
    ok = ~np.isnan(v) & (pos >= 0)
    total = np.bincount(pos[ok], weights=v[ok], minlength=n)
    count = np.bincount(pos[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    # an infinite score stays infinite (bincount would turn inf - inf into NaN)
    for sign in (np.inf, -np.inf):
        hit = ok & (v == sign)
        out[np.unique(pos[hit])] = sign
    return out, int((count > 1).sum())


def _join_user_tables(sec: Section, tables, gt, query: dict, target: dict) -> None:
    """Every user table made for this section's dataset (or for none) joins the section on the
    architectures it shares with it; notes say what differs."""
    for table in tables:
        wanted = wanted_dataset(table)
        if wanted is not None and wanted != sec.dataset:
            continue
        label = table.meta.get("label", "scores")
        joined = False
        for name in table.columns:
            full, repeated = _per_arch(table, gt, name)
            v = full if sec.ids is None else full[sec.ids]
            overlap = int(np.count_nonzero(~np.isnan(v) & ~np.isnan(sec.y_true)))
            key = f"{label}:{name}"
            if overlap == 0:
                _note(sec, f"{key}: no architecture in common with this section; left out")
                continue
            sec.scores[key] = v
            sec.user[key] = {
                "label": label, "column": name, "overlap": overlap, "rows": len(table),
                "data": table.meta.get("data"),
            }  # fmt: skip
            joined = True
            if repeated:
                _note(
                    sec,
                    f"{label}: {repeated:,} architectures are scored on several rows; their "
                    "scores are averaged per architecture",
                )
        if not joined:
            continue
        overlaps = ", ".join(
            f"{k} n = {d['overlap']:,}" for k, d in sec.user.items() if d["label"] == label
        )
        if sec.kind == "zc":
            _note(
                sec,
                f"{label}: joined on the architectures it shares with this sample ({overlaps} "
                f"of {len(sec.y_true):,})",
            )
        _note(sec, data_note(table.meta, sec.dataset))
        t_target = table.meta.get("target") or {}
        differs = [
            f"{k} {t_target[k]}"
            for k in ("split", "epochs")
            if k in t_target and target.get(k) is not None and t_target[k] != target[k]
        ]
        if differs:
            _note(
                sec,
                f"{label}: the table was made for {sec.dataset} {', '.join(differs)}; it is "
                f"ranked here against {target.get('split')} after {target.get('epochs')} epochs",
            )


def counterpart_agreement(sec: Section, counterparts: dict[str, str], whose: str) -> None:
    """For every user column whose proxy has a stored counterpart row in ``sec``
    (``counterparts``: our proxy name -> the row's name), how well the two rank the
    architectures both scored with finite values: Spearman rho and Kendall tau-b, signed, with n.
    Recorded in ``sec.counterparts`` (and so in the report); too few shared values is a note."""
    for key, info in sec.user.items():
        theirs = counterparts.get(info["column"])
        if theirs is None or theirs not in sec.scores:
            continue
        ours, other = sec.scores[key], sec.scores[theirs]
        both = np.isfinite(ours) & np.isfinite(other)
        n = int(both.sum())
        entry = {"ours": key, "theirs": theirs, "whose": whose, "n": n, "data": info["data"]}
        if n < 3 or np.ptp(ours[both]) == 0 or np.ptp(other[both]) == 0:
            _note(sec, f"{key}: too few distinct shared values to compare with {whose}'s {theirs}")
            continue
        entry["spearman_rho"] = spearman_rho(other[both], ours[both]).statistic
        entry["kendall_tau_b"] = kendall_tau(other[both], ours[both]).statistic
        sec.counterparts[key] = entry


# =========================================================================== NB201 sections
def _nb201_sections(cfg: ReportConfig, gt, user_tables) -> list[Section]:
    from ..scores import load_scores

    naswot = load_scores("nb201-naswot") if cfg.embedded_scores else None
    sections = []
    ids = np.arange(len(gt))
    for dataset, (split, epochs) in cfg.targets.items():
        query = dict(dataset=dataset, split=split, epochs=int(epochs))
        y = np.asarray(gt.vector(**query), dtype=float)
        desc = query | {
            "seed": "mean",
            "benchmark": gt.provenance.get("benchmark", gt.name),
            "n": len(y),
        }
        sec = Section(
            f"nb201-{dataset}",
            f"NAS-Bench-201 {dataset}: {split} after {epochs} epochs",
            desc,
            y,
            kind="benchmark",
            dataset=dataset,
            ids=ids,
            truth_label=f"{dataset} {split} accuracy\n{epochs} epochs, seed mean",
        )
        lf_split, lf_epochs = cfg.low_fidelity
        try:
            v = gt.vector(dataset=dataset, split=lf_split, epochs=int(lf_epochs))
            name = f"{lf_epochs}-epoch {lf_split}"
            sec.scores[name] = np.asarray(v, dtype=float)
            sec.derived.add(name)
        except QueryError as exc:
            sec.notes.append(f"no {lf_epochs}-epoch proxy: {exc}")
        try:
            sec.scores["#params"] = np.asarray(
                gt.vector(dataset=dataset, metric="params"), dtype=float
            )
        except QueryError as exc:
            sec.notes.append(f"no #params: {exc}")
        if naswot is not None:
            v, _ = _per_arch(naswot, gt, "naswot")
            sec.scores["NASWOT"] = v
            _note(sec, data_note(naswot.meta, dataset, "NASWOT"))
        _join_user_tables(sec, user_tables, gt, query, query)
        counterpart_agreement(sec, {"naswot": "NASWOT"}, "the embedded NASWOT (Mellor et al.)")
        _seed_runs(sec, cfg, gt, query)
        sections.append(sec)
    return sections


def _seed_runs(sec: Section, cfg: ReportConfig, gt, query: dict) -> None:
    try:
        if cfg.agreement_seeds == "all":
            col = gt.vector(seed="all", **query, missing="nan")
            sec.seed_runs = {s: np.asarray(col.values[:, i]) for i, s in enumerate(col.seeds)}
        else:
            sec.seed_runs = {
                s: np.asarray(gt.vector(seed=s, **query, missing="nan"))
                for s in cfg.agreement_seeds
            }
        if len(sec.seed_runs) < 2:
            sec.notes.append(f"no seed agreement: only seeds {list(sec.seed_runs)}")
            sec.seed_runs = None
    except QueryError as exc:
        sec.notes.append(f"no seed agreement: {exc}")


# =========================================================================== zero-cost sections
def _zc_sections(cfg: ReportConfig, gt, user_tables) -> list[Section]:
    from ..scores import EMBEDDED_SCORES, load_scores

    sections = []
    zc = EMBEDDED_SCORES.get("nb201-zc")
    for dataset in cfg.targets:
        if dataset not in zc.sections:
            continue
        t = load_scores(zc.name, dataset=dataset, sentinels=cfg.zc_sentinels)
        y = np.asarray(t["val_accuracy"], dtype=float)
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
            y,
            kind="zc",
            dataset=dataset,
            ids=np.asarray(gt.archs.positions(t.keys.tolist()), dtype=np.int64),
            heatmap=True,
            truth_label=f"{dataset} {target['split']} accuracy\none 200-epoch run",
        )
        sec.score_policy = score_policy(t)
        for p in t.meta["proxies"]:
            sec.scores[p] = np.asarray(t[p], dtype=float)
        _join_user_tables(sec, user_tables, gt, {"dataset": dataset}, target)
        counterpart_agreement(sec, SUITE_ZERO_COUNTERPARTS, "NAS-Bench-Suite-Zero")
        sections.append(sec)
    return sections


def _nb101_sections(cfg: ReportConfig) -> list[Section]:
    from ..analysis import deduplicate, duplicate_audit
    from ..scores import load_scores

    t = load_scores("nb101-zc", sentinels=cfg.zc_sentinels)
    y = np.asarray(t["val_accuracy"], dtype=float)
    proxies = t.meta["proxies"]
    audit = duplicate_audit(t.keys.tolist(), y_true=y, y_score=t["synflow"])
    desc = {
        "value": "val_accuracy of one randomly drawn NB101 repeat at 108 epochs (NAS-Bench-Suite-Zero)",
        "n_rows": len(t),
        "n_distinct": audit.n_distinct,
        "source": t.meta.get("source"),
    }
    label = "NB101 cifar10 valid accuracy\none 108-epoch repeat"
    rows = Section(
        "nb101-zc-all-rows",
        f"NB101 sample: zero-cost proxies over all {len(t)} rows",
        desc,
        y,
        {p: np.asarray(t[p], dtype=float) for p in proxies},
        kind="nb101-sample",
        heatmap=True,
        truth_label=label,
    )
    rows.audit = audit
    rows.score_policy = score_policy(t)
    dedup = deduplicate(t.keys.tolist(), y, *(t[p] for p in proxies), reduce="mean")
    yd, *pd_ = dedup.arrays if hasattr(dedup, "arrays") else dedup[1:]
    distinct = Section(
        "nb101-zc-distinct",
        f"NB101 sample: zero-cost proxies over the {audit.n_distinct} distinct cells (duplicates averaged)",
        desc | {"n": audit.n_distinct},
        np.asarray(yd, dtype=float),
        {p: np.asarray(v, dtype=float) for p, v in zip(proxies, pd_)},
        kind="nb101-sample",
        truth_label=label + ", mean over duplicates",
    )
    distinct.score_policy = rows.score_policy
    return [rows, distinct]


def score_policy(t) -> dict:
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


# =========================================================================== pools
def apply_pool(sec: Section, policy: str) -> None:
    """Record n per row; ``"common"`` restricts every row (and the seed runs) to the
    architectures all proxies scored; ``"each"`` warns when rows use different sets."""
    has_truth = ~np.isnan(sec.y_true)
    masks = {n: has_truth & ~np.isnan(s) for n, s in sec.scores.items()}
    common = has_truth.copy()
    for m in masks.values():
        common &= m
    n_common = int(common.sum())
    sec.pool = {
        "policy": policy,
        "n_per_row": {n: int(m.sum()) for n, m in masks.items()},
        "n_common": n_common,
        "n_section": int(has_truth.sum()),
    }
    if not masks:
        return
    same = all(np.array_equal(m, common) for m in masks.values())
    sec.pool["same_architectures"] = bool(same)
    if policy == "common":
        sec.scores = {n: np.where(common, s, np.nan) for n, s in sec.scores.items()}
        if sec.seed_runs is not None:
            sec.seed_runs = {k: np.where(common, v, np.nan) for k, v in sec.seed_runs.items()}
        sec.pool["n_per_row"] = dict.fromkeys(sec.scores, n_common)
        if not same:
            sec.pool["note"] = (
                f"Pool: common. Every row uses the {n_common:,} architectures that all proxies "
                f"of this section scored (of {sec.pool['n_section']:,}); the seed agreement too."
            )
        return
    if not same:
        ns = sec.pool["n_per_row"]
        lo, hi = min(ns.values()), max(ns.values())
        short = ", ".join(f"{n} {v:,}" for n, v in ns.items() if v < hi)
        sec.pool["warning"] = (
            f"The rows are computed on different sets of architectures (n from {lo:,} to "
            f"{hi:,}; {short}), so their numbers are not paired comparisons; `--pool common` "
            f"puts every row on the {n_common:,} architectures all proxies scored. The paired "
            "tests always compare two proxies on the architectures both scored."
        )


def assemble_sections(cfg: ReportConfig, gt, tables) -> list[Section]:
    """Every section of the report, with user tables joined and pools applied."""
    sections = _nb201_sections(cfg, gt, tables)
    if cfg.embedded_scores:
        sections += _zc_sections(cfg, gt, tables)
    if cfg.nb101_sample:
        sections += _nb101_sections(cfg)
    for sec in sections:
        apply_pool(sec, cfg.pool)
    return sections
