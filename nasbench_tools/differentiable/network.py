"""The mixed-op NB201 supernet of DARTS, FairDARTS, GDAS and DARTS-PT.

:class:`MixedNB201` is the toolkit's :class:`~nasbench_tools.nn.nb201.NB201Supernet` (every op on
every edge, NB201's ``SearchCell``, BN without affine parameters in the cells by default) run with
mixing weights: the supernet's per-example op multipliers carry one weight per ``(edge, op)``,
shared by every cell and every example, so edge ``k`` of every cell computes
``sum_o weights[k, o] * op_o(x)`` (``none`` adds nothing). Only the candidates marked ``on`` are
computed (a GDAS sample, a DARTS-PT edge already discretised); an op whose weight is exactly 0
contributes exactly nothing either way. The architecture parameters ``alpha`` (6 edges x 5 ops,
NB201's op order) live in the same module, so one state dict holds the whole search state.

Every differentiable supernet (this one and :class:`~.superkernel.SuperkernelNB201`) offers:
``candidates`` (the names of alpha's columns), ``weight_parameters()``, ``arch_parameters()``,
``forward(x, weights, on)``, ``magnitude(weights)`` (a ``(6, 5)`` array over NB201's ops),
``extra_loss(weights)`` (0, or Single-Path NAS's cost term) and ``network_options``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..nn.choice import OFF
from ..nn.nb201 import NB201Supernet
from ..spaces.nb201 import EDGES, OPS

__all__ = ["MixedNB201"]


class MixedNB201(nn.Module):
    """NB201 supernet with DARTS-style mixed edges (see the module text).

    Parameters
    ----------
    C, N, num_classes, in_channels, image_size, affine
        As :class:`~nasbench_tools.nn.nb201.NB201Supernet`.
    alpha_init_std : float
        alpha starts as ``alpha_init_std * N(0, 1)`` (DARTS and DARTS-PT: 1e-3); 0 gives uniform
        mixing weights.
    """

    candidates = OPS

    def __init__(
        self,
        C: int,
        N: int,
        num_classes: int,
        in_channels: int,
        image_size: int,
        affine: bool = False,
        alpha_init_std: float = 1e-3,
    ):
        super().__init__()
        self.net = NB201Supernet(
            C=C, N=N, num_classes=num_classes, in_channels=in_channels, image_size=image_size,
            affine=affine,
        )  # fmt: skip
        self.alpha = nn.Parameter(alpha_init_std * torch.randn(len(EDGES), len(OPS)))

    @property
    def network_options(self) -> dict:
        """``C``, ``N``, ``num_classes``, ``in_channels``, ``image_size`` (a fresh dict)."""
        return self.net.network_options

    def weight_parameters(self) -> list[nn.Parameter]:
        return list(self.net.parameters())

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha]

    def forward(self, x: torch.Tensor, weights: torch.Tensor, on: np.ndarray) -> torch.Tensor:
        """Logits of the supernet with ``weights[k, o]`` mixing op ``o`` on edge ``k`` of every
        cell; only the ops with ``on[k, o]`` are computed."""
        choice = np.where(np.asarray(on, dtype=bool), 0, OFF).astype(np.int8)[None]
        mask = weights.reshape(1, 1, len(EDGES), len(OPS)).expand(x.shape[0], 1, -1, -1)
        return self.net(x, choice, mask)

    def magnitude(self, weights: torch.Tensor) -> np.ndarray:
        """The mixing weights as a ``(6, 5)`` float64 array (NB201's op order)."""
        return weights.detach().double().cpu().numpy()

    def extra_loss(self, weights: torch.Tensor) -> torch.Tensor:
        return weights.new_zeros(())
