"""Architecture scores implied by a differentiable search's operator scores (DARTS magnitudes,
perturbation importances), as proxies of a ``nbt search-differentiable`` run folder.

A search run writes ``scores/operators.csv``, an operator-level score table over NB201's 30
``(edge, op)`` pairs (columns ``magnitude`` and, where the method defines them, ``perturbation``
and ``projection_drop``; see :mod:`nasbench_tools.differentiable`). An architecture holds one op
per edge; its scores are (:data:`ARCH_SCORES`):

``dnas_log_magnitude``
    ``sum_e log m_e(op_e)``: with softmax weights the log-probability of the architecture under
    the independent per-edge distributions DARTS learns (sigmoid weights: the sum of the ops'
    log-weights). Higher is better; an op of weight 0 gives ``-inf``.
``dnas_perturbation``
    ``sum_e drop_e(op_e)``: the summed accuracy drops (percentage points) of masking the
    architecture's ops in the trained supernet.
``dnas_projection_drop``
    The same with the drops DARTS-PT measured when it projected each edge.

The proxies read the table only (numpy); they score any architectures, all 15,625 at once
(``chunk=0``). ``nbt score --proxy dnas_log_magnitude --run RUN`` gives the table the search
run writes as ``scores/archs.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import NasbenchToolsError
from ..scores import ScoreTable
from ..spaces import get_space
from ..spaces.nb201 import EDGES, OPS, op_index_matrix
from .base import ProxyError, ScoreRequest, register_proxy, settings

__all__ = ["ARCH_SCORES", "OPERATOR_TABLE", "arch_scores", "operator_matrix", "read_operator_table"]

#: proxy name -> (operator column, combination over the 6 edges)
ARCH_SCORES: dict[str, tuple[str, str]] = {
    "dnas_log_magnitude": ("magnitude", "log_sum"),
    "dnas_perturbation": ("perturbation", "sum"),
    "dnas_projection_drop": ("projection_drop", "sum"),
}
#: Where a search run keeps its operator scores.
OPERATOR_TABLE = Path("scores") / "operators.csv"


def operator_matrix(table: ScoreTable, column: str) -> np.ndarray:
    """``(6, 5)`` float64: ``table[column]`` per NB201 edge (:data:`EDGES` order) and op
    (:data:`OPS` order); NaN for a pair the table lacks."""
    if table.level != "operator" or get_space(table.space).name != get_space("nb201").name:
        raise ProxyError("operator_matrix needs an NB201 operator-level score table")
    values = dict(zip(map(tuple, table.operators()), table[column]))
    out = np.full((len(EDGES), len(OPS)), np.nan)
    for e, (s, d) in enumerate(EDGES):
        for o, op in enumerate(OPS):
            out[e, o] = values.get((f"{s}->{d}", op), np.nan)
    return out


def arch_scores(table: ScoreTable, keys=None, names=None) -> dict[str, np.ndarray]:
    """The architecture scores of :data:`ARCH_SCORES` (``names``: those whose column the table
    has, by default) for NB201 indices ``keys`` (all 15,625 by default)."""
    ops = op_index_matrix() if keys is None else op_index_matrix()[np.asarray(keys, dtype=np.int64)]
    if names is None:
        names = [n for n, (col, _) in ARCH_SCORES.items() if col in table.columns]
    rows = np.arange(len(EDGES))
    out = {}
    for name in names:
        column, how = ARCH_SCORES[name]
        m = operator_matrix(table, column)
        per_edge = m[rows, ops]  # (n, 6)
        if how == "log_sum":
            with np.errstate(divide="ignore"):
                per_edge = np.log(per_edge)
        out[name] = per_edge.sum(axis=1)
    return out


def read_operator_table(run) -> ScoreTable:
    """A search run's operator table (``RUN/scores/operators.csv``)."""
    path = Path(run) / OPERATOR_TABLE
    if not path.is_file():
        raise ProxyError(
            f"{run}: no {OPERATOR_TABLE} (expected the folder of a `nbt search-differentiable` run)"
        )
    try:
        return ScoreTable.read(path)
    except NasbenchToolsError as exc:
        raise ProxyError(str(exc)) from None


def _compute(request: ScoreRequest) -> dict[str, np.ndarray]:
    settings(request)  # refuses unknown options
    if get_space(request.space).name != get_space("nb201").name:
        raise ProxyError(f"differentiable-search scores are NB201 scores, not {request.space.name}")
    table = read_operator_table(request.run)
    missing = [n for n in request.names if ARCH_SCORES[n][0] not in table.columns]
    if missing:
        raise ProxyError(
            f"{request.run}: {', '.join(missing)} need(s) the operator column(s) "
            f"{', '.join(ARCH_SCORES[n][0] for n in missing)}; this run has {table.columns}"
        )
    return arch_scores(table, request.keys, request.names)


_UNITS = {"dnas_log_magnitude": "log", "dnas_perturbation": "pp", "dnas_projection_drop": "pp"}
_TEXT = {
    "dnas_log_magnitude": "sum over edges of the log mixing weight of the arch's op (DARTS)",
    "dnas_perturbation": "summed accuracy drop of masking the arch's ops in the supernet",
    "dnas_projection_drop": "summed accuracy drop DARTS-PT measured when projecting each edge",
}
for _name in ARCH_SCORES:
    register_proxy(
        _name, needs="supernet", deterministic=True, unit=_UNITS[_name],
        description=_TEXT[_name], group="differentiable", chunk=0,
    )(_compute)  # fmt: skip
