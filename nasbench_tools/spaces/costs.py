"""Parameter and FLOP counts of the NB201 / NATS-Bench networks, from the architecture alone.

Integer arithmetic, no torch: the core can use it for params and FLOPs columns of a whole space
(:func:`flops_column` sums cached pieces of the networks with numpy: all 32,768 NATS-sss
configurations in about 0.2 s and all 15,625 NB201 cells in about 0.4 s on the 2-core development
machine), and the torch side checks it against hooks on the real modules
(:func:`nasbench_tools.nn.flops.count_flops`).

A network is described as a list of :class:`Layer` records (convolution, BN, ReLU, pooling,
global pooling, linear), built block by block exactly as :mod:`nasbench_tools.nn.nb201` builds
the modules: the stem, every op of every cell (every op instantiated and run, as the benchmark's
networks do, whether or not the input reaches it; ``none`` is nothing), the residual reduction
blocks, and the head. Counts are per image.

FLOP conventions (:data:`CONVENTIONS`)
--------------------------------------
``"nats"`` (default)
    NATS-Bench / NAS-Bench-201's ``get_model_infos``: multiply-adds of convolutions
    (``k * k * C_in * C_out / groups`` per output pixel, plus one per output for a bias) and
    linear layers (``in * out``, plus ``out`` for the bias); pooling, BN and ReLU count 0. This
    is the ``flop`` of the benchmark records, in MFLOPs: 15.64737, 113.95137 and 11.71521 for
    NB201 archs 0, 11 and 284 on CIFAR-10.
``"naslib"``
    What NAS-Bench-Suite-Zero stores as its ``flops`` proxy (NASLib runs tensorwatch's
    ``ModelStats`` on one image): convolutions as above; linear ``in * out`` without the bias;
    BN ``2 * elements`` (affine) of its input; ReLU ``elements``; average pooling
    ``k * k * output elements``; global average pooling to 1x1 ``C * (H + 1) * (W + 1)``
    (tensorwatch's window arithmetic). Equal to the stored value on every NB201 architecture of
    the embedded NAS-Bench-Suite-Zero table (a test checks all of them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from ..errors import InvalidArchError, NasbenchToolsError
from . import nats_sss, nb201

__all__ = [
    "BENCHMARK_DATASETS",
    "CONVENTIONS",
    "Layer",
    "count_flops",
    "count_params",
    "dataset_shape",
    "flops_column",
    "nats_sss_flops",
    "nats_sss_layers",
    "nats_sss_params",
    "nb201_flops",
    "nb201_layers",
    "nb201_params",
    "network_layers",
    "params_column",
]

#: Dataset name (the benchmarks' own) -> (classes, image side).
BENCHMARK_DATASETS: dict[str, tuple[int, int]] = {
    "cifar10-valid": (10, 32),
    "cifar10": (10, 32),
    "cifar100": (100, 32),
    "ImageNet16-120": (120, 16),
}


@dataclass(frozen=True)
class Layer:
    """One primitive layer of a network, with the side of its (square) input and output.

    ``kind`` is ``conv``, ``bn``, ``relu``, ``avgpool`` (``kernel`` x ``kernel``), ``gap``
    (global average pooling to 1x1) or ``linear`` (``size_in == size_out == 1``).
    """

    kind: str
    c_in: int
    c_out: int
    size_in: int
    size_out: int
    kernel: int = 1
    bias: bool = False
    affine: bool = True


# --------------------------------------------------------------------------- conventions
def _nats_flops(L: Layer) -> int:
    if L.kind == "conv":
        out = L.size_out * L.size_out
        return L.kernel * L.kernel * L.c_in * L.c_out * out + (L.c_out * out if L.bias else 0)
    if L.kind == "linear":
        return L.c_in * L.c_out + (L.c_out if L.bias else 0)
    return 0


def _naslib_flops(L: Layer) -> int:
    if L.kind == "conv":
        return _nats_flops(L)
    if L.kind == "linear":
        return L.c_in * L.c_out
    if L.kind == "bn":
        return (2 if L.affine else 1) * L.c_in * L.size_in * L.size_in
    if L.kind == "relu":
        return L.c_in * L.size_in * L.size_in
    if L.kind == "avgpool":
        return L.kernel * L.kernel * L.c_out * L.size_out * L.size_out
    if L.kind == "gap":
        return L.c_in * (L.size_in + 1) * (L.size_in + 1)
    raise NasbenchToolsError(f"unknown layer kind {L.kind!r}")


#: FLOP convention name -> per-layer count (see the module docstring).
CONVENTIONS: dict[str, Callable[[Layer], int]] = {"nats": _nats_flops, "naslib": _naslib_flops}


def _convention(name: str) -> Callable[[Layer], int]:
    try:
        return CONVENTIONS[name]
    except (KeyError, TypeError):
        raise NasbenchToolsError(
            f"unknown FLOP convention {name!r}; known: {', '.join(CONVENTIONS)}"
        ) from None


def _param_count(L: Layer) -> int:
    if L.kind == "conv":
        return L.kernel * L.kernel * L.c_in * L.c_out + (L.c_out if L.bias else 0)
    if L.kind == "bn":
        return 2 * L.c_in if L.affine else 0
    if L.kind == "linear":
        return L.c_in * L.c_out + (L.c_out if L.bias else 0)
    return 0


def count_params(layers: Iterable[Layer]) -> int:
    """Trainable parameters of a layer list (conv and linear weights and biases, BN affine)."""
    return sum(_param_count(L) for L in layers)


def count_flops(layers: Iterable[Layer], convention: str = "nats") -> int:
    """FLOPs (multiply-adds under ``"nats"``) of a layer list, per image; divide by 1e6 for the
    benchmarks' MFLOPs."""
    fn = _convention(convention)
    return sum(fn(L) for L in layers)


