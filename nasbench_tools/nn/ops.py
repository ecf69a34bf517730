"""NAS-Bench-201 candidate operations, built as the benchmark built them.

Each op of :data:`nasbench_tools.spaces.nb201.OPS` has a factory in :data:`NB201_OPS` with the
signature ``factory(C_in, C_out, stride, affine, track_running_stats, norm)``. Module layouts
and attribute names follow NAS-Bench-201's ``cell_operations.py`` (``ReLUConvBN.op`` is
``Sequential(ReLU, Conv2d, BatchNorm2d)``), so parameter names such as ``op.1.weight`` match the
benchmark's checkpoints and the ABS angle vector (method spec 3.2).

``norm`` builds the normalisation layer (``norm(channels, affine, track_running_stats)``); the
default is :class:`torch.nn.BatchNorm2d`. One-shot training with ghost batch norm passes
:func:`nasbench_tools.nn.norms.ghost_norm`.

Convolutions have no bias, as in the benchmark (its BN follows every convolution).

An op may change the channel count (``C_in != C_out``), as the cells of NATS-Bench's size search
space do on the edges leaving their input node: ``nor_conv_kxk`` convolves ``C_in`` to ``C_out``;
``skip_connect`` becomes :class:`FactorizedReduce` (a 1x1 convolution and BN at stride 1);
``avg_pool_3x3`` puts a 1x1 :class:`ReLUConvBN` before the pooling; ``none`` gives zeros of
``C_out`` channels. Inside an NAS-Bench-201 cell the width never changes and ``skip_connect`` is
the identity.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = [
    "NB201_OPS",
    "FactorizedReduce",
    "NormFactory",
    "Pooling",
    "ReLUConvBN",
    "ResNetBasicBlock",
    "Zero",
    "batch_norm",
    "make_op",
]

#: ``norm(channels, affine, track_running_stats) -> nn.Module``
NormFactory = Callable[[int, bool, bool], nn.Module]


def batch_norm(channels: int, affine: bool = True, track_running_stats: bool = True) -> nn.Module:
    """The default :data:`NormFactory`: a plain :class:`torch.nn.BatchNorm2d`."""
    return nn.BatchNorm2d(channels, affine=affine, track_running_stats=track_running_stats)


class ReLUConvBN(nn.Module):
    """``ReLU -> Conv2d(bias=False) -> BN``; NAS-Bench-201's ``nor_conv_kxk``."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        affine: bool = True,
        track_running_stats: bool = True,
        norm: NormFactory = batch_norm,
    ):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding, bias=False),
            norm(C_out, affine, track_running_stats),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Pooling(nn.Module):
    """``avg_pool_3x3``: 3x3 average pooling (padding not counted), with a 1x1 ReLUConvBN first
    when the channel count changes (never inside an NB201 cell; possible in a NATS-sss cell)."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        stride: int,
        affine: bool = True,
        track_running_stats: bool = True,
        norm: NormFactory = batch_norm,
    ):
        super().__init__()
        self.preprocess = (
            None
            if C_in == C_out
            else ReLUConvBN(C_in, C_out, 1, 1, 0, affine, track_running_stats, norm)
        )
        self.op = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        if x.device.type == "cpu" and x.dim() == 4:
            # torch's CPU kernel for count_include_pad=False is 1.4-5x faster on channels-last
            # memory (measured here) and gives the same values bit for bit (tests/nn)
            return self.op(x.contiguous(memory_format=torch.channels_last)).contiguous()
        return self.op(x)


class Zero(nn.Module):
    """``none``: the edge is absent. Cells skip it rather than adding zeros; calling it directly
    returns zeros of the right shape."""

    is_zero = True

    def __init__(self, C_in: int, C_out: int, stride: int):
        super().__init__()
        self.C_in, self.C_out, self.stride = C_in, C_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        shape = list(x.shape)
        shape[1] = self.C_out
        return x.new_zeros(shape)


class FactorizedReduce(nn.Module):
    """``skip_connect`` across a width change or a stride (NAS-Bench-201's ``FactorizedReduce``).

    * stride 1: ``conv`` (1x1, ``C_in -> C_out``) then ``bn``; no ReLU, as in the benchmark.
    * stride 2: ReLU, then two 1x1 stride-2 convolutions ``convs.0`` / ``convs.1`` giving
      ``C_out // 2`` and ``C_out - C_out // 2`` channels, the second on the input shifted by one
      pixel (zero-padded at the bottom-right), concatenated, then ``bn``.
    """

    def __init__(
        self,
        C_in: int,
        C_out: int,
        stride: int,
        affine: bool = True,
        track_running_stats: bool = True,
        norm: NormFactory = batch_norm,
    ):
        super().__init__()
        self.C_in, self.C_out, self.stride = C_in, C_out, stride
        if stride == 1:
            self.conv = nn.Conv2d(C_in, C_out, 1, stride=1, padding=0, bias=False)
        elif stride == 2:
            self.relu = nn.ReLU(inplace=False)
            self.convs = nn.ModuleList(
                nn.Conv2d(C_in, c, 1, stride=2, padding=0, bias=False)
                for c in (C_out // 2, C_out - C_out // 2)
            )
            self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0.0)
        else:
            raise ValueError(f"FactorizedReduce stride must be 1 or 2, got {stride}")
        self.bn = norm(C_out, affine, track_running_stats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return self.bn(self.conv(x))
        x = self.relu(x)
        shifted = self.pad(x)[:, :, 1:, 1:]
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1))


def _skip(C_in, C_out, stride, affine, track, norm) -> nn.Module:
    if stride == 1 and C_in == C_out:
        return nn.Identity()
    return FactorizedReduce(C_in, C_out, stride, affine, track, norm)


#: Op name -> ``factory(C_in, C_out, stride, affine, track_running_stats, norm)``.
NB201_OPS: dict[str, Callable[..., nn.Module]] = {
    "none": lambda C_in, C_out, stride, affine, track, norm: Zero(C_in, C_out, stride),
    "skip_connect": _skip,
    "nor_conv_1x1": lambda C_in, C_out, stride, affine, track, norm: ReLUConvBN(
        C_in, C_out, 1, stride, 0, affine, track, norm
    ),
    "nor_conv_3x3": lambda C_in, C_out, stride, affine, track, norm: ReLUConvBN(
        C_in, C_out, 3, stride, 1, affine, track, norm
    ),
    "avg_pool_3x3": lambda C_in, C_out, stride, affine, track, norm: Pooling(
        C_in, C_out, stride, affine, track, norm
    ),
}


def make_op(
    name: str,
    C_in: int,
    C_out: int,
    stride: int = 1,
    affine: bool = True,
    track_running_stats: bool = True,
    norm: NormFactory = batch_norm,
) -> nn.Module:
    """Build NB201 op ``name``; raises :class:`KeyError` naming the known ops otherwise."""
    try:
        factory = NB201_OPS[name]
    except KeyError:
        raise KeyError(f"unknown NB201 op {name!r}; expected one of {list(NB201_OPS)}") from None
    return factory(C_in, C_out, stride, affine, track_running_stats, norm)


class ResNetBasicBlock(nn.Module):
    """NB201's residual reduction block between stages (``ResNetBasicblock`` with stride 2).

    ``conv_a`` (3x3, stride 2) and ``conv_b`` (3x3) are ReLUConvBN; the shortcut is
    ``downsample = Sequential(AvgPool2d(2, 2), Conv2d 1x1, no BN)``.
    """

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 2,
        affine: bool = True,
        norm: NormFactory = batch_norm,
    ):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"ResNetBasicBlock stride must be 1 or 2, got {stride}")
        self.conv_a = ReLUConvBN(inplanes, planes, 3, stride, 1, affine, True, norm)
        self.conv_b = ReLUConvBN(planes, planes, 3, 1, 1, affine, True, norm)
        if stride == 2:
            self.downsample = nn.Sequential(
                nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                nn.Conv2d(inplanes, planes, kernel_size=1, stride=1, padding=0, bias=False),
            )
        elif inplanes != planes:
            self.downsample = ReLUConvBN(inplanes, planes, 1, 1, 0, affine, True, norm)
        else:
            self.downsample = None
        self.in_dim, self.out_dim, self.stride = inplanes, planes, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_b(self.conv_a(x))
        residual = x if self.downsample is None else self.downsample(x)
        return residual + out
