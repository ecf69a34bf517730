"""Mixing weights from architecture parameters: softmax (DARTS), sigmoid (FairDARTS) and hard
Gumbel-softmax samples (GDAS), one registry (:data:`WEIGHTINGS`).

A :class:`Weighting` gives, for alpha of shape ``(edges, candidates)``:

* ``magnitude(alpha)``: the deterministic weights an architecture is read from (softmax, sigmoid;
  GDAS's too is the softmax of alpha);
* ``train(alpha, tau)``: the weights a training forward pass uses and which candidates it must
  compute (``on``, a boolean array). Softmax and sigmoid compute every candidate. GDAS samples one
  candidate per edge with Gumbel noise from torch's global generator, uses the straight-through
  one-hot ``hard - soft.detach() + soft`` and computes only the sampled candidate (its weight is
  exactly 1; alpha gets the gradient through the soft part). GDAS's code also adds the other
  candidates' zero weights to the edge's output, which gives them a gradient equal to the sum
  of the output's gradient; that quirk is not reproduced.

:func:`zero_one_loss` is FairDARTS's auxiliary loss; :func:`projected` puts DARTS-PT's
discretised edges into a weight matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..registry import Registry
from .config import DifferentiableSearchError

__all__ = ["WEIGHTINGS", "Weighting", "indicator", "projected", "zero_one_loss"]


@dataclass(frozen=True)
class Weighting:
    name: str
    magnitude: Callable[[torch.Tensor], torch.Tensor]
    train: Callable[[torch.Tensor, float], tuple[torch.Tensor, np.ndarray]]


def _all_on(alpha: torch.Tensor) -> np.ndarray:
    return np.ones(tuple(alpha.shape), dtype=bool)


def _softmax(alpha: torch.Tensor) -> torch.Tensor:
    return F.softmax(alpha, dim=-1)


def _gumbel(alpha: torch.Tensor, tau: float) -> tuple[torch.Tensor, np.ndarray]:
    """GDAS: ``softmax((alpha + g) / tau)`` with Gumbel noise ``g``, hard one-hot forward."""
    while True:  # GDAS redraws the rare sample whose noise overflowed
        u = torch.rand(alpha.shape, dtype=alpha.dtype, device=alpha.device)
        g = -torch.log(-torch.log(u))
        soft = F.softmax((alpha + g) / tau, dim=-1)
        if torch.isfinite(soft).all():
            break
    index = soft.argmax(dim=-1, keepdim=True)
    hard = torch.zeros_like(soft).scatter_(-1, index, 1.0)
    weights = hard - soft.detach() + soft
    return weights, hard.detach().cpu().numpy().astype(bool)


#: name -> :class:`Weighting`
WEIGHTINGS: Registry[Weighting] = Registry("mixing weighting", error=DifferentiableSearchError)
WEIGHTINGS.register(
    "softmax", Weighting("softmax", _softmax, lambda a, tau: (_softmax(a), _all_on(a)))
)
WEIGHTINGS.register(
    "sigmoid", Weighting("sigmoid", torch.sigmoid, lambda a, tau: (torch.sigmoid(a), _all_on(a)))
)
WEIGHTINGS.register("gumbel", Weighting("gumbel", _softmax, _gumbel))


def zero_one_loss(alpha: torch.Tensor) -> torch.Tensor:
    """FairDARTS's zero-one loss term ``-mean((sigmoid(alpha) - 0.5)^2)``; the search adds
    ``zero_one_weight`` times it to the architecture's loss, pushing each weight to 0 or 1."""
    return -torch.mean((torch.sigmoid(alpha) - 0.5) ** 2)


def projected(
    weights: torch.Tensor, on: np.ndarray, decided: Mapping[int, int]
) -> tuple[torch.Tensor, np.ndarray]:
    """``weights`` with each decided edge ``e -> op`` replaced by the one-hot of ``op`` (no
    gradient, as DARTS-PT's ``get_projected_weights``), and only that op computed there."""
    if not decided:
        return weights, on
    rows = list(weights.unbind(0))
    on = on.copy()
    for e, op in decided.items():
        one_hot = torch.zeros_like(rows[e])
        one_hot[op] = 1.0
        rows[e] = one_hot
        on[e] = False
        on[e, op] = True
    return torch.stack(rows), on


def indicator(d: torch.Tensor) -> torch.Tensor:
    """Single-Path NAS's ``1(d >= 0)`` with the sigmoid's gradient (straight-through): the value
    is exactly 0 or 1, the gradient that of ``sigmoid(d)``."""
    s = torch.sigmoid(d)
    return (d >= 0).to(d.dtype) + (s - s.detach())
