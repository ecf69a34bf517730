"""The zero-cost measures of one network at initialisation, with the passes they share.

Definitions follow SamsungLabs/zero-cost-nas (``foresight/pruners/measures``, Apache-2.0) and
NASLib's additions used by NAS-Bench-Suite-Zero (``l2_norm``, ``epe_nas``, ``nwot``), as
``shared/reference/method_spec.md`` section 9 states them. "Layers" are every ``Conv2d`` and
``Linear`` module; per-layer values are summed over layers (``sum_arr``).

Passes
------
:func:`data_pass` is the fused pass: one forward of the batch with the network in ``train()``
mode, in which forward hooks record the ReLU codes (NASWOT) and the conv/linear outputs
(fisher); then the cross-entropy backward, which gives every weight gradient (grad_norm, snip,
plain; GraSP's first gradient) and, through tensor hooks, the gradient at every conv/linear
output (fisher); then, from the same graph, the input gradient of the summed outputs
(jacob_cov, epe_nas). Each quantity is only computed if a measure asks for it, and asking for
one measure alone runs exactly the part of the pass it needs, so fused and one-at-a-time give
the same numbers. :func:`synflow` (a BN-free double-precision copy, all-ones input) and
:func:`grasp` (a Hessian-gradient product) have passes of their own.
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "PassResult",
    "binary_code_kernel",
    "data_pass",
    "epe_nas_score",
    "grasp",
    "jacob_cov_score",
    "layers",
    "naswot_kernel",
    "synflow",
]

#: Tuple of the layer types the measures sum over.
LAYER_TYPES = (nn.Conv2d, nn.Linear)


def layers(net: nn.Module) -> list[nn.Module]:
    """The network's conv and linear modules, in ``modules()`` order."""
    return [m for m in net.modules() if isinstance(m, LAYER_TYPES)]


@dataclass
class PassResult:
    """What :func:`data_pass` computed (``None`` where not asked for)."""

    weight_grads: list[torch.Tensor | None] | None = None
    fisher: float | None = None
    input_grad: np.ndarray | None = None
    naswot_kernel: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


#: Below this code length a float32 product of 0/1 codes is exact (every partial sum is an
#: integer under 2**24).
_EXACT_FLOAT32 = 2**24


def binary_code_kernel(codes: torch.Tensor) -> torch.Tensor:
    """``c c^T + (1 - c)(1 - c)^T`` of binary codes ``c`` (N x D, bool), float64: the number of
    units on which two inputs agree. Computed as ``2 c c^T + D - |c_i| - |c_j|`` (one product
    instead of two), in float32 where that is exact (D < 2**24), so the result equals the two
    float64 products exactly."""
    d = codes.shape[1]
    dtype = torch.float32 if d < _EXACT_FLOAT32 else torch.float64
    c = codes.to(dtype)
    same = (c @ c.T).to(torch.float64)
    ones = codes.sum(1, dtype=torch.float64)
    return 2.0 * same + d - ones[:, None] - ones[None, :]


class _ReluCodes:
    """Forward hooks on every ``nn.ReLU`` accumulating NASWOT's kernel
    ``K += c c^T + (1 - c)(1 - c)^T`` with ``c = 1[x > 0]`` of the ReLU's flattened input."""

    def __init__(self, net: nn.Module, n: int):
        self.K = torch.zeros(n, n, dtype=torch.float64)
        # id of a ReLU input -> (weak reference to it, its version, its term): the ReLUs of the
        # ops leaving one node all read that node's tensor, so its term is computed once and
        # added once per ReLU, as the reference adds it (the same sum, bit for bit)
        self._terms: dict[int, tuple] = {}
        self.handles = [
            m.register_forward_hook(self._hook) for m in net.modules() if isinstance(m, nn.ReLU)
        ]

    def _hook(self, module, inputs, output):
        # inputs[0] of an in-place ReLU is already rectified: (relu(x) > 0) == (x > 0)
        x = inputs[0]
        seen = self._terms.get(id(x))
        if seen is not None and seen[0]() is x and seen[1] == x._version:
            term = seen[2]
        else:
            with torch.no_grad():
                term = binary_code_kernel(x.detach().flatten(1) > 0)
            self._terms[id(x)] = (weakref.ref(x), x._version, term)
        self.K += term

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