# --------------------------------------------------------------------------- blocks
class _Block:
    """A cached piece of a network: its layers and their totals (params, then each convention's
    FLOPs), computed once."""

    __slots__ = ("layers", "totals")

    def __init__(self, layers: Iterable[Layer]):
        self.layers = tuple(layers)
        self.totals = (
            count_params(self.layers),
            *(count_flops(self.layers, c) for c in CONVENTIONS),
        )


def _relu_conv_bn(c_in: int, c_out: int, k: int, s_in: int, s_out: int) -> list[Layer]:
    return [
        Layer("relu", c_in, c_in, s_in, s_in),
        Layer("conv", c_in, c_out, s_in, s_out, k),
        Layer("bn", c_out, c_out, s_out, s_out),
    ]


@cache
def _edge(op: str, c_in: int, c_out: int, s: int) -> _Block:
    """Layers of one cell op at stride 1 (``nasbench_tools.nn.ops``)."""
    if op == "none":
        return _Block(())
    if op in ("nor_conv_1x1", "nor_conv_3x3"):
        return _Block(_relu_conv_bn(c_in, c_out, 1 if op == "nor_conv_1x1" else 3, s, s))
    if op == "skip_connect":
        if c_in == c_out:
            return _Block(())
        # FactorizedReduce at stride 1: 1x1 conv then BN, no ReLU
        return _Block((Layer("conv", c_in, c_out, s, s, 1), Layer("bn", c_out, c_out, s, s)))
    if op == "avg_pool_3x3":
        pre = [] if c_in == c_out else _relu_conv_bn(c_in, c_out, 1, s, s)
        return _Block((*pre, Layer("avgpool", c_out, c_out, s, s, 3)))
    raise InvalidArchError(f"unknown NB201 op {op!r}; expected one of {list(nb201.OPS)}")


@cache
def _stem(c_img: int, c: int, s: int) -> _Block:
    return _Block((Layer("conv", c_img, c, s, s, 3), Layer("bn", c, c, s, s)))


