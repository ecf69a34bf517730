"""NATS-Bench size-search-space networks (``infer.shape.tiny``, NATS-Bench's ``DynamicShapeTinyNet``).

The NAS-Bench-201 skeleton (:mod:`nasbench_tools.nn.nb201`) with one cell per stage and a width
per position taken from the configuration: stem and cell at ``C1``, reduction block to ``C2``,
cell ``C2 -> C3``, reduction block to ``C4``, cell ``C4 -> C5``, then BN-ReLU, global pooling and
the classifier. Every cell is the fixed :data:`~nasbench_tools.spaces.nats_sss.CELL`; a cell whose
input width differs from its output width maps the input on each edge leaving node 0 (its
``skip_connect`` becomes a 1x1 convolution with BN). The parameter count equals the benchmark's
``params`` (a test checks the real records of configurations 0, 11 and 284 on all four
datasets).
"""

from __future__ import annotations

from ..spaces.nats_sss import CELL, SizeConfig
from ..spaces.nb201 import Arch
from .nb201 import InferCell, NB201Network, _Skeleton
from .ops import NormFactory, batch_norm

__all__ = ["NATSSizeNetwork", "build_network"]


class NATSSizeNetwork(_Skeleton):
    """The stand-alone network of one NATS-sss configuration.

    Parameters
    ----------
    config : SizeConfig, str, int or sequence
        Anything :meth:`nasbench_tools.spaces.nats_sss.SizeConfig.parse` accepts
        (``"8:16:24:32:40"``, a benchmark index, five widths).
    num_classes : int
        Classifier outputs (CIFAR-10: 10, CIFAR-100: 100, ImageNet16-120: 120).
    in_channels : int
        Image channels (3 for the benchmark's datasets).
    image_size : int
        Side of the square input (32 for CIFAR, 16 for ImageNet16-120), for
        :meth:`example_input` and FLOP counts.
    norm : callable
        Norm factory for every BN (default plain BatchNorm2d).

    Examples
    --------
    >>> from nasbench_tools.nn.params import count_parameters
    >>> count_parameters(NATSSizeNetwork("8:8:40:32:40"))
    144834
    """

    def __init__(
        self,
        config,
        num_classes: int = 10,
        in_channels: int = 3,
        image_size: int = 32,
        norm: NormFactory = batch_norm,
    ):
        config = SizeConfig.parse(config)
        cell = Arch.from_string(CELL)
        self.config = config
        self.arch = cell
        channels = config.channels
        super().__init__(
            channels[0],
            len(channels) // 3,
            num_classes,
            in_channels,
            image_size,
            lambda i, C_in, C_out: InferCell(cell, C_in, C_out, norm),
            norm,
            channels=channels,
        )

    forward = NB201Network.forward

    def extra_repr(self) -> str:
        return f"config={self.config.to_string()}, classes={self.num_classes}"


def build_network(config, **options) -> NATSSizeNetwork:
    """The space's network builder (``Space.build_network``): ``NATSSizeNetwork(config, **options)``."""
    return NATSSizeNetwork(config, **options)