class _Fisher:
    """Fisher information per channel (zero-cost-nas ``fisher.py``): for each layer output ``a``
    with gradient ``g``, ``0.5 * mean_n(sum_spatial a * g)^2`` per output channel, then broadcast
    to that channel's weights (``fan_in = prod(weight.shape[1:])`` of them) and summed, as the
    reference's ``reshape_elements`` + ``sum_arr`` do."""

    def __init__(self, net: nn.Module):
        self.total = torch.zeros((), dtype=torch.float64)
        self.active = True
        self.handles = [m.register_forward_hook(self._forward) for m in layers(net)]

    def _forward(self, module, inputs, output):
        if not output.requires_grad:
            return
        act = output.detach()
        fan_in = int(np.prod(module.weight.shape[1:]))

        def on_grad(grad):
            if self.active:
                g = grad.detach()
                g_nk = (act * g).sum(dim=tuple(range(2, act.dim()))) if act.dim() > 2 else act * g
                self.total += g_nk.pow(2).mean(0).mul(0.5).abs().sum().double() * fan_in

        output.register_hook(on_grad)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def data_pass(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    weight_grads: bool = False,
    fisher: bool = False,
    input_grad: bool = False,
    naswot: bool = False,
) -> PassResult:
    """One forward of ``x`` (``net`` in train mode) and the backwards the flags ask for."""
    net.train()
    res = PassResult()
    codes = _ReluCodes(net, x.shape[0]) if naswot else None
    fish = _Fisher(net) if fisher else None
    need_loss = weight_grads or fisher
    try:
        xin = x.detach().clone().requires_grad_(input_grad)
        with torch.set_grad_enabled(need_loss or input_grad):
            out = net(xin)
        if need_loss:
            net.zero_grad(set_to_none=True)
            loss = F.cross_entropy(out, y)
            loss.backward(retain_graph=input_grad)
            if weight_grads:
                res.weight_grads = [
                    None if m.weight.grad is None else m.weight.grad.detach().clone()
                    for m in layers(net)
                ]
        if fish is not None:
            fish.active = False
            res.fisher = float(fish.total)
        if input_grad:
            (g,) = torch.autograd.grad(
                out, xin, grad_outputs=torch.ones_like(out), allow_unused=True
            )
            if g is None:  # the output ignores the input (a cell cut off by `none` ops)
                g = torch.zeros_like(xin)
            res.input_grad = g.detach().reshape(g.shape[0], -1).double().numpy()
        if codes is not None:
            res.naswot_kernel = codes.K.numpy()
    finally:
        if codes is not None:
            codes.remove()
        if fish is not None:
            fish.remove()
        net.zero_grad(set_to_none=True)
    return res


def naswot_kernel(net: nn.Module, x: torch.Tensor) -> np.ndarray:
    """NASWOT's kernel from a forward of ``x`` alone (train mode, no gradients)."""
    return data_pass(net, x, torch.zeros(0), naswot=True).naswot_kernel


def naswot_score(K: np.ndarray) -> float:
    """``log|det K|`` (``np.linalg.slogdet``; ``-inf`` for a singular kernel)."""
    return float(np.linalg.slogdet(K)[1])


def jacob_cov_score(J: np.ndarray, k: float = 1e-5) -> float:
    """``-sum_i [log(l_i + k) + 1 / (l_i + k)]`` over the eigenvalues ``l_i`` of the
    correlation matrix of the per-example input gradients ``J`` (N x D). NaN where the
    correlations are undefined (a row of ``J`` constant: the output ignores that input)."""
    with np.errstate(all="ignore"):
        corrs = np.corrcoef(J)
    if not np.isfinite(corrs).all():
        return float("nan")
    v = np.linalg.eigvals(corrs)  # the reference's np.linalg.eig; real up to rounding
    return float(np.real(-np.sum(np.log(v + k) + 1.0 / (v + k))))


