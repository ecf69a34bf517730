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

**Which config a run uses.** :meth:`TrainConfig.for_run` is the one place that decides it: a
resumed run starts from its own ``config.json``, a new one from a preset or the defaults, and
command-line style flags (:meth:`TrainConfig.with_flags`) override either. :meth:`TrainConfig.resumed`
then checks the result against the saved run: every field must be equal except
:data:`RESUME_MAY_CHANGE`, and the torch thread count, which changes floating-point results on
CPU, is restored from the run when it is not given.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TrainConfigError
from ..registry import Registry

__all__ = ["MODEL_KEYS", "PRESETS", "RESUME_MAY_CHANGE", "TrainConfig"]

#: Flags of :meth:`TrainConfig.with_flags` that go into ``TrainConfig.model``.
MODEL_KEYS = ("C", "N", "num_nodes", "stem_channels", "num_stacks", "cells_per_stack")


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
        ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:<i>``; resolved
        when the run starts (``auto`` is recorded as the device it chose). Under torchrun,
        ``cuda`` is ``cuda:<LOCAL_RANK>`` on each rank.
    amp : bool
        Mixed precision: float16 autocast with a gradient scaler, CUDA only (refused on CPU).
    micro_batches : int or None
        Cut every batch into this many parts, each with its own BatchNorm statistics, their
        gradients summed (weighted by size) before the one step (:mod:`nasbench_tools.nn.distributed`).
        Under torchrun the parts are shared among the processes, so it must be a multiple of
        their number; ``None``: the number of processes (1 without torchrun). A run resumes on
        any number of processes that divides it (``nbt train-supernet --resume`` takes the
        saved value).
    threads : int or None
        torch CPU threads during the run (the process's count is restored afterwards). The
        count changes floating-point results on CPU, so a run records it (``None``: the
        process's current count) and a resume restores it.
    eval_children : int
        At each epoch end, evaluate this many fixed children on the validation split with
        ``eval_bn`` recalibration on training images (0: none). Children are drawn from the
        training sampler's distribution at the end of training, one choice shared by every cell
        (:func:`~nasbench_tools.supernet.samplers.draw_children`); the log records their
        architecture keys and choices.
    eval_bn : str
        BN recalibration preset for those evaluations.
    eval_bn_images : int or None
        Training images that recalibration forwards (``None``: the preset's count). A training
        split smaller than the count is refused before the run starts.
    log_every : int
        Steps between ``step`` records in the JSON-lines log.
    keep_checkpoints : int or None
        Keep only the newest checkpoints (``None``: all); ``epoch-0001.pt`` (the reference of
        the ABS angle's ``epoch1`` option) and ``init.pt`` (W0) are always kept.
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
    micro_batches: int | None = None
    threads: int | None = None
    eval_children: int = 0
    eval_bn: str = "cumulative"
    eval_bn_images: int | None = None
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
        """A preset of :data:`PRESETS` with ``overrides`` applied (the config holds its own copy
        of the preset's ``model`` and ``sampler_options``)."""
        return cls.from_dict(copy.deepcopy({**PRESETS.get(name), **overrides}))

    def with_flags(self, flags: Mapping) -> TrainConfig:
        """A copy with command-line style overrides applied.

        ``flags`` maps field names to values; ``None`` values are skipped (a flag not given).
        Besides the fields: :data:`MODEL_KEYS` (``C``, ``N``, ...) go into ``model``;
        ``sampler_options`` is merged into the current options, which are dropped first when
        ``sampler`` changes; ``norm_decay`` sets ``no_wd_on_norm`` to its negation; a
        ``grad_clip`` of 0 disables clipping. Unknown names raise
        :class:`~nasbench_tools.errors.TrainConfigError`.
        """
        flags = {k: v for k, v in flags.items() if v is not None}
        d = self.to_dict()
        d["model"] = {**d["model"], **{k: flags.pop(k) for k in MODEL_KEYS if k in flags}}
        options = flags.pop("sampler_options", {})
        if flags.get("sampler", d["sampler"]) != d["sampler"]:
            d["sampler_options"] = {}
        if "norm_decay" in flags:
            d["no_wd_on_norm"] = not flags.pop("norm_decay")
        d.update(flags)
        d["sampler_options"] = {**d["sampler_options"], **options}
        if d["grad_clip"] == 0:
            d["grad_clip"] = None
        return TrainConfig.from_dict(d)

    @classmethod
    def for_run(
        cls,
        out_dir: str | os.PathLike,
        *,
        resume: bool = False,
        preset: str | None = None,
        flags: Mapping | None = None,
    ) -> TrainConfig:
        """The config of a run in ``out_dir``: when resuming, the run's own ``config.json``
        (``preset`` is then ignored), else ``preset`` or the defaults; ``flags`` override it
        (:meth:`with_flags`)."""
        saved = Path(out_dir) / "config.json"
        if resume and saved.is_file():
            base = cls.from_dict(read_saved_config(saved)["config"])
        else:
            base = cls.from_preset(preset) if preset else cls()
        return base.with_flags(flags or {})

    def resumed(self, saved: Mapping) -> TrainConfig:
        """This (resolved) config continuing the run whose ``config.json`` holds ``saved``.

        ``threads`` is taken from the run when it is ``None``; every other field must equal the
        saved one, except :data:`RESUME_MAY_CHANGE`.
        """
        old = dict(saved["config"])
        old.setdefault("micro_batches", 1)  # runs made before the option split nothing
        c = dataclasses.replace(self)
        if c.threads is None:
            c.threads = old.get("threads")
            if c.threads is None:
                raise TrainConfigError(
                    "cannot resume: the saved run does not record its torch thread count (it was "
                    "made by an older version); give threads (--threads N) with the count it ran with"
                )
        elif "threads" not in old:  # an older run: trust the count given
            old["threads"] = c.threads
        new = c.to_dict()
        diff = sorted(
            k
            for k in set(old) | set(new)
            if k not in RESUME_MAY_CHANGE and old.get(k) != new.get(k)
        )
        if diff:
            details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
            raise TrainConfigError(
                f"cannot resume: the configuration differs from the saved run ({details})"
            )
        return c

    def resolved(self) -> TrainConfig:
        """A copy with ``bn`` and ``augment`` defaults filled in, checked for consistency."""
        from ..datasets import DATASETS
        from .models import SUPERNETS
        from .recalibrate import BN_PRESETS
        from .samplers import SAMPLERS

        c = dataclasses.replace(
            self, model=dict(self.model), sampler_options=dict(self.sampler_options)
        )
        # unknown names: each registry's "unknown X 'name'; known: ..." error, before any work
        SUPERNETS.get(c.supernet)
        SAMPLERS.get(c.sampler)
        BN_PRESETS.get(c.eval_bn)
        dataset = DATASETS.get(c.dataset)
        if c.bn is None:
            c.bn = "shadow" if c.supernet == "nb101-mixpath" else "none"
        if c.augment is None:
            c.augment = dataset.augment
        from ..nn.distributed import resolve_device, world

        c.device = resolve_device(c.device)
        if c.micro_batches is None:
            c.micro_batches = world().size
        checks = [
            (c.epochs >= 1, f"epochs must be >= 1, got {c.epochs}"),
            (c.batch_size >= 2, f"batch_size must be >= 2 (BatchNorm), got {c.batch_size}"),
            (c.lr > 0 and 0 <= c.lr_min <= c.lr, f"need 0 <= lr_min <= lr, lr > 0 (got {c.lr}, {c.lr_min})"),
            (c.split in ("search", "standard"), f"split must be search or standard, got {c.split!r}"),
            (c.grad_clip_mode in ("norm", "value"), f"grad_clip_mode must be norm or value, got {c.grad_clip_mode!r}"),
            (c.log_every >= 1, f"log_every must be >= 1, got {c.log_every}"),
            (c.keep_checkpoints is None or c.keep_checkpoints >= 1, "keep_checkpoints must be >= 1"),
            (not c.amp or c.device.startswith("cuda"), f"amp=True needs a CUDA device, got device={c.device!r}"),
            (c.threads is None or c.threads >= 1, f"threads must be >= 1, got {c.threads}"),
            (c.micro_batches is None or (isinstance(c.micro_batches, int) and 1 <= c.micro_batches <= c.batch_size),
             f"micro_batches must be 1..batch_size ({c.batch_size}), got {c.micro_batches!r}"),
            (c.eval_children >= 0, f"eval_children must be >= 0, got {c.eval_children}"),
            (c.eval_bn_images is None or c.eval_bn_images >= 1, f"eval_bn_images must be >= 1, got {c.eval_bn_images}"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise TrainConfigError(message)
        return c


def read_saved_config(path: Path) -> dict:
    """A run's ``config.json`` (resolved config and provenance)."""
    try:
        saved = json.loads(Path(path).read_text())
        if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
            raise ValueError("no 'config' object")
    except (OSError, ValueError) as exc:
        raise TrainConfigError(f"{path} is not a run's config.json: {exc}") from None
    return saved


#: Fields a resumed run may change (they do not affect the numbers computed).
RESUME_MAY_CHANGE = ("log_every", "keep_checkpoints", "data_root", "split_file")

#: name -> TrainConfig fields (see the module docstring); an unknown name raises
#: :class:`~nasbench_tools.errors.TrainConfigError` listing the known ones.
PRESETS: Registry[dict] = Registry("training preset", error=TrainConfigError)
PRESETS.register(
    "abs-nb201",
    {
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
)
PRESETS.register(
    "mixpath-nb101",
    {
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
)
