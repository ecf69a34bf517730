"""Weight-sharing supernet training: samplers, the training loop, BN recalibration.

Importing this package imports torch.

>>> from nasbench_tools.supernet import TrainConfig, train_supernet   # doctest: +SKIP
>>> cfg = TrainConfig(dataset="digits", model={"C": 8, "N": 1}, epochs=2)   # doctest: +SKIP
>>> result = train_supernet(cfg, "runs/demo")   # doctest: +SKIP
"""

from .config import PRESETS, TrainConfig
from .models import SUPERNETS, build_supernet, list_supernets
from .recalibrate import BN_PRESETS, BNRecalibration, bn_snapshot, evaluate, recalibrate_bn
from .samplers import (
    SAMPLERS,
    Draw,
    Sampler,
    draw_children,
    list_samplers,
    make_sampler,
    register_sampler,
)
from .train import TrainResult, latest_checkpoint, load_supernet, train_supernet

__all__ = [
    "BN_PRESETS",
    "PRESETS",
    "SAMPLERS",
    "SUPERNETS",
    "BNRecalibration",
    "Draw",
    "Sampler",
    "TrainConfig",
    "TrainResult",
    "bn_snapshot",
    "build_supernet",
    "draw_children",
    "evaluate",
    "latest_checkpoint",
    "list_samplers",
    "list_supernets",
    "load_supernet",
    "make_sampler",
    "recalibrate_bn",
    "register_sampler",
    "train_supernet",
]
