"""NB201 ops: the pooling op's channels-last fast path gives the plain op's values bit for bit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nasbench_tools.nn.ops import Pooling


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("shape", [(5, 4, 9, 9), (64, 16, 32, 32), (1, 8, 7, 6)])
def test_pooling_equals_plain_avg_pool_forward_and_backward(shape, stride, dtype):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen, dtype=dtype)
    ours = Pooling(shape[1], shape[1], stride).to(dtype)
    plain = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ours(xa), plain(xb)
    assert ya.is_contiguous() and ya.shape == yb.shape
    assert torch.equal(ya, yb)
    g = torch.randn(yb.shape, generator=gen, dtype=dtype)
    ya.backward(g)
    yb.backward(g)
    assert torch.equal(xa.grad, xb.grad)
