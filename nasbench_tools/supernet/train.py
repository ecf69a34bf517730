"""Train a weight-sharing supernet: checkpoints every epoch, exact resume, JSON-lines log.

:func:`train_supernet` runs a :class:`~nasbench_tools.supernet.config.TrainConfig` into a
folder::

    out_dir/config.json            resolved config + provenance (package/torch version, seed,
                                   data sha256, sampler, parameter count)
    out_dir/log.jsonl              one JSON object per line: start, step (every log_every
                                   steps), epoch, end
    out_dir/checkpoints/epoch-NNNN.pt

One optimizer step: the sampler's draws (:mod:`nasbench_tools.supernet.samplers`) each run
forward and backward on their batch, gradients accumulate (summed), the gradient is clipped and
SGD steps once; the learning rate follows a per-step cosine from ``lr`` to ``lr_min``.

**Exact resume.** Every source of randomness of epoch ``e`` (data order, augmentation, sampled
paths, torch's global generator) is seeded from ``(seed, e)`` at the start of the epoch, and a
checkpoint is written (atomically) at the end of every epoch with the model, optimizer and
gradient-scaler state. Resuming loads the newest checkpoint, drops log records of the
unfinished epoch and continues; on CPU the result equals an uninterrupted run bit for bit.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .. import __version__
from ..datasets import ImageData, iterate_batches, load
from ..errors import TrainConfigError, TrainingDivergedError
from .config import RESUME_MAY_CHANGE, TrainConfig
from .models import build_supernet
from .recalibrate import evaluate
from .samplers import MixPathSampler, Sampler, SPOSSampler, make_sampler

__all__ = [
    "TrainResult",
    "cosine_lr",
    "derive_seed",
    "latest_checkpoint",
    "load_supernet",
    "train_supernet",
]

CHECKPOINT_FORMAT = "nasbench_tools.supernet.checkpoint/1"


@dataclass
class TrainResult:
    """What :func:`train_supernet` returns."""

    out_dir: Path
    epochs_completed: int
    history: list[dict]
    distinct_archs: int | None
    model: nn.Module


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed derived from ``seed`` and integer ``keys`` (numpy ``SeedSequence``)."""
    state = np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def cosine_lr(step: int, total: int, lr: float, lr_min: float) -> float:
    """Cosine annealing from ``lr`` at step 0 to ``lr_min`` at step ``total``."""
    return lr_min + 0.5 * (lr - lr_min) * (
        1.0 + math.cos(math.pi * min(step, total) / max(total, 1))
    )


def latest_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    """The newest ``checkpoints/epoch-NNNN.pt`` under ``out_dir``, or ``None``."""
    files = sorted(Path(out_dir, "checkpoints").glob("epoch-*.pt"))
    return files[-1] if files else None


def _load_data(c: TrainConfig) -> tuple[ImageData, ImageData]:
    names = ("search-train", "search-valid") if c.split == "search" else ("train", "test")
    common = {
        "root": c.data_root,
        "resize": c.resize,
        "channels": c.channels,
        "split_file": c.split_file,
    }
    train = load(c.dataset, names[0], subset=c.subset, subset_seed=c.seed, **common)
    valid = load(c.dataset, names[1], subset=c.valid_subset, subset_seed=c.seed, **common)
    return train, valid


def _build(c: TrainConfig, data: ImageData) -> tuple[nn.Module, Sampler]:
    torch.manual_seed(c.seed)
    model = build_supernet(
        c.supernet, in_channels=data.channels, image_size=data.image_size,
        num_classes=data.num_classes, bn=c.bn, ghost_batch_size=c.ghost_batch_size, **c.model,
    )  # fmt: skip
    return model, make_sampler(c.sampler, model.space, **c.sampler_options)


