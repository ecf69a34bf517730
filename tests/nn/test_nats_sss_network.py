"""NATS-sss networks: parameter counts against the real records, width-changing cells and ops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nasbench_tools.nn.nats_sss import NATSSizeNetwork, build_network
from nasbench_tools.nn.nb201 import InferCell, NB201Network, cell_layout, channel_layout
from nasbench_tools.nn.ops import FactorizedReduce, Pooling, ReLUConvBN, Zero, make_op
from nasbench_tools.nn.params import count_parameters, nats_sss_num_params, nb201_num_params
from nasbench_tools.spaces import get_space
from nasbench_tools.spaces.nats_sss import CELL, sample
from nasbench_tools.spaces.nb201 import Arch

#: ``params`` (millions) of the real NATS-sss records 000000, 000011 and 000284 per dataset
#: (cifar10-valid and cifar10 train the same 10-class network).
RECORD_PARAMS = {
    "8:8:8:8:8": {10: 0.011714, 100: 0.012524, 120: 0.012704},
    "8:8:8:16:32": {10: 0.049202, 100: 0.052172, 120: 0.052832},
    "8:8:40:32:40": {10: 0.144834, 100: 0.148524, 120: 0.149344},
}


@pytest.mark.parametrize("classes", [10, 100, 120])
@pytest.mark.parametrize("config", list(RECORD_PARAMS))
def test_params_equal_the_real_records(config, classes):
    assert nats_sss_num_params(config, num_classes=classes) == round(
        RECORD_PARAMS[config][classes] * 1e6
    )
    # built for real (not on the meta device), the same count
    net = NATSSizeNetwork(config, num_classes=classes)
    assert count_parameters(net) / 1e6 == RECORD_PARAMS[config][classes]


@pytest.mark.parametrize("size, classes", [(32, 10), (16, 120)])
def test_forward_at_benchmark_sizes_and_widths_per_position(size, classes):
    torch.manual_seed(0)
    net = NATSSizeNetwork("64:8:24:56:16", num_classes=classes, image_size=size)
    assert net.channels == (64, 8, 24, 56, 16)
    x = net.example_input(2) + torch.randn(2, 3, size, size)
    seen = []
    hooks = [
        c.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape))) for c in net.cells
    ]
    y = net(x)
    for h in hooks:
        h.remove()
    assert y.shape == (2, classes) and torch.isfinite(y).all()
    s = size
    assert seen == [
        (2, 64, s, s),
        (2, 8, s // 2, s // 2),
        (2, 24, s // 2, s // 2),
        (2, 56, s // 4, s // 4),
        (2, 16, s // 4, s // 4),
    ]


def test_width_changing_cell_is_built_as_nats_bench_builds_it():
    """Cell 8 -> 40 of configuration 284: the edges leaving node 0 take 8 channels (the skip
    becomes a 1x1 conv with BN), the others work at 40; state-dict names follow NATS-Bench."""
    net = NATSSizeNetwork("8:8:40:32:40")
    cell = net.cells[2]
    assert isinstance(cell, InferCell) and (cell.C_in, cell.C_out) == (8, 40)
    convs = {k: layer.op[1] for k, layer in enumerate(cell.layers) if isinstance(layer, ReLUConvBN)}
    # CELL edges in string order: 0->1 conv, 0->2 conv, 1->2 conv, 0->3 skip, 1->3 conv, 2->3 conv
    assert {k: (c.in_channels, c.out_channels) for k, c in convs.items()} == {
        0: (8, 40),
        1: (8, 40),
        2: (40, 40),
        4: (40, 40),
        5: (40, 40),
    }
    skip = cell.layers[3]
    assert isinstance(skip, FactorizedReduce)
    names = {
        n: tuple(p.shape) for n, p in net.state_dict().items() if n.startswith("cells.2.layers.3")
    }
    assert names == {
        "cells.2.layers.3.conv.weight": (40, 8, 1, 1),
        "cells.2.layers.3.bn.weight": (40,),
        "cells.2.layers.3.bn.bias": (40,),
        "cells.2.layers.3.bn.running_mean": (40,),
        "cells.2.layers.3.bn.running_var": (40,),
        "cells.2.layers.3.bn.num_batches_tracked": (),
    }
    # equal widths keep the identity skip
    assert isinstance(net.cells[0].layers[3], nn.Identity)


def test_width_changing_skip_is_conv_then_bn_without_relu():
    torch.manual_seed(1)
    fr = FactorizedReduce(3, 5, 1).eval()
    x = -torch.rand(2, 3, 4, 4)  # all negative: a ReLU first would zero it
    expected = fr.bn(nn.functional.conv2d(x, fr.conv.weight))
    torch.testing.assert_close(fr(x), expected)
    assert not torch.allclose(fr(x), fr.bn(torch.zeros(2, 5, 4, 4)))


def test_stride_two_factorized_reduce_splits_odd_widths():
    torch.manual_seed(2)
    fr = make_op("skip_connect", 4, 7, stride=2)
    assert isinstance(fr, FactorizedReduce)
    assert [c.out_channels for c in fr.convs] == [3, 4]
    x = torch.randn(2, 4, 8, 8)
    y = fr.eval()(x)
    assert y.shape == (2, 7, 4, 4)
    # ReLU first; the second half sees the input shifted by one pixel (bottom-right zero pad)
    relu = torch.relu(x)
    first = nn.functional.conv2d(relu, fr.convs[0].weight, stride=2)
    shifted = nn.functional.pad(relu, (0, 1, 0, 1))[:, :, 1:, 1:]
    second = nn.functional.conv2d(shifted, fr.convs[1].weight, stride=2)
    torch.testing.assert_close(y, fr.bn(torch.cat([first, second], 1)))
    assert count_parameters(fr) == 4 * 3 + 4 * 4 + 2 * 7
    with pytest.raises(ValueError, match="stride must be 1 or 2"):
        FactorizedReduce(4, 4, 3)


def test_other_ops_across_a_width_change():
    pool = make_op("avg_pool_3x3", 4, 6)
    assert isinstance(pool, Pooling) and isinstance(pool.preprocess, ReLUConvBN)
    assert count_parameters(pool) == 4 * 6 + 2 * 6
    zero = make_op("none", 4, 6)
    assert isinstance(zero, Zero) and zero(torch.ones(2, 4, 5, 5)).shape == (2, 6, 5, 5)
    assert make_op("skip_connect", 6, 6).__class__ is nn.Identity


def test_empty_node_gives_zeros_at_the_output_width():
    empty = Arch.from_string("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    cell = InferCell(empty, 4, 12)
    y = cell(torch.randn(2, 4, 6, 6))
    assert y.shape == (2, 12, 6, 6) and not y.any()
    # node 3 fed only by a dead node: the 1x1 conv runs on zeros at width 12 (BN shift survives)
    dead = Arch.from_string("|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_1x1~2|")
    cell = InferCell(dead, 4, 12)
    assert cell.layers[5].op[1].in_channels == 12
    assert cell.eval()(torch.randn(2, 4, 6, 6)).shape == (2, 12, 6, 6)


def test_random_configurations_forward_and_count():
    for config in sample(6, seed=11):
        net = NATSSizeNetwork(config)
        assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)
        assert count_parameters(net) == nats_sss_num_params(config)


def test_space_builds_the_network():
    net = get_space("nats-sss").build_network("8:8:8:16:32", num_classes=100)
    assert isinstance(net, NATSSizeNetwork) and net.num_classes == 100
    assert net.config.index == 11 and net.arch.to_string() == CELL
    assert isinstance(build_network(0), NATSSizeNetwork)


def test_channel_layout_generalises_the_nb201_layout():
    assert channel_layout([16] * 5 + [32] * 6 + [64] * 6) == cell_layout(16, 5)
    net = NB201Network(6111, C=4, N=2)
    assert net.channels == (4, 4, 8, 8, 8, 16, 16, 16)
    for bad in (
        [8, 8, 8],
        [8, 8, 8, 8],
        [],
        [8, 0, 8, 8, 8],
        [8, 8.0, 8, 8, 8],
        [8, True, 8, 8, 8],
    ):
        with pytest.raises(ValueError):
            channel_layout(bad)


def test_nb201_counts_are_unchanged_by_the_width_extension():
    """Known NB201 counts (the benchmark's params) still hold: the docstring example and the
    three real tss records."""
    assert nb201_num_params(6111) == 1073466
    assert [nb201_num_params(a) for a in (0, 11, 284)] == [129306, 802426, 101306]


def test_nats_network_state_dict_round_trip():
    a, b = NATSSizeNetwork(284), NATSSizeNetwork(284)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(a.eval()(x), b.eval()(x))
    assert not np.array_equal(
        NATSSizeNetwork(11).state_dict()["classifier.weight"].shape,
        a.state_dict()["classifier.weight"].shape,
    )
