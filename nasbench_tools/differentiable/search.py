"""Run a differentiable search into a folder, with a checkpoint per epoch and exact resume.

:func:`run_search` runs a :class:`~.config.SearchConfig`::

    out/config.json            resolved config + provenance (package and torch versions, seed,
                               threads, data sha256 of both splits, parameter counts)
    out/log.jsonl              start, step (every log_every steps), epoch, projection, search_end
    out/checkpoints/epoch-NNNN.pt   after every epoch: supernet and alpha, both optimizers,
                               DARTS-PT's decided edges and measurements
    out/scores/operators.csv   the 30 (edge, op) scores (+ .meta.json sidecar)
    out/scores/archs.csv       the 15,625 architecture scores they imply (+ sidecar)
    out/selected.txt           the selected architecture (one line; `nbt build-bench
                               --archs-file` reads it)
    out/result.json            selection, its look-ups and the operator-level Kendall tau in
                               every ground truth given (:mod:`.results`)

An epoch: DARTS-PT's tuning epochs start with a projection when one is due; then
``len(search-train) // batch_size`` steps (:meth:`~.architect.Searcher.step`), each on the next
training batch and, for a bilevel update, the next ``search-valid`` batch (both shuffled per
epoch, the validation batches cycling); then the supernet's validation accuracy with its
deterministic weights (BN in training mode, :func:`~.projection.evaluate`). After the last search
epoch the ``search_end`` record holds the magnitudes and, for mixed supernets, the perturbation
importance of all 30 ops. Learning rate: cosine from ``lr`` to ``lr_min`` per epoch (DARTS-PT,
FairDARTS) or per step (AutoDL's DARTS and GDAS); DARTS-PT's tuning resets the weights' SGD to
``lr / 10``, constant; alpha's Adam continues. GDAS's temperature falls linearly per epoch from
``tau_max`` to ``tau_min``.

**Exact resume.** Every random source of epoch ``e`` (batch order and augmentation of both
splits, Gumbel noise, the projected edge) is seeded from ``(seed, e)``; checkpoints are written
atomically; on resume the newest checkpoint is loaded and the log is cut after it. On CPU a run
killed and resumed ends bit for bit where an uninterrupted one does (tested).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import __version__
from ..datasets import ImageData, iterate_batches, load
from ..errors import TrainingDivergedError
from ..nn import distributed as dp
from ..registry import Registry
from ..spaces.nb201 import EDGES, OPS
from ..supernet.train import (
    _epochs_everywhere,
    _Log,
    _save,
    _write_text,
    cosine_lr,
    derive_seed,
    latest_checkpoint,
)
from .architect import Searcher
from .config import DifferentiableSearchError, SearchConfig, read_saved_config
from .network import MixedNB201
from .projection import choose_op, evaluate, next_edge, perturbation, projection_epochs, tune_epochs
from .superkernel import SuperkernelNB201
from .weights import WEIGHTINGS

__all__ = ["SUPERNET_KINDS", "SearchResult", "build_model", "load_run", "run_search"]

CHECKPOINT_FORMAT = "nasbench_tools.differentiable.checkpoint/1"

#: ``supernet`` setting -> builder(config, network options)
SUPERNET_KINDS: Registry[Callable] = Registry(
    "differentiable supernet", error=DifferentiableSearchError
)
SUPERNET_KINDS.register(
    "mixed", lambda c, o: MixedNB201(**o, affine=c.affine, alpha_init_std=c.alpha_init_std)
)
SUPERNET_KINDS.register(
    "superkernel",
    lambda c, o: SuperkernelNB201(
        **o,
        affine=c.affine,
        alpha_init_std=c.alpha_init_std,
        free_ops=c.free_ops,
        cost=c.cost,
        cost_lambda=c.cost_lambda,
    ),
)


@dataclass
class SearchResult:
    out_dir: Path
    result: dict
    history: list[dict]


@dataclass
class _Run:
    c: SearchConfig
    out: Path
    device: torch.device
    train: ImageData
    valid: ImageData
    searcher: Searcher
    log: _Log
    steps_per_epoch: int
    tune: int
    world: dp.World = field(default_factory=dp.World)
    start_epoch: int = 0
    projections: list = field(default_factory=list)
    search_end: dict | None = None

    @property
    def total_epochs(self) -> int:
        return self.c.epochs + self.tune


# --------------------------------------------------------------------------- pieces
def load_data(c: SearchConfig) -> tuple[ImageData, ImageData]:
    """``search-train`` and ``search-valid`` of the config's dataset (subsets seeded by
    ``data_seed``)."""
    common = {"root": c.data_root, "resize": c.resize, "channels": c.channels,
              "split_file": c.split_file, "split_seed": c.data_seed, "subset_seed": c.data_seed}  # fmt: skip
    train = load(c.dataset, "search-train", subset=c.subset, **common)
    valid = load(c.dataset, "search-valid", subset=c.valid_subset, **common)
    return train, valid


def build_model(c: SearchConfig, data: ImageData) -> torch.nn.Module:
    """The config's supernet, initialised from ``seed``."""
    options = {"C": c.C, "N": c.N, "num_classes": data.num_classes,
               "in_channels": data.channels, "image_size": data.image_size}  # fmt: skip
    builder = SUPERNET_KINDS.get(c.supernet)
    torch.manual_seed(c.seed)
    return builder(c, options)


