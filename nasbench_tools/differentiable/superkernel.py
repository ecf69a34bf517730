"""Single-Path NAS superkernels on NB201's conv edges, with a params or FLOPs cost term.

What is reproduced from Single-Path NAS (Stamoulis et al. 2019, ``superkernel.py``):

* one shared kernel per edge and cell holds both convolutions: ``nor_conv_1x1`` is the centre of
  ``nor_conv_3x3``'s 3x3 kernel (:class:`SuperConv`, one ReLU and one BN after it, as both NB201
  ops have);
* the choice is encoded in the weights: the kernel used is
  ``w_centre + g * w_outer`` with ``g = 1(||w_outer|| - t >= 0)`` in the forward pass and the
  gradient of ``sigmoid(||w_outer|| - t)`` in the backward pass (straight-through), ``t``
  trainable and initialised to 0 (so every edge starts as the 3x3 conv);
* one-level training: weights, thresholds (and alpha) all follow the loss on the training
  batches, which is ``CE + cost_lambda * log(cost)``.

What is adapted to NB201:

* **One genotype.** NB201 shares one cell across all 3N cells, so the indicator of edge ``k`` uses
  the mean over the cells of that edge's ``||w_outer||`` and one threshold per edge; every cell
  takes the same decision.
* **The parameter-free ops** (``none``, ``skip_connect``, ``avg_pool_3x3``) have no kernel whose
  norm could encode them. Rule ``free_ops="softmax"`` (default): each edge mixes
  ``{none, skip_connect, superkernel conv, avg_pool_3x3}`` with DARTS-style softmax weights of an
  alpha (6 x 4), trained with the rest; the edge keeps the largest, and a kept conv is 3x3 or 1x1
  by its indicator. Rule ``free_ops="exclude"``: the searched space is ``{none, 1x1, 3x3}`` per
  edge, as Single-Path NAS's own "drop the layer" level: a second indicator
  ``1(||w_centre|| - t0 >= 0)`` switches the whole conv off (``none``); skip and pooling are not
  searched.
* **Cost.** No phone latency model: ``cost`` is the network's parameter count (``"params"``,
  :func:`nasbench_tools.nn.params.nb201_num_params`) or its FLOPs (``"flops"``, MFLOPs per image,
  :func:`nasbench_tools.nn.flops.count_flops`, NATS convention), both counted on real stand-alone
  NB201 networks. Both are a base plus one term per edge (:func:`op_costs`), so the relaxed cost
  is ``base + sum_k [w_conv,k (c_1x1 + g_k (c_3x3 - c_1x1)) + w_skip,k c_skip + w_pool,k
  c_pool]`` (with ``free_ops="exclude"``: ``base + sum_k g0_k (c_1x1 + g_k (c_3x3 - c_1x1))``);
  with hard choices it equals the selected network's count exactly (tested).

The magnitude table (one weight per NB201 ``(edge, op)``) splits the conv's weight by the soft
indicator ``s = sigmoid(||w_outer|| - t)``: 1x1 gets ``w_conv (1 - s)``, 3x3 ``w_conv s``; with
``free_ops="exclude"`` none gets ``1 - s0``, skip and pooling NaN (not searched).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..nn.nb201 import _Skeleton, run_cell
from ..nn.ops import batch_norm, make_op
from ..spaces.nb201 import EDGES, OPS, Arch
from .weights import indicator

__all__ = ["COST_KINDS", "SuperConv", "SuperkernelCell", "SuperkernelNB201", "op_costs"]

#: alpha's columns with free_ops="softmax" (the superkernel conv is one candidate)
SOFTMAX_CANDIDATES = ("none", "skip_connect", "conv", "avg_pool_3x3")
COST_KINDS = ("params", "flops")


class SuperConv(nn.Module):
    """``ReLU -> 3x3 superkernel conv -> BN``; ``forward(x, g)`` convolves with
    ``w_centre + g * w_outer`` (``g`` 0: ``nor_conv_1x1``, 1: ``nor_conv_3x3``)."""

    def __init__(self, C: int, affine: bool = False, track_running_stats: bool = True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, 3, stride=1, padding=1, bias=False),
            batch_norm(C, affine, track_running_stats),
        )
        outer = torch.ones(1, 1, 3, 3)
        outer[0, 0, 1, 1] = 0.0
        self.register_buffer("outer_mask", outer, persistent=False)

    @property
    def weight(self) -> torch.Tensor:
        return self.op[1].weight

    def outer_norm(self) -> torch.Tensor:
        return (self.weight * self.outer_mask).norm()

    def centre_norm(self) -> torch.Tensor:
        return self.weight[:, :, 1, 1].norm()

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        kernel = self.weight * ((1.0 - self.outer_mask) + g * self.outer_mask)
        return self.op[2](F.conv2d(self.op[0](x), kernel, padding=1))


class SuperkernelCell(nn.Module):
    """An NB201 cell whose edges hold ``skip_connect``, a :class:`SuperConv` and
    ``avg_pool_3x3`` (``none`` adds nothing): ``edges["{dst}<-{src}"]``."""

    def __init__(self, C_in: int, C_out: int, affine: bool = False):
        super().__init__()
        if C_in != C_out:
            raise ValueError(f"NB201 cells keep their width, got C_in={C_in}, C_out={C_out}")
        self.edges = nn.ModuleDict()
        for src, dst in EDGES:
            self.edges[f"{dst}<-{src}"] = nn.ModuleDict(
                {
                    "skip_connect": make_op("skip_connect", C_in, C_out, 1, affine, True),
                    "conv": SuperConv(C_in, affine),
                    "avg_pool_3x3": make_op("avg_pool_3x3", C_in, C_out, 1, affine, True),
                }
            )
        self._keys = [f"{dst}<-{src}" for src, dst in EDGES]

    def edge(self, k: int) -> nn.ModuleDict:
        return self.edges[self._keys[k]]

    def forward(self, x, weights, on, g, g0) -> torch.Tensor:
        """``weights``/``on``: (6, 4) over :data:`SOFTMAX_CANDIDATES`, or ``None`` (exclude rule:
        the conv alone, times ``g0[k]``); ``g``: (6,) indicators of the 3x3 ring."""
        return run_cell(x, lambda k, h: self._edge(k, h, weights, on, g, g0))

    def _edge(self, k, x, weights, on, g, g0):
        ops = self.edge(k)
        if weights is None:
            return ops["conv"](x, g[k]) * g0[k]
        out = None
        for c, name in enumerate(SOFTMAX_CANDIDATES):
            if name == "none" or not on[k, c]:
                continue
            y = ops[name](x, g[k]) if name == "conv" else ops[name](x)
            y = y * weights[k, c]
            out = y if out is None else out + y
        return out


class SuperkernelNB201(_Skeleton):
    """The NB201 skeleton with :class:`SuperkernelCell` cells and Single-Path NAS's thresholds.

    Architecture parameters: ``t`` (6,), the 3x3 thresholds; with ``free_ops="softmax"`` also
    ``alpha`` (6 x 4); with ``"exclude"`` also ``t0`` (6,), the conv-on thresholds. Thresholds
    start at 0.
    """

    def __init__(
        self,
        C: int,
        N: int,
        num_classes: int,
        in_channels: int,
        image_size: int,
        affine: bool = False,
        alpha_init_std: float = 1e-3,
        free_ops: str = "softmax",
        cost: str = "params",
        cost_lambda: float = 0.0,
    ):
        super().__init__(
            C, N, num_classes, in_channels, image_size,
            lambda i, C_in, C_out: SuperkernelCell(C_in, C_out, affine),
        )  # fmt: skip
        if free_ops not in ("softmax", "exclude"):
            raise ValueError(f"free_ops must be 'softmax' or 'exclude', got {free_ops!r}")
        self.free_ops, self.cost_kind, self.cost_lambda = free_ops, cost, float(cost_lambda)
        self.t = nn.Parameter(torch.zeros(len(EDGES)))
        if free_ops == "softmax":
            self.candidates = SOFTMAX_CANDIDATES
            self.alpha = nn.Parameter(alpha_init_std * torch.randn(len(EDGES), 4))
            self.t0 = None
        else:
            self.candidates = ("conv",)
            self.alpha = None
            self.t0 = nn.Parameter(torch.zeros(len(EDGES)))
        base, per_op = op_costs(cost, **self.network_options)
        self.cost_base = base
        self.register_buffer(
            "op_cost", torch.tensor([per_op[o] for o in OPS], dtype=torch.float64), persistent=False
        )

    # ------------------------------------------------------------------ parameters
    def arch_parameters(self) -> list[nn.Parameter]:
        return [p for p in (self.alpha, self.t, self.t0) if p is not None]

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def _cells(self) -> list[SuperkernelCell]:
        return [c for c in self.cells if isinstance(c, SuperkernelCell)]

    def norms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per edge: the mean over the cells of ``||w_outer||`` and of ``||w_centre||``."""
        cells = self._cells()
        outer = torch.stack([torch.stack([c.edge(k)["conv"].outer_norm() for c in cells]).mean()
                             for k in range(len(EDGES))])  # fmt: skip
        centre = torch.stack([torch.stack([c.edge(k)["conv"].centre_norm() for c in cells]).mean()
                              for k in range(len(EDGES))])  # fmt: skip
        return outer, centre

    def gates(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(g, g0)``: the straight-through indicators of the 3x3 ring and (exclude rule) of the
        conv itself, per edge."""
        outer, centre = self.norms()
        g = indicator(outer - self.t)
        g0 = None if self.t0 is None else indicator(centre - self.t0)
        return g, g0

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor, weights, on) -> torch.Tensor:
        g, g0 = self.gates()
        return self._forward(x, lambda j, cell, feature: cell(feature, weights, on, g, g0))

    def cost(self, weights) -> torch.Tensor:
        """The relaxed cost of the network (see the module text); hard choices give the selected
        network's count."""
        g, g0 = self.gates()
        g = g.double()  # counts reach millions: float64 keeps them exact
        c = self.op_cost
        i1, i3 = OPS.index("nor_conv_1x1"), OPS.index("nor_conv_3x3")
        conv = c[i1] + g * (c[i3] - c[i1])
        if weights is None:
            per_edge = g0.double() * conv
        else:
            w = weights.double()
            per_edge = (
                w[:, 2] * conv
                + w[:, 1] * c[OPS.index("skip_connect")]
                + w[:, 3] * c[OPS.index("avg_pool_3x3")]
            )
        return self.cost_base + per_edge.sum()

    def extra_loss(self, weights) -> torch.Tensor:
        """``cost_lambda * log(cost)`` (0 when ``cost_lambda`` is 0)."""
        if self.cost_lambda == 0:
            return self.t.new_zeros(())
        return self.cost_lambda * torch.log(self.cost(weights)).to(self.t.dtype)

    # ------------------------------------------------------------------ reading the choice
    def magnitude(self, weights) -> np.ndarray:
        """One weight per NB201 ``(edge, op)`` (see the module text), float64 ``(6, 5)``."""
        outer, centre = self.norms()
        s = torch.sigmoid(outer - self.t).detach().double().cpu().numpy()
        out = np.full((len(EDGES), len(OPS)), np.nan)
        if weights is None:
            s0 = torch.sigmoid(centre - self.t0).detach().double().cpu().numpy()
            out[:, OPS.index("none")] = 1 - s0
            conv = s0
        else:
            w = weights.detach().double().cpu().numpy()
            out[:, OPS.index("none")] = w[:, 0]
            out[:, OPS.index("skip_connect")] = w[:, 1]
            out[:, OPS.index("avg_pool_3x3")] = w[:, 3]
            conv = w[:, 2]
        out[:, OPS.index("nor_conv_1x1")] = conv * (1 - s)
        out[:, OPS.index("nor_conv_3x3")] = conv * s
        return out

    def hard_choice(self, weights) -> tuple[str, ...]:
        """The op of each edge: the largest candidate, a conv made 3x3 or 1x1 by its indicator;
        with ``free_ops="exclude"`` ``none`` where the conv indicator is off."""
        g, g0 = self.gates()
        ops = []
        for k in range(len(EDGES)):
            if weights is None:
                conv_on = bool(g0[k] >= 0.5)
            else:
                best = SOFTMAX_CANDIDATES[int(weights[k].argmax())]
                conv_on = best == "conv"
                if not conv_on:
                    ops.append(best)
                    continue
            if not conv_on:
                ops.append("none")
            else:
                ops.append("nor_conv_3x3" if bool(g[k] >= 0.5) else "nor_conv_1x1")
        return tuple(ops)


def op_costs(
    kind: str,
    *,
    C: int,
    N: int,
    num_classes: int,
    in_channels: int,
    image_size: int,
) -> tuple[float, dict[str, float]]:
    """``(base, {op: cost})``: the cost of the stand-alone NB201 network whose edges are all
    ``none``, and what one edge (in every cell) holding each op adds to it.

    ``kind`` ``"params"``: parameter count (:func:`~nasbench_tools.nn.params.nb201_num_params`);
    ``"flops"``: MFLOPs per image (:func:`~nasbench_tools.nn.flops.count_flops`, NATS
    convention). Both are additive over edges, so ``base + sum(cost[op] for op in arch.ops)`` is
    the network's count.
    """
    from ..nn.flops import count_flops
    from ..nn.nb201 import NB201Network
    from ..nn.params import nb201_num_params

    def measure(ops: tuple[str, ...]) -> float:
        arch = Arch.from_ops(ops)
        if kind == "params":
            return float(nb201_num_params(arch, C, N, num_classes, in_channels))
        if kind == "flops":
            with torch.random.fork_rng(devices=[]):  # building a network draws random weights
                net = NB201Network(arch, C, N, num_classes, in_channels, image_size)
            return float(count_flops(net))
        raise ValueError(f"cost must be one of {COST_KINDS}, got {kind!r}")

    empty = ("none",) * len(EDGES)
    base = measure(empty)
    return base, {op: measure((op, *empty[1:])) - base for op in OPS}
