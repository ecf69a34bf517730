"""Ghost batch norm and the path-norm registry."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nasbench_tools.nn.norms import PATH_NORMS, GhostBatchNorm2d, ShadowBatchNorm, make_path_norm


def test_ghost_bn_normalises_each_ghost_batch_on_its_own():
    torch.manual_seed(0)
    gbn = GhostBatchNorm2d(3, ghost_size=4).train()
    x = torch.randn(10, 3, 5, 5) * 2 + 1
    out = gbn(x)
    for chunk_x, chunk_y in zip(x.split(4), out.split(4)):
        assert torch.allclose(chunk_y, F.batch_norm(chunk_x, None, None, training=True), atol=1e-5)
    # running stats: one update with the mean over chunks of chunk mean / unbiased var
    means = torch.stack([c.mean((0, 2, 3)) for c in x.split(4)]).mean(0)
    vars_ = torch.stack([c.var((0, 2, 3)) for c in x.split(4)]).mean(0)
    assert torch.allclose(gbn.running_mean, 0.1 * means, atol=1e-6)
    assert torch.allclose(gbn.running_var, 0.9 + 0.1 * vars_, atol=1e-6)
    assert int(gbn.num_batches_tracked) == 1


def test_ghost_bn_small_batch_and_eval_are_plain_bn():
    torch.manual_seed(0)
    gbn, bn = GhostBatchNorm2d(3, ghost_size=8), torch.nn.BatchNorm2d(3)
    x = torch.randn(6, 3, 4, 4)
    assert torch.allclose(gbn(x), bn(x))
    assert torch.allclose(gbn.running_mean, bn.running_mean)
    gbn.eval(), bn.eval()
    x = torch.randn(20, 3, 4, 4)
    assert torch.allclose(gbn(x), bn(x))


def test_ghost_bn_gradients_flow():
    gbn = GhostBatchNorm2d(2, ghost_size=2)
    x = torch.randn(6, 2, 3, 3, requires_grad=True)
    gbn(x).pow(2).sum().backward()
    assert x.grad is not None and gbn.weight.grad is not None


def test_path_norm_registry():
    assert set(PATH_NORMS) == {"none", "single", "shadow"}
    with pytest.raises(ValueError, match="unknown path norm"):
        make_path_norm("group", 4, 2)
    sbn = make_path_norm("shadow", 4, 3)
    assert isinstance(sbn, ShadowBatchNorm) and len(sbn.bns) == 3
    with pytest.raises(ValueError, match="k=4"):
        sbn(torch.randn(2, 4, 3, 3), 4)
    x = torch.randn(2, 4, 3, 3)
    assert torch.equal(make_path_norm("none", 4, 3)(x, 2), x)