def _json(values) -> list:
    """A nested list with NaN as ``None`` (plain JSON)."""
    a = np.asarray(values, dtype=float)
    return [_json(row) for row in a] if a.ndim > 1 else [None if v != v else float(v) for v in a]


def _setup(config: SearchConfig, out: Path, resume: bool) -> _Run:
    c = config.resolved()
    ckpt = latest_checkpoint(out)
    if ckpt is not None and not resume:
        raise DifferentiableSearchError(
            f"{out} already holds a run ({ckpt.name}); pass --resume or use another folder"
        )
    saved = None
    if ckpt is not None:
        saved = read_saved_config(out / "config.json")
        c = c.resumed(saved)
    elif c.threads is None:
        c = dataclasses.replace(c, threads=torch.get_num_threads())
    w = dp.world()
    dp.check_micro_batches(c.micro_batches, w, error=DifferentiableSearchError)
    torch.set_num_threads(c.threads)
    train, valid = load_data(c)
    spe = len(train) // c.batch_size
    if spe < 1:
        raise DifferentiableSearchError(
            f"{len(train)} search-train images give no full batch of {c.batch_size} (subset "
            f"{c.subset}); lower batch_size or raise subset"
        )
    if c.arch_update == "bilevel" and len(valid) < c.batch_size:
        raise DifferentiableSearchError(
            f"{len(valid)} search-valid images give no architecture batch of {c.batch_size} "
            f"(valid_subset {c.valid_subset})"
        )
    if saved is not None:
        for split, data in (("train", train), ("valid", valid)):
            if saved["data"][split]["sha256"] != data.provenance["sha256"]:
                raise DifferentiableSearchError(
                    f"cannot resume: the {split} data differ from the saved run (sha256)"
                )
    device = dp.rank_device(c.device, w)
    model = build_model(c, train).to(device)
    searcher = Searcher(c, model, WEIGHTINGS.get(c.weighting), tau=c.tau_max, world=w)
    tune = tune_epochs(c.proj_intv, len(EDGES)) if c.selection == "projection" else 0
    log = _Log(out / "log.jsonl", w.is_main)
    run = _Run(c, out, device, train, valid, searcher, log, spe, tune, w)
    if w.is_main:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    if saved is None and w.is_main:
        provenance = _provenance(c, train, valid, model)
        _write_text(out / "config.json", json.dumps(provenance, indent=2, sort_keys=True) + "\n")
        _write_text(run.log.path, "")
    elif saved is not None:
        _load_checkpoint(run, ckpt)
    start = {"event": "start", "epoch": run.start_epoch, "resumed": saved is not None}
    if w.distributed or c.micro_batches > 1:
        start.update(world_size=w.size, micro_batches=c.micro_batches)
    run.log.write(start)
    dp.barrier(w)  # rank 0 has made the folder before any rank trains
    return run


