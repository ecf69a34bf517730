"""Mixing weights from architecture parameters: softmax (DARTS), sigmoid (FairDARTS) and hard
Gumbel-softmax samples (GDAS), one registry (:data:`WEIGHTINGS`).

A :class:`Weighting` gives, for alpha of shape ``(edges, candidates)``:

* ``magnitude(alpha)``: the deterministic weights an architecture is read from (softmax, sigmoid;
  GDAS's too is the softmax of alpha);
* ``train(alpha, tau)``: the weights a training forward pass uses and which candidates it must
  compute (``on``, a boolean array). Softmax and sigmoid compute every candidate. GDAS samples one
  candidate per edge with Gumbel noise from torch's global generator and computes only the
  sampled candidate: :func:`straight_through_softmax` (the value of GDAS's
  ``hard - soft.detach() + soft``: the one-hot, its weight exactly 1; the gradient: the soft
  part's). GDAS's code also adds the other candidates' zero weights to the edge's output, which
  gives them a gradient equal to the sum of the output's gradient; that quirk is not reproduced.

:func:`zero_one_loss` is FairDARTS's auxiliary loss; :func:`projected` puts DARTS-PT's
discretised edges into a weight matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from ..registry import Registry
from .config import DifferentiableSearchError

__all__ = [
    "WEIGHTINGS",
    "Weighting",
    "indicator",
    "projected",
    "straight_through_softmax",
    "zero_one_loss",
]


@dataclass(frozen=True)
class Weighting:
    name: str
    magnitude: Callable[[torch.Tensor], torch.Tensor]
    train: Callable[[torch.Tensor, float], tuple[torch.Tensor, np.ndarray]]


def _all_on(alpha: torch.Tensor) -> np.ndarray:
    return np.ones(tuple(alpha.shape), dtype=bool)


def _softmax(alpha: torch.Tensor) -> torch.Tensor:
    return F.softmax(alpha, dim=-1)


class _StraightThroughSoftmax(torch.autograd.Function):
    """Forward: the one-hot of ``argmax softmax(z / tau)`` per row. Backward: the gradient of
    ``softmax(z / tau)``, ``dz_i = s_i (g_i - sum_j s_j g_j) / tau``, computed as
    ``s_i sum_j s_j (g_i - g_j) / tau`` (equal, as ``sum_j s_j = 1``)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, tau: float) -> torch.Tensor:
        soft = F.softmax(z / tau, dim=-1)
        ctx.save_for_backward(soft)
        ctx.tau = tau
        return torch.zeros_like(soft).scatter_(-1, soft.argmax(dim=-1, keepdim=True), 1.0)

    @staticmethod
    @once_differentiable
    def backward(ctx, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        (soft,) = ctx.saved_tensors
        inner = ((g.unsqueeze(-1) - g.unsqueeze(-2)) * soft.unsqueeze(-2)).sum(-1)
        return soft * inner / ctx.tau, None


def straight_through_softmax(z: torch.Tensor, tau: float) -> torch.Tensor:
    """GDAS's hard sample of the logits ``z`` (one row per edge): exactly the one-hot of
    ``argmax softmax(z / tau)`` forward, the gradient of ``softmax(z / tau)`` backward.

    The gradient is written so that nothing cancels. At a low temperature the sample's soft
    weight ``s_k`` is close to 1 and its logit's gradient ``s_k (1 - s_k) g_k / tau`` is tiny;
    autograd's softmax backward, ``s_k (g_k - s_k g_k) / tau``, returns it as the difference of
    two nearly equal float32 numbers (in the DDP test's run at ``tau = 0.1``, one process got
    half the true value, two processes, summing the same gradient in another order, 2% less
    than it, and Adam on such small gradients turned that into 4.3e-5 in alpha). Here the
    sample's term is ``g_k sum_{j != k} s_j``: every term is a product of well-computed numbers.
    """
    return _StraightThroughSoftmax.apply(z, tau)


def _gumbel(alpha: torch.Tensor, tau: float) -> tuple[torch.Tensor, np.ndarray]:
    """GDAS: the hard sample of ``softmax((alpha + g) / tau)`` with Gumbel noise ``g``."""
    while True:  # GDAS redraws the rare sample whose noise overflowed
        u = torch.rand(alpha.shape, dtype=alpha.dtype, device=alpha.device)
        z = alpha + -torch.log(-torch.log(u))
        if torch.isfinite(F.softmax(z.detach() / tau, dim=-1)).all():
            break
    weights = straight_through_softmax(z, tau)
    return weights, weights.detach().cpu().numpy().astype(bool)


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
