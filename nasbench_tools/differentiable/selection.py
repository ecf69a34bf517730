"""How each method turns its search state into one NB201 architecture (:data:`SELECTIONS`).

``argmax`` (DARTS, GDAS)
    Each edge keeps the op with the largest weight (softmax of alpha); the first on ties.
``threshold`` (FairDARTS)
    FairDARTS keeps every op whose sigmoid weight is at least ``threshold`` (0.85), so an edge may
    keep several ops or none. An NB201 edge holds exactly one op, so: an edge with no op at or
    above the threshold becomes ``none`` (FairDARTS drops such an edge), an edge with several
    keeps the largest; the result lists, per edge, every op above the threshold.
``projection`` (DARTS-PT)
    The op each edge was discretised to (:mod:`.projection`).
``superkernel`` (Single-Path NAS)
    The largest candidate of each edge, a conv made 3x3 or 1x1 by its indicator
    (:meth:`~.superkernel.SuperkernelNB201.hard_choice`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..registry import Registry
from ..spaces.nb201 import EDGES, OPS, Arch
from .config import DifferentiableSearchError

__all__ = ["SELECTIONS", "Selection", "select"]


@dataclass
class Selection:
    arch: Arch
    rule: str
    details: dict = field(default_factory=dict)


def _edge_names() -> list[str]:
    return [f"{s}->{d}" for s, d in EDGES]


def _argmax(searcher, magnitude: np.ndarray) -> Selection:
    ops = tuple(OPS[int(np.argmax(row))] for row in magnitude)
    return Selection(Arch.from_ops(ops), "argmax")


def _threshold(searcher, magnitude: np.ndarray) -> Selection:
    thr = searcher.c.threshold
    ops, above = [], {}
    for name, row in zip(_edge_names(), magnitude):
        kept = [OPS[o] for o in range(len(OPS)) if row[o] >= thr]
        above[name] = kept
        ops.append(OPS[int(np.argmax(row))] if kept else "none")
    return Selection(Arch.from_ops(tuple(ops)), "threshold", {"threshold": thr, "above": above})


def _projection(searcher, magnitude: np.ndarray) -> Selection:
    if len(searcher.decided) != len(EDGES):
        raise DifferentiableSearchError(
            f"projection decided {len(searcher.decided)} of {len(EDGES)} edges; the run is not "
            "finished"
        )
    ops = tuple(OPS[searcher.decided[k]] for k in range(len(EDGES)))
    return Selection(Arch.from_ops(ops), "projection")


def _superkernel(searcher, magnitude: np.ndarray) -> Selection:
    weights, _ = searcher.mixing(sample=False)
    g, g0 = searcher.model.gates()
    details = {
        "free_ops": searcher.model.free_ops,
        "ring_indicator": [int(v) for v in g.detach().round().tolist()],
        "thresholds": [float(v) for v in searcher.model.t.detach().tolist()],
    }
    if g0 is not None:
        details["conv_indicator"] = [int(v) for v in g0.detach().round().tolist()]
    return Selection(Arch.from_ops(searcher.model.hard_choice(weights)), "superkernel", details)


#: rule -> ``fn(searcher, magnitude (6, 5)) -> Selection``
SELECTIONS: Registry[Callable] = Registry("selection rule", error=DifferentiableSearchError)
SELECTIONS.register("argmax", _argmax)
SELECTIONS.register("threshold", _threshold)
SELECTIONS.register("projection", _projection)
SELECTIONS.register("superkernel", _superkernel)


def select(searcher) -> Selection:
    """The architecture the run's selection rule picks from the searcher's current state."""
    weights, _ = searcher.mixing(sample=False)
    magnitude = searcher.model.magnitude(weights)
    return SELECTIONS.get(searcher.c.selection)(searcher, magnitude)
