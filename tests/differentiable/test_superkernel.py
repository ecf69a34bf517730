"""Single-Path NAS superkernels: the forward pass is the 1x1 or 3x3 conv it selects, the
indicator is exact forward with the sigmoid's gradient, and the cost term uses the toolkit's own
parameter and FLOP counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nasbench_tools.differentiable import SuperConv, SuperkernelNB201, op_costs
from nasbench_tools.differentiable.weights import indicator
from nasbench_tools.nn.flops import count_flops
from nasbench_tools.nn.nb201 import NB201Network
from nasbench_tools.nn.params import nb201_num_params
from nasbench_tools.spaces.nb201 import Arch, all_archs

OPTS = {"C": 4, "N": 1, "num_classes": 10, "in_channels": 1, "image_size": 8}


@pytest.mark.parametrize("train", [True, False])
def test_superkernel_forward_equals_the_conv_it_selects(train):
    torch.manual_seed(0)
    sk = SuperConv(6).train(train)
    with torch.no_grad():
        sk.op[2].running_mean.uniform_(-1, 1)
        sk.op[2].running_var.uniform_(0.5, 2)
    x = torch.randn(3, 6, 7, 7)
    w = sk.weight.detach()
    for g, kernel, pad in ((0.0, w[:, :, 1:2, 1:2], 0), (1.0, w, 1)):
        ref = F.batch_norm(
            F.conv2d(F.relu(x), kernel, padding=pad), sk.op[2].running_mean,
            sk.op[2].running_var, training=train, eps=sk.op[2].eps,
        )  # fmt: skip
        got = sk(x, torch.tensor(g))
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_indicator_is_exact_forward_with_the_sigmoid_gradient():
    d = torch.tensor([-2.0, -1e-9, 0.0, 0.3, 5.0], requires_grad=True)
    g = indicator(d)
    assert g.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    g.sum().backward()
    s = torch.sigmoid(d.detach())
    torch.testing.assert_close(d.grad, s * (1 - s))


def test_gates_read_the_mean_outer_norm_over_cells_against_the_threshold():
    torch.manual_seed(0)
    m = SuperkernelNB201(**OPTS)
    outer, _ = m.norms()
    cells = m._cells()
    k = 2
    expect = np.mean([float(c.edge(k)["conv"].outer_norm().detach()) for c in cells])
    assert float(outer[k].detach()) == pytest.approx(expect)
    with torch.no_grad():
        m.t[k] = outer[k] + 1e-3  # just above the mean norm: the 3x3 ring is off on that edge
    g, _ = m.gates()
    assert g.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    g.sum().backward()
    assert m.t.grad[k] < 0 and all(c.edge(k)["conv"].weight.grad is not None for c in cells)


@pytest.mark.parametrize("kind", ["params", "flops"])
def test_op_costs_add_up_to_the_networks_own_count(kind):
    base, per_op = op_costs(kind, **OPTS)
    rng = np.random.default_rng(0)
    for index in rng.choice(15625, size=4, replace=False):
        arch = all_archs()[int(index)]
        if kind == "params":
            truth = nb201_num_params(arch, 4, 1, 10, 1)
        else:
            truth = count_flops(NB201Network(arch, 4, 1, 10, 1, 8))
        assert base + sum(per_op[o] for o in arch.ops) == pytest.approx(truth, rel=1e-12)


@pytest.mark.parametrize(("free_ops", "kind"), [("softmax", "params"), ("exclude", "flops")])
def test_hard_choices_cost_exactly_the_selected_network(free_ops, kind):
    torch.manual_seed(0)
    m = SuperkernelNB201(**OPTS, free_ops=free_ops, cost=kind, cost_lambda=0.1)
    with torch.no_grad():
        outer, centre = m.norms()
        m.t.copy_(outer + torch.tensor([1, -1, 1, -1, 1, -1]) * 1e-3)  # 1x1 on even edges
        if free_ops == "exclude":
            m.t0.copy_(centre + torch.tensor([-1, -1, 1, -1, -1, 1]) * 1e-3)  # 2 edges off
            weights = None
        else:
            weights = torch.zeros(6, 4)
            weights[range(6), [2, 2, 1, 2, 3, 0]] = 1.0  # conv, conv, skip, conv, pool, none
    arch = Arch.from_ops(m.hard_choice(weights))
    if free_ops == "exclude":
        assert arch.ops == (
            "nor_conv_1x1",
            "nor_conv_3x3",
            "none",
            "nor_conv_3x3",
            "nor_conv_1x1",
            "none",
        )
        truth = count_flops(NB201Network(arch, 4, 1, 10, 1, 8))
    else:
        assert arch.ops == (
            "nor_conv_1x1",
            "nor_conv_3x3",
            "skip_connect",
            "nor_conv_3x3",
            "avg_pool_3x3",
            "none",
        )
        truth = nb201_num_params(arch, 4, 1, 10, 1)
    assert float(m.cost(weights)) == pytest.approx(truth, rel=1e-12)
    assert float(m.extra_loss(weights)) == pytest.approx(0.1 * np.log(truth), rel=1e-6)


def test_cost_term_pushes_thresholds_up_and_conv_weight_down():
    torch.manual_seed(0)
    m = SuperkernelNB201(**OPTS, cost="params", cost_lambda=1.0)
    weights = torch.softmax(m.alpha, dim=-1)
    m.extra_loss(weights).backward()
    assert (m.t.grad < 0).all()  # raising t turns 3x3 into 1x1: cheaper
    assert (m.alpha.grad[:, 2] > 0).all()  # less weight on the conv: cheaper


def test_superkernel_search_runs_and_selects_from_its_gates(tiny, tmp_path):
    from nasbench_tools.differentiable import run_search

    res = run_search(tiny("single-path", cost_lambda=0.05, epochs=1), tmp_path / "r",
                     progress=False, ground_truths=())  # fmt: skip
    sel = res.result["selected"]
    assert sel["rule"] == "superkernel" and len(sel["ring_indicator"]) == 6
    for op, ring in zip(sel["ops"], sel["ring_indicator"]):
        if op.startswith("nor_conv"):
            assert op == ("nor_conv_3x3" if ring else "nor_conv_1x1")


def test_exclude_rule_switches_an_edges_conv_off_by_its_centre_norm():
    torch.manual_seed(0)
    m = SuperkernelNB201(**OPTS, free_ops="exclude").eval()
    x = torch.randn(2, 1, 8, 8)
    _, centre = m.norms()
    with torch.no_grad():
        m.t0.copy_(centre.detach() + 1e-3)  # every conv off: every edge is `none`
    off = m(x, None, None)
    with torch.no_grad():
        for cell in m._cells():
            for k in range(6):
                cell.edge(k)["conv"].weight.mul_(1.0001)  # norms move less than the margin
    assert torch.equal(m(x, None, None), off)  # the convs contribute nothing
    assert m.hard_choice(None) == ("none",) * 6
    with torch.no_grad():
        m.t0.fill_(-1.0)  # every conv on
    assert not torch.allclose(m(x, None, None), off)
