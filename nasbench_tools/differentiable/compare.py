"""Selections and operator scores against ground truth (numpy, pandas and scipy only; no torch).

* :func:`operator_importance`: an operator's ground-truth importance is the mean accuracy of the
  architectures (of those the ground truth holds) that contain it, as ABS's Fig. 7 ranks NB201's
  30 ``(edge, op)`` pairs (method spec 3.6: it sums over all 15,625, where every pair is held by
  3,125 architectures, so the ranking is the same; over a sample only the mean is fair).
* :func:`operator_tau`: Kendall tau-b (method spec 1.1; scipy's ``kendalltau``) between an
  operator score column and that importance over the pairs both define.
* :func:`lookup`: an architecture's accuracies in every final accuracy column of a ground truth,
  each labelled ``transfer`` when the column's images are not the search's (NB201's CIFAR
  numbers for a search on Fashion-MNIST). An architecture a sampled ground truth (a built
  benchmark) does not hold is reported as missing, never guessed.
* :func:`open_ground_truth`: an embedded benchmark's name (``nb201``) or the path of a store
  or official file, which must hold NB201 ground truth.

Everything takes any :class:`~nasbench_tools.groundtruth.GroundTruth` of the NB201 space: the
embedded ``load("nb201")`` or a built benchmark ``load("nb201", path=...)``.
"""

from __future__ import annotations

import numpy as np

from ..errors import NasbenchToolsError, QueryError
from ..groundtruth import open_ground_truth as _open
from ..scores import DATASET_IMAGES, ScoreTable
from ..spaces import get_space
from ..spaces.nb201 import Arch, op_index_matrix

__all__ = [
    "accuracy_columns",
    "images_of",
    "lookup",
    "open_ground_truth",
    "operator_importance",
    "operator_tau",
]

#: Registered dataset names (:mod:`nasbench_tools.datasets`) -> the images' name in score tables.
_DATA_NAMES = {"imagenet16-120": "ImageNet16-120"}


def images_of(dataset: str) -> str:
    """The images a dataset name stands for: a benchmark's dataset (``cifar10-valid`` ->
    ``cifar10``) or a registered dataset (``imagenet16-120`` -> ``ImageNet16-120``)."""
    name = _DATA_NAMES.get(dataset, dataset)
    return DATASET_IMAGES.get(name, name)


def open_ground_truth(spec: str):
    """An NB201 ground truth named by ``spec``: an embedded benchmark or the path of a store or
    official file (:func:`nasbench_tools.groundtruth.open_ground_truth`); other spaces are
    refused by name."""
    gt = _open(spec, progress=False)
    if get_space(gt.space).name != get_space("nb201").name:
        raise QueryError(f"{spec}: holds {gt.space} ground truth; the search space is NB201")
    return gt


def accuracy_columns(gt) -> list:
    """The final accuracy columns of ``gt`` (column keys, sorted)."""
    return [k for k in gt.columns if k.metric == "accuracy" and k.point == "final"]


def _nb201_rows(gt) -> np.ndarray:
    if get_space(gt.space).name != get_space("nb201").name:
        raise QueryError(f"{gt.name}: operator importance needs NB201 ground truth, not {gt.space}")
    return op_index_matrix()[np.asarray(gt.archs.keys, dtype=np.int64)]


def operator_importance(gt, *, dataset: str, split: str, epochs: int, seed="mean") -> ScoreTable:
    """Operator-level score table, column ``gt_accuracy``: per ``(edge, op)``, the mean accuracy
    of the architectures of ``gt`` with a value that contain it (NaN where none does). The
    metadata record the query and the count of architectures per operator (``n_archs``)."""
    acc = np.asarray(
        gt.vector(dataset=dataset, split=split, epochs=epochs, seed=seed, missing="nan"), float
    )
    ops = _nb201_rows(gt)
    have = ~np.isnan(acc)
    if not have.any():
        raise QueryError(
            f"{gt.name}: no architecture has {dataset} {split} {epochs}-epoch accuracy"
        )
    acc, ops = acc[have], ops[have]
    sp = get_space("nb201")
    pairs = sp.operators()
    means, counts = np.full(len(pairs), np.nan), np.zeros(len(pairs), dtype=int)
    n_ops = len(pairs) // ops.shape[1]
    for i in range(len(pairs)):
        e, o = divmod(i, n_ops)
        sel = ops[:, e] == o
        counts[i] = int(sel.sum())
        if counts[i]:
            means[i] = float(acc[sel].mean())
    meta = {
        "label": "gt",
        "source": f"{gt.name}: mean {dataset} {split} accuracy ({epochs} epochs, seed {seed}) of "
        "the architectures holding each operator",
        "target": {"dataset": dataset, "split": split, "epochs": int(epochs)},
        "n_archs": counts.tolist(),
        "archs_with_value": int(have.sum()),
    }
    return ScoreTable("nb201", list(pairs), {"gt_accuracy": means}, meta, level="operator")


def operator_tau(scores: ScoreTable, column: str, importance: ScoreTable) -> dict:
    """Kendall tau-b of ``scores[column]`` against ``importance["gt_accuracy"]`` over the
    ``(edge, op)`` pairs where both are numbers: ``{"tau", "pvalue", "n"}`` (``tau`` None when
    fewer than 2 pairs or either side is constant)."""
    from scipy.stats import kendalltau

    for t in (scores, importance):
        if t.level != "operator":
            raise NasbenchToolsError("operator_tau compares operator-level score tables")
    gt = dict(zip(map(tuple, importance.operators()), importance["gt_accuracy"]))
    x, y = [], []
    for key, v in zip(map(tuple, scores.operators()), scores[column]):
        w = gt.get(key, np.nan)
        if np.isfinite(v) and np.isfinite(w):
            x.append(v)
            y.append(w)
    out = {"n": len(x), "tau": None, "pvalue": None}
    if len(x) >= 2 and len(set(x)) > 1 and len(set(y)) > 1:
        res = kendalltau(x, y, variant="b")
        out["tau"], out["pvalue"] = float(res.statistic), float(res.pvalue)
    return out


def lookup(arch, gt, search_data: str) -> list[dict]:
    """``arch``'s value in every final accuracy column of ``gt`` (see the module text)."""
    arch = Arch.parse(arch)
    held = arch.index in set(np.asarray(gt.archs.keys).tolist())
    rows = []
    for k in accuracy_columns(gt):
        value = None
        if held:
            v = gt.query(
                arch.index, dataset=k.dataset, split=k.split, epochs=k.epochs, missing="nan"
            )
            value = None if v != v else float(v)
        rows.append(
            {
                "dataset": k.dataset,
                "split": k.split,
                "epochs": k.epochs,
                "accuracy": value,
                "transfer": images_of(k.dataset) != images_of(search_data),
                "held": held,
            }
        )
    return rows
