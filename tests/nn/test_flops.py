"""FLOPs by forward hooks on the real modules, against the real records, NAS-Bench-Suite-Zero and the
architecture-only counter (``nasbench_tools.spaces.costs``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nasbench_tools.errors import NasbenchToolsError
from nasbench_tools.nn.flops import count_flops
from nasbench_tools.nn.nats_sss import NATSSizeNetwork
from nasbench_tools.nn.nb201 import InferCell, NB201Network, _Skeleton
from nasbench_tools.nn.params import count_parameters
from nasbench_tools.spaces import costs
from nasbench_tools.spaces.nats_sss import sample
from nasbench_tools.spaces.nb201 import NUM_ARCHS, Arch


@pytest.mark.parametrize(
    "arch, c10, in16",  # the real NATS-tss records' flop (MFLOPs), CIFAR-10 and ImageNet16-120
    [(0, 15.64737, 3.91948), (11, 113.95137, 28.49548), (284, 11.71521, 2.93644)],
)
def test_nb201_hooks_equal_the_real_tss_records(arch, c10, in16):
    assert count_flops(NB201Network(arch)) == c10
    assert count_flops(NB201Network(arch, num_classes=120, image_size=16)) == in16


@pytest.mark.parametrize(
    "config, c10, c100, in16",  # the real NATS-sss records' flop (MFLOPs)
    [
        ("8:8:8:8:8", 4.481114, 4.481924, 1.121336),
        ("8:8:8:16:32", 6.84065, 6.84362, 1.71404),
        ("8:8:40:32:40", 21.827994, 21.831684, 5.461816),
    ],
)
def test_nats_sss_hooks_equal_the_real_sss_records(config, c10, c100, in16):
    assert count_flops(NATSSizeNetwork(config)) == c10
    assert count_flops(NATSSizeNetwork(config, num_classes=100)) == c100
    assert count_flops(NATSSizeNetwork(config, num_classes=120, image_size=16)) == in16


@pytest.mark.parametrize(
    "arch, flops",  # NAS-Bench-Suite-Zero's stored `flops` (CIFAR-10 rows of the embedded table)
    [(4811, 88.307392), (5480, 46.343872)],
)
def test_naslib_hooks_equal_suite_zero(arch, flops):
    assert count_flops(NB201Network(arch), convention="naslib") == flops


def _random_nb201(n: int, seed: int) -> list[Arch]:
    rng = np.random.default_rng(seed)
    picks = rng.choice(NUM_ARCHS, size=n, replace=False).tolist()
    return [Arch.from_index(int(i)) for i in picks]


@pytest.mark.parametrize("convention", ["nats", "naslib"])
def test_analytic_equals_hooks_on_random_nb201_networks(convention):
    """Small skeletons (C=4, N=1..2) keep this fast; the records above cover full size."""
    for k, arch in enumerate(_random_nb201(25, seed=5)):
        C, N, size, classes = 4, 1 + k % 2, (8, 12, 16)[k % 3], (10, 7)[k % 2]
        net = NB201Network(arch, C=C, N=N, num_classes=classes, image_size=size)
        hooked = count_flops(net, convention=convention)
        layers = costs.nb201_layers(arch, C=C, N=N, num_classes=classes, image_size=size)
        assert costs.count_flops(layers, convention) / 1e6 == pytest.approx(hooked, rel=1e-12), arch
        assert costs.count_params(layers) == count_parameters(net), arch


@pytest.mark.parametrize("convention", ["nats", "naslib"])
def test_analytic_equals_hooks_on_random_sss_networks(convention):
    for k, config in enumerate(sample(12, seed=9)):
        size, classes = ((32, 10), (16, 120), (32, 100))[k % 3]
        net = NATSSizeNetwork(config, num_classes=classes, image_size=size)
        hooked = count_flops(net, convention=convention)
        ours = costs.nats_sss_flops(
            config, num_classes=classes, image_size=size, convention=convention
        )
        assert ours == pytest.approx(hooked, rel=1e-12), config
        assert costs.nats_sss_params(config, num_classes=classes) == count_parameters(net)


def test_analytic_counts_every_op_on_width_changing_cells():
    """A width-changing cell with every op kind (pool with a 1x1 pre-conv, the skip's 1x1 conv,
    none), which the NATS-sss cell alone never exercises."""
    arch = Arch.from_string(
        "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|skip_connect~1|avg_pool_3x3~2|"
    )
    channels = [4, 6, 10, 12, 8]

    class Net(_Skeleton):
        forward = NB201Network.forward

    net = Net(4, 1, 10, 3, 16, lambda i, a, b: InferCell(arch, a, b), channels=channels)
    layers = costs.network_layers(arch, channels, num_classes=10, image_size=16)
    for convention in ("nats", "naslib"):
        assert costs.count_flops(layers, convention) / 1e6 == pytest.approx(
            count_flops(net, convention=convention), rel=1e-12
        )
    assert costs.count_params(layers) == count_parameters(net)


def test_hooks_are_removed_and_mode_restored_even_on_failure():
    net = NB201Network(0, C=4, N=1, image_size=8).train()
    count_flops(net)
    assert net.training
    assert all(not m._forward_hooks for m in net.modules())
    with pytest.raises(RuntimeError):
        count_flops(net, torch.zeros(1, 5, 8, 8))  # wrong channel count: the forward fails
    assert net.training and all(not m._forward_hooks for m in net.modules())


def test_per_image_and_explicit_inputs():
    net = NB201Network(284, C=4, N=1, image_size=8)
    one = count_flops(net)
    assert count_flops(net, torch.zeros(3, 3, 8, 8)) == pytest.approx(one, rel=1e-15)
    # a larger image: convolutions scale with the pixels, the classifier does not
    assert count_flops(net, torch.zeros(1, 3, 16, 16)) > 3.9 * one


def test_bad_convention_and_missing_example_input():
    with pytest.raises(
        NasbenchToolsError, match="unknown FLOP convention 'fvcore'; known: nats, naslib"
    ):
        count_flops(NB201Network(0, C=4, N=1), convention="fvcore")
    with pytest.raises(NasbenchToolsError, match="Sequential has no example_input"):
        count_flops(nn.Sequential(nn.Conv2d(3, 4, 3)))
    # a plain module with inputs: conv 3*4*9 per output pixel, plus the bias
    seq = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
    x = torch.zeros(1, 3, 6, 6)
    assert count_flops(seq, x) * 1e6 == pytest.approx(3 * 4 * 9 * 16 + 4 * 16)
    # NASLib also counts the ReLU (4*4*4) and tensorwatch's pooling windows (4 * 5 * 5)
    assert count_flops(seq, x, "naslib") * 1e6 == pytest.approx(3 * 4 * 9 * 16 + 4 * 16 + 64 + 100)
