"""Configuration of a differentiable search: the methods, the presets and :class:`SearchConfig`.

A **method** (:data:`METHODS`) fixes how the architecture is parameterised, updated and selected;
a **preset** (:data:`~.presets.PRESETS`) fixes the data, network and optimisation of a published setting
(and its method). ``SearchConfig(method=..., ...)`` or ``SearchConfig.from_preset(name)`` with
command-line style overrides (:meth:`SearchConfig.with_flags`); :meth:`SearchConfig.resolved`
fills the method's settings that are not overridden, checks every value and returns the config
a run writes to ``config.json`` and a resume must match.

Methods
-------
``darts``
    Softmax over the 5 ops of each edge, alpha updated by Adam on ``search-valid`` batches with
    the first-order gradient; the op with the largest softmax weight is kept (Liu et al. 2019).
``darts-v2``
    The same with DARTS's second-order gradient (one unrolled SGD step, Hessian-vector product by
    central finite differences).
``gdas``
    GDAS's hard Gumbel-softmax: one op per edge sampled per forward pass, straight-through
    gradients, temperature linear from ``tau_max`` to ``tau_min`` over the epochs (Dong & Yang
    2019); argmax selection.
``fairdarts``
    Independent sigmoids and the zero-one loss ``CE - w * mean((sigmoid(alpha) - 0.5)^2)``,
    ``w = 10``; ops at or above ``threshold`` (0.85) are kept (Chu et al. 2020); see
    :mod:`.selection` for how that becomes one op per NB201 edge.
``darts-pt``
    DARTS, then DARTS-PT's perturbation-based projection (Wang et al. 2021, :mod:`.projection`).
``darts-pt-fixed-alpha``
    Alpha frozen at zero (uniform mixing) during search and tuning; projection only (DARTS-PT's
    "blank" variant).
``single-path``
    Single-Path NAS superkernels on the conv edges (:mod:`.superkernel`), thresholds and alpha
    trained with the weights on the training batches (one level, as Single-Path NAS), cost term
    ``cost_lambda * log(cost)``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NasbenchToolsError
from ..registry import Registry

__all__ = [
    "METHODS",
    "METHOD_FIELDS",
    "RESUME_MAY_CHANGE",
    "DifferentiableSearchError",
    "Method",
    "SearchConfig",
]


class DifferentiableSearchError(NasbenchToolsError, ValueError):
    """A differentiable search cannot run as configured (unknown method or preset, inconsistent
    options, a resume that does not match the run, data too small for a batch)."""


@dataclass(frozen=True)
class Method:
    """How a method parameterises, updates and selects the architecture (see the module text)."""

    name: str
    description: str
    reference: str
    supernet: str = "mixed"  # mixed | superkernel
    weighting: str = "softmax"  # softmax | sigmoid | gumbel
    arch_update: str = "bilevel"  # bilevel | single | frozen
    arch_order: int = 1  # 1 | 2
    zero_one_weight: float = 0.0
    selection: str = "argmax"  # argmax | threshold | projection | superkernel
    alpha_init_std: float = 1e-3


#: The method settings a config may override (``None`` in a config: the method's own value).
METHOD_FIELDS = (
    "supernet",
    "weighting",
    "arch_update",
    "arch_order",
    "zero_one_weight",
    "selection",
    "alpha_init_std",
)
_CHOICES = {
    "supernet": ("mixed", "superkernel"),
    "weighting": ("softmax", "sigmoid", "gumbel"),
    "arch_update": ("bilevel", "single", "frozen"),
    "arch_order": (1, 2),
    "selection": ("argmax", "threshold", "projection", "superkernel"),
    "proj_crit": ("acc", "loss"),
    "edge_order": ("random", "fixed"),
    "cost": ("params", "flops"),
    "free_ops": ("softmax", "exclude"),
    "lr_schedule": ("epoch", "step"),
    "step_order": ("arch_first", "weights_first"),
}

METHODS: Registry[Method] = Registry("differentiable method", error=DifferentiableSearchError)
for _m in (
    Method("darts", "softmax mixing, first-order DARTS, argmax", "Liu et al., ICLR 2019"),
    Method(
        "darts-v2",
        "softmax mixing, second-order DARTS, argmax",
        "Liu et al., ICLR 2019",
        arch_order=2,
    ),
    Method("gdas", "hard Gumbel-softmax sampling, argmax", "Dong & Yang, CVPR 2019", weighting="gumbel"),
    Method(
        "fairdarts",
        "sigmoid mixing, zero-one loss, threshold selection",
        "Chu et al., ECCV 2020",
        weighting="sigmoid",
        zero_one_weight=10.0,
        selection="threshold",
    ),
    Method(
        "darts-pt",
        "DARTS supernet, perturbation-based projection",
        "Wang et al., ICLR 2021",
        selection="projection",
    ),
    Method(
        "darts-pt-fixed-alpha",
        "alpha frozen uniform, perturbation-based projection",
        "Wang et al., ICLR 2021 (blank)",
        arch_update="frozen",
        selection="projection",
        alpha_init_std=0.0,
    ),
    Method(
        "single-path",
        "Single-Path NAS superkernels, one-level, cost term",
        "Stamoulis et al., ECML-PKDD 2019 (adapted to NB201)",
        supernet="superkernel",
        arch_update="single",
        selection="superkernel",
    ),
):  # fmt: skip
    METHODS.register(_m.name, _m)


@dataclass
class SearchConfig:
    """Everything that determines a differentiable search run (see the module text).

    Method settings (``None``: the method's own; :data:`METHOD_FIELDS`): ``supernet``,
    ``weighting``, ``arch_update``, ``arch_order``, ``zero_one_weight``, ``selection``,
    ``alpha_init_std`` (alpha starts as ``alpha_init_std * N(0, 1)``; 0 is uniform).

    Method options: ``threshold`` (FairDARTS), ``proj_intv``, ``proj_crit``, ``edge_order``
    (DARTS-PT), ``tau_max``, ``tau_min`` (GDAS), ``cost``, ``cost_lambda``, ``free_ops``
    (Single-Path NAS).

    Network: ``C``, ``N``, ``affine`` (BN affine parameters inside the cells; NB201's search
    models and DARTS-PT use none).

    Data: ``dataset``, ``data_root``, ``split_file``, ``subset`` / ``valid_subset`` (seeded
    subsets of ``search-train`` / ``search-valid``), ``data_seed`` (seed of those subsets and of
    the halves without a split file: fixed, so runs with different seeds search the same data),
    ``resize``, ``channels``, ``augment`` (``None``: the dataset's default; used on the weight
    and the architecture batches, never on evaluation).

    Optimisation: weights by SGD (``lr`` cosine to ``lr_min`` per ``epoch`` or per ``step``,
    ``momentum``, ``nesterov``, ``weight_decay``, gradient norm clip ``grad_clip``); alpha by Adam
    (``arch_lr``, ``arch_betas``, ``arch_weight_decay``); ``step_order``; ``batch_size``;
    ``eval_batch_size`` (``None``: ``batch_size``; the batch of BN-train-mode evaluations).

    ``seed`` is required (no default). ``threads``: torch CPU threads (``None``: the process's
    count, recorded and restored on resume). ``device``: ``auto`` (CUDA when available),
    ``cpu``, ``cuda`` or ``cuda:<i>``, resolved when the run starts. ``micro_batches``: cut every
    weight and architecture batch into this many parts with their own BN statistics, shared
    among the torchrun processes (a multiple of their number; ``None``: their number, 1
    without torchrun; see :mod:`nasbench_tools.nn.distributed`).
    """

    method: str = "darts"
    supernet: str | None = None
    weighting: str | None = None
    arch_update: str | None = None
    arch_order: int | None = None
    zero_one_weight: float | None = None
    selection: str | None = None
    alpha_init_std: float | None = None
    threshold: float = 0.85
    proj_intv: int = 5
    proj_crit: str = "acc"
    edge_order: str = "random"
    tau_max: float = 10.0
    tau_min: float = 0.1
    cost: str = "params"
    cost_lambda: float = 0.0
    free_ops: str = "softmax"
    C: int = 16
    N: int = 5
    affine: bool = False
    dataset: str = "cifar10"
    data_root: str | None = None
    split_file: str | None = None
    subset: int | None = None
    valid_subset: int | None = None
    data_seed: int = 0
    resize: int | None = None
    channels: int | None = None
    augment: str | None = None
    epochs: int = 50
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    lr_schedule: str = "epoch"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 3e-4
    grad_clip: float | None = 5.0
    arch_lr: float = 3e-4
    arch_betas: list = field(default_factory=lambda: [0.5, 0.999])
    arch_weight_decay: float = 1e-3
    step_order: str = "arch_first"
    eval_batch_size: int | None = None
    seed: int | None = None
    device: str = "cpu"
    threads: int | None = None
    micro_batches: int | None = None
    log_every: int = 50

    # ------------------------------------------------------------------ conversions
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> SearchConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise DifferentiableSearchError(f"unknown search options {unknown}")
        return cls(**copy.deepcopy(dict(d)))

    @classmethod
    def from_preset(cls, name: str, **overrides) -> SearchConfig:
        """A preset of :data:`~.presets.PRESETS` with ``overrides`` applied."""
        from .presets import PRESETS

        return cls.from_dict({**PRESETS.get(name), **overrides})

    def with_flags(self, flags: Mapping) -> SearchConfig:
        """A copy with command-line style overrides (``None`` values: not given)."""
        d = self.to_dict()
        d.update({k: v for k, v in flags.items() if v is not None})
        if d.get("grad_clip") == 0:
            d["grad_clip"] = None
        return SearchConfig.from_dict(d)

    @classmethod
    def for_run(
        cls,
        out_dir: str | os.PathLike,
        *,
        resume: bool = False,
        preset: str | None = None,
        flags: Mapping | None = None,
    ) -> SearchConfig:
        """The config of a run in ``out_dir``: its own ``config.json`` when resuming, else the
        preset or the defaults; ``flags`` override it."""
        saved = Path(out_dir) / "config.json"
        if resume and saved.is_file():
            base = cls.from_dict(read_saved_config(saved)["config"])
        else:
            base = cls.from_preset(preset) if preset else cls()
        return base.with_flags(flags or {})

    # ------------------------------------------------------------------ resolution
    def resolved(self) -> SearchConfig:
        """A copy with the method's settings filled in, every value checked."""
        from ..datasets import DATASETS

        method = METHODS.get(self.method)
        c = dataclasses.replace(self, arch_betas=list(self.arch_betas))
        for name in METHOD_FIELDS:
            if getattr(c, name) is None:
                setattr(c, name, getattr(method, name))
        dataset = DATASETS.get(c.dataset)
        if c.augment is None:
            c.augment = dataset.augment
        if c.eval_batch_size is None:
            c.eval_batch_size = c.batch_size
        from ..nn.distributed import resolve_device, world

        c.device = resolve_device(c.device)
        if c.micro_batches is None:
            c.micro_batches = world().size
        _check(c)
        return c

    def resumed(self, saved: Mapping) -> SearchConfig:
        """This resolved config continuing the run whose ``config.json`` holds ``saved``: every
        field must match except :data:`RESUME_MAY_CHANGE`; ``threads=None`` takes the run's."""
        old = dict(saved["config"])
        old.setdefault("micro_batches", 1)  # runs made before the option split nothing
        c = dataclasses.replace(self)
        if c.threads is None:
            c.threads = old.get("threads")
        new = c.to_dict()
        diff = sorted(
            k
            for k in set(old) | set(new)
            if k not in RESUME_MAY_CHANGE and old.get(k) != new.get(k)
        )
        if diff:
            details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
            raise DifferentiableSearchError(
                f"cannot resume: the configuration differs from the saved run ({details})"
            )
        return c


#: Fields a resumed run may change (they do not change the numbers computed).
RESUME_MAY_CHANGE = ("log_every", "data_root", "split_file")


def _number(c: SearchConfig, name: str, low: float, *, strict: bool = False, integer=False):
    v = getattr(c, name)
    kind = int if integer else (int, float)
    ok = isinstance(v, kind) and not isinstance(v, bool) and v == v and abs(v) != float("inf")
    if not ok or v < low or (strict and v == low):
        rel = ">" if strict else ">="
        what = "an integer" if integer else "a finite number"
        raise DifferentiableSearchError(f"{name} must be {what} {rel} {low}, got {v!r}")


def _check(c: SearchConfig) -> None:
    """Refuse values out of their domain and combinations the methods do not define."""
    for name, allowed in _CHOICES.items():
        if getattr(c, name) not in allowed:
            raise DifferentiableSearchError(
                f"{name} must be one of {list(allowed)}, got {getattr(c, name)!r}"
            )
    if c.seed is None:
        raise DifferentiableSearchError(
            "seed is required (--seed S): a search draws its initial weights, alpha, batches and "
            "(DARTS-PT) edge order from it, and no seed is chosen for you"
        )
    for name in ("seed", "data_seed"):
        _number(c, name, 0, integer=True)
    for name in ("C", "N", "epochs", "batch_size", "eval_batch_size", "log_every", "proj_intv"):
        _number(c, name, 1, integer=True)
    for name in ("subset", "valid_subset", "resize", "threads", "micro_batches"):
        if getattr(c, name) is not None:
            _number(c, name, 1, integer=True)
    for name in ("lr", "arch_lr", "tau_max", "tau_min"):
        _number(c, name, 0, strict=True)
    for name in ("lr_min", "momentum", "weight_decay", "arch_weight_decay", "zero_one_weight"):
        _number(c, name, 0)
    for name in ("alpha_init_std", "cost_lambda"):
        _number(c, name, 0)
    if c.grad_clip is not None:
        _number(c, "grad_clip", 0, strict=True)
    checks = [
        (c.lr_min <= c.lr, f"lr_min ({c.lr_min}) must not exceed lr ({c.lr})"),
        (0 < c.threshold < 1, f"threshold must lie in (0, 1), got {c.threshold}"),
        (c.tau_min <= c.tau_max, f"tau_min ({c.tau_min}) must not exceed tau_max ({c.tau_max})"),
        (c.batch_size >= 2, f"batch_size must be >= 2 (BatchNorm), got {c.batch_size}"),
        (c.micro_batches <= c.batch_size,
         f"micro_batches ({c.micro_batches}) must not exceed batch_size ({c.batch_size})"),
        (c.channels in (None, 1, 3), f"channels must be 1 or 3, got {c.channels}"),
        (_betas_ok(c.arch_betas), f"arch_betas must be two numbers in [0, 1), got {c.arch_betas}"),
        (c.selection != "projection" or c.proj_intv >= 2,
         f"proj_intv must be >= 2 (with 1, DARTS-PT's schedule projects only 5 of the 6 edges), "
         f"got {c.proj_intv}"),
        ((c.supernet == "superkernel") == (c.selection == "superkernel"),
         f"selection 'superkernel' goes with supernet 'superkernel' (got supernet "
         f"{c.supernet!r}, selection {c.selection!r})"),
        (c.selection != "projection" or c.weighting in ("softmax", "sigmoid"),
         f"projection masks mixing weights: weighting must be softmax or sigmoid, got "
         f"{c.weighting!r}"),
        (c.selection != "threshold" or c.weighting == "sigmoid",
         f"threshold selection needs sigmoid weights (FairDARTS), got {c.weighting!r}"),
        (c.arch_order == 1 or (c.weighting != "gumbel" and c.arch_update == "bilevel"),
         "the second-order update needs deterministic weights (not gumbel) and arch_update "
         f"'bilevel' (got weighting {c.weighting!r}, arch_update {c.arch_update!r})"),
        (c.supernet != "superkernel" or (c.weighting == "softmax" and c.arch_order == 1),
         "superkernel supernets mix the parameter-free ops by softmax and use the first-order "
         f"update (got weighting {c.weighting!r}, arch_order {c.arch_order})"),
        (c.zero_one_weight == 0 or c.supernet == "mixed",
         f"the zero-one loss acts on a mixed supernet's alpha (got supernet {c.supernet!r})"),
        (c.device == "cpu" or c.device.startswith("cuda"),
         f"device must be cpu or cuda[:i], got {c.device!r}"),
    ]  # fmt: skip
    for ok, message in checks:
        if not ok:
            raise DifferentiableSearchError(message)


def _betas_ok(betas) -> bool:
    return (
        isinstance(betas, list | tuple)
        and len(betas) == 2
        and all(
            isinstance(b, int | float) and not isinstance(b, bool) and 0 <= b < 1 for b in betas
        )
    )


def read_saved_config(path: Path) -> dict:
    """A run's ``config.json`` (resolved config and provenance)."""
    try:
        saved = json.loads(Path(path).read_text())
        if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
            raise ValueError("no 'config' object")
    except (OSError, ValueError) as exc:
        raise DifferentiableSearchError(
            f"{path} is not a search run's config.json: {exc}"
        ) from None
    return saved
