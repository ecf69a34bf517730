"""NAS-Bench-201 networks: the benchmark's macro skeleton, stand-alone cells and the supernet.

The skeleton is NAS-Bench-201's ``TinyNetwork``: a stem (3x3 conv + BN, no ReLU), three stages
of ``N`` cells at ``C``, ``2C`` and ``4C`` channels separated by residual reduction blocks
(:class:`~nasbench_tools.nn.ops.ResNetBasicBlock`, stride 2), a final BN-ReLU (``lastact``),
global average pooling and a linear classifier. ``C``, ``N``, the input channels, the number of
classes and the image size are arguments, so the same code builds the benchmark's network
(``C=16, N=5``, 3 channels, 32x32 CIFAR or 16x16 ImageNet16-120) and small CPU-sized ones.

* :class:`NB201Network` is the stand-alone network of one cell, as the benchmark trained it: every
  op of the cell is instantiated (``none`` as a parameter-free :class:`~nasbench_tools.nn.ops.Zero`),
  including ops on edges that no input reaches. Its parameter count is the benchmark's
  definition; see :func:`nasbench_tools.nn.params.nb201_num_params`.
* :class:`NB201Supernet` holds all 5 ops on every edge with shared weights (NAS-Bench-201's
  ``SearchCell``; BN without affine parameters inside the cells, as NB201's search models and
  ABS use) and runs any choice (:mod:`nasbench_tools.nn.choice`): a single path shared by all
  cells or drawn per cell, or several paths per edge summed (MixPath, one-shot).

Module names match NAS-Bench-201 (``stem``, ``cells.{i}.layers.{k}`` /
``cells.{i}.edges.{dst}<-{src}.{op}``, ``lastact``, ``classifier``), so state dicts line up
with the benchmark's checkpoints and the ABS angle vector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ..errors import InvalidArchError
from ..spaces.nb201 import EDGES, OPS, Arch
from .choice import OFF, ChoiceSpace
from .norms import PathNorm, make_path_norm
from .ops import NormFactory, ResNetBasicBlock, batch_norm, make_op

__all__ = [
    "NB201Network",
    "NB201Supernet",
    "build_network",
    "cell_layout",
    "channel_layout",
    "run_cell",
]

_NODE_BLOCKS = ((0,), (1, 2), (3, 4, 5))  # edges (in EDGES order) entering nodes 1, 2, 3
_ZERO = OPS.index("none")


def cell_layout(C: int, N: int) -> list[tuple[int, bool]]:
    """``(channels, is_reduction)`` for the ``3N + 2`` positions of the cell stack."""
    if C < 1 or N < 1:
        raise ValueError(f"NB201 skeleton needs C >= 1 and N >= 1, got C={C}, N={N}")
    channels = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
    reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
    return list(zip(channels, reductions))


def channel_layout(channels: Sequence[int]) -> list[tuple[int, bool]]:
    """``(channels, is_reduction)`` for a stack with its own width at every position.

    ``channels`` has ``3N + 2`` entries: ``N`` cells, a reduction block, ``N`` cells, a reduction
    block, ``N`` cells (NATS-Bench's ``DynamicShapeTinyNet``; its size search space uses ``N = 1``,
    five widths). :func:`cell_layout` is the special case ``[C] * N + [2C] * (N + 1) + [4C] * (N +
    1)``. The stem has ``channels[0]`` outputs.
    """
    chans = list(channels)
    if len(chans) < 2 or len(chans) % 3 != 2:
        raise ValueError(
            f"a channel layout needs 3N + 2 widths (N cells per stage), got {len(chans)}: {chans}"
        )
    if not all(
        isinstance(c, int | np.integer) and not isinstance(c, bool) and c >= 1 for c in chans
    ):
        raise ValueError(f"channel widths must be positive integers, got {chans}")
    N = len(chans) // 3
    reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
    return [(int(c), r) for c, r in zip(chans, reductions)]


def run_cell(
    x: torch.Tensor, edge: Callable[[int, torch.Tensor], torch.Tensor | None]
) -> torch.Tensor:
    """NB201's cell graph, every edge ``k`` (``EDGES`` order) computed by ``edge(k, h)`` from its
    source node's output ``h`` (``None``: the edge adds nothing). Each node is the sum of its
    incoming edges in ``EDGES`` order; a node that nothing reaches is zeros shaped like ``x``.
    Returns node 3, the cell's output."""
    nodes = [x]
    for blocks in _NODE_BLOCKS:
        out = None
        for k in blocks:
            y = edge(k, nodes[EDGES[k][0]])
            if y is not None:
                out = y if out is None else out + y
        nodes.append(torch.zeros_like(x) if out is None else out)
    return nodes[-1]


