"""Run scenarios in 2 processes with torch.distributed (gloo, CPU), as torchrun would.

:func:`spawn` starts ``world_size`` processes (``torch.multiprocessing.spawn``) that join one
gloo process group (a file rendezvous in the test's folder) and run the named scenarios of
:data:`SCENARIOS` in order; each rank's results come back as a list (one entry per scenario:
``{"ok": value}`` or ``{"error": class name, "message": str}``).
"""

from __future__ import annotations

import datetime
import pathlib
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def spawn(tmp: Path, scenarios: list[tuple[str, tuple]], world_size: int = 2) -> list[list[dict]]:
    """Every rank's results of ``scenarios`` (``(name, args)`` pairs)."""
    tmp.mkdir(parents=True, exist_ok=True)
    mp.spawn(_worker, args=(world_size, str(tmp), scenarios), nprocs=world_size, join=True)
    return [torch.load(tmp / f"rank{r}.pt", weights_only=False) for r in range(world_size)]


def _worker(rank: int, world_size: int, tmp: str, scenarios) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp}/rendezvous", rank=rank, world_size=world_size,
        timeout=datetime.timedelta(seconds=120),
    )  # fmt: skip
    results = []
    try:
        for name, args in scenarios:
            try:
                results.append({"ok": SCENARIOS[name](*args)})
            except Exception as exc:  # reported to the test, which checks the class and text
                results.append({"error": type(exc).__name__, "message": str(exc)})
    finally:
        dist.destroy_process_group()
    torch.save(results, Path(tmp) / f"rank{rank}.pt")


# --------------------------------------------------------------------------- spies
class WriteSpy:
    """Records every file this process creates, writes, appends to, renames or removes (via
    ``Path`` methods and ``torch.save``) while active."""

    def __init__(self):
        self.calls: list[str] = []
        self._saved = {}

    def __enter__(self):
        spy = self
        targets = {
            (pathlib.Path, "open"): lambda orig: (
                lambda self, mode="r", *a, **k: (
                    spy._note("open", self, mode) or orig(self, mode, *a, **k)
                )
            ),
            (pathlib.Path, "write_text"): lambda orig: (
                lambda self, *a, **k: spy._note("write_text", self, "w") or orig(self, *a, **k)
            ),
            (pathlib.Path, "write_bytes"): lambda orig: (
                lambda self, *a, **k: spy._note("write_bytes", self, "w") or orig(self, *a, **k)
            ),
            (pathlib.Path, "mkdir"): lambda orig: (
                lambda self, *a, **k: spy._note("mkdir", self, "w") or orig(self, *a, **k)
            ),
            (pathlib.Path, "unlink"): lambda orig: (
                lambda self, *a, **k: spy._note("unlink", self, "w") or orig(self, *a, **k)
            ),
            (pathlib.Path, "replace"): lambda orig: (
                lambda self, *a, **k: spy._note("replace", self, "w") or orig(self, *a, **k)
            ),
            (torch, "save"): lambda orig: (
                lambda obj, f, *a, **k: spy._note("torch.save", f, "w") or orig(obj, f, *a, **k)
            ),
        }
        for (owner, name), wrap in targets.items():
            orig = getattr(owner, name)
            self._saved[(owner, name)] = orig
            setattr(owner, name, wrap(orig))
        return self

    def _note(self, what, path, mode) -> None:
        if any(m in str(mode) for m in "wax+"):
            self.calls.append(f"{what} {path}")

    def __exit__(self, *exc):
        for (owner, name), orig in self._saved.items():
            setattr(owner, name, orig)


class DrawSpy:
    """Records the choices every ``Sampler.sample`` call of the supernet samplers returns;
    ``shift_rank`` makes that rank's generator skip one number first (a desynchronised
    sampler)."""

    def __init__(self, shift_rank: int | None = None):
        self.draws: list[list[np.ndarray]] = []
        self.shift_rank = shift_rank
        self._saved = {}

    def __enter__(self):
        from nasbench_tools.supernet.samplers import SAMPLERS

        spy = self
        rank = dist.get_rank() if dist.is_initialized() else 0
        for name in SAMPLERS.names():
            cls = SAMPLERS.get(name)
            orig = cls.sample
            self._saved[cls] = orig

            def sample(self, rng, *a, _orig=orig, **k):
                if spy.shift_rank == rank:
                    rng.random()
                out = _orig(self, rng, *a, **k)
                spy.draws.append([d.choice.copy() for d in out])
                return out

            cls.sample = sample
        return self

    def __exit__(self, *exc):
        for cls, orig in self._saved.items():
            cls.sample = orig