def _reduced(s: int) -> int:
    if s < 2 or s % 2:
        raise NasbenchToolsError(
            f"a stride-2 reduction block needs an even feature-map side, got {s} (the network's "
            "image side must be a multiple of 4)"
        )
    return s // 2


@cache
def _reduction(c_in: int, c_out: int, s: int) -> _Block:
    """NB201's ResNetBasicBlock with stride 2 (shortcut: 2x2 average pooling, 1x1 conv)."""
    h = _reduced(s)
    return _Block(
        (
            *_relu_conv_bn(c_in, c_out, 3, s, h),
            *_relu_conv_bn(c_out, c_out, 3, h, h),
            Layer("avgpool", c_in, c_in, s, h, 2),
            Layer("conv", c_in, c_out, h, h, 1),
        )
    )


@cache
def _head(c: int, s: int, classes: int) -> _Block:
    return _Block(
        (
            Layer("bn", c, c, s, s),
            Layer("relu", c, c, s, s),
            Layer("gap", c, c, s, 1),
            Layer("linear", c, classes, 1, 1, bias=True),
        )
    )


def _layout(n_positions: int, size: int) -> tuple[list[tuple[bool, int]], int]:
    """``(is_reduction, input side)`` of every position of a ``3N + 2`` stack, and the final side."""
    if n_positions < 2 or n_positions % 3 != 2:
        raise NasbenchToolsError(
            f"a channel layout needs 3N + 2 positive widths, got {n_positions} widths"
        )
    if size < 4:
        raise NasbenchToolsError(f"image side must be >= 4 (two reductions), got {size}")
    n = n_positions // 3
    out, s = [], size
    for pos in range(n_positions):
        reduction = pos in (n, 2 * n + 1)
        out.append((reduction, s))
        if reduction:
            s = _reduced(s)
    return out, s


def _blocks(
    cell: nb201.Arch, channels: Sequence[int], classes: int, c_img: int, size: int
) -> list[_Block]:
    """The network as a list of cached blocks."""
    chans = [int(c) for c in channels]
    if min(chans, default=0) < 1:
        raise NasbenchToolsError(f"a channel layout needs 3N + 2 positive widths, got {chans}")
    layout, s_end = _layout(len(chans), size)
    ops = cell.ops
    blocks = [_stem(c_img, chans[0], size)]
    c_prev = chans[0]
    for (reduction, s), c in zip(layout, chans):
        if reduction:
            blocks.append(_reduction(c_prev, c, s))
        else:
            blocks.extend(
                _edge(op, c_prev if src == 0 else c, c, s) for op, (src, _) in zip(ops, nb201.EDGES)
            )
        c_prev = c
    blocks.append(_head(c_prev, s_end, classes))
    return blocks


def _column_totals(
    ops: np.ndarray, chans: np.ndarray, classes: int, c_img: int, size: int
) -> np.ndarray:
    """``_totals`` of many networks at once: ``ops`` ``(K, 6)`` op indices of each cell, ``chans``
    ``(K, 3N + 2)`` widths. The same blocks as :func:`_blocks`, looked up once per distinct
    argument tuple and summed with numpy."""
    k, n_pos = chans.shape
    layout, s_end = _layout(n_pos, size)
    total = np.zeros((k, 1 + len(CONVENTIONS)), dtype=np.int64)

    def add(columns: list[np.ndarray], block: Callable[..., _Block]) -> None:
        code = np.zeros(k, dtype=np.int64)  # one mixed-radix code per argument tuple
        for col in columns:
            code = code * (int(col.max()) + 1) + col
        _, first, inv = np.unique(code, return_index=True, return_inverse=True)
        table = np.array(
            [block(*(int(col[i]) for col in columns)).totals for i in first], dtype=np.int64
        )
        total[:] += table[inv.reshape(-1)]

    add([chans[:, 0]], lambda c: _stem(c_img, c, size))
    c_prev = chans[:, 0]
    for pos, (reduction, s) in enumerate(layout):
        c = chans[:, pos]
        if reduction:
            add([c_prev, c], lambda a, b, s=s: _reduction(a, b, s))
        else:
            for e, (src, _) in enumerate(nb201.EDGES):
                add(
                    [ops[:, e], c_prev if src == 0 else c, c],
                    lambda o, a, b, s=s: _edge(nb201.OPS[o], a, b, s),
                )
        c_prev = c
    add([c_prev], lambda c: _head(c, s_end, classes))
    return total


