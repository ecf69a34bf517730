"""FLOPs of a real torch module, measured with forward hooks on one batch.

:func:`count_flops` runs the module once (eval mode, no gradients) and counts every call of a
leaf module from the tensors it actually saw, under one of two conventions:

``"nats"`` (default)
    NATS-Bench / NAS-Bench-201's ``get_model_infos`` (``xautodl/utils/flop_benchmark.py``):
    ``Conv2d`` multiply-adds (``k_h * k_w * C_in * C_out / groups`` per output pixel, plus one per
    output element for a bias) and ``Linear`` (``in * out``, plus ``out`` for a bias). Pooling,
    BN and activations count 0.
``"naslib"``
    NAS-Bench-Suite-Zero's ``flops`` (NASLib via tensorwatch's ``ModelStats``): convolutions as
    above; ``Linear`` without its bias; ``BatchNorm2d`` 2 per input element (1 without affine
    parameters); ``ReLU`` 1 per input element; ``AvgPool2d`` / ``MaxPool2d`` ``k * k`` per output
    element; ``AdaptiveAvgPool2d`` to 1x1 ``C * (H + 1) * (W + 1)``.

The result is per image, in MFLOPs (the benchmarks' unit). The architecture-only counter
:mod:`nasbench_tools.spaces.costs` gives the same numbers without torch; the tests hold the two
equal on many networks and both equal to the real records.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..errors import NasbenchToolsError

__all__ = ["HOOK_CONVENTIONS", "FlopCounter", "count_flops", "counting_flops"]


def _conv(m: nn.Conv2d, x: torch.Tensor, y: torch.Tensor) -> int:
    kh, kw = m.kernel_size
    per_position = kh * kw * m.in_channels * m.out_channels // m.groups
    positions = y.shape[0] * y.shape[2] * y.shape[3]
    bias = m.out_channels * positions if m.bias is not None else 0
    return per_position * positions + bias


def _linear_with_bias(m: nn.Linear, x: torch.Tensor, y: torch.Tensor) -> int:
    rows = y.numel() // m.out_features
    return rows * m.in_features * m.out_features + (
        rows * m.out_features if m.bias is not None else 0
    )


def _linear_no_bias(m: nn.Linear, x: torch.Tensor, y: torch.Tensor) -> int:
    return (y.numel() // m.out_features) * m.in_features * m.out_features


def _bn(m: nn.BatchNorm2d, x: torch.Tensor, y: torch.Tensor) -> int:
    return x.numel() * (2 if m.affine else 1)


def _elementwise(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    return x.numel()


def _pool(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    k = m.kernel_size
    kh, kw = (k, k) if isinstance(k, int) else k
    return kh * kw * y.numel()


def _adaptive_pool(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    # tensorwatch's window arithmetic: (end - start + 1) rows and columns per output cell
    h, w = x.shape[2], x.shape[3]
    oh, ow = y.shape[2], y.shape[3]
    total = 0
    for i in range(oh):
        rows = math.ceil((i + 1) * h / oh) - math.floor(i * h / oh) + 1
        for j in range(ow):
            cols = math.ceil((j + 1) * w / ow) - math.floor(j * w / ow) + 1
            total += rows * cols
    return x.shape[0] * x.shape[1] * total


Counter = Callable[[nn.Module, torch.Tensor, torch.Tensor], int]

#: Convention -> ordered (module type, counter) rules; the first matching type counts.
HOOK_CONVENTIONS: dict[str, tuple[tuple[type, Counter], ...]] = {
    "nats": ((nn.Conv2d, _conv), (nn.Linear, _linear_with_bias)),
    "naslib": (
        (nn.Conv2d, _conv),
        (nn.Linear, _linear_no_bias),
        (nn.BatchNorm2d, _bn),
        (nn.ReLU, _elementwise),
        ((nn.AvgPool2d, nn.MaxPool2d), _pool),
        (nn.AdaptiveAvgPool2d, _adaptive_pool),
    ),
}


def _rules(convention: str) -> tuple:
    try:
        return HOOK_CONVENTIONS[convention]
    except (KeyError, TypeError):
        raise NasbenchToolsError(
            f"unknown FLOP convention {convention!r}; known: {', '.join(HOOK_CONVENTIONS)}"
        ) from None


class FlopCounter:
    """Forward hooks counting FLOPs under one convention while they are registered (see
    :func:`counting_flops`); ``mflops(batch)`` is the count per image so far."""

    def __init__(self, model: nn.Module, convention: str):
        rules = _rules(convention)
        self.total = 0
        self.handles = []
        for m in model.modules():
            for types, counter in rules:
                if isinstance(m, types):
                    self.handles.append(m.register_forward_hook(self._hook(counter)))
                    break

    def _hook(self, counter: Counter):
        def fn(m, args, out):
            self.total += counter(m, args[0], out)

        return fn

    def mflops(self, batch: int) -> float:
        return self.total / batch / 1e6

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


@contextmanager
def counting_flops(model: nn.Module, convention: str = "nats") -> Iterator[FlopCounter]:
    """Count the FLOPs of whatever forward passes of ``model`` run inside the block (the hooks
    are removed on leaving it, also on an error). The counts depend only on the shapes the layers
    see, so a forward done for another purpose (synflow's) can serve."""
    counter = FlopCounter(model, convention)
    try:
        yield counter
    finally:
        counter.remove()


def count_flops(
    model: nn.Module, inputs: torch.Tensor | None = None, convention: str = "nats"
) -> float:
    """MFLOPs per image of one forward pass of ``model`` under ``convention``.

    ``inputs`` defaults to ``model.example_input(1)`` (the NB201 / NATS-sss networks have it).
    The model runs in eval mode without gradients; its training mode is restored afterwards and
    every hook is removed, also when the forward pass fails.
    """
    _rules(convention)
    if inputs is None:
        if not hasattr(model, "example_input"):
            raise NasbenchToolsError(
                f"{type(model).__name__} has no example_input(); pass inputs= (a batch)"
            )
        inputs = model.example_input(1, device=next(model.parameters()).device)
    was_training = model.training
    try:
        model.eval()
        with counting_flops(model, convention) as counter, torch.no_grad():
            model(inputs)
    finally:
        model.train(was_training)
    return counter.mflops(inputs.shape[0])
