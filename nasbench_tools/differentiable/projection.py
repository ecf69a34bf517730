"""Perturbation scores and DARTS-PT's projection (Wang et al., ICLR 2021; method spec 8.2).

**Evaluation** (:func:`evaluate`): accuracy and mean cross-entropy of the supernet with given
mixing weights on every image of a split, BN in training mode (batch statistics), as DARTS-PT's
projection evaluates (``infer(..., eval=False)``). The BN running statistics are restored
afterwards (DARTS-PT's evaluations also update them; they only matter for eval-mode passes).
No augmentation.

**Perturbation importance** of ``(edge, op)`` (:func:`perturbation`): the accuracy with the
current weights minus the accuracy when that one op's weight is set to 0 (not renormalised), in
percentage points. A large drop means the supernet relies on the op. Masking ``none`` changes
nothing, so its importance is exactly 0.

**Projection** (:func:`choose_op`): on the chosen edge, mask each op in turn and keep the op
whose removal hurts most: the lowest accuracy (``crit="acc"``, the first such op on ties, as
DARTS-PT's strict ``<``) or the highest loss (``crit="loss"``). :func:`tune_schedule` is
DARTS-PT's schedule: ``tune_epochs = proj_intv * (edges - 1)`` epochs after the search, one edge
projected at tuning epoch 0, every ``proj_intv`` epochs and at the last (before that epoch's
training); :func:`next_edge` picks it (``"random"``: uniformly among the remaining edges, seeded
per epoch; ``"fixed"``: the first remaining edge in NB201's order).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..datasets import ImageData, iterate_batches
from ..supernet.recalibrate import bn_snapshot

__all__ = ["choose_op", "evaluate", "next_edge", "perturbation", "projection_epochs", "tune_epochs"]


@torch.no_grad()
def evaluate(model, weights, on, data: ImageData, batch_size: int, device) -> tuple[float, float]:
    """``(accuracy %, mean loss)`` over every image of ``data`` (see the module text)."""
    was_training = model.training
    model.train()
    correct, loss_sum = 0, 0.0
    try:
        with bn_snapshot(model):
            for x, y in iterate_batches(data, batch_size, device=device):
                logits = model(x, weights, on)
                loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
                correct += int((logits.argmax(1) == y).sum())
    finally:
        model.train(was_training)
    n = len(data)
    return 100.0 * correct / n, loss_sum / n


def masked(weights: torch.Tensor, edge: int, op: int) -> torch.Tensor:
    """``weights`` with ``weights[edge, op]`` set to 0 (a copy; the rest unchanged)."""
    w = weights.detach().clone()
    w[edge, op] = 0.0
    return w


def perturbation(model, weights, on, data, edges, batch_size: int, device) -> dict:
    """Accuracy and loss with each op of each edge in ``edges`` masked.

    Returns ``{"base": (acc, loss), "acc": (6, P) array, "loss": (6, P), "drop": base acc -
    acc}``; rows of edges not evaluated and ops not computed there (``on`` False) are NaN.
    """
    base = evaluate(model, weights, on, data, batch_size, device)
    shape = tuple(weights.shape)
    acc, loss = np.full(shape, np.nan), np.full(shape, np.nan)
    for e in edges:
        for o in range(shape[1]):
            if on[e, o]:
                acc[e, o], loss[e, o] = evaluate(
                    model, masked(weights, e, o), on, data, batch_size, device
                )
    return {"base": base, "acc": acc, "loss": loss, "drop": base[0] - acc}


def choose_op(acc: np.ndarray, loss: np.ndarray, crit: str) -> int:
    """The op to keep on an edge from its masked accuracies / losses (NaN: not a candidate)."""
    values = acc if crit == "acc" else -loss
    best, best_value = None, None
    for o, v in enumerate(values):
        if np.isnan(v):
            continue
        if best is None or v < best_value:  # strict: the first op wins ties, as DARTS-PT
            best, best_value = o, v
    if best is None:
        raise ValueError("no op of the edge was evaluated")
    return best


def tune_epochs(proj_intv: int, num_edges: int) -> int:
    """DARTS-PT's tuning length: ``proj_intv * (num_edges - 1)``."""
    return proj_intv * (num_edges - 1)


def projection_epochs(proj_intv: int, num_edges: int) -> list[int]:
    """The tuning epochs (0-based) that start with a projection: 0, every ``proj_intv``, and
    the last."""
    total = tune_epochs(proj_intv, num_edges)
    return [t for t in range(total) if t % proj_intv == 0 or t == total - 1]


def next_edge(remaining: list[int], order: str, rng: np.random.Generator) -> int:
    """The edge to project next (see the module text)."""
    if order == "fixed":
        return remaining[0]
    return int(rng.choice(remaining))
