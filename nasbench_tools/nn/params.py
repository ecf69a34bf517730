"""Parameter counts of real modules (no closed-form formulas).

:func:`count_parameters` sums ``numel()`` over a module's parameters. The benchmark helpers build
the network on PyTorch's ``meta`` device (shapes only, no memory, no initialisation cost beyond
module construction) and count it.

NAS-Bench-201 definition
------------------------
:func:`nb201_num_params` counts the stand-alone network exactly as NAS-Bench-201 builds it:
every op in the arch string is instantiated, whether or not the input reaches it, and ``none``
contributes nothing. At ``C=16, N=5`` and 10 classes this equals the NATS-Bench-tss ``params``
on all 15,421 architectures where NATS-tss and the NB201 v1_1 file agree. On the other 204 the two
benchmark files disagree with each other: the v1_1 values there are not whole numbers of ops
(they look like averages over seed records of different cells), and NATS-tss matches the
constructed network on only 54 of them. Every one of the 11 such archs in NAS-Bench-Suite-Zero
(which NASLib computed by building the network) agrees with this construction, as do all 724
CIFAR-10 archs there. We therefore follow the construction: the network that the arch string
describes. Example: index 9597 has four 3x3 convs; NATS-tss reports three convs' worth, we and
NAS-Bench-Suite-Zero count four.

NATS-Bench size search space
----------------------------
:func:`nats_sss_num_params` counts the ``infer.shape.tiny`` network of a configuration
(:class:`~nasbench_tools.nn.nats_sss.NATSSizeNetwork`); ``/ 1e6`` it equals the ``params`` of the
real NATS-sss records (configurations 0, 11 and 284, all four datasets).

The torch-free :mod:`nasbench_tools.spaces.costs` computes the same counts from the
architecture alone; the tests hold the two equal.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spaces.nb101 import ModelSpec
from ..spaces.nb201 import Arch

__all__ = ["count_parameters", "nats_sss_num_params", "nb101_num_params", "nb201_num_params"]


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Sum of ``numel()`` over the parameters of ``module`` (only ``requires_grad`` ones by
    default)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def nb201_num_params(
    arch, C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3
) -> int:
    """Parameters of the stand-alone NB201 network of ``arch`` (built on the meta device).

    ``nb201_num_params(arch) / 1e6`` is NATS-Bench's ``params`` (MB) for CIFAR-10; use
    ``num_classes=100`` / ``120`` for CIFAR-100 / ImageNet16-120.
    """
    from .nb201 import NB201Network

    with torch.device("meta"):
        net = NB201Network(Arch.parse(arch), C, N, num_classes, in_channels)
    return count_parameters(net)


def nats_sss_num_params(config, num_classes: int = 10, in_channels: int = 3) -> int:
    """Parameters of the NATS-sss network of ``config`` (built on the meta device).

    ``nats_sss_num_params(config) / 1e6`` is NATS-Bench's ``params`` (MB) for CIFAR-10; use
    ``num_classes=100`` / ``120`` for CIFAR-100 / ImageNet16-120.
    """
    from .nats_sss import NATSSizeNetwork

    with torch.device("meta"):
        net = NATSSizeNetwork(config, num_classes, in_channels)
    return count_parameters(net)


def nb101_num_params(
    spec: ModelSpec,
    num_classes: int = 10,
    in_channels: int = 3,
    stem_channels: int = 128,
    num_stacks: int = 3,
    cells_per_stack: int = 3,
) -> int:
    """Trainable parameters of the stand-alone NB101 network of ``spec`` (meta device).

    With the defaults this is NAS-Bench-101's ``trainable_parameters``.
    """
    from .nb101 import NB101Network

    with torch.device("meta"):
        net = NB101Network(
            spec,
            num_classes=num_classes,
            in_channels=in_channels,
            stem_channels=stem_channels,
            num_stacks=num_stacks,
            cells_per_stack=cells_per_stack,
        )
    return count_parameters(net)
