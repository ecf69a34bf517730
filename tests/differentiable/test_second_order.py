"""DARTS's second-order architecture gradient against finite differences of the unrolled loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nasbench_tools.differentiable import MixedNB201, unrolled_arch_gradient
from nasbench_tools.differentiable import architect as architect_mod


def _problem(seed=0):
    torch.manual_seed(seed)
    model = MixedNB201(C=2, N=1, num_classes=3, in_channels=1, image_size=8, alpha_init_std=0.5)
    model = model.double().train()
    on = np.ones((6, 5), dtype=bool)
    xt, yt = torch.randn(6, 1, 8, 8, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    xv, yv = torch.randn(6, 1, 8, 8, dtype=torch.float64), torch.tensor([2, 1, 0, 2, 0, 1])

    def loss(x, y, alpha):
        return F.cross_entropy(model(x, F.softmax(alpha, dim=-1), on), y)

    return model, loss, (xt, yt), (xv, yv)


def _unrolled_loss(model, loss, train, valid, alpha, eta, momentum, wd, buffers):
    """The exact objective DARTS differentiates: L_val(w - eta (m buf + dL_train/dw + wd w))."""
    weights = model.weight_parameters()
    saved = [p.detach().clone() for p in weights]
    g = torch.autograd.grad(loss(*train, alpha), weights, allow_unused=True)
    with torch.no_grad():
        for p, gi, b in zip(weights, g, buffers):
            gi = torch.zeros_like(p) if gi is None else gi
            p.sub_(eta * (momentum * b + gi + wd * p))
        value = float(loss(*valid, alpha))
        for p, w in zip(weights, saved):
            p.copy_(w)
    return value


def test_second_order_gradient_matches_finite_differences_of_the_unrolled_loss():
    # r (DARTS: 0.01 / ||v||) is made small: the tiny problem's ||v|| is small, and the central
    # difference of the Hessian-vector product is exact only as R -> 0 (float64 here)
    model, loss, train, valid = _problem()
    eta, momentum, wd = 0.5, 0.9, 0.05
    weights = model.weight_parameters()
    gen = torch.Generator().manual_seed(1)
    buffers = [0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in weights]
    alpha = model.alpha
    got, _ = unrolled_arch_gradient(
        weights, [alpha], lambda: loss(*train, alpha), lambda: loss(*valid, alpha),
        eta=eta, momentum=momentum, weight_decay=wd, momentum_buffers=buffers, r=1e-6,
    )  # fmt: skip
    h = 1e-5
    fd = torch.zeros_like(alpha)
    for idx in np.ndindex(*alpha.shape):
        values = []
        for sign in (1, -1):
            a = alpha.detach().clone()
            a[idx] += sign * h
            values.append(_unrolled_loss(model, loss, train, valid, a, eta, momentum, wd, buffers))
        fd[idx] = (values[0] - values[1]) / (2 * h)
    torch.testing.assert_close(got[0], fd, rtol=1e-5, atol=1e-8)
    # the Hessian term matters here: the first-order gradient is far from the finite differences
    first = torch.autograd.grad(loss(*valid, alpha), alpha)[0]
    assert (first - fd).abs().max() > 100 * (got[0] - fd).abs().max()


def test_unrolled_gradient_restores_the_weights_bit_for_bit():
    model, loss, train, valid = _problem(seed=3)
    weights = model.weight_parameters()
    before = [p.detach().clone() for p in weights]
    unrolled_arch_gradient(
        weights, [model.alpha], lambda: loss(*train, model.alpha),
        lambda: loss(*valid, model.alpha), eta=0.1,
    )  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(before, weights))


@pytest.mark.parametrize(("method", "calls"), [("darts-v2", 2), ("darts", 0)])
def test_second_order_method_steps_alpha_with_the_unrolled_gradient(
    method, calls, tiny, monkeypatch
):
    """darts-v2's architecture step uses the unrolled gradient, at the step's learning rate."""
    from nasbench_tools.differentiable.search import _setup

    seen = []
    real = architect_mod.unrolled_arch_gradient

    def spy(*args, **kwargs):
        seen.append(kwargs["eta"])
        return real(*args, **kwargs)

    monkeypatch.setattr(architect_mod, "unrolled_arch_gradient", spy)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        run = _setup(tiny(method), __import__("pathlib").Path(d), False)
        s = run.searcher
        batch = (torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 3]))
        alpha0 = s.model.alpha.detach().clone()
        for lr in (0.05, 0.02):
            s.step(batch, batch, lr)
    assert seen == [0.05, 0.02][:calls]
    assert not torch.equal(alpha0, s.model.alpha.detach())