def epe_nas_score(J: np.ndarray, labels: np.ndarray, n_classes: int, k: float = 1e-5) -> float:
    """EPE-NAS (NASLib ``epe_nas.py``): per class, ``sum log(|corrcoef(J_class)| + k)``
    (divided by the matrix side above 100 classes); then the sum of the absolute per-class
    values (at most 100 classes) or the mean absolute pairwise difference (more)."""
    per_class: dict[int, float] = {}
    for c in np.unique(labels):  # classes in sorted order; the sum does not depend on it
        rows = J[labels == c]
        with np.errstate(all="ignore"):
            corrs = np.atleast_2d(np.corrcoef(rows)) if len(rows) > 1 else np.ones((1, 1))
            s = float(np.sum(np.log(np.abs(corrs) + k)))
        if n_classes > 100:
            s /= len(corrs)
        per_class[int(c)] = s
    vals = np.array(list(per_class.values()))
    if n_classes <= 100:
        return float(np.sum(np.abs(vals)))
    if len(vals) == 0:
        return 0.0
    return float(np.abs(vals[:, None] - vals[None, :]).sum() / len(vals))


def without_bn(net: nn.Module, inplace: bool = False) -> nn.Module:
    """``net`` (a deep copy unless ``inplace``) with every batch norm replaced by the identity
    (the reference's ``get_prunable_copy(bn=False)``, which builds the network without BN and
    copies the rest)."""
    if not inplace:
        net = copy.deepcopy(net)
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(parent, name, nn.Identity())
    return net


def synflow(net: nn.Module, shape: tuple[int, ...], inplace: bool = False) -> float:
    """SynFlow: on a BN-free double copy with every parameter replaced by its absolute value,
    ``sum |theta * dR/dtheta|`` over conv/linear weights, ``R`` the summed output of an all-ones
    input of ``shape`` (one image). ``net`` is not changed unless ``inplace`` (which saves the
    copy when the network is not needed afterwards)."""
    work = without_bn(net, inplace).double().train()
    with torch.no_grad():
        for t in work.state_dict().values():
            t.abs_()
    work.zero_grad(set_to_none=True)
    out = work(torch.ones((1, *shape[-3:]), dtype=torch.float64))
    out.sum().backward()
    total = torch.zeros((), dtype=torch.float64)
    for m in layers(work):
        if m.weight.grad is not None:
            total += (m.weight.detach() * m.weight.grad).abs().sum()
    return float(total)


def grasp(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    first_grads: list[torch.Tensor | None] | None = None,
) -> float:
    """GraSP (zero-cost-nas ``grasp.py``): ``sum -theta * (H g)`` over conv/linear weights,
    ``g`` the cross-entropy gradient (``first_grads``, from the fused pass where it ran, else
    computed here) and ``H g`` the Hessian-gradient product from a second forward."""
    net.train()
    weights = [m.weight for m in layers(net)]
    if first_grads is None:
        loss = F.cross_entropy(net(x), y)
        first_grads = list(torch.autograd.grad(loss, weights, allow_unused=True))
    net.zero_grad(set_to_none=True)
    loss = F.cross_entropy(net(x), y)
    grad_f = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    z = None
    for gw, gf in zip(first_grads, grad_f):
        if gw is not None and gf is not None:
            term = (gw.detach() * gf).sum()
            z = term if z is None else z + term
    total = torch.zeros((), dtype=torch.float64)
    if z is not None:
        z.backward()
        for w in weights:
            if w.grad is not None:
                total += (-w.detach() * w.grad).sum().double()
    net.zero_grad(set_to_none=True)
    return float(total)


def weight_grad_scores(
    net: nn.Module, grads: list[torch.Tensor | None], names: set[str]
) -> dict[str, float]:
    """grad_norm, snip and plain from the weight gradients of the cross-entropy loss."""
    out = {n: torch.zeros((), dtype=torch.float64) for n in ("grad_norm", "snip", "plain")}
    for m, g in zip(layers(net), grads):
        if g is None:
            continue
        w = m.weight.detach()
        out["grad_norm"] += g.norm().double()
        out["snip"] += (w * g).abs().sum().double()
        out["plain"] += (w * g).sum().double()
    return {n: float(v) for n, v in out.items() if n in names}


def l2_norm(net: nn.Module) -> float:
    """``sum_layers ||W||_2`` over conv/linear weights (NASLib ``l2_norm.py``)."""
    return float(sum(m.weight.detach().double().norm() for m in layers(net)))