class _Skeleton(nn.Module):
    """Stem, cell stack (built by ``make_cell``), lastact, pooling and classifier: the one
    builder of the NB201 macro skeleton (the stand-alone networks, the weight-sharing supernet,
    NATS-sss networks and the differentiable supernets all subclass it).

    The widths are :func:`cell_layout` ``(C, N)``, or :func:`channel_layout` ``(channels)`` when
    ``channels`` is given (then ``C`` and ``N`` must be ``channels[0]`` and ``len(channels) // 3``).
    """

    def __init__(
        self,
        C: int,
        N: int,
        num_classes: int,
        in_channels: int,
        image_size: int,
        make_cell,
        norm: NormFactory = batch_norm,
        channels: Sequence[int] | None = None,
    ):
        super().__init__()
        if channels is None:
            layout = cell_layout(C, N)
        else:
            layout = channel_layout(channels)
            if (C, N) != (layout[0][0], len(layout) // 3):
                raise ValueError(
                    f"C={C}, N={N} do not match the channel layout {list(channels)} (C must be "
                    f"its first width, N = {len(layout) // 3})"
                )
        if image_size < 4 or image_size % 4:
            raise ValueError(
                f"image_size must be a multiple of 4 (two stride-2 reductions, each residual "
                f"shortcut halving its input exactly), got {image_size!r}"
            )
        self.C, self.N, self.num_classes = C, N, num_classes
        self.in_channels, self.image_size = in_channels, image_size
        self.channels = tuple(c for c, _ in layout)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C, kernel_size=3, padding=1, bias=False), norm(C, True, True)
        )
        self.cells = nn.ModuleList()
        self.searchable: list[int] = []  # positions in self.cells of the searchable cells
        C_prev = C
        for pos, (C_curr, reduction) in enumerate(layout):
            if reduction:
                cell = ResNetBasicBlock(C_prev, C_curr, 2, True, norm)
            else:
                cell = make_cell(len(self.searchable), C_prev, C_curr)
                self.searchable.append(pos)
            self.cells.append(cell)
            C_prev = C_curr
        self.lastact = nn.Sequential(norm(C_prev, True, True), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def example_input(self, batch_size: int = 2, device=None) -> torch.Tensor:
        """A zero batch of the configured input shape."""
        return torch.zeros(
            batch_size, self.in_channels, self.image_size, self.image_size, device=device
        )

    @property
    def network_options(self) -> dict:
        """The skeleton's ``C``, ``N``, ``num_classes``, ``in_channels`` and ``image_size`` (and
        ``channels`` when its widths are not :func:`cell_layout`'s), as a fresh dict."""
        options = {
            "C": self.C, "N": self.N, "num_classes": self.num_classes,
            "in_channels": self.in_channels, "image_size": self.image_size,
        }  # fmt: skip
        if self.channels != tuple(c for c, _ in cell_layout(self.C, self.N)):
            options["channels"] = list(self.channels)
        return options

    def _forward(self, x: torch.Tensor, searchable=None) -> torch.Tensor:
        """Logits: stem, the cell stack, lastact, pooling, classifier. The reduction blocks run
        as ``cell(feature)``; searchable cell ``j`` (``0 .. 3N - 1``) as
        ``searchable(j, cell, feature)`` when given, else as ``cell(feature)``."""
        feature = self.stem(x)
        j = 0
        for cell in self.cells:
            if searchable is None or isinstance(cell, ResNetBasicBlock):
                feature = cell(feature)
            else:
                feature = searchable(j, cell, feature)
                j += 1
        return self._head(feature)

    def _head(self, feature: torch.Tensor) -> torch.Tensor:
        out = self.global_pooling(self.lastact(feature))
        return self.classifier(out.flatten(1))


# --------------------------------------------------------------------------- stand-alone
class InferCell(nn.Module):
    """A fixed NB201 cell: ``layers[k]`` is the op on edge ``EDGES[k]``.

    ``C_in`` may differ from ``C_out`` (NATS-Bench's size search space): the ops on the edges
    leaving the input node map ``C_in`` to ``C_out`` channels (a ``skip_connect`` there becomes a
    1x1 convolution with BN, :class:`~nasbench_tools.nn.ops.FactorizedReduce`), every other op
    keeps ``C_out``, as NATS-Bench's ``InferCell`` builds it. NB201 cells have ``C_in == C_out``.
    """

    def __init__(self, arch: Arch, C_in: int, C_out: int, norm: NormFactory = batch_norm):
        super().__init__()
        self.arch = arch
        self.C_in, self.C_out = C_in, C_out
        self.layers = nn.ModuleList(
            make_op(op, C_in if src == 0 else C_out, C_out, 1, True, True, norm)
            for op, (src, _dst) in zip(arch.ops, EDGES)
        )
        # (edge index, source node) of the non-zero ops entering each node
        self._plan = [
            [(k, EDGES[k][0]) for k in blocks if arch.op_indices[k] != _ZERO]
            for blocks in _NODE_BLOCKS
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for terms in self._plan:
            out = None
            for k, src in terms:
                y = self.layers[k](nodes[src])
                out = y if out is None else out + y
            if out is None:  # every input is `none`: zeros at the cell's output width
                out = x.new_zeros(x.shape[0], self.C_out, *x.shape[2:])
            nodes.append(out)
        return nodes[-1]


class NB201Network(_Skeleton):
    """The stand-alone NAS-Bench-201 network of one cell (the benchmark's ``TinyNetwork``).

    Parameters
    ----------
    arch : Arch, str, int or sequence
        The cell, anything :meth:`nasbench_tools.spaces.nb201.Arch.parse` accepts.
    C, N : int
        Channels of the first stage and cells per stage (benchmark: 16 and 5).
    num_classes : int
        Classifier outputs (CIFAR-10: 10, CIFAR-100: 100, ImageNet16-120: 120).
    in_channels : int
        Image channels (3 for CIFAR; 1 for Fashion-MNIST or digits).
    image_size : int
        Side of the square input (32 for CIFAR, 16 for ImageNet16-120); the network is fully
        convolutional, this is recorded for :meth:`example_input` and FLOP counts.
    norm : callable
        Norm factory for every BN (default plain BatchNorm2d).

    Examples
    --------
    >>> from nasbench_tools.nn.params import count_parameters
    >>> count_parameters(NB201Network(6111))
    1073466
    """

    def __init__(
        self,
        arch,
        C: int = 16,
        N: int = 5,
        num_classes: int = 10,
        in_channels: int = 3,
        image_size: int = 32,
        norm: NormFactory = batch_norm,
    ):
        arch = Arch.parse(arch)
        self.arch = arch
        super().__init__(
            C,
            N,
            num_classes,
            in_channels,
            image_size,
            lambda i, C_in, C_out: InferCell(arch, C_in, C_out, norm),
            norm,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x)


# --------------------------------------------------------------------------- supernet
class SearchCell(nn.Module):
    """All 5 NB201 ops on each of the 6 edges: ``edges["{dst}<-{src}"][op]``."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        affine: bool = False,
        track_running_stats: bool = True,
        norm: NormFactory = batch_norm,
        edge_norm: str = "none",
    ):
        super().__init__()
        if C_in != C_out:
            raise ValueError(f"NB201 cells keep their width, got C_in={C_in}, C_out={C_out}")
        self.edges = nn.ModuleDict()
        for src, dst in EDGES:
            self.edges[f"{dst}<-{src}"] = nn.ModuleList(
                make_op(op, C_in, C_out, 1, affine, track_running_stats, norm) for op in OPS
            )
        self._keys = [f"{dst}<-{src}" for src, dst in EDGES]
        self.edge_norm = edge_norm
        # The path norm sees at most the 4 non-zero ops of an edge ('none' adds nothing). It
        # has affine parameters whatever ``affine`` says of the ops (MixPath's shadow BN does):
        # without them, shadow and single BN would train identically (batch statistics carry no
        # parameters) and be the same network once BN is recalibrated.
        self.edge_norms = (
            None
            if edge_norm == "none"
            else nn.ModuleList(make_path_norm(edge_norm, C_out, len(OPS) - 1, True) for _ in EDGES)
        )

    def _edge(self, k: int, x: torch.Tensor, active, weights) -> torch.Tensor | None:
        """Sum of the edge's active non-zero ops, normalised by the path norm of their count."""
        ops = self.edges[self._keys[k]]
        out, count = None, 0
        for p, _alt in active:
            if p == _ZERO:
                continue
            y = ops[p](x)
            if weights is not None:
                y = y * weights[:, p].view(-1, 1, 1, 1)
            out = y if out is None else out + y
            count += 1
        if out is not None and self.edge_norms is not None:
            norm: PathNorm = self.edge_norms[k]
            out = norm(out, count)
        return out

    def forward(self, x: torch.Tensor, active, example_mask=None) -> torch.Tensor:
        """``active[k]`` = active ``(path, alt)`` pairs of edge ``k``; ``example_mask`` is an
        optional ``(batch, 6, 5)`` float tensor multiplying each op's output per example."""
        return run_cell(
            x,
            lambda k, h: self._edge(
                k, h, active[k], None if example_mask is None else example_mask[:, k]
            ),
        )


class NB201Supernet(_Skeleton):
    """NAS-Bench-201 weight-sharing supernet: every op on every edge of every cell.

    ``forward(x, choice)`` runs the sub-network selected by ``choice`` (see
    :mod:`nasbench_tools.nn.choice`; the space is :attr:`space`: ``3N`` cells, 6 edge blocks,
    5 op paths). ``none`` paths are skipped (they add zero); a node none of whose inputs is on
    becomes zeros, as in the benchmark, so ops leaving it still run.

    Parameters
    ----------
    C, N, num_classes, in_channels, image_size
        As :class:`NB201Network`.
    affine : bool
        Affine parameters in the cells' BNs (NB201 search models and ABS: ``False``). The stem,
        reduction blocks and ``lastact`` always have them.
    norm : callable
        Norm factory for every BN; pass :func:`nasbench_tools.nn.norms.ghost_norm` for one-shot
        training with ghost batch norm.
    edge_norm : {"none", "single", "shadow"}
        Normalisation of each edge's sum of active ops (MixPath, spec 2.1); ``"none"`` keeps the
        benchmark's cell exactly. ``"shadow"`` selects its BN by the number of active ops that
        are not ``none`` (1..4): ``{none, nor_conv_3x3}`` uses the same BN as ``{nor_conv_3x3}``.
    """

    def __init__(
        self,
        C: int = 16,
        N: int = 5,
        num_classes: int = 10,
        in_channels: int = 3,
        image_size: int = 32,
        affine: bool = False,
        norm: NormFactory = batch_norm,
        edge_norm: str = "none",
    ):
        super().__init__(
            C,
            N,
            num_classes,
            in_channels,
            image_size,
            lambda i, C_in, C_out: SearchCell(C_in, C_out, affine, True, norm, edge_norm),
            norm,
        )
        self.affine = affine
        self.space = ChoiceSpace(
            num_cells=len(self.searchable),
            num_blocks=len(EDGES),
            num_paths=len(OPS),
            num_alternatives=1,
            zero_path=_ZERO,
            node_blocks=_NODE_BLOCKS,
            edges=EDGES,
            weightless_paths=_weightless(self.cells[self.searchable[0]]),
            path_names=OPS,
            alternative_names=("",),
        )

    def forward(
        self, x: torch.Tensor, choice: np.ndarray, example_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Run the sub-network ``choice``.

        Parameters
        ----------
        x : (B, in_channels, H, W) tensor
        choice : (G, 6, 5) int8 array
            G = 1 (shared by every cell) or 3N (one per searchable cell).
        example_mask : (B, G, 6, 5) float tensor, optional
            Per-example multipliers of each op's output (per-example path dropout); paths off in
            ``choice`` are not computed whatever the mask says.
        """
        c = self.space.validate(choice)
        active = _decode(self.space, c.tobytes(), c.shape)

        def run(j: int, cell: SearchCell, feature: torch.Tensor) -> torch.Tensor:
            g = j if len(active) > 1 else 0
            return cell(feature, active[g], None if example_mask is None else example_mask[:, g])

        return self._forward(x, run)

    def op_parameters(self) -> list[nn.Parameter]:
        """The parameters of the candidate ops (every edge of every searchable cell)."""
        return [p for pos in self.searchable for p in self.cells[pos].edges.parameters()]

    # ------------------------------------------------------------------ arch <-> choice
    def choice_of(self, arch, shared: bool = True) -> np.ndarray:
        """The single-path choice running ``arch`` in every cell (G = 1, or 3N copies)."""
        arch = Arch.parse(arch)
        flat = np.array([arch.op_indices], dtype=np.int64)
        choice = self.space.from_flat(flat)
        return choice if shared else np.repeat(choice, self.space.num_cells, axis=0)

    def arch_of(self, choice: np.ndarray) -> Arch | None:
        """The :class:`Arch` of a single-path choice that every cell shares, else ``None``."""
        c = self.space.validate(choice)
        if not (c == c[:1]).all() or not ((c[0] != OFF).sum(axis=1) == 1).all():
            return None
        return Arch.from_ops(tuple(int(v) for v in self.space.to_flat(c[:1])[0]))

    def arch_key(self, choice: np.ndarray) -> str | None:
        """Benchmark identity of a choice: the NB201 arch string when it is one architecture."""
        arch = self.arch_of(choice)
        return None if arch is None else arch.to_string()

    def extract(self, arch) -> NB201Network:
        """A stand-alone :class:`NB201Network` of ``arch`` carrying this supernet's weights.

        Conv weights and BN running statistics are copied; the stand-alone cells' BN affine
        parameters are set from the supernet's (``1`` / ``0`` when the supernet's cells have none),
        so in eval mode both compute the same function. Requires ``edge_norm == "none"``.
        """
        arch = Arch.parse(arch)
        if self.cells[self.searchable[0]].edge_norms is not None:
            raise InvalidArchError("extract() needs a supernet built with edge_norm='none'")
        net = NB201Network(
            arch, self.C, self.N, self.num_classes, self.in_channels, self.image_size
        )
        net.to(next(self.parameters()).device)
        src = self.state_dict()
        dst = net.state_dict()
        with torch.no_grad():
            for name, tensor in dst.items():
                key = _supernet_key(name, arch)
                if key in src:
                    tensor.copy_(src[key])
                elif name.endswith(".weight"):  # affine-free supernet BN -> identity affine
                    tensor.fill_(1.0)
                elif name.endswith(".bias"):
                    tensor.zero_()
                else:
                    raise KeyError(f"no supernet tensor for {name} ({key})")
        return net


def _weightless(cell: SearchCell) -> tuple[int, ...]:
    """The ops (paths) of ``cell`` without parameters: ``none``, ``skip_connect``, ``avg_pool``."""
    ops = next(iter(cell.edges.values()))
    return tuple(p for p, op in enumerate(ops) if not list(op.parameters()))


def _supernet_key(name: str, arch: Arch) -> str:
    """Map a stand-alone state-dict key ``cells.i.layers.k.rest`` to the supernet's key."""
    parts = name.split(".")
    if parts[0] == "cells" and len(parts) > 3 and parts[2] == "layers":
        k = int(parts[3])
        src, dst = EDGES[k]
        op = arch.op_indices[k]
        return ".".join(["cells", parts[1], "edges", f"{dst}<-{src}", str(op), *parts[4:]])
    return name


@lru_cache(maxsize=4096)
def _decode_cached(space: ChoiceSpace, data: bytes, shape: tuple[int, ...]):
    choice = np.frombuffer(data, dtype=np.int8).reshape(shape)
    return space.active(choice)


def _decode(space: ChoiceSpace, data: bytes, shape: Sequence[int]):
    return _decode_cached(space, data, tuple(int(s) for s in shape))


def build_network(arch, **options) -> NB201Network:
    """The space's network builder (``Space.build_network``): ``NB201Network(arch, **options)``
    (``C``, ``N``, ``num_classes``, ``in_channels``, ``image_size``, ``norm``; the benchmark's
    network by default)."""
    return NB201Network(arch, **options)
