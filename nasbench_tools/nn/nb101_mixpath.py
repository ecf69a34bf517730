"""MixPath's NAS-Bench-101 sub-space supernet (method spec 2.2), with shadow BN actually applied.

Structure (MixPath's ``NasBench101`` experiment, re-implemented from the method spec):

* stem: 3x3 conv (no bias) - BN - ReLU to ``stem_channels`` (MixPath: 128);
* ``num_stacks x cells_per_stack`` cells (MixPath: 3 x 3); the first cell of every stack but
  the first doubles the channels, and a 2x2 max-pool follows the last cell of every stack but the
  last (MixPath: 128 -> 256 -> 512, pools after cells 2 and 5);
* global average pooling and a linear classifier.

A cell has ``num_nodes`` candidate nodes (MixPath: 4). Node ``i`` with op ``a`` is
``1x1 conv-BN-ReLU projection -> op``, op one of :data:`ALTERNATIVES` (conv1x1-BN-ReLU,
conv3x3-BN-ReLU, maxpool3x3). The active nodes' outputs are **summed**, the sum is normalised by
the path norm (``bn="shadow"``: ``BN_k`` for ``k`` active nodes; ``"single"``: one BN; ``"none"``:
nothing, which is what MixPath's released code does because its ``Cell.forward`` never applies the
BNs it builds), then a 1x1 fusion conv (with bias) and a ReLU.

As an NB101 cell this is ``input -> active nodes -> fusion (conv1x1-bn-relu) -> output``, so the
sub-space holds only 19 (3 nodes) or 34 (4 nodes) distinct NB101 graphs: :meth:`spec_of` maps any
choice to its :class:`~nasbench_tools.spaces.nb101.ModelSpec` (and hence its module hash).

The choice space (:mod:`nasbench_tools.nn.choice`) has one block per cell whose paths are the
nodes and whose alternatives are the three ops. MixPath shares one choice across all cells
(``G == 1``); per-cell choices (``G == cells``) also run, but have no single NB101 spec.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import InvalidChoiceError
from ..spaces.archsets import MIXPATH_ALTERNATIVES, mixpath_spec
from ..spaces.nb101 import CONV1X1, CONV3X3, ModelSpec
from .choice import OFF, ChoiceSpace
from .nb101 import conv_bn_relu
from .norms import make_path_norm

__all__ = ["ALTERNATIVES", "MixPathNB101Supernet", "count_distinct_graphs"]

#: The ops of a candidate node, in MixPath's order (``choice`` values 0, 1, 2).
ALTERNATIVES: tuple[str, ...] = MIXPATH_ALTERNATIVES


def _node_op(alt: str, C_in: int, C_out: int) -> nn.Sequential:
    proj = conv_bn_relu(C_in, C_out, 1)
    if alt == CONV1X1:
        return nn.Sequential(*proj, *conv_bn_relu(C_out, C_out, 1))
    if alt == CONV3X3:
        return nn.Sequential(*proj, *conv_bn_relu(C_out, C_out, 3))
    return nn.Sequential(*proj, nn.MaxPool2d(3, stride=1, padding=1))


class MixPathCell(nn.Module):
    """``nodes[i][a]``: node ``i`` with op ``ALTERNATIVES[a]``; ``norm``; ``fusion`` 1x1 conv."""

    def __init__(self, C_in: int, C_out: int, num_nodes: int, bn: str):
        super().__init__()
        self.nodes = nn.ModuleList(
            nn.ModuleList(_node_op(alt, C_in, C_out) for alt in ALTERNATIVES)
            for _ in range(num_nodes)
        )
        self.norm = make_path_norm(bn, C_out, num_nodes, affine=True)
        self.fusion = nn.Conv2d(C_out, C_out, kernel_size=1, bias=True)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor, active) -> torch.Tensor:
        if not active:
            raise InvalidChoiceError("a MixPath cell needs at least one active node")
        out = None
        for node, alt in active:
            y = self.nodes[node][alt](x)
            out = y if out is None else out + y
        return self.relu(self.fusion(self.norm(out, len(active))))


class MixPathNB101Supernet(nn.Module):
    """MixPath's NB101 sub-space supernet.

    Parameters
    ----------
    num_nodes : int
        Candidate nodes per cell, the most paths a choice can sum (MixPath m; at most 4 so every
        sub-network is an NB101 cell of at most 7 vertices).
    bn : {"shadow", "single", "none"}
        Normalisation of the node sum (see the module docstring).
    stem_channels, num_stacks, cells_per_stack, num_classes, in_channels, image_size
        Macro skeleton; MixPath's defaults are 128, 3, 3, 10, 3 and 32. Small values give
        CPU-sized networks.
    """

    def __init__(
        self,
        num_nodes: int = 4,
        bn: str = "shadow",
        stem_channels: int = 128,
        num_stacks: int = 3,
        cells_per_stack: int = 3,
        num_classes: int = 10,
        in_channels: int = 3,
        image_size: int = 32,
    ):
        super().__init__()
        if not 1 <= num_nodes <= 4:
            raise ValueError(
                f"num_nodes must be 1..4 (NB101 cells have <= 7 vertices), got {num_nodes}"
            )
        self.num_nodes, self.bn = num_nodes, bn
        self.in_channels, self.image_size, self.num_classes = in_channels, image_size, num_classes
        self.stem = conv_bn_relu(in_channels, stem_channels, 3)
        self.cells = nn.ModuleList()
        self._pool_after: set[int] = set()
        C = stem_channels
        for stack in range(num_stacks):
            for j in range(cells_per_stack):
                C_out = 2 * C if (stack > 0 and j == 0) else C
                self.cells.append(MixPathCell(C, C_out, num_nodes, bn))
                C = C_out
            if stack < num_stacks - 1:
                self._pool_after.add(len(self.cells) - 1)
        self.pool = nn.MaxPool2d(2, 2)
        self.classifier = nn.Linear(C, num_classes)
        self.space = ChoiceSpace(
            num_cells=len(self.cells),
            num_blocks=1,
            num_paths=num_nodes,
            num_alternatives=len(ALTERNATIVES),
            path_names=tuple(f"node{i}" for i in range(num_nodes)),
            alternative_names=ALTERNATIVES,
        )

    def example_input(self, batch_size: int = 2, device=None) -> torch.Tensor:
        return torch.zeros(
            batch_size, self.in_channels, self.image_size, self.image_size, device=device
        )

    def forward(self, x: torch.Tensor, choice: np.ndarray, example_mask=None) -> torch.Tensor:
        """Run ``choice``, a ``(G, 1, num_nodes)`` array of op indices (``-1`` = node off)."""
        if example_mask is not None:
            raise InvalidChoiceError("MixPathNB101Supernet does not take per-example masks")
        active = self.space.active(choice)
        out = self.stem(x)
        for i, cell in enumerate(self.cells):
            out = cell(out, active[i if len(active) > 1 else 0][0])
            if i in self._pool_after:
                out = self.pool(out)
        return self.classifier(out.mean(dim=(2, 3)))

    def op_parameters(self) -> list[nn.Parameter]:
        """The parameters of the candidate nodes' ops (projection and op of every alternative)."""
        return [p for cell in self.cells for p in cell.nodes.parameters()]

    # ------------------------------------------------------------------ NB101 identity
    def spec_of(self, choice: np.ndarray) -> ModelSpec | None:
        """The NB101 cell of a choice shared by all cells (``None`` for differing per-cell ones).

        ``input -> node i (its op) -> fusion (conv1x1-bn-relu) -> output`` for every active node;
        inactive nodes are pruned by :class:`~nasbench_tools.spaces.nb101.ModelSpec`.
        """
        c = self.space.validate(choice)
        if not (c == c[:1]).all():
            return None
        row = c[0, 0]
        if not (row != OFF).any():
            raise InvalidChoiceError("a MixPath choice needs at least one active node")
        return mixpath_spec([None if a == OFF else ALTERNATIVES[a] for a in row.tolist()])

    def arch_key(self, choice: np.ndarray) -> str | None:
        """The NB101 module hash of a shared choice (``None`` for per-cell choices)."""
        spec = self.spec_of(choice)
        return None if spec is None else spec.hash


def count_distinct_graphs(num_nodes: int, max_paths: int | None = None) -> dict[str, int]:
    """Enumerate the sub-space: distinct sub-networks (node subset + ops) and NB101 graphs.

    Returns ``{"subnetworks": ..., "graphs": ...}``; MixPath's m=3 / m=4 give 63 / 255
    sub-networks and 19 / 34 graphs (method spec 2.3.2).
    """
    import itertools

    with torch.device("meta"):
        net = MixPathNB101Supernet(
            num_nodes=num_nodes, stem_channels=1, num_stacks=1, cells_per_stack=1
        )
    m = num_nodes if max_paths is None else max_paths
    hashes, subnets = set(), 0
    for k in range(1, m + 1):
        for nodes in itertools.combinations(range(num_nodes), k):
            for ops in itertools.product(range(len(ALTERNATIVES)), repeat=k):
                choice = net.space.empty(1)
                choice[0, 0, list(nodes)] = ops
                hashes.add(net.arch_key(choice))
                subnets += 1
    return {"subnetworks": subnets, "graphs": len(hashes)}
