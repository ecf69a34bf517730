"""Naive, literal re-statements of the reference zero-cost measures, the oracles of the tests.

Each follows its reference's code path (SamsungLabs/zero-cost-nas ``foresight/pruners/measures``,
Apache-2.0; NASLib ``epe_nas.py`` / ``l2_norm.py`` / ``nwot.py``) rather than the package's
fused implementation: a fresh forward per measure, SNIP through a multiplicative weight mask,
fisher through identity modules with backward hooks and per-weight broadcasting, synflow on a
network rebuilt without BN with signs saved and restored, GraSP with its own two passes.
"""

from __future__ import annotations

import copy
import types

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _layers(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def grad_norm(net, x, y):
    net = copy.deepcopy(net).train()
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return sum(
        float(m.weight.grad.norm()) if m.weight.grad is not None else 0.0 for m in _layers(net)
    )


def snip(net, x, y):
    net = copy.deepcopy(net).train()
    for m in _layers(net):
        m.weight_mask = nn.Parameter(torch.ones_like(m.weight))
        m.weight.requires_grad = False
        if isinstance(m, nn.Conv2d):

            def fwd(self, inp):
                return F.conv2d(inp, self.weight * self.weight_mask, self.bias, self.stride,
                                self.padding, self.dilation, self.groups)  # fmt: skip
        else:

            def fwd(self, inp):
                return F.linear(inp, self.weight * self.weight_mask, self.bias)

        m.forward = types.MethodType(fwd, m)
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return sum(
        float(m.weight_mask.grad.abs().sum())
        for m in _layers(net)
        if m.weight_mask.grad is not None
    )


def plain(net, x, y):
    net = copy.deepcopy(net).train()
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return sum(
        float((m.weight.grad * m.weight.detach()).sum())
        for m in _layers(net)
        if m.weight.grad is not None
    )


def fisher(net, x, y):
    net = copy.deepcopy(net).train()
    for m in _layers(net):
        m.fisher = None
        m.dummy = nn.Identity()
        if isinstance(m, nn.Conv2d):

            def fwd(self, inp):
                out = F.conv2d(inp, self.weight, self.bias, self.stride, self.padding,
                               self.dilation, self.groups)  # fmt: skip
                self.act = self.dummy(out)
                return self.act
        else:

            def fwd(self, inp):
                self.act = self.dummy(F.linear(inp, self.weight, self.bias))
                return self.act

        m.forward = types.MethodType(fwd, m)

        def hook_factory(layer):
            def hook(module, grad_input, grad_output):
                act = layer.act.detach()
                grad = grad_output[0].detach()
                g_nk = (
                    torch.sum(act * grad, list(range(2, len(act.shape))))
                    if act.dim() > 2
                    else act * grad
                )
                del_k = g_nk.pow(2).mean(0).mul(0.5)
                layer.fisher = del_k if layer.fisher is None else layer.fisher + del_k

            return hook

        m.dummy.register_full_backward_hook(hook_factory(m))
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    total = 0.0
    for m in _layers(net):
        ch = m.fisher.abs() if m.fisher is not None else torch.zeros(m.weight.shape[0])
        # broadcast each channel's value to its weights (reshape_elements), then sum_arr
        per_weight = torch.stack([torch.full(m.weight.shape[1:], float(v)) for v in ch])
        total += float(per_weight.double().sum())
    return total


def grasp(net, x, y):
    net = copy.deepcopy(net).train()
    weights = [m.weight for m in _layers(net)]
    net.zero_grad()
    grad_w = list(torch.autograd.grad(F.cross_entropy(net(x), y), weights, allow_unused=True))
    grad_f = torch.autograd.grad(F.cross_entropy(net(x), y), weights, create_graph=True,
                                 allow_unused=True)  # fmt: skip
    z = 0
    for gw, gf in zip(grad_w, grad_f):
        if gw is not None:
            z += (gw.data * gf).sum()
    z.backward()
    return sum(
        float((-m.weight.data * m.weight.grad).sum())
        for m in _layers(net)
        if m.weight.grad is not None
    )


def _jacobian(net, x):
    net = copy.deepcopy(net).train()
    net.zero_grad()
    x = x.clone().requires_grad_(True)
    out = net(x)
    out.backward(torch.ones_like(out))
    return x.grad.detach().reshape(x.shape[0], -1).numpy()


def jacob_cov(net, x, y):
    jac = _jacobian(net, x)
    corrs = np.corrcoef(jac)
    v, _ = np.linalg.eig(corrs)
    k = 1e-5
    return float(np.real(-np.sum(np.log(v + k) + 1.0 / (v + k))))


def epe_nas(net, x, y, n_classes):
    jacob = _jacobian(net, x)
    labels = [y.numpy()]
    k = 1e-5
    per_class = {}
    for i, label in enumerate(labels[0]):
        if label in per_class:
            per_class[label] = np.vstack((per_class[label], jacob[i]))
        else:
            per_class[label] = jacob[i]
    ind = {}
    for c in per_class:
        corrs = np.array(np.corrcoef(per_class[c]))
        s = np.sum(np.log(abs(corrs) + k))
        if n_classes > 100:
            s /= len(corrs)
        ind[c] = s
    score = 0
    if n_classes <= 100:
        for c in ind:
            score += np.absolute(ind[c])
    else:
        for c in ind:
            for cj in ind:
                score += np.absolute(ind[c] - ind[cj])
        score /= len(ind)
    return float(score)


def naswot(net, x):
    net = copy.deepcopy(net).train()
    n = x.shape[0]
    net.K = np.zeros((n, n))

    def hook(module, inp, out):
        inp = inp[0].reshape(inp[0].size(0), -1)
        c = (inp > 0).float()
        net.K = net.K + (c @ c.t()).numpy() + ((1.0 - c) @ (1.0 - c.t())).numpy()

    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(hook)
    with torch.no_grad():
        net(x.clone())
    return float(np.linalg.slogdet(net.K)[1])


def synflow(net_without_bn, shape):
    """``net_without_bn``: the same network built without BN, weights copied."""
    net = net_without_bn.train()

    @torch.no_grad()
    def linearize(net):
        signs = {}
        for name, param in net.state_dict().items():
            signs[name] = torch.sign(param)
            param.abs_()
        return signs

    signs = linearize(net)
    net.zero_grad()
    net.double()
    out = net(torch.ones([1, *shape]).double())
    torch.sum(out).backward()
    total = sum(
        float((m.weight.detach() * m.weight.grad).abs().sum())
        for m in _layers(net)
        if m.weight.grad is not None
    )
    with torch.no_grad():
        for name, param in net.state_dict().items():
            param.mul_(signs[name].to(param.dtype))
    return total


def l2_norm(net):
    return sum(float(m.weight.detach().norm()) for m in _layers(net))
