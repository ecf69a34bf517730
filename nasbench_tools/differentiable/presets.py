"""Presets of :class:`~.config.SearchConfig` (:data:`PRESETS`): the authors' NB201 settings of
DARTS, GDAS, DARTS-PT and FairDARTS, and a quick CPU run (docs/differentiable.md says where each
number comes from). No preset sets a seed.
"""

from __future__ import annotations

from ..registry import Registry
from .config import DifferentiableSearchError

__all__ = ["PRESETS"]

#: name -> SearchConfig fields. The reference settings are the authors' (see docs/differentiable.md
#: for where each number comes from); no preset sets a seed.
PRESETS: Registry[dict] = Registry("differentiable preset", error=DifferentiableSearchError)
_NB201 = {"C": 16, "N": 5, "affine": False, "dataset": "cifar10", "grad_clip": 5.0}
_AUTODL = {  # AutoDL-Projects configs/nas-benchmark/algos/{DARTS,GDAS}.config + scripts-search
    **_NB201, "batch_size": 64, "lr": 0.025, "lr_min": 0.001, "lr_schedule": "step",
    "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4, "arch_lr": 3e-4,
    "arch_betas": [0.5, 0.999], "arch_weight_decay": 1e-3, "step_order": "weights_first",
}  # fmt: skip
_DARTS_PT = {  # ruocwang/darts-pt nasbench201/train_search.py, exp_scripts/darts-proj-201.sh
    **_NB201, "epochs": 100, "batch_size": 64, "lr": 0.025, "lr_min": 0.001,
    "lr_schedule": "epoch", "momentum": 0.9, "nesterov": False, "weight_decay": 3e-4,
    "arch_lr": 3e-4, "arch_betas": [0.5, 0.999], "arch_weight_decay": 1e-3,
    "step_order": "arch_first", "proj_intv": 5, "proj_crit": "acc", "edge_order": "random",
}  # fmt: skip
PRESETS.register("darts-nb201", {**_AUTODL, "method": "darts", "epochs": 50})
PRESETS.register("darts-v2-nb201", {**_AUTODL, "method": "darts-v2", "epochs": 50})
PRESETS.register(
    "gdas-nb201", {**_AUTODL, "method": "gdas", "epochs": 240, "tau_max": 10.0, "tau_min": 0.1}
)
PRESETS.register("darts-pt-nb201", {**_DARTS_PT, "method": "darts-pt"})
PRESETS.register("darts-pt-fixed-alpha-nb201", {**_DARTS_PT, "method": "darts-pt-fixed-alpha"})
PRESETS.register(
    "fairdarts",  # xiaomi-automl/FairDARTS fairdarts/train_search.py defaults, on the NB201 skeleton
    {
        **_NB201, "method": "fairdarts", "epochs": 50, "batch_size": 128, "lr": 0.005,
        "lr_min": 0.001, "lr_schedule": "epoch", "momentum": 0.9, "nesterov": False,
        "weight_decay": 3e-4, "arch_lr": 3e-3, "arch_betas": [0.9, 0.999],
        "arch_weight_decay": 1e-3, "step_order": "arch_first", "zero_one_weight": 10.0,
        "threshold": 0.85,
    },
)  # fmt: skip
PRESETS.register(
    "cpu",  # a quick CPU run on Fashion-MNIST (16x16, 2,000 + 1,000 images, C=8, N=1)
    {
        "method": "darts-pt", "C": 8, "N": 1, "affine": False, "dataset": "fashion-mnist",
        "resize": 16, "subset": 2000, "valid_subset": 1000, "augment": "none", "epochs": 10,
        "batch_size": 64, "lr": 0.025, "lr_min": 0.001, "lr_schedule": "epoch", "momentum": 0.9,
        "nesterov": False, "weight_decay": 3e-4, "grad_clip": 5.0, "arch_lr": 3e-3,
        "arch_betas": [0.5, 0.999], "arch_weight_decay": 1e-3, "step_order": "arch_first",
        "proj_intv": 2, "proj_crit": "acc", "edge_order": "random",
    },
)  # fmt: skip
