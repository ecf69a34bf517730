"""Supernet-training configuration and its presets.

:class:`TrainConfig` holds every choice of a run; :meth:`TrainConfig.resolved` fills the
dataset- and sampler-dependent defaults, and the resolved form is what the run writes to
``config.json`` and what a resume must match.

Defaults are ABS's NB201 SPOS supernet recipe (method spec 3.4): SGD with Nesterov momentum 0.9,
lr 0.025 cosine-annealed per step to 0.001, weight decay 5e-4, batch 64, 250 epochs; gradient
norm clipped at 5 (NAS-Bench-201's search scripts); seed 0. Presets (:data:`PRESETS`):

``abs-nb201``
    The defaults above on the ``nb201`` supernet with per-cell SPOS sampling.
``mixpath-nb101``
    MixPath's NB101 experiment (spec 2.2): ``nb101-mixpath`` supernet, MixPath sampler (m=4),
    shadow BN, 200 epochs, batch 96, lr 0.025 cosine to 1e-8, momentum 0.9 (no Nesterov),
    weight decay 3e-4 and none on BN parameters, gradient norm clip 5, cutout 16, seed 2020.

Weight decay is applied only to the parameters the step used: gradients are reset to ``None``
before every step and PyTorch's SGD skips parameters without a gradient (no decay, no momentum),
which is SPOS's trick and Bender et al.'s "L2 only on the used parts".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import TrainConfigError

__all__ = ["PRESETS", "RESUME_MAY_CHANGE", "TrainConfig"]


@dataclass
class TrainConfig:
    """Everything that determines a supernet-training run.

    Attributes
    ----------
    supernet : str
        Registered supernet (``nb201``, ``nb101-mixpath``).
    model : dict
        Supernet options (``C``, ``N`` / ``num_nodes``, ``stem_channels``, ...).
    bn : str or None
        Path norm of multi-path sums: ``shadow``, ``single``, ``none``; ``None`` resolves to
        ``shadow`` for the ``nb101-mixpath`` supernet and ``none`` otherwise.
    ghost_batch_size : int or None
        Ghost BN (one-shot training, ``nb201`` only).
    sampler, sampler_options
        Registered sampler and its options.
    dataset, data_root, split_file, subset, valid_subset, resize, channels
        Data (see :func:`nasbench_tools.datasets.load`).
    split : {"search", "standard"}
        ``search``: train on NB201's ``search-train`` split and validate on ``search-valid``;
        ``standard``: train on ``train``, validate on ``test`` (MixPath's protocol).
    augment : str or None
        ``none``, ``crop``, ``crop_flip``; ``None``: the dataset's default.
    cutout : int
    epochs, batch_size, lr, lr_min, momentum, nesterov, weight_decay, no_wd_on_norm
        Optimisation (SGD, per-step cosine from ``lr`` to ``lr_min``).
    grad_clip : float or None
    grad_clip_mode : {"norm", "value"}
    seed : int
        Seeds model initialisation, data order, augmentation and path sampling.
    device : str
    amp : bool
        Mixed precision (CUDA only).
    eval_children : int
        At each epoch end, evaluate this many fixed random children on the validation split
        with ``eval_bn`` recalibration (0: none).
    eval_bn : str
        BN recalibration preset for those evaluations.
    log_every : int
        Steps between ``step`` records in the JSON-lines log.
    keep_checkpoints : int or None
        Keep only the newest checkpoints (``None``: all).
    """

    supernet: str = "nb201"
    model: dict = field(default_factory=dict)
    bn: str | None = None
    ghost_batch_size: int | None = None
    sampler: str = "spos"
    sampler_options: dict = field(default_factory=dict)
    dataset: str = "digits"
    data_root: str | None = None
    split: str = "search"
    split_file: str | None = None
    subset: int | None = None
    valid_subset: int | None = None
    resize: int | None = None
    channels: int | None = None
    augment: str | None = None
    cutout: int = 0
    epochs: int = 250
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    no_wd_on_norm: bool = False
    grad_clip: float | None = 5.0
    grad_clip_mode: str = "norm"
    seed: int = 0
    device: str = "cpu"
    amp: bool = False
    eval_children: int = 0
    eval_bn: str = "cumulative"
    log_every: int = 50
    keep_checkpoints: int | None = None

    # ------------------------------------------------------------------ conversions
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise TrainConfigError(f"unknown training options {unknown}")
        return cls(**d)

    @classmethod
    def from_preset(cls, name: str, **overrides) -> TrainConfig:
        """A preset of :data:`PRESETS` with ``overrides`` applied."""
        try:
            base = PRESETS[name]
        except KeyError:
            raise TrainConfigError(
                f"unknown preset {name!r}; expected one of {sorted(PRESETS)}"
            ) from None
        return cls.from_dict({**base, **overrides})

    def resolved(self) -> TrainConfig:
        """A copy with ``bn`` and ``augment`` defaults filled in, checked for consistency."""
        from ..datasets import DATASETS

        c = dataclasses.replace(
            self, model=dict(self.model), sampler_options=dict(self.sampler_options)
        )
        if c.bn is None:
            c.bn = "shadow" if c.supernet == "nb101-mixpath" else "none"
        if c.dataset not in DATASETS:
            raise TrainConfigError(
                f"unknown dataset {c.dataset!r}; expected one of {sorted(DATASETS)}"
            )
        if c.augment is None:
            c.augment = DATASETS[c.dataset].augment
        checks = [
            (c.epochs >= 1, f"epochs must be >= 1, got {c.epochs}"),
            (c.batch_size >= 2, f"batch_size must be >= 2 (BatchNorm), got {c.batch_size}"),
            (c.lr > 0 and 0 <= c.lr_min <= c.lr, f"need 0 <= lr_min <= lr, lr > 0 (got {c.lr}, {c.lr_min})"),
            (c.split in ("search", "standard"), f"split must be search or standard, got {c.split!r}"),
            (c.grad_clip_mode in ("norm", "value"), f"grad_clip_mode must be norm or value, got {c.grad_clip_mode!r}"),
            (c.log_every >= 1, f"log_every must be >= 1, got {c.log_every}"),
            (c.keep_checkpoints is None or c.keep_checkpoints >= 1, "keep_checkpoints must be >= 1"),
            (not c.amp or c.device.startswith("cuda"), f"amp=True needs a CUDA device, got device={c.device!r}"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise TrainConfigError(message)
        return c


#: Fields a resumed run may change (they do not affect the numbers computed).
RESUME_MAY_CHANGE = ("log_every", "keep_checkpoints", "data_root", "split_file")

#: name -> TrainConfig fields (see the module docstring)
PRESETS: dict[str, dict] = {
    "abs-nb201": {
        "supernet": "nb201",
        "model": {"C": 16, "N": 5},
        "sampler": "spos",
        "sampler_options": {"sharing": "per_cell", "reject_zero_nodes": True},
        "dataset": "cifar10",
        "epochs": 250,
        "batch_size": 64,
        "lr": 0.025,
        "lr_min": 0.001,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 5e-4,
        "grad_clip": 5.0,
        "seed": 0,
    },
    "mixpath-nb101": {
        "supernet": "nb101-mixpath",
        "model": {"num_nodes": 4, "stem_channels": 128},
        "bn": "shadow",
        "sampler": "mixpath",
        "sampler_options": {"m": 4, "sharing": "shared"},
        "dataset": "cifar10",
        "split": "standard",
        "epochs": 200,
        "batch_size": 96,
        "lr": 0.025,
        "lr_min": 1e-8,
        "momentum": 0.9,
        "nesterov": False,
        "weight_decay": 3e-4,
        "no_wd_on_norm": True,
        "grad_clip": 5.0,
        "cutout": 16,
        "seed": 2020,
    },
}