def network_layers(
    cell, channels: Sequence[int], *, num_classes: int, in_channels: int = 3, image_size: int = 32
) -> list[Layer]:
    """Every layer of the NB201-skeleton network with cell ``cell`` and per-position widths
    ``channels`` (``3N + 2`` of them, as :func:`nasbench_tools.nn.nb201.channel_layout`)."""
    blocks = _blocks(nb201.Arch.parse(cell), channels, num_classes, in_channels, image_size)
    return [L for b in blocks for L in b.layers]


def _totals(blocks: list[_Block]) -> tuple[int, ...]:
    return tuple(map(sum, zip(*(b.totals for b in blocks))))


# --------------------------------------------------------------------------- per space
def _nb201_channels(C: int, N: int) -> list[int]:
    return [C] * N + [2 * C] * (N + 1) + [4 * C] * (N + 1)


def nb201_layers(
    arch,
    *,
    C: int = 16,
    N: int = 5,
    num_classes: int = 10,
    in_channels: int = 3,
    image_size: int = 32,
) -> list[Layer]:
    """Layers of the stand-alone NB201 network (``nasbench_tools.nn.nb201.NB201Network``)."""
    return network_layers(
        arch,
        _nb201_channels(C, N),
        num_classes=num_classes,
        in_channels=in_channels,
        image_size=image_size,
    )


def nats_sss_layers(
    config, *, num_classes: int = 10, in_channels: int = 3, image_size: int = 32
) -> list[Layer]:
    """Layers of the NATS-sss network of ``config`` (``infer.shape.tiny``)."""
    return network_layers(
        nats_sss.CELL,
        nats_sss.SizeConfig.parse(config).channels,
        num_classes=num_classes,
        in_channels=in_channels,
        image_size=image_size,
    )


def _mflops(totals: tuple[int, ...], convention: str) -> float:
    _convention(convention)
    return totals[1 + list(CONVENTIONS).index(convention)] / 1e6


def nb201_params(
    arch, *, C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3
) -> int:
    """Parameters of the stand-alone NB201 network (the benchmark's ``params`` times 1e6)."""
    cell = nb201.Arch.parse(arch)
    return _totals(_blocks(cell, _nb201_channels(C, N), num_classes, in_channels, 32))[0]


def nb201_flops(
    arch,
    *,
    C: int = 16,
    N: int = 5,
    num_classes: int = 10,
    in_channels: int = 3,
    image_size: int = 32,
    convention: str = "nats",
) -> float:
    """MFLOPs of the stand-alone NB201 network (the benchmark's ``flop`` under ``"nats"``)."""
    cell = nb201.Arch.parse(arch)
    blocks = _blocks(cell, _nb201_channels(C, N), num_classes, in_channels, image_size)
    return _mflops(_totals(blocks), convention)


def nats_sss_params(config, *, num_classes: int = 10, in_channels: int = 3) -> int:
    """Parameters of the NATS-sss network of ``config`` (the benchmark's ``params`` times 1e6)."""
    chans = nats_sss.SizeConfig.parse(config).channels
    return _totals(_blocks(_sss_cell(), chans, num_classes, in_channels, 32))[0]


def nats_sss_flops(
    config,
    *,
    num_classes: int = 10,
    in_channels: int = 3,
    image_size: int = 32,
    convention: str = "nats",
) -> float:
    """MFLOPs of the NATS-sss network of ``config`` (the benchmark's ``flop`` under ``"nats"``)."""
    chans = nats_sss.SizeConfig.parse(config).channels
    blocks = _blocks(_sss_cell(), chans, num_classes, in_channels, image_size)
    return _mflops(_totals(blocks), convention)