def _provenance(c: SearchConfig, train: ImageData, valid: ImageData, model) -> dict:
    count = lambda ps: int(sum(p.numel() for p in ps))  # noqa: E731
    return {
        "config": c.to_dict(),
        "seed": c.seed,
        "threads": c.threads,
        "nasbench_tools_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "data": {"train": dict(train.provenance), "valid": dict(valid.provenance)},
        "parameters": {
            "weights": count(model.weight_parameters()),
            "architecture": count(model.arch_parameters()),
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _state(run: _Run, epoch: int) -> dict:
    s = run.searcher
    return {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "model": s.model.state_dict(),
        "w_opt": s.w_opt.state_dict(),
        "a_opt": None if s.a_opt is None else s.a_opt.state_dict(),
        "decided": [[k, v] for k, v in s.decided.items()],
        "projections": run.projections,
        "search_end": run.search_end,
        "config": run.c.to_dict(),
        "nasbench_tools_version": __version__,
    }


def _load_checkpoint(run: _Run, path: Path) -> None:
    state = torch.load(path, map_location=run.device, weights_only=True)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise DifferentiableSearchError(f"{path} is not a differentiable-search checkpoint")
    s = run.searcher
    s.model.load_state_dict(state["model"])
    run.start_epoch = int(state["epoch"])
    s.w_opt.load_state_dict(state["w_opt"])  # its lr and buffers: the tuning's after a reset
    if s.a_opt is not None:
        s.a_opt.load_state_dict(state["a_opt"])
    s.decided = {int(k): int(v) for k, v in state["decided"]}
    run.projections, run.search_end = list(state["projections"]), state["search_end"]
    run.log.truncate_after(run.start_epoch)


# --------------------------------------------------------------------------- one epoch
def _batches(run: _Run, data: ImageData, epoch: int, key: int, cycle: bool) -> Iterator:
    gen = torch.Generator().manual_seed(derive_seed(run.c.seed, key, epoch))
    while True:
        yield from iterate_batches(
            data, run.c.batch_size, shuffle=True, generator=gen, augment=run.c.augment,
            drop_last=True, device=run.device,
        )  # fmt: skip
        if not cycle:
            return


def _lr(run: _Run, epoch: int, step: int) -> float:
    c = run.c
    if epoch >= c.epochs:  # DARTS-PT tuning: lr / 10, constant
        return c.lr / 10
    if c.lr_schedule == "epoch":
        return cosine_lr(epoch, c.epochs, c.lr, c.lr_min)
    spe = run.steps_per_epoch
    return cosine_lr(epoch * spe + step, c.epochs * spe, c.lr, c.lr_min)


def _project(run: _Run, epoch: int) -> dict:
    """DARTS-PT: pick the next edge, mask each of its ops, keep the one that matters most."""
    c, s = run.c, run.searcher
    remaining = [k for k in range(len(EDGES)) if k not in s.decided]
    edge = next_edge(remaining, c.edge_order, np.random.default_rng([c.seed, 7, epoch]))
    weights, on = s.mixing(sample=False)
    p = perturbation(s.model, weights, on, run.valid, [edge], c.eval_batch_size, run.device)
    op = choose_op(p["acc"][edge], p["loss"][edge], c.proj_crit)
    s.decided[edge] = op
    src, dst = EDGES[edge]
    record = {
        "event": "projection", "epoch": epoch + 1, "edge": f"{src}->{dst}", "op": OPS[op],
        "crit": c.proj_crit, "base_accuracy": p["base"][0], "base_loss": p["base"][1],
        "masked_accuracy": _json(p["acc"][edge]), "masked_loss": _json(p["loss"][edge]),
        "drop": _json(p["drop"][edge]),
    }  # fmt: skip
    run.projections.append(record)
    run.log.write(record)
    return record


def _search_end(run: _Run) -> dict:
    """Magnitudes and (mixed supernets) the perturbation importance of all 30 ops."""
    s = run.searcher
    weights, on = s.mixing(sample=False)
    record = {"event": "search_end", "epoch": run.c.epochs,
              "magnitude": _json(s.model.magnitude(weights))}  # fmt: skip
    if isinstance(s.model, MixedNB201):
        p = perturbation(
            s.model, weights, on, run.valid, range(len(EDGES)), run.c.eval_batch_size, run.device
        )
        record.update(
            base_accuracy=p["base"][0], perturbation=_json(p["drop"]),
            masked_loss=_json(p["loss"]),
        )  # fmt: skip
    run.log.write(record)
    return record


def _run_epoch(run: _Run, epoch: int, progress: bool) -> dict:
    c, s = run.c, run.searcher
    torch.manual_seed(derive_seed(c.seed, 3, epoch))
    tuning = epoch >= c.epochs
    if tuning and epoch == c.epochs:
        s.w_opt = s.new_weight_optimizer(c.lr / 10)  # DARTS-PT resets the weights' optimizer
    if tuning and epoch - c.epochs in projection_epochs(c.proj_intv, len(EDGES)):
        _project(run, epoch)
    s.tau = c.tau_max - (c.tau_max - c.tau_min) * min(epoch, c.epochs - 1) / max(c.epochs - 1, 1)
    train = _batches(run, run.train, epoch, 1, cycle=False)
    arch = _batches(run, run.valid, epoch, 5, cycle=True) if c.arch_update == "bilevel" else None
    s.model.train()
    loss_sum, arch_sum, correct, count = 0.0, 0.0, 0, 0
    t0 = time.perf_counter()
    progress = progress and run.world.is_main
    bar = tqdm(range(run.steps_per_epoch), desc=f"epoch {epoch + 1}/{run.total_epochs}",
               disable=not progress, leave=False)  # fmt: skip
    for step in bar:
        lr = _lr(run, epoch, step)
        batch, arch_batch = next(train), None if arch is None else next(arch)
        if run.world.distributed:  # same batches and the same torch generator (Gumbel noise)
            dp.check_same(
                dp.digest(batch[1], None if arch_batch is None else arch_batch[1],
                          torch.get_rng_state()),
                f"the batches and torch generator of step {step} of epoch {epoch + 1}",
            )  # fmt: skip
        st = s.step(batch, arch_batch, lr)
        loss_sum += st.loss
        arch_sum += st.arch_loss or 0.0
        correct, count = correct + st.correct, count + st.count
        t = epoch * run.steps_per_epoch + step + 1
        if t % c.log_every == 0:
            step_loss = torch.tensor(st.loss, dtype=torch.float64, device=run.device)
            step_loss = float(dp.all_reduce_sum(step_loss, run.world))
            run.log.write(
                {"event": "step", "epoch": epoch + 1, "step": t, "loss": step_loss, "lr": lr}
            )
        if progress and step % 10 == 0:
            bar.set_postfix(loss=f"{st.loss:.3f}")
    bar.close()
    if run.world.distributed:  # the epoch's sums over the ranks' shares
        sums = torch.tensor(
            [loss_sum, arch_sum, correct, count], dtype=torch.float64, device=run.device
        )
        dp.all_reduce_sum(sums, run.world)
        loss_sum, arch_sum, correct, count = (
            sums[0].item(),
            sums[1].item(),
            int(sums[2]),
            int(sums[3]),
        )
    weights, on = s.mixing(sample=False)
    valid_acc, valid_loss = evaluate(s.model, weights, on, run.valid, c.eval_batch_size, run.device)
    n = run.steps_per_epoch
    return {
        "event": "epoch", "epoch": epoch + 1, "phase": "tune" if tuning else "search",
        "lr": lr, "loss": loss_sum / n, "train_accuracy": 100.0 * correct / count,
        "arch_loss": arch_sum / n if c.arch_update != "frozen" else None,
        "valid_accuracy": valid_acc, "valid_loss": valid_loss,
        "tau": s.tau if c.weighting == "gumbel" else None,
        "magnitude": _json(s.model.magnitude(weights)),
        "decided": {f"{EDGES[k][0]}->{EDGES[k][1]}": OPS[v] for k, v in sorted(s.decided.items())},
        "seconds": time.perf_counter() - t0,
    }  # fmt: skip


# --------------------------------------------------------------------------- the run
def run_search(
    config: SearchConfig,
    out_dir: str | os.PathLike,
    *,
    resume: bool = False,
    progress: bool = True,
    ground_truths=("nb201",),
    on_epoch_end: Callable[[int, dict], None] | None = None,
) -> SearchResult:
    """Search (or resume a search), then write the selection, scores and comparisons.

    ``ground_truths``: names or paths (:func:`~.compare.open_ground_truth`), or
    :class:`~nasbench_tools.groundtruth.GroundTruth` objects, opened before any training so that
    a bad one fails at once. ``on_epoch_end(epoch, record)`` runs after each checkpoint.
    """
    from .results import open_all, write_results

    gts = open_all(ground_truths)
    out = Path(out_dir)
    threads_before = torch.get_num_threads()
    try:
        run = _setup(config, out, resume)
        for epoch in range(run.start_epoch, run.total_epochs):
            record = _run_epoch(run, epoch, progress)
            run.log.write(record)
            if not math.isfinite(record["loss"]):
                raise TrainingDivergedError(
                    f"epoch {epoch + 1} of {out} ended with a non-finite loss ({record['loss']}); "
                    "lower the learning rate (the last checkpoint is kept)"
                )
            if epoch == run.c.epochs - 1:
                run.search_end = _search_end(run)
            if run.world.is_main:
                _save(_state(run, epoch + 1), out / "checkpoints" / f"epoch-{epoch + 1:04d}.pt")
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, record)
        result = write_results(run, gts) if run.world.is_main else None
        result = dp.broadcast_object(result, run.world)
        run.log.write(
            {"event": "end", "epoch": run.total_epochs, "arch": result["selected"]["arch"]}
        )
    finally:
        torch.set_num_threads(threads_before)
    return SearchResult(out, result, _epochs_everywhere(run.log, run.world))


def load_run(out_dir: str | os.PathLike, checkpoint: str | None = None, device="cpu"):
    """``(searcher, config)`` rebuilt from a run folder (the newest checkpoint by default, or
    ``checkpoints/<checkpoint>.pt``); the data are loaded to learn their shape."""
    out = Path(out_dir)
    path = (
        latest_checkpoint(out) if checkpoint is None else out / "checkpoints" / f"{checkpoint}.pt"
    )
    if path is None or not path.is_file():
        raise DifferentiableSearchError(f"{out}: no checkpoint {checkpoint or ''}".rstrip())
    state = torch.load(path, map_location=device, weights_only=True)
    c = SearchConfig.from_dict(state["config"])
    train, _ = load_data(c)
    model = build_model(c, train).to(device)
    model.load_state_dict(state["model"])
    searcher = Searcher(c, model, WEIGHTINGS.get(c.weighting), tau=c.tau_min)
    searcher.decided = {int(k): int(v) for k, v in state["decided"]}
    return searcher, c
