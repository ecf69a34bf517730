"""What a finished search writes: the selection, its scores, and the comparisons with ground truth.

``scores/operators.csv`` (operator level, 30 rows, higher is better):

``magnitude``
    The mixing weight of each ``(edge, op)`` at the end of the search phase (softmax or sigmoid of
    alpha; GDAS: softmax; Single-Path NAS: see :mod:`.superkernel`): what DARTS selects from.
``perturbation``
    Mixed supernets: the accuracy drop (percentage points, ``search-valid``) of masking the op in
    the supernet at the end of the search phase, every other edge still mixed.
``projection_drop``
    DARTS-PT: the drop measured when the op's edge was projected (the other edges then partly
    discretised).

``scores/archs.csv``: the 15,625 architectures' scores those imply
(:mod:`nasbench_tools.proxies.differentiable`; the same table ``nbt score --run`` writes).

``result.json``: the method, the selected architecture (string, index, ops) and the rule's
details, DARTS-PT's projections, and for each ground truth given: the architecture's accuracy in
every final accuracy column (``transfer`` where the images differ from the search's; ``held``
false where a sampled ground truth lacks it) and the Kendall tau of every operator score column
against that column's operator importance (:mod:`.compare`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import NasbenchToolsError
from ..proxies.differentiable import OPERATOR_TABLE, arch_scores
from ..scores import ScoreTable
from ..spaces import get_space
from ..spaces.nb201 import EDGES, NUM_ARCHS, OPS
from ..supernet.train import _write_text
from .compare import (
    accuracy_columns,
    images_of,
    lookup,
    open_ground_truth,
    operator_importance,
    operator_tau,
)
from .selection import select

__all__ = ["open_all", "operator_table", "write_results"]

ARCH_TABLE = Path("scores") / "archs.csv"


def open_all(ground_truths) -> list[tuple[str, object]]:
    """``(name, GroundTruth)`` for each name, path or GroundTruth (duplicates kept once)."""
    out, seen = [], set()
    for g in ground_truths:
        gt = g if hasattr(g, "archs") else open_ground_truth(str(g))
        name = str(g) if not hasattr(g, "archs") else gt.name
        if name not in seen:
            seen.add(name)
            out.append((name, gt))
    return out


def _matrix(values) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)


def operator_table(run) -> ScoreTable:
    """The run's operator scores (see the module text)."""
    c = run.c
    end = run.search_end
    if end is None:
        raise NasbenchToolsError(f"{run.out}: the search phase has not finished")
    columns = {"magnitude": _matrix(end["magnitude"])}
    if "perturbation" in end:
        columns["perturbation"] = _matrix(end["perturbation"])
    if run.projections:
        drop = np.full((len(EDGES), len(OPS)), np.nan)
        for rec in run.projections:
            e = [f"{s}->{d}" for s, d in EDGES].index(rec["edge"])
            drop[e] = [np.nan if v is None else v for v in rec["drop"]]
        columns["projection_drop"] = drop
    meta = {
        "label": c.method,
        "source": f"nbt search-differentiable run {run.out.resolve()} (nasbench_tools {__version__})",
        "data": images_of(c.dataset),
        "method": c.method,
        "seed": c.seed,
        "evaluated_on": f"{c.dataset}:search-valid ({len(run.valid)} images)",
    }
    keys = list(get_space("nb201").operators())
    return ScoreTable(
        "nb201", keys, {k: v.reshape(-1) for k, v in columns.items()}, meta, level="operator"
    )


def _comparison(name: str, gt, ops: ScoreTable, arch, data: str) -> dict:
    taus = []
    for k in accuracy_columns(gt):
        imp = operator_importance(gt, dataset=k.dataset, split=k.split, epochs=k.epochs)
        taus.append(
            {
                "dataset": k.dataset, "split": k.split, "epochs": k.epochs,
                "transfer": images_of(k.dataset) != images_of(data),
                "archs_with_value": imp.meta["archs_with_value"],
                "tau": {col: operator_tau(ops, col, imp) for col in ops.columns},
            }
        )  # fmt: skip
    prov = gt.provenance
    return {
        "ground_truth": name,
        "name": gt.name,
        "archs": len(gt),
        "sample": gt.sample_note or "",
        "source_sha256": prov.get("source_sha256") or prov.get("store_sha256") or "",
        "lookup": lookup(arch, gt, data),
        "operator_tau": taus,
    }


def write_results(run, ground_truths: list[tuple[str, object]]) -> dict:
    """Write the score tables, ``selected.txt`` and ``result.json``; returns the result."""
    out, c = run.out, run.c
    sel = select(run.searcher)
    ops = operator_table(run)
    (out / "scores").mkdir(exist_ok=True)
    ops.write(out / OPERATOR_TABLE)
    scores = arch_scores(ops)
    meta = {**ops.meta, "from": str(OPERATOR_TABLE)}
    ScoreTable("nb201", np.arange(NUM_ARCHS), scores, meta).write(out / ARCH_TABLE)
    _write_text(out / "selected.txt", sel.arch.to_string() + "\n")
    result = {
        "method": c.method,
        "seed": c.seed,
        "dataset": c.dataset,
        "selected": {
            "arch": sel.arch.to_string(),
            "index": sel.arch.index,
            "ops": list(sel.arch.ops),
            "rule": sel.rule,
            **sel.details,
        },
        "projections": [
            {k: r[k] for k in ("epoch", "edge", "op", "base_accuracy", "drop")}
            for r in run.projections
        ],
        "final_valid_accuracy": run.log.epochs()[-1]["valid_accuracy"]
        if run.log.epochs()
        else None,
        "ground_truths": [_comparison(n, gt, ops, sel.arch, c.dataset) for n, gt in ground_truths],
        "nasbench_tools_version": __version__,
    }
    _write_text(out / "result.json", json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result
