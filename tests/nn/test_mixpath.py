"""MixPath NB101 supernet: sub-space size, NB101 identity, and shadow BN really used in forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasbench_tools.errors import InvalidChoiceError
from nasbench_tools.nn.nb101_mixpath import (
    ALTERNATIVES,
    MixPathNB101Supernet,
    count_distinct_graphs,
)
from nasbench_tools.nn.norms import NoPathNorm, ShadowBatchNorm, SingleBatchNorm
from nasbench_tools.spaces.nb101 import CONV1X1, CONV3X3, MAXPOOL3X3, ModelSpec


def _net(bn="shadow", num_nodes=4, **kw):
    torch.manual_seed(0)
    return MixPathNB101Supernet(
        num_nodes=num_nodes,
        bn=bn,
        stem_channels=4,
        num_stacks=2,
        cells_per_stack=1,
        image_size=8,
        **kw,
    )


def _choice(net, nodes, ops):
    c = net.space.empty(1)
    c[0, 0, list(nodes)] = ops
    return c


@pytest.mark.parametrize(("m", "subnets", "graphs"), [(3, 63, 19), (4, 255, 34)])
def test_sub_space_sizes(m, subnets, graphs):
    assert count_distinct_graphs(m) == {"subnetworks": subnets, "graphs": graphs}


def test_spec_of_is_the_nb101_cell():
    net = _net()
    c = _choice(net, [0, 2], [1, 2])  # node 0 conv3x3, node 2 maxpool
    expected = ModelSpec(
        [
            [0, 1, 1, 0, 0],
            [0, 0, 0, 1, 0],
            [0, 0, 0, 1, 0],
            [0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0],
        ],
        ["input", CONV3X3, MAXPOOL3X3, CONV1X1, "output"],
    )
    assert net.spec_of(c).hash == expected.hash
    assert net.arch_key(c) == expected.hash
    # the same op set on other nodes is the same graph
    assert net.arch_key(_choice(net, [1, 3], [2, 1])) == expected.hash
    assert ALTERNATIVES == (CONV1X1, CONV3X3, MAXPOOL3X3)


def test_per_cell_choices_run_but_have_no_single_spec():
    net = _net()
    c = np.repeat(_choice(net, [0], [0]), len(net.cells), axis=0)
    c[1, 0, :] = [-1, 1, -1, -1]
    assert net(torch.randn(2, 3, 8, 8), c).shape == (2, 10)
    assert net.spec_of(c) is None


def test_empty_choice_raises():
    net = _net()
    with pytest.raises(InvalidChoiceError):
        net(torch.randn(2, 3, 8, 8), net.space.empty(1))


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_shadow_bn_k_changes_k_path_outputs_and_only_those(mode):
    """Perturb BN_k (affine parameters) in every cell: outputs of k-path choices change, outputs of
    choices with any other number of paths do not."""
    net = _net("shadow")
    net.train(mode == "train")
    x = torch.randn(4, 3, 8, 8)
    choices = {k: _choice(net, range(k), [1] * k) for k in range(1, 5)}
    with torch.no_grad():
        base = {k: net(x, c) for k, c in choices.items()}
    for k in range(1, 5):
        saved = {name: t.clone() for name, t in net.state_dict().items()}
        with torch.no_grad():
            for cell in net.cells:
                assert isinstance(cell.norm, ShadowBatchNorm)
                cell.norm.bns[k - 1].weight.mul_(3.0)
                cell.norm.bns[k - 1].bias.add_(0.5)
            out = {j: net(x, c) for j, c in choices.items()}
        for j in choices:
            if j == k:
                assert not torch.allclose(out[j], base[j]), (k, j)
            else:
                assert torch.equal(out[j], base[j]), (k, j)
        net.load_state_dict(saved)


def test_shadow_bn_running_stats_are_per_count():
    net = _net("shadow").train()
    x = torch.randn(4, 3, 8, 8)
    net(x, _choice(net, [0, 1], [0, 0]))
    bns = net.cells[0].norm.bns
    assert int(bns[1].num_batches_tracked) == 1
    assert all(int(bns[i].num_batches_tracked) == 0 for i in (0, 2, 3))


def test_single_and_none_variants():
    single, none = _net("single"), _net("none")
    assert isinstance(single.cells[0].norm, SingleBatchNorm)
    assert isinstance(none.cells[0].norm, NoPathNorm)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in none.cells[0].norm.modules())
    x = torch.randn(4, 3, 8, 8)
    single.train()
    single(x, _choice(single, [0], [0]))
    single(x, _choice(single, [0, 1, 2], [0, 0, 0]))
    assert int(single.cells[0].norm.bn.num_batches_tracked) == 2
    assert none(x, _choice(none, [3], [2])).shape == (4, 10)


def test_mixpath_reference_macro_shape():
    with torch.device("meta"):
        net = MixPathNB101Supernet()  # 128 -> 256 -> 512, 9 cells, pools after cells 2 and 5
    assert len(net.cells) == 9
    assert net.classifier.in_features == 512
    assert net._pool_after == {2, 5}
    assert net.cells[3].fusion.in_channels == 256 and net.cells[2].fusion.in_channels == 128