@cache
def _sss_cell() -> nb201.Arch:
    return nb201.Arch.from_string(nats_sss.CELL)


def dataset_shape(dataset: str) -> tuple[int, int]:
    """``(classes, image side)`` of a benchmark dataset (``cifar10-valid``, ``cifar10``,
    ``cifar100``, ``ImageNet16-120``)."""
    try:
        return BENCHMARK_DATASETS[dataset]
    except (KeyError, TypeError):
        raise NasbenchToolsError(
            f"unknown benchmark dataset {dataset!r}; known: {', '.join(BENCHMARK_DATASETS)}"
        ) from None


# --------------------------------------------------------------------------- columns
def _key_array(keys: Iterable[int], size: int, space: str) -> np.ndarray:
    idx = np.asarray(keys if isinstance(keys, np.ndarray) else list(keys))
    if idx.size == 0:
        return np.zeros(0, dtype=np.int64)
    if idx.dtype.kind not in "iu":
        raise InvalidArchError(f"{space} keys must be integer benchmark indices, got {idx.dtype}")
    idx = idx.astype(np.int64).reshape(-1)
    bad = (idx < 0) | (idx >= size)
    if bad.any():
        raise InvalidArchError(
            f"{space} index {int(idx[bad][0])} out of range; expected 0..{size - 1}"
        )
    return idx


def _nb201_inputs(keys) -> tuple[np.ndarray, np.ndarray]:
    idx = _key_array(keys, nb201.NUM_ARCHS, "nb201")
    ops = nb201.op_index_matrix()[idx].astype(np.int64)
    chans = np.broadcast_to(np.array(_nb201_channels(16, 5), dtype=np.int64), (len(idx), 17))
    return ops, chans


def _sss_inputs(keys) -> tuple[np.ndarray, np.ndarray]:
    idx = _key_array(keys, nats_sss.NUM_CONFIGS, "nats-sss")
    ops = np.broadcast_to(np.array(_sss_cell().op_indices, dtype=np.int64), (len(idx), 6))
    return ops, nats_sss.channel_matrix()[idx]


#: Space name -> keys -> (cell op indices (K, 6), widths (K, 3N + 2)) of the benchmark networks.
_SPACE_INPUTS: dict[str, Callable[[Iterable[int]], tuple[np.ndarray, np.ndarray]]] = {
    "nb201": _nb201_inputs,
    "nats-sss": _sss_inputs,
}


def _space_totals(space: str, keys: Iterable[int], dataset: str) -> np.ndarray:
    try:
        inputs = _SPACE_INPUTS[space]
    except (KeyError, TypeError):
        raise NasbenchToolsError(
            f"no network cost model for space {space!r}; known: {', '.join(_SPACE_INPUTS)}"
        ) from None
    classes, size = dataset_shape(dataset)
    ops, chans = inputs(keys)
    if len(ops) == 0:
        return np.zeros((0, 1 + len(CONVENTIONS)), dtype=np.int64)
    return _column_totals(ops, chans, classes, 3, size)


def flops_column(
    space: str, keys: Iterable[int], dataset: str, convention: str = "nats"
) -> np.ndarray:
    """MFLOPs of the benchmark network of every key of ``space`` (``"nb201"`` at C=16, N=5, or
    ``"nats-sss"``) on ``dataset``'s image size and classes; float64 array."""
    _convention(convention)
    totals = _space_totals(space, keys, dataset)
    return totals[:, 1 + list(CONVENTIONS).index(convention)] / 1e6


def params_column(space: str, keys: Iterable[int], dataset: str) -> np.ndarray:
    """Parameters (millions, the benchmarks' "MB") of every key's network for ``dataset``."""
    return _space_totals(space, keys, dataset)[:, 0] / 1e6
