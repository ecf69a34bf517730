"""BatchNorm recalibration and child evaluation with supernet weights (method spec 4.3).

A supernet's BN running statistics are a mixture over every sub-network trained; before a child
is evaluated they are re-estimated for that child. Three published procedures are presets
(:data:`BN_PRESETS`):

=============  ==========================  ========  ===========  ======
preset         images                      batch     momentum     reset
=============  ==========================  ========  ===========  ======
``spos``       25,600 (200 x 128)          128       0.1 (EMA)    yes
``abs``        20,000                      512       0.1 (EMA)    yes
``mixpath``    all given (10k test set)    96        0.1 (EMA)    no
``cumulative`` 20,000                      512       cumulative   yes
=============  ==========================  ========  ===========  ======

``cumulative`` is the toolkit default proposed by the spec (PyTorch ``momentum=None``: an exact
average over the recalibration batches). Images are taken in the order given (ABS uses the first
20,000 training images); pass a shuffled or subset :class:`~nasbench_tools.datasets.ImageData`
for SPOS's random batches.

A preset forwards exactly its number of images: a calibration set with fewer raises
:class:`~nasbench_tools.errors.RecalibrationError` (pass more images, or a
:class:`BNRecalibration` with a smaller ``n_images``), never a silent smaller average.
:func:`recalibrate_bn` returns the count and :func:`evaluate` reports it.

:func:`bn_snapshot` saves and restores every BN's running statistics and momentum, so one
candidate's statistics never leak into the next: :func:`evaluate` always runs inside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..datasets import ImageData, iterate_batches
from ..errors import NasbenchToolsError, RecalibrationError
from ..registry import Registry

__all__ = [
    "BN_PRESETS",
    "BNRecalibration",
    "bn_layers",
    "bn_snapshot",
    "evaluate",
    "recalibrate_bn",
    "resolve_preset",
]


@dataclass(frozen=True)
class BNRecalibration:
    """One recalibration procedure.

    Attributes
    ----------
    n_images : int or None
        Images forwarded (``None``: every image given).
    batch_size : int
    momentum : float or None
        BN momentum during recalibration (``None``: cumulative moving average).
    reset : bool
        Reset running statistics (mean 0, variance 1) first.
    """

    n_images: int | None
    batch_size: int
    momentum: float | None
    reset: bool


#: name -> BNRecalibration (see the module docstring); an unknown name raises
#: :class:`~nasbench_tools.errors.RecalibrationError` listing the known ones.
BN_PRESETS: Registry[BNRecalibration] = Registry(
    "BN recalibration preset", error=RecalibrationError
)
BN_PRESETS.register(
    "spos", BNRecalibration(n_images=25_600, batch_size=128, momentum=0.1, reset=True)
)
BN_PRESETS.register(
    "abs", BNRecalibration(n_images=20_000, batch_size=512, momentum=0.1, reset=True)
)
BN_PRESETS.register(
    "mixpath", BNRecalibration(n_images=None, batch_size=96, momentum=0.1, reset=False)
)
BN_PRESETS.register(
    "cumulative", BNRecalibration(n_images=20_000, batch_size=512, momentum=None, reset=True)
)


def resolve_preset(preset: str | BNRecalibration) -> BNRecalibration:
    """``preset`` itself, or the preset of :data:`BN_PRESETS` it names."""
    if isinstance(preset, BNRecalibration):
        return preset
    return BN_PRESETS.get(preset)


def _size(images) -> int | None:
    """Images in a calibration set, or ``None`` for an iterable of batches (unknown ahead)."""
    if isinstance(images, ImageData | torch.Tensor):
        return len(images)
    return None


def _too_few(preset, p: BNRecalibration, have: int) -> RecalibrationError:
    name = preset if isinstance(preset, str) else "given"
    return RecalibrationError(
        f"BN recalibration preset {name!r} forwards {p.n_images:,} images but the calibration "
        f"set has {have:,}; pass more images, or a BNRecalibration with n_images <= {have:,}"
    )


def bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """Every BatchNorm of ``model`` that tracks running statistics."""
    return [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]


class bn_snapshot:  # a lowercase name: it is used as a function, `with bn_snapshot(model):`
    """Context manager: restore every BN's running mean/var, batch counter and momentum on exit
    (an exception included)."""

    def __init__(self, model: nn.Module):
        self.layers = bn_layers(model)
        self.saved = [
            (m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone(),
             m.momentum)
            for m in self.layers
        ]  # fmt: skip

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        with torch.no_grad():
            for m, (mean, var, count, momentum) in zip(self.layers, self.saved):
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(count)
                m.momentum = momentum


def _call(model: nn.Module, x: torch.Tensor, choice) -> torch.Tensor:
    return model(x) if choice is None else model(x, choice)


def _image_batches(images, batch_size: int, device) -> Iterable[torch.Tensor]:
    if isinstance(images, ImageData):
        for x, _ in iterate_batches(images, batch_size, device=device):
            yield x
    elif isinstance(images, torch.Tensor):
        for start in range(0, len(images), batch_size):
            yield images[start : start + batch_size].to(device)
    else:  # an iterable of batches, or of (x, y) pairs
        for item in images:
            yield (item[0] if isinstance(item, tuple | list) else item).to(device)


def recalibrate_bn(
    model: nn.Module,
    choice: np.ndarray | None,
    images,
    preset: str | BNRecalibration = "cumulative",
    device: torch.device | str | None = None,
) -> int:
    """Re-estimate BN running statistics of ``model`` (running ``choice``) in place.

    Parameters
    ----------
    model : nn.Module
        A supernet (called as ``model(x, choice)``) or a plain network (``choice=None``).
    choice : array or None
    images : ImageData, tensor of normalised images, or iterable of batches (or of (x, y) pairs)
    preset : str or BNRecalibration
        See :data:`BN_PRESETS`.

    Returns
    -------
    int
        Images forwarded: exactly the preset's ``n_images`` (every image given when it is
        ``None``). The model is left in eval mode; wrap the call in :func:`bn_snapshot` (as
        :func:`evaluate` does) to undo it.

    Raises
    ------
    RecalibrationError
        ``images`` holds fewer than the preset's ``n_images`` (checked before anything runs for
        :class:`~nasbench_tools.datasets.ImageData` and tensors, after the last batch for an
        iterable, whose statistics are then already changed), or no image at all.
    """
    p = resolve_preset(preset)
    have = _size(images)
    if have is not None and p.n_images is not None and have < p.n_images:
        raise _too_few(preset, p, have)
    device = device if device is not None else next(model.parameters()).device
    for m in bn_layers(model):
        if p.reset:
            m.reset_running_stats()
        m.momentum = p.momentum
    model.train()
    seen = 0
    with torch.no_grad():
        for x in _image_batches(images, p.batch_size, device):
            if p.n_images is not None:
                x = x[: p.n_images - seen]
            if len(x) > 0:  # an empty batch of an iterable is skipped
                _call(model, x, choice)
                seen += len(x)
            if p.n_images is not None and seen >= p.n_images:
                break
    model.eval()
    if p.n_images is not None and seen < p.n_images:
        raise _too_few(preset, p, seen)
    if seen == 0:
        raise RecalibrationError("BN recalibration got no images")
    return seen


def evaluate(
    model: nn.Module,
    choice: np.ndarray | None,
    data: ImageData,
    *,
    batch_size: int = 512,
    recalibrate: str | BNRecalibration | None = None,
    calibration_images=None,
    bn: str = "running",
    device: torch.device | str | None = None,
) -> dict:
    """Accuracy and loss of one child on ``data``, BN state restored afterwards.

    Parameters
    ----------
    recalibrate : preset name, BNRecalibration or None
        Recalibrate BN first on ``calibration_images`` (default: ``data`` itself, which is
        MixPath's transductive protocol; pass training images otherwise).
    bn : {"running", "batch"}
        Evaluate with running statistics (eval mode) or with each batch's own statistics
        (train-mode BN, Bender et al.'s evaluation; unverified, spec 5).

    Returns
    -------
    dict
        ``{"accuracy": percent, "loss": mean cross-entropy, "n": images evaluated,
        "calibration_images": images forwarded to recalibrate BN (0 without recalibration)}``.
    """
    if bn not in ("running", "batch"):
        raise NasbenchToolsError(f"bn must be 'running' or 'batch', got {bn!r}")
    device = device if device is not None else next(model.parameters()).device
    was_training = model.training
    calibrated = 0
    try:
        with bn_snapshot(model), torch.no_grad():
            if recalibrate is not None:
                calibrated = recalibrate_bn(
                    model, choice, data if calibration_images is None else calibration_images,
                    recalibrate, device,
                )  # fmt: skip
            model.train(bn == "batch")
            correct, loss_sum, n = 0, 0.0, 0
            for x, y in iterate_batches(data, batch_size, device=device):
                logits = _call(model, x, choice)
                loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
                correct += int((logits.argmax(1) == y).sum())
                n += len(y)
    finally:
        model.train(was_training)
    if n == 0:
        raise NasbenchToolsError("evaluate() got an empty dataset")
    return {
        "accuracy": 100.0 * correct / n,
        "loss": loss_sum / n,
        "n": n,
        "calibration_images": calibrated,
    }
