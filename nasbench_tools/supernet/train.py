"""Train a weight-sharing supernet: checkpoints every epoch, exact resume, JSON-lines log.

:func:`train_supernet` runs a :class:`~nasbench_tools.supernet.config.TrainConfig` into a
folder::

    out_dir/config.json            resolved config + provenance (package/torch version, seed,
                                   threads, data sha256, sampler, parameter count)
    out_dir/log.jsonl              one JSON object per line: start, step (every log_every
                                   steps), epoch, end
    out_dir/checkpoints/init.pt    the weights at initialisation (W0), before any step
    out_dir/checkpoints/epoch-NNNN.pt   (``keep_checkpoints`` prunes old ones, never
                                   epoch-0001.pt: the ABS code's angle reference)

The folder is created only once the data are loaded and the configuration is checked, so a
run that cannot start leaves nothing behind.

A run is a few short steps: :func:`_setup` (config, data, model, folder), :func:`_train_epoch`
(its steps, :func:`_train_step`), :func:`_evaluate_children` and :func:`_save_checkpoint`.

One optimizer step: the sampler's draws (:mod:`nasbench_tools.supernet.samplers`) each run
forward and backward on their batch, gradients accumulate (summed), the gradient is clipped and
SGD steps once; the learning rate follows a per-step cosine from ``lr`` to ``lr_min``. The
sampler sees ``progress = t / (T - 1)`` at step ``t`` of ``T`` (0 at the first step, 1 at the
last). Each step also measures its **update coverage**: the fraction of the candidate ops'
weights (counted as scalars, by tensor) whose gradient is non-zero, i.e. that the step updates
(weight decay aside). ``step`` records carry that step's value, ``epoch`` records the mean and
minimum over the epoch. Single-path samplers cover few ops per step by design; for FairNAS see
``fairness`` in :mod:`~nasbench_tools.supernet.samplers`. ``epoch`` records also count what the
epoch fed and touched: ``images`` (drawn from the loader), ``passes`` (forward/backward passes:
the draws run, FairNAS's ``n`` per step), ``op_draws`` (per searchable cell, block and path: the
passes whose draw switched the path on; ``none`` included, although it computes nothing) and
``op_updates`` (per candidate-op parameter tensor, by name: the steps in which its gradient had
a non-zero entry).

**Exact resume.** Every source of randomness of epoch ``e`` (data order, augmentation, sampled
paths, torch's global generator) is seeded from ``(seed, e)`` at the start of the epoch, and a
checkpoint with the model, optimizer and gradient-scaler state is written at the end of every
epoch. Checkpoints, ``config.json`` and the truncated log are written atomically
(:func:`~nasbench_tools._io.atomic_write`: a temporary file unique to the process and the call,
fsync, rename), so a kill leaves the old file or the complete new one. The torch thread count
is part of the config and is restored on resume. Resuming loads the newest checkpoint, drops log
records of the unfinished epoch and continues; on CPU the result equals an uninterrupted run bit
for bit.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .. import __version__
from .._io import atomic_write
from ..datasets import ImageData, iterate_batches, load
from ..errors import TrainConfigError, TrainingDivergedError
from ..nn import distributed as dp
from ..nn.choice import OFF
from .config import TrainConfig, read_saved_config
from .models import build_supernet
from .recalibrate import BNRecalibration, evaluate, resolve_preset
from .samplers import Sampler, draw_children, make_sampler

__all__ = [
    "TrainResult",
    "cosine_lr",
    "derive_seed",
    "latest_checkpoint",
    "load_supernet",
    "train_supernet",
]

CHECKPOINT_FORMAT = "nasbench_tools.supernet.checkpoint/1"
INIT_CHECKPOINT = "init.pt"
EPOCH1_CHECKPOINT = "epoch-0001.pt"


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


# --------------------------------------------------------------------------- pieces
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


def _eval_preset(c: TrainConfig) -> BNRecalibration:
    preset = resolve_preset(c.eval_bn)
    if c.eval_bn_images is None:
        return preset
    return dataclasses.replace(preset, n_images=c.eval_bn_images)


class _Log:
    """The run's JSON-lines log; ``enabled=False`` (data-parallel ranks other than 0) neither
    writes nor reads it: rank 0 may be appending to it at any moment (and on another machine it
    may not exist), so the other ranks get its records from rank 0 (:func:`_epochs_everywhere`)."""

    def __init__(self, path: Path, enabled: bool = True):
        self.path = path
        self.enabled = enabled

    def truncate_after(self, epoch: int) -> None:
        if not self.enabled or not self.path.exists():
            return
        keep = []
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:  # a line cut by a kill
                continue
            if rec.get("epoch", 0) <= epoch:
                keep.append(line)
        _write_text(self.path, "".join(f"{line}\n" for line in keep))

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")

    def epochs(self) -> list[dict]:
        """The epoch records in the file (the writing rank only)."""
        if not self.enabled:
            raise RuntimeError(
                f"{self.path} is written by rank 0 and read only there; other ranks get its "
                "records from rank 0 (_epochs_everywhere)"
            )
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("event") == "epoch":
                out.append(rec)
        return out


def _epochs_everywhere(log: _Log, w: dp.World) -> list[dict]:
    """The log's epoch records on every rank: read by rank 0 after its last write, sent to the
    others (a collective call: every rank makes it at the same point)."""
    return dp.broadcast_object(log.epochs() if w.is_main else None, w)


def _save(obj, path: Path) -> None:
    """``torch.save`` of ``obj`` to ``path``, atomically (:func:`~nasbench_tools._io.atomic_write`:
    a temporary unique to the process and the call, fsync, rename; temporaries that killed runs
    left for ``path`` are removed first)."""
    with atomic_write(path, overwrite=True) as tmp:
        torch.save(obj, tmp)


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path, overwrite=True) as tmp:
        tmp.write_text(text)


def _provenance(c: TrainConfig, train: ImageData, valid: ImageData, model, sampler) -> dict:
    return {
        "config": c.to_dict(),
        "seed": c.seed,
        "threads": c.threads,
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


def _state(c: TrainConfig, model: nn.Module, epoch: int, **extra) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "model": model.state_dict(),
        "config": c.to_dict(),
        "nasbench_tools_version": __version__,
        **extra,
    }


# --------------------------------------------------------------------------- the run
@dataclass
class _Run:
    """Everything the steps of one run share."""

    c: TrainConfig
    out: Path
    device: torch.device
    train: ImageData
    valid: ImageData
    model: nn.Module
    sampler: Sampler
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    log: _Log
    steps_per_epoch: int
    children: list[np.ndarray]
    world: dp.World = field(default_factory=dp.World)
    start_epoch: int = 0
    seen_archs: set[str] = field(default_factory=set)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.c.epochs


@dataclass
class _StepStats:
    lr: float
    loss: torch.Tensor  # mean over the step's models, on the device
    correct: torch.Tensor
    count: int
    coverage: torch.Tensor
    passes: int = 0
    on: np.ndarray | None = None  # (num_cells, blocks, paths): passes with the path switched on
    updated: torch.Tensor | None = None  # per op parameter tensor: a non-zero gradient entry


def _resolve(config: TrainConfig, out: Path, resume: bool) -> tuple[TrainConfig, dict | None]:
    """The resolved config (threads filled in) and the saved run's provenance when resuming."""
    c = config.resolved()
    w = dp.world()
    ckpt_path = latest_checkpoint(out)
    if ckpt_path is not None and not resume:
        raise TrainConfigError(
            f"{out} already holds a run ({ckpt_path.name}); resume it or use another folder"
        )
    if ckpt_path is None:
        if c.threads is None:
            c = dataclasses.replace(c, threads=torch.get_num_threads())
        saved = None
    else:
        saved = read_saved_config(out / "config.json")
        c = c.resumed(saved)
    dp.check_micro_batches(c.micro_batches, w, error=TrainConfigError)
    return c, saved