# --------------------------------------------------------------------------- scenarios
def supernet(out: str, config: dict, shift_rank: int | None = None) -> dict:
    """Train a supernet under the spies; the weights, draws and files written."""
    from nasbench_tools.supernet.config import TrainConfig
    from nasbench_tools.supernet.train import train_supernet

    with WriteSpy() as writes, DrawSpy(shift_rank) as draws:
        result = train_supernet(TrainConfig.from_dict(config), out, progress=False)
    state = {k: v.detach().clone() for k, v in result.model.state_dict().items()}
    return {"state": state, "draws": draws.draws, "writes": writes.calls, "epochs": result.history}


class Stop(Exception):
    """Raised after an epoch to cut a run short (as a kill would, after the checkpoint)."""


def supernet_cut(out: str, config: dict, after: int) -> dict:
    """Train a supernet and stop after epoch ``after`` (its checkpoint written)."""
    from nasbench_tools.supernet.config import TrainConfig
    from nasbench_tools.supernet.train import train_supernet

    def stop(epoch, record):
        if epoch == after:
            raise Stop

    try:
        train_supernet(TrainConfig.from_dict(config), out, progress=False, on_epoch_end=stop)
    except Stop:
        return {"stopped_after": after}
    return {"stopped_after": None}


def differentiable(out: str, config: dict) -> dict:
    """A differentiable search; the files written and the checkpoint's contents."""
    from nasbench_tools.differentiable.config import SearchConfig
    from nasbench_tools.differentiable.search import run_search

    with WriteSpy() as writes:
        result = run_search(SearchConfig.from_dict(config), out, progress=False, ground_truths=())
    return {
        "selected": result.result["selected"]["arch"],
        "writes": writes.calls,
        "history": result.history,
    }


def standalone(protocol: dict, key: int, seed: int, micro_batches: int) -> dict:
    """Train one build-bench network with :func:`train_epoch` / :func:`evaluate` (the journal's
    pieces); its weights, buffers and curves."""
    from nasbench_tools.buildbench import get_protocol
    from nasbench_tools.buildbench.train import (
        Execution,
        _optimizer,
        batch_generator,
        build,
        evaluate,
        load_splits,
        train_epoch,
    )
    from nasbench_tools.spaces import get_space

    p = get_protocol(protocol["name"]).replace(**protocol["changes"])
    splits = load_splits(p)
    ex = Execution(micro_batches=micro_batches)
    model = build(get_space("nb201"), key, seed, p, splits.train)
    opt = _optimizer(p, model)
    gen = batch_generator(seed, key)
    curves = []
    for epoch in range(p.epochs):
        train = train_epoch(model, opt, splits.train, p, gen, epoch, ex)
        curves.append((train, evaluate(model, splits.valid, p.eval_batch_size, ex)))
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return {"state": state, "curves": curves}


def build_bench(out: str, protocol: dict, keys: list[int], micro_batches: int) -> dict:
    """``build_benchmark`` of ``keys`` (seed 0); the files written."""
    from nasbench_tools.buildbench import BuildJob, build_benchmark, get_protocol
    from nasbench_tools.buildbench.train import Execution
    from nasbench_tools.spaces import get_space

    p = get_protocol(protocol["name"]).replace(**protocol["changes"])
    job = BuildJob(
        get_space("nb201"), np.array(keys), (0,), p, {"keys": keys},
        execution=Execution(micro_batches=micro_batches), command="test",
    )  # fmt: skip
    with WriteSpy() as writes:
        build_benchmark(job, out, progress=False)
    return {"writes": writes.calls}


SCENARIOS = {
    "supernet": supernet,
    "supernet_cut": supernet_cut,
    "differentiable": differentiable,
    "standalone": standalone,
    "build_bench": build_bench,
}