def _optimizer(c: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for module in model.modules():
        is_norm = isinstance(module, nn.modules.batchnorm._BatchNorm)
        for p in module.parameters(recurse=False):
            (no_decay if (is_norm and c.no_wd_on_norm) else decay).append(p)
    groups = [{"params": decay, "weight_decay": c.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return torch.optim.SGD(
        groups, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov and c.momentum > 0
    )


def _eval_children(model: nn.Module, c: TrainConfig) -> list[np.ndarray]:
    if c.eval_children <= 0:
        return []
    space = model.space
    rng = np.random.default_rng([c.seed, 4])
    if space.num_alternatives == 1:
        sampler = SPOSSampler(space, sharing="shared", reject_zero_nodes=True)
    else:
        sampler = MixPathSampler(space, sharing="shared")
    return [sampler.sample(rng)[0].choice for _ in range(c.eval_children)]


class _Log:
    def __init__(self, path: Path):
        self.path = path

    def truncate_after(self, epoch: int) -> None:
        if not self.path.exists():
            return
        keep = []
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:  # a line cut by a kill
                continue
            if rec.get("epoch", 0) <= epoch:
                keep.append(line)
        self.path.write_text("".join(f"{line}\n" for line in keep))

    def write(self, record: dict) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")

    def epochs(self) -> list[dict]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("event") == "epoch":
                out.append(rec)
        return out


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _provenance(c: TrainConfig, train: ImageData, valid: ImageData, model, sampler) -> dict:
    return {
        "config": c.to_dict(),
        "seed": c.seed,
        "nasbench_tools_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "data": {"train": train.provenance, "valid": valid.provenance},
        "supernet": {
            "class": type(model).__name__,
            "parameters": sum(p.numel() for p in model.parameters()),
            "space": asdict(model.space),
        },
        "sampler": sampler.config(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _check_resume(saved: dict, c: TrainConfig, train: ImageData) -> None:
    old, new = dict(saved["config"]), c.to_dict()
    diff = sorted(
        k for k in set(old) | set(new) if k not in RESUME_MAY_CHANGE and old.get(k) != new.get(k)
    )
    if diff:
        details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise TrainConfigError(
            f"cannot resume: the configuration differs from the saved run ({details})"
        )
    if saved["data"]["train"].get("sha256") != train.provenance.get("sha256"):
        raise TrainConfigError(
            "cannot resume: the training data differ from the saved run (sha256)"
        )


def train_supernet(
    config: TrainConfig,
    out_dir: str | os.PathLike,
    *,
    resume: bool = False,
    progress: bool = True,
    on_epoch_end: Callable[[int, dict], None] | None = None,
) -> TrainResult:
    """Train (or resume training) a supernet; see the module docstring.

    Parameters
    ----------
    config : TrainConfig
    out_dir : path
        Run folder; must not hold another run unless ``resume``.
    resume : bool
        Continue from the newest checkpoint in ``out_dir`` (a fresh start if there is none). The
        resolved config must equal the saved one except :data:`RESUME_MAY_CHANGE`.
    progress : bool
        Show a tqdm progress bar per epoch.
    on_epoch_end : callable, optional
        ``on_epoch_end(epoch, record)`` after each epoch's checkpoint is written.
    """
    c = config.resolved()
    out = Path(out_dir)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    log = _Log(out / "log.jsonl")
    ckpt_path = latest_checkpoint(out)
    if ckpt_path is not None and not resume:
        raise TrainConfigError(
            f"{out} already holds a run ({ckpt_path.name}); resume it or use another folder"
        )

    device = torch.device(c.device)
    train, valid = _load_data(c)
    if c.cutout >= train.image_size:
        raise TrainConfigError(
            f"cutout {c.cutout} would erase whole {train.image_size}x{train.image_size} images"
        )
    model, sampler = _build(c, train)
    model.to(device)
    optimizer = _optimizer(c, model)
    scaler = torch.amp.GradScaler("cuda", enabled=c.amp)
    provenance = _provenance(c, train, valid, model, sampler)
    start_epoch, seen_archs = 0, set()
    if ckpt_path is not None:
        _check_resume(json.loads((out / "config.json").read_text()), c, train)
        state = torch.load(ckpt_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        start_epoch, seen_archs = int(state["epoch"]), set(state["distinct_archs"])
        log.truncate_after(start_epoch)
    else:
        (out / "config.json").write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
        log.path.write_text("")
    log.write({"event": "start", "epoch": start_epoch, "resumed": ckpt_path is not None})

    bpb = sampler.batches_per_step
    steps_per_epoch = (len(train) // c.batch_size) // bpb
    if steps_per_epoch < 1:
        raise TrainConfigError(
            f"{len(train)} training images give no full step of {bpb} batch(es) of {c.batch_size}"
        )
    total = steps_per_epoch * c.epochs
    children = _eval_children(model, c)
    params = [p for p in model.parameters()]
    for epoch in range(start_epoch, c.epochs):
        torch.manual_seed(derive_seed(c.seed, 3, epoch))
        gen = torch.Generator().manual_seed(derive_seed(c.seed, 1, epoch))
        rng = np.random.default_rng([c.seed, 2, epoch])
        batches = iterate_batches(
            train, c.batch_size, shuffle=True, generator=gen, augment=c.augment,
            cutout=c.cutout, drop_last=True, device=device,
        )  # fmt: skip
        model.train()
        # running sums stay on the device: no host synchronisation inside the step loop
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        t0, count, n_img = time.perf_counter(), 0, 0
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch + 1}/{c.epochs}",
            disable=not progress,
            leave=False,
        )
        for step in bar:
            t = epoch * steps_per_epoch + step
            lr = cosine_lr(t, total, c.lr, c.lr_min)
            for group in optimizer.param_groups:
                group["lr"] = lr
            group_batches = [next(batches) for _ in range(bpb)]
            draws = sampler.sample(rng, progress=t / total, batch_size=c.batch_size)
            optimizer.zero_grad(set_to_none=True)
            step_loss = torch.zeros((), device=device)
            for i, draw in enumerate(draws):
                x, y = group_batches[i % bpb]
                extra = {}
                if draw.example_mask is not None:
                    extra["example_mask"] = torch.from_numpy(draw.example_mask).to(device)
                with torch.autocast(device.type, dtype=torch.float16, enabled=c.amp):
                    logits = model(x, draw.choice, **extra)
                    loss = F.cross_entropy(logits, y)
                scaler.scale(loss).backward()
                step_loss += loss.detach().float()
                correct += (logits.detach().argmax(1) == y).sum()
                count += len(y)
                key = model.arch_key(draw.choice)
                if key is not None:
                    seen_archs.add(key)
            if c.grad_clip is not None:
                scaler.unscale_(optimizer)
                used = [p for p in params if p.grad is not None]
                if c.grad_clip_mode == "norm":
                    torch.nn.utils.clip_grad_norm_(used, c.grad_clip)
                else:
                    torch.nn.utils.clip_grad_value_(used, c.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            loss_sum += step_loss / len(draws)
            n_img += bpb * c.batch_size
            if (t + 1) % c.log_every == 0:
                log.write(
                    {
                        "event": "step",
                        "epoch": epoch + 1,
                        "step": t + 1,
                        "loss": float(step_loss) / len(draws),
                        "lr": lr,
                    }
                )
            if progress and step % 10 == 0:
                bar.set_postfix(loss=f"{float(step_loss) / len(draws):.3f}")
        bar.close()
        seconds = time.perf_counter() - t0
        record = {
            "event": "epoch",
            "epoch": epoch + 1,
            "steps": steps_per_epoch,
            "loss": float(loss_sum) / steps_per_epoch,
            "train_accuracy": 100.0 * int(correct) / max(count, 1),
            "lr": lr,
            "images": n_img,
            "seconds": seconds,
            "images_per_s": n_img / seconds if seconds > 0 else None,
            "distinct_archs": len(seen_archs) if seen_archs else None,
        }
        if children:
            accs = [
                evaluate(
                    model, ch, valid, recalibrate=c.eval_bn, calibration_images=train, device=device
                )["accuracy"]
                for ch in children
            ]
            record["eval"] = {
                "children": len(children),
                "accuracy": accs,
                "mean_accuracy": float(np.mean(accs)),
            }
        log.write(record)
        if not math.isfinite(record["loss"]):
            raise TrainingDivergedError(
                f"epoch {epoch + 1} of {out} ended with a non-finite loss ({record['loss']}); "
                "lower the learning rate or check the data (the last checkpoint is kept)"
            )
        _atomic_save(
            {
                "format": CHECKPOINT_FORMAT,
                "epoch": epoch + 1,
                "global_step": (epoch + 1) * steps_per_epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
                "distinct_archs": sorted(seen_archs),
                "config": c.to_dict(),
                "nasbench_tools_version": __version__,
            },
            out / "checkpoints" / f"epoch-{epoch + 1:04d}.pt",
        )
        if c.keep_checkpoints is not None:
            for old in sorted((out / "checkpoints").glob("epoch-*.pt"))[: -c.keep_checkpoints]:
                old.unlink()
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, record)
    log.write(
        {
            "event": "end",
            "epoch": c.epochs,
            "distinct_archs": len(seen_archs) if seen_archs else None,
        }
    )
    return TrainResult(out, c.epochs, log.epochs(), len(seen_archs) if seen_archs else None, model)


def load_supernet(
    out_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None, device="cpu"
):
    """Rebuild a trained supernet from a run folder (newest checkpoint unless one is named).

    Returns ``(model, config)``; the data are loaded only to learn their shape.
    """
    out = Path(out_dir)
    path = Path(checkpoint) if checkpoint is not None else latest_checkpoint(out)
    if path is None:
        raise TrainConfigError(f"{out} holds no checkpoint")
    state = torch.load(path, map_location=device, weights_only=True)
    c = TrainConfig.from_dict(state["config"])
    train, _ = _load_data(c)
    model, _ = _build(c, train)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), c