def _check_data(c: TrainConfig, train: ImageData, sampler: Sampler, saved: dict | None) -> int:
    """Refuse data the run cannot use; returns the steps per epoch."""
    if c.cutout >= train.image_size:
        raise TrainConfigError(
            f"cutout {c.cutout} would erase whole {train.image_size}x{train.image_size} images"
        )
    bpb = sampler.batches_per_step
    steps_per_epoch = (len(train) // c.batch_size) // bpb
    if steps_per_epoch < 1:
        raise TrainConfigError(
            f"{len(train)} training images give no full step of {bpb} batch(es) of {c.batch_size}"
        )
    need = _eval_preset(c).n_images
    if c.eval_children > 0 and need is not None and need > len(train):
        raise TrainConfigError(
            f"eval_bn {c.eval_bn!r} recalibrates BN on {need:,} training images but the training "
            f"split has {len(train):,}; set eval_bn_images (--eval-bn-images) to at most "
            f"{len(train):,} or choose another eval_bn"
        )
    if saved is not None and saved["data"]["train"].get("sha256") != train.provenance.get("sha256"):
        raise TrainConfigError(
            "cannot resume: the training data differ from the saved run (sha256)"
        )
    return steps_per_epoch


def _setup(config: TrainConfig, out_dir: str | os.PathLike, resume: bool) -> _Run:
    """Resolve, load and check everything, then create or reopen the run folder."""
    out = Path(out_dir)
    c, saved = _resolve(config, out, resume)
    torch.set_num_threads(c.threads)
    w = dp.world()
    device = dp.rank_device(c.device, w)
    train, valid = _load_data(c)
    model, sampler = _build(c, train)
    steps_per_epoch = _check_data(c, train, sampler, saved)
    w0 = _state(c, model, 0)  # the weights at initialisation, before anything is loaded
    model.to(device)
    run = _Run(
        c, out, device, train, valid, model, sampler, _optimizer(c, model),
        torch.amp.GradScaler("cuda", enabled=c.amp), _Log(out / "log.jsonl", w.is_main),
        steps_per_epoch, draw_children(sampler, np.random.default_rng([c.seed, 4]), c.eval_children),
        w,
    )  # fmt: skip
    ckpts = out / "checkpoints"
    if w.is_main:
        ckpts.mkdir(parents=True, exist_ok=True)
    if w.is_main and (saved is None or not (ckpts / INIT_CHECKPOINT).is_file()):
        _save(w0, ckpts / INIT_CHECKPOINT)
    if saved is None and w.is_main:
        provenance = _provenance(c, train, valid, model, sampler)
        _write_text(out / "config.json", json.dumps(provenance, indent=2, sort_keys=True) + "\n")
        _write_text(run.log.path, "")
    elif saved is not None:
        _load_checkpoint(run, latest_checkpoint(out))
    start = {"event": "start", "epoch": run.start_epoch, "resumed": saved is not None,
             "threads": c.threads}  # fmt: skip
    if w.distributed or c.micro_batches > 1:
        start.update(world_size=w.size, micro_batches=c.micro_batches)
    run.log.write(start)
    dp.barrier(w)  # rank 0 has made the folder before any rank trains
    return run


def _load_checkpoint(run: _Run, path: Path) -> None:
    state = torch.load(path, map_location=run.device, weights_only=True)
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scaler.load_state_dict(state["scaler"])
    run.start_epoch, run.seen_archs = int(state["epoch"]), set(state["distinct_archs"])
    run.log.truncate_after(run.start_epoch)


def _update_coverage(params: list[nn.Parameter]) -> torch.Tensor:
    """Fraction of the scalars of ``params`` in tensors with a non-zero gradient."""
    with_grad = [p for p in params if p.grad is not None]
    total = sum(p.numel() for p in params)
    if not with_grad or total == 0:
        return torch.zeros(())
    peaks = torch.stack(torch._foreach_norm([p.grad for p in with_grad], float("inf")))
    sizes = torch.tensor([p.numel() for p in with_grad], dtype=torch.float32, device=peaks.device)
    return ((peaks > 0).float() * sizes).sum() / total  # stays on the device: no host sync


def _nonzero_grads(params: list[nn.Parameter], device) -> torch.Tensor:
    """Per tensor of ``params``: 1 where its gradient has a non-zero entry, else 0 (no gradient
    included); int64 on ``device``, no host synchronisation."""
    out = torch.zeros(len(params), dtype=torch.long, device=device)
    idx = [i for i, p in enumerate(params) if p.grad is not None]
    if idx:
        peaks = torch.stack(torch._foreach_norm([params[i].grad for i in idx], float("inf")))
        out[torch.tensor(idx, device=device)] = (peaks > 0).long()
    return out


def _switched_on(space, draws) -> np.ndarray:
    """``(num_cells, blocks, paths)`` counts of the draws that switch each path on (a choice
    shared by every cell counts in each cell)."""
    on = np.zeros((space.num_cells, space.num_blocks, space.num_paths), dtype=np.int64)
    for d in draws:
        on += np.broadcast_to(np.asarray(d.choice) != OFF, on.shape)
    return on


def _clip(run: _Run) -> None:
    c = run.c
    if c.grad_clip is None:
        return
    run.scaler.unscale_(run.optimizer)
    used = [p for p in run.model.parameters() if p.grad is not None]
    if c.grad_clip_mode == "norm":
        torch.nn.utils.clip_grad_norm_(used, c.grad_clip)
    else:
        torch.nn.utils.clip_grad_value_(used, c.grad_clip)


def _train_step(run: _Run, t: int, batches: list, rng: np.random.Generator) -> _StepStats:
    """Step ``t``: the sampler's draws on ``batches``, gradients summed, clipped, one SGD step."""
    c, model, device = run.c, run.model, run.device
    lr = cosine_lr(t, run.total_steps, c.lr, c.lr_min)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    progress = t / max(run.total_steps - 1, 1)
    draws = run.sampler.sample(rng, progress=progress, batch_size=c.batch_size)
    if run.world.distributed:  # every rank must train the same paths on the same batches
        dp.check_same(
            dp.digest(*[d.choice for d in draws], *[d.example_mask for d in draws],
                      *[y for _, y in batches]),
            f"the draws of step {t}",
        )  # fmt: skip
    run.optimizer.zero_grad(set_to_none=True)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    count = 0
    M = c.micro_batches
    for i, draw in enumerate(draws):
        x, y = batches[i % len(batches)]
        mask = None if draw.example_mask is None else torch.from_numpy(draw.example_mask)
        sync = dp.BufferSync(model, M, run.world)
        for part in dp.local_parts(len(y), M, run.world):
            sync.before_part()
            extra = {} if mask is None else {"example_mask": mask[part].to(device)}
            with torch.autocast(device.type, dtype=torch.float16, enabled=c.amp):
                logits = model(x[part], draw.choice, **extra)
                loss = dp.weighted(F.cross_entropy(logits, y[part]), part, len(y), M)
            run.scaler.scale(loss).backward()  # accumulates: draws and parts are summed
            loss_sum += loss.detach().float()
            correct += (logits.detach().argmax(1) == y[part]).sum()
            count += part.stop - part.start
        sync.finish()
        key = model.arch_key(draw.choice)
        if key is not None:
            run.seen_archs.add(key)
    dp.all_reduce_grads(list(model.parameters()), run.world)
    op_params = model.op_parameters()
    coverage = _update_coverage(op_params)
    updated = _nonzero_grads(op_params, device)
    _clip(run)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    on = _switched_on(model.space, draws)
    return _StepStats(lr, loss_sum / len(draws), correct, count, coverage, len(draws), on, updated)


def _epoch_batches(run: _Run, epoch: int) -> Iterator:
    gen = torch.Generator().manual_seed(derive_seed(run.c.seed, 1, epoch))
    return iterate_batches(
        run.train, run.c.batch_size, shuffle=True, generator=gen, augment=run.c.augment,
        cutout=run.c.cutout, drop_last=True, device=run.device,
    )  # fmt: skip


def _train_epoch(run: _Run, epoch: int, progress: bool) -> dict:
    """Every step of ``epoch`` (0-based); returns its ``epoch`` log record."""
    c = run.c
    torch.manual_seed(derive_seed(c.seed, 3, epoch))
    rng = np.random.default_rng([c.seed, 2, epoch])
    batches = _epoch_batches(run, epoch)
    bpb = run.sampler.batches_per_step
    run.model.train()
    # running sums stay on the device: no host synchronisation inside the step loop
    loss_sum = torch.zeros((), device=run.device)
    correct = torch.zeros((), dtype=torch.long, device=run.device)
    coverages = []
    t0, count, n_img, passes = time.perf_counter(), 0, 0, 0
    names = {id(p): n for n, p in run.model.named_parameters()}
    op_names = [names[id(p)] for p in run.model.op_parameters()]
    updates = torch.zeros(len(op_names), dtype=torch.long, device=run.device)
    space = run.model.space
    switched = np.zeros((space.num_cells, space.num_blocks, space.num_paths), dtype=np.int64)
    progress = progress and run.world.is_main
    bar = tqdm(
        range(run.steps_per_epoch), desc=f"epoch {epoch + 1}/{c.epochs}", disable=not progress,
        leave=False,
    )  # fmt: skip
    for step in bar:
        t = epoch * run.steps_per_epoch + step
        s = _train_step(run, t, [next(batches) for _ in range(bpb)], rng)
        loss_sum += s.loss
        correct += s.correct
        count += s.count
        coverages.append(s.coverage)
        n_img += bpb * c.batch_size
        passes += s.passes
        switched += s.on
        updates += s.updated
        if (t + 1) % c.log_every == 0:
            step_loss = dp.all_reduce_sum(s.loss.clone(), run.world)
            run.log.write(
                {"event": "step", "epoch": epoch + 1, "step": t + 1, "loss": float(step_loss),
                 "lr": s.lr, "update_coverage": float(s.coverage)}
            )  # fmt: skip
        if progress and step % 10 == 0:
            bar.set_postfix(loss=f"{float(s.loss):.3f}")
    bar.close()
    if run.world.distributed:  # the epoch's loss and accuracy over the whole batches
        sums = torch.stack(
            [loss_sum.double(), correct.double(), torch.tensor(count, device=run.device).double()]
        )
        dp.all_reduce_sum(sums, run.world)
        loss_sum, correct, count = sums[0], int(sums[1]), int(sums[2])
    seconds = time.perf_counter() - t0
    cov = torch.stack(coverages)
    return {
        "event": "epoch",
        "epoch": epoch + 1,
        "steps": run.steps_per_epoch,
        "loss": float(loss_sum) / run.steps_per_epoch,
        "train_accuracy": 100.0 * int(correct) / max(count, 1),
        "lr": s.lr,
        "images": n_img,
        "seconds": seconds,
        "images_per_s": n_img / seconds if seconds > 0 else None,
        "distinct_archs": len(run.seen_archs) if run.seen_archs else None,
        "update_coverage": {"mean": float(cov.mean()), "min": float(cov.min())},
        "passes": passes,
        "op_draws": switched.tolist(),
        "op_updates": dict(zip(op_names, updates.tolist())),
    }


def _evaluate_children(run: _Run) -> dict:
    """Accuracy of the run's fixed children on the validation split, BN recalibrated on
    training images; the record names the children (arch keys and choices)."""
    preset = _eval_preset(run.c)
    kw = {"recalibrate": preset, "calibration_images": run.train, "device": run.device}
    results = [evaluate(run.model, child, run.valid, **kw) for child in run.children]
    accs = [r["accuracy"] for r in results]
    return {
        "children": len(run.children),
        "arch_keys": [run.model.arch_key(child) for child in run.children],
        "choices": [child.tolist() for child in run.children],
        "accuracy": accs,
        "mean_accuracy": float(np.mean(accs)),
        "bn": run.c.eval_bn,
        "calibration_images": results[0]["calibration_images"],
    }


def _save_checkpoint(run: _Run, epoch: int) -> None:
    """``checkpoints/epoch-NNNN.pt`` after ``epoch`` (1-based) epochs; prune old ones (rank 0
    only)."""
    if not run.world.is_main:
        return
    folder = run.out / "checkpoints"
    state = _state(
        run.c, run.model, epoch, global_step=epoch * run.steps_per_epoch,
        optimizer=run.optimizer.state_dict(), scaler=run.scaler.state_dict(),
        distinct_archs=sorted(run.seen_archs),
    )  # fmt: skip
    _save(state, folder / f"epoch-{epoch:04d}.pt")
    if run.c.keep_checkpoints is not None:
        for old in sorted(folder.glob("epoch-*.pt"))[: -run.c.keep_checkpoints]:
            if old.name != EPOCH1_CHECKPOINT:  # kept: the reference of the angle's `epoch1`
                old.unlink()


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
        resolved config must equal the saved one except
        :data:`~nasbench_tools.supernet.config.RESUME_MAY_CHANGE`; ``threads=None`` restores
        the run's thread count.
    progress : bool
        Show a tqdm progress bar per epoch.
    on_epoch_end : callable, optional
        ``on_epoch_end(epoch, record)`` after each epoch's checkpoint is written.
    """
    threads_before = torch.get_num_threads()
    try:
        run = _setup(config, out_dir, resume)
        for epoch in range(run.start_epoch, run.c.epochs):
            record = _train_epoch(run, epoch, progress)
            if run.children:
                record["eval"] = _evaluate_children(run)
            run.log.write(record)
            if not math.isfinite(record["loss"]):
                raise TrainingDivergedError(
                    f"epoch {epoch + 1} of {run.out} ended with a non-finite loss "
                    f"({record['loss']}); lower the learning rate or check the data (the last "
                    "checkpoint is kept)"
                )
            _save_checkpoint(run, epoch + 1)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, record)
    finally:
        torch.set_num_threads(threads_before)
    distinct = len(run.seen_archs) if run.seen_archs else None
    run.log.write({"event": "end", "epoch": run.c.epochs, "distinct_archs": distinct})
    epochs = _epochs_everywhere(run.log, run.world)
    return TrainResult(run.out, run.c.epochs, epochs, distinct, run.model)


def _checkpoint_path(out: Path, checkpoint: str | os.PathLike | None) -> Path:
    if checkpoint is None:
        path = latest_checkpoint(out)
        if path is None:
            raise TrainConfigError(f"{out} holds no checkpoint")
        return path
    path = Path(checkpoint)
    if path.parent == Path(".") and not path.is_file():  # a name: "init", "epoch-0003"
        path = out / "checkpoints" / (path.name if path.suffix == ".pt" else f"{path.name}.pt")
    if not path.is_file():
        raise TrainConfigError(f"no checkpoint {checkpoint!r} in {out / 'checkpoints'}")
    return path


def load_supernet(
    out_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None, device="cpu"
):
    """Rebuild a trained supernet from a run folder.

    Parameters
    ----------
    out_dir : path
        The run folder.
    checkpoint : str or path, optional
        The newest epoch checkpoint when omitted; a file; or a name in ``out_dir/checkpoints``:
        ``"init"`` (the weights at initialisation, W0) or ``"epoch-0003"``.

    Returns ``(model, config)``; the data are loaded only to learn their shape.
    """
    out = Path(out_dir)
    path = _checkpoint_path(out, checkpoint)
    state = torch.load(path, map_location=device, weights_only=True)
    c = TrainConfig.from_dict(state["config"])
    train, _ = _load_data(c)
    model, _ = _build(c, train)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), c
