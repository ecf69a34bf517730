"""Supernet units shared by the reproductions: train a supernet on a built benchmark's data and
score children with its weights, each step a journal unit of :class:`_harness.Reproduction`.

A supernet trains on the ``search-train`` half of the benchmark's dataset, at the benchmark's
image size and channels (its build protocol), with :func:`nasbench_tools.supernet.train_supernet`
into ``OUT/work/runs/<name>``; a stopped training resumes from its last epoch checkpoint (bit-exact
on CPU, one torch thread). Children are evaluated with
:func:`nasbench_tools.supernet.evaluate` on the first ``eval_images`` of the benchmark's own
validation split (the images its ground truth was validated on), after BN recalibration on the
first ``calib_images`` of its training split (statistics reset; cumulative average unless a
momentum is given), or with the supernet's running statistics (``calib_images=0``), with the
run's newest weights or those of any epoch checkpoint it kept (``keep_checkpoints=None`` keeps
every epoch's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import _harness as H
import numpy as np

__all__ = [
    "SupernetSpec",
    "budget_unit",
    "checkpoint_path",
    "evaluate_children",
    "nb201_choices",
    "protocol_of",
    "supernet",
    "train_unit",
    "training_budget",
]


@dataclass(frozen=True)
class SupernetSpec:
    """How a supernet is trained (everything else comes from the benchmark's protocol).

    ``model`` and ``sampler_options`` are tuples of ``(name, value)`` pairs (hashable, and
    dumped as lists); ``train_images`` is a seeded subset of ``search-train`` (``None``: all).
    """

    supernet: str = "nb201"
    model: tuple = (("C", 8), ("N", 1))
    bn: str = "none"
    sampler: str = "spos"
    sampler_options: tuple = ()
    epochs: int = 4
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    weight_decay: float = 5e-4
    train_images: int | None = None

    def to_config(self, protocol, seed: int, keep_checkpoints: int | None = 1):
        from nasbench_tools.supernet import TrainConfig

        return TrainConfig(
            supernet=self.supernet, model=dict(self.model), bn=self.bn, sampler=self.sampler,
            sampler_options=dict(self.sampler_options), dataset=protocol.dataset,
            split="search", subset=self.train_images, resize=protocol.image_size,
            channels=protocol.channels, augment="none", epochs=self.epochs,
            batch_size=self.batch_size, lr=self.lr, lr_min=self.lr_min,
            weight_decay=self.weight_decay, seed=seed, threads=1, log_every=10_000,
            keep_checkpoints=keep_checkpoints,
        )  # fmt: skip


def nb201_choices(keys) -> list[np.ndarray]:
    """The single-path choice (one genotype shared by every cell) of each NB201 index."""
    import torch

    from nasbench_tools.nn.nb201 import NB201Supernet

    with torch.device("meta"):  # only the choice space is used: no weights are allocated
        net = NB201Supernet(C=1, N=1)
    return [net.choice_of(int(k)) for k in np.asarray(keys).tolist()]


def protocol_of(rep: H.Reproduction, role: str):
    """The build :class:`~nasbench_tools.buildbench.Protocol` of a ground truth."""
    from nasbench_tools.buildbench import Protocol

    rep.target(role)  # refuses a store without a protocol, by name
    return Protocol(**rep.ground_truth(role).provenance["protocol"])


def train_unit(
    rep: H.Reproduction,
    name: str,
    spec: SupernetSpec,
    protocol,
    seed: int,
    *,
    keep_checkpoints: int | None = 1,
) -> Path:
    """Train (or resume) the supernet ``name``; the unit records its per-epoch loss.

    ``keep_checkpoints``: epoch checkpoints kept (``None``: every one, for scoring children at
    several epochs; ``init.pt``, W0, is always kept)."""
    import torch

    from nasbench_tools.supernet import train_supernet

    run_dir = rep.work / "runs" / name

    def fn() -> dict:
        torch.set_num_threads(1)
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        config = spec.to_config(protocol, seed, keep_checkpoints)
        result = train_supernet(config, run_dir, resume=True, progress=False)
        return {
            "epochs": result.epochs_completed,
            "loss": [h.get("loss") for h in result.history],
            "train_accuracy": [h.get("accuracy") for h in result.history],
        }

    rep.unit(f"train:{name}", fn, f"training supernet {name} ({spec.epochs} epochs)")
    return run_dir


_SPLITS: dict = {}


def _splits(protocol):
    from nasbench_tools.buildbench import load_splits

    key = repr(protocol)
    if key not in _SPLITS:
        _SPLITS.clear()
        _SPLITS[key] = load_splits(protocol)
    return _SPLITS[key]


def checkpoint_path(run_dir: Path, checkpoint: str | None = None) -> Path:
    """``run_dir/checkpoints/<checkpoint>.pt`` (``"init"``, ``"epoch-0003"``), or the newest
    epoch checkpoint; a missing one names itself."""
    from nasbench_tools.supernet import latest_checkpoint

    path = (
        latest_checkpoint(run_dir)
        if checkpoint is None
        else run_dir / "checkpoints" / f"{checkpoint}.pt"
    )
    if path is None or not path.is_file():
        raise H.ReproductionError(
            f"{run_dir}: no checkpoint {checkpoint or ''}".rstrip() + "; start again with --force"
        )
    return path


def _load(run_dir: Path, data, checkpoint: str | None = None):
    """The supernet of a run's checkpoint (the newest by default), built for ``data``'s shape
    (the benchmark's images, which the run trained on) without reloading the run's data."""
    import torch

    from nasbench_tools.supernet import TrainConfig, build_supernet

    path = checkpoint_path(run_dir, checkpoint)
    state = torch.load(path, map_location="cpu", weights_only=True)
    c = TrainConfig.from_dict(state["config"])
    model = build_supernet(
        c.supernet, in_channels=data.channels, image_size=data.image_size,
        num_classes=data.num_classes, bn=c.bn, ghost_batch_size=c.ghost_batch_size, **c.model,
    )  # fmt: skip
    model.load_state_dict(state["model"])
    return model.eval()


def supernet(run_dir: Path, protocol, checkpoint: str | None = None):
    """The supernet of a run's checkpoint (``"init"`` is W0), in eval mode, built for the
    benchmark's images (``protocol``) that the run trained on."""
    return _load(run_dir, _splits(protocol).train, checkpoint)


def evaluate_children(
    rep: H.Reproduction,
    name: str,
    run_dir: Path,
    choices: Sequence[np.ndarray],
    protocol,
    *,
    eval_images: int,
    calib_images: int,
    chunk: int,
    label: str = "",
    checkpoint: str | None = None,
    calib_batch: int = 256,
    calib_momentum: float | None = None,
) -> list[float]:
    """One-shot accuracy (percent) of every choice, in units of ``chunk`` children.

    ``checkpoint``: the run's weights to use (``"epoch-0003"``; the newest by default; give
    each checkpoint its own ``label``). Recalibration: statistics reset, then ``calib_images``
    in batches of ``calib_batch`` with BN momentum ``calib_momentum`` (``None``: cumulative
    average; ABS uses 0.1 on batches of 512)."""
    import torch

    from nasbench_tools.supernet import BNRecalibration, evaluate

    out: list[float] = []
    preset = (
        BNRecalibration(
            n_images=calib_images, batch_size=calib_batch, momentum=calib_momentum, reset=True
        )
        if calib_images
        else None
    )
    for start in range(0, len(choices), chunk):
        part = choices[start : start + chunk]

        def fn(part=part) -> dict:
            torch.set_num_threads(1)
            splits = _splits(protocol)
            valid = splits.valid.head(eval_images)
            train = splits.train.head(calib_images or None)
            model = _load(run_dir, splits.train, checkpoint)
            accs = [
                evaluate(model, c, valid, batch_size=500, recalibrate=preset,
                         calibration_images=train)["accuracy"]
                for c in part
            ]  # fmt: skip
            return {"accuracy": accs, "eval_images": len(valid), "calib_images": calib_images}

        key = f"eval:{name}:{label or ('recal' if calib_images else 'running')}:{start}"
        res = rep.unit(key, fn, f"{len(part)} children")
        out += res["accuracy"]
    return out


def training_budget(run_dir: Path) -> dict:
    """What a finished supernet run fed and touched, summed over its epochs from the trainer's
    own log (``log.jsonl`` epoch records; a resumed run keeps one record per epoch): optimizer
    steps, ``images`` drawn from the loader, forward/backward ``passes``, ``op_draws`` (per
    cell, block and path: passes that switched the path on), ``op_updates`` (per candidate-op
    parameter tensor: steps with a non-zero gradient) and the step-weighted mean update
    coverage."""
    import json

    epochs: dict[int, dict] = {}
    log = Path(run_dir) / "log.jsonl"
    for line in log.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("event") == "epoch":
            epochs[int(rec["epoch"])] = rec
    if not epochs or sorted(epochs) != list(range(1, max(epochs) + 1)):
        raise H.ReproductionError(f"{log}: epoch records {sorted(epochs)} are not 1..n")
    recs = [epochs[e] for e in sorted(epochs)]
    missing = [k for k in ("passes", "op_draws", "op_updates") if k not in recs[0]]
    if missing:
        raise H.ReproductionError(
            f"{log}: the trainer logged no {missing} (a run from an older nasbench_tools); "
            "start again with --force"
        )
    steps = sum(r["steps"] for r in recs)
    names = list(recs[0]["op_updates"])
    return {
        "epochs": len(recs),
        "steps": steps,
        "images": sum(r["images"] for r in recs),
        "passes": sum(r["passes"] for r in recs),
        "op_draws": np.sum([r["op_draws"] for r in recs], axis=0).tolist(),
        "op_updates": {n: sum(r["op_updates"][n] for r in recs) for n in names},
        "update_coverage_mean": sum(r["update_coverage"]["mean"] * r["steps"] for r in recs)
        / steps,
    }


def budget_unit(rep: H.Reproduction, name: str, run_dir: Path) -> dict:
    """:func:`training_budget` of the supernet ``name`` as a journal unit."""
    return rep.unit(f"budget:{name}", lambda: training_budget(run_dir), "reading its log")
