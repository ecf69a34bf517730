"""Stand-alone NAS-Bench-101 networks, built as Google's ``nasbench`` model builder builds them.

Our own implementation rather than ``nasbench-pytorch``'s ``Network``, which counts a dummy
scalar parameter per placeholder vertex (4 extra per cell), passes TensorFlow's BN decay 0.997
straight to PyTorch as ``momentum`` (PyTorch's convention is ``1 - decay``), cannot build a spec
whose input does not reach its output, and indexes tensors in Python inside ``forward``.

Layout (``nasbench/lib/model_builder.py``): a 3x3 conv-BN-ReLU stem with ``stem_channels``
outputs; ``num_stacks`` stacks of ``cells_per_stack`` cells, with a 2x2 max-pool and doubled
channels before every stack but the first; global average pooling; a dense layer. Inside a cell
(``build_module``):

* vertex channels follow ``compute_vertex_channels``: the output's channels are split evenly
  among the vertices feeding it (the first ``remainder`` of them get one more), and every other
  interior vertex takes the largest width of the vertices it feeds;
* the input reaches a vertex through a 1x1 conv-BN-ReLU projection; interior edges pass tensors
  unchanged except for truncation to the destination's width;
* a vertex sums its inputs and applies its op (3x3 or 1x1 conv-BN-ReLU, or 3x3 max-pool);
* the output concatenates the vertices feeding it and adds a projection of the input when the
  input feeds the output directly (or is that projection alone when nothing else feeds it).

Convolutions have no bias; BNs have scale and shift; the dense layer has a bias. The trainable
parameter count therefore equals NB101's ``trainable_parameters`` (checked on the 30 real
records in the tests).

BN momentum is in PyTorch's convention: NB101 trained with TensorFlow decay 0.997, which is
``bn_momentum=0.003`` here; the default is PyTorch's 0.1, better suited to short runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InvalidSpecError
from ..spaces.nb101 import CONV1X1, CONV3X3, MAXPOOL3X3, ModelSpec

__all__ = ["NB101Network", "build_network", "conv_bn_relu", "vertex_channels"]


def conv_bn_relu(
    C_in: int, C_out: int, kernel_size: int, bn_momentum: float = 0.1, bn_eps: float = 1e-5
) -> nn.Sequential:
    """``Conv2d(bias=False, 'same' padding) -> BatchNorm2d -> ReLU``."""
    return nn.Sequential(
        nn.Conv2d(C_in, C_out, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(C_out, momentum=bn_momentum, eps=bn_eps),
        nn.ReLU(inplace=False),
    )


def vertex_channels(in_channels: int, out_channels: int, matrix: np.ndarray) -> list[int]:
    """Channels of every vertex of a pruned NB101 cell (``nasbench``'s ``compute_vertex_channels``).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels entering and leaving the cell.
    matrix : (V, V) 0/1 array
        Pruned adjacency, input first, output last.
    """
    m = np.asarray(matrix)
    n = m.shape[0]
    ch = [0] * n
    ch[0], ch[n - 1] = in_channels, out_channels
    if n == 2:
        return ch
    in_degree = m[1:].sum(axis=0)  # in-degree ignoring the input vertex
    fan = int(in_degree[n - 1])
    interior, correction = divmod(out_channels, fan)
    for v in range(1, n - 1):
        if m[v, n - 1]:
            ch[v] = interior + (1 if correction else 0)
            correction = max(correction - 1, 0)
    for v in range(n - 3, 0, -1):
        if not m[v, n - 1]:
            for dst in range(v + 1, n - 1):
                if m[v, dst]:
                    ch[v] = max(ch[v], ch[dst])
        if ch[v] <= 0:
            raise InvalidSpecError(f"vertex {v} of {m.tolist()} gets no channels")
    return [int(c) for c in ch]


def _make_vertex_op(op: str, channels: int, bn_momentum: float, bn_eps: float) -> nn.Module:
    if op == CONV3X3:
        return conv_bn_relu(channels, channels, 3, bn_momentum, bn_eps)
    if op == CONV1X1:
        return conv_bn_relu(channels, channels, 1, bn_momentum, bn_eps)
    if op == MAXPOOL3X3:
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise InvalidSpecError(
        f"unknown NB101 op {op!r}; expected {CONV3X3}, {CONV1X1} or {MAXPOOL3X3}"
    )


class NB101Cell(nn.Module):
    """One NB101 module (cell) for a pruned ``matrix`` and ``ops``."""

    def __init__(
        self,
        matrix: np.ndarray,
        ops: Sequence[str],
        C_in: int,
        C_out: int,
        bn_momentum: float = 0.1,
        bn_eps: float = 1e-5,
    ):
        super().__init__()
        m = np.asarray(matrix, dtype=np.int64)
        n = m.shape[0]
        self.channels = vertex_channels(C_in, C_out, m)
        ch = self.channels
        self.vertex_ops = nn.ModuleDict(
            {str(v): _make_vertex_op(ops[v], ch[v], bn_momentum, bn_eps) for v in range(1, n - 1)}
        )
        self.projections = nn.ModuleDict(
            {
                str(v): conv_bn_relu(C_in, ch[v], 1, bn_momentum, bn_eps)
                for v in range(1, n)
                if m[0, v]
            }
        )
        # per interior vertex: (sources among interior vertices, width to truncate to, projected?)
        self._plan = [
            ([s for s in range(1, v) if m[s, v]], ch[v], bool(m[0, v])) for v in range(1, n - 1)
        ]
        self._concat = [v for v in range(1, n - 1) if m[v, n - 1]]
        self._input_to_output = bool(m[0, n - 1])
        self._n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tensors = [x]
        for v, (sources, width, projected) in enumerate(self._plan, start=1):
            terms = [tensors[s][:, :width] for s in sources]
            if projected:
                terms.append(self.projections[str(v)](x))
            total = terms[0]
            for t in terms[1:]:
                total = total + t
            tensors.append(self.vertex_ops[str(v)](total))
        last = str(self._n - 1)
        if not self._concat:
            return self.projections[last](x)
        out = (
            tensors[self._concat[0]]
            if len(self._concat) == 1
            else torch.cat([tensors[v] for v in self._concat], dim=1)
        )
        if self._input_to_output:
            out = out + self.projections[last](x)
        return out


class NB101Network(nn.Module):
    """The stand-alone NAS-Bench-101 network of one cell spec.

    Parameters
    ----------
    spec : ModelSpec or (matrix, ops)
        The cell; it is pruned first (vertices off every input-to-output path are dropped, as the
        benchmark does). A spec whose input does not reach its output raises
        :class:`~nasbench_tools.errors.InvalidSpecError`.
    num_classes, in_channels : int
        Classifier outputs and image channels (NB101: 10 and 3).
    stem_channels, num_stacks, cells_per_stack : int
        NB101: 128, 3 and 3.
    bn_momentum, bn_eps : float
        PyTorch-convention momentum (NB101's TensorFlow decay 0.997 is 0.003) and epsilon (1e-5).
    """

    def __init__(
        self,
        spec,
        num_classes: int = 10,
        in_channels: int = 3,
        stem_channels: int = 128,
        num_stacks: int = 3,
        cells_per_stack: int = 3,
        bn_momentum: float = 0.1,
        bn_eps: float = 1e-5,
    ):
        super().__init__()
        if not isinstance(spec, ModelSpec):
            matrix, ops = spec
            spec = ModelSpec(np.asarray(matrix), list(ops))
        if not spec.connected:
            raise InvalidSpecError(f"{spec!r}: the input does not reach the output, no network")
        self.spec = spec
        self.stem = conv_bn_relu(in_channels, stem_channels, 3, bn_momentum, bn_eps)
        layers: list[nn.Module] = []
        C_in = C_out = stem_channels
        for stack in range(num_stacks):
            if stack > 0:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                C_out *= 2
            for _ in range(cells_per_stack):
                layers.append(NB101Cell(spec.matrix, spec.ops, C_in, C_out, bn_momentum, bn_eps))
                C_in = C_out
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Linear(C_out, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(self.stem(x))
        return self.classifier(out.mean(dim=(2, 3)))


def build_network(spec, **options) -> NB101Network:
    """The space's network builder (``Space.build_network``): ``NB101Network(spec, **options)``
    (``num_classes``, ``in_channels``, ``stem_channels``, ``num_stacks``, ``cells_per_stack``,
    ``bn_momentum``, ``bn_eps``; the benchmark's network by default)."""
    return NB101Network(spec, **options)
