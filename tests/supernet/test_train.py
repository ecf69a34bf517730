"""Supernet training on scikit-learn digits: every sampler learns, FairNAS fairness, weight decay
only on used ops, exact resume, provenance."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nasbench_tools.datasets import iterate_batches, load
from nasbench_tools.errors import NasbenchToolsError, TrainConfigError, TrainingDivergedError
from nasbench_tools.supernet import train as train_mod
from nasbench_tools.supernet.config import TrainConfig
from nasbench_tools.supernet.samplers import make_sampler
from nasbench_tools.supernet.train import load_supernet, train_supernet
from tests.supernet._spies import TrainerSpy

SMALL = {
    "model": {"C": 4, "N": 1},
    "dataset": "digits",
    "subset": 256,
    "valid_subset": 64,
    "batch_size": 32,
    "epochs": 2,
    "lr": 0.1,
    "augment": "none",
    "log_every": 4,
}


def _cfg(**kw) -> TrainConfig:
    return TrainConfig.from_dict({**SMALL, **kw})


def _expected_loss(model, cfg: TrainConfig) -> float:
    """Mean loss of 6 fixed draws of the run's sampler on a fixed batch (batch-statistics BN)."""
    c = cfg.resolved()
    data = load(c.dataset, "search-train", subset=128, subset_seed=99)
    x, y = next(iterate_batches(data, 128))
    sampler = make_sampler(c.sampler, model.space, **c.sampler_options)
    rng = np.random.default_rng(123)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    losses = []
    with torch.no_grad():
        for _ in range(6):
            for d in sampler.sample(rng, 1.0, batch_size=128):
                extra = (
                    {}
                    if d.example_mask is None
                    else {"example_mask": torch.from_numpy(d.example_mask)}
                )
                losses.append(float(F.cross_entropy(model(x, d.choice, **extra), y)))
    model.load_state_dict(saved)
    return float(np.mean(losses))


def _initial_model(cfg: TrainConfig):
    c = cfg.resolved()
    train, _ = train_mod._load_data(c)
    return train_mod._build(c, train)[0]


CASES = {
    "spos-per-cell": {},
    "spos-shared": {"sampler_options": {"sharing": "shared"}},
    "fairnas-same": {"sampler": "fairnas"},
    "fairnas-distinct": {"sampler": "fairnas", "sampler_options": {"batches": "distinct"}},
    "mixpath-nb201-shadow": {"sampler": "mixpath", "bn": "shadow", "sampler_options": {"m": 3}},
    "mixpath-nb101-shadow": {
        "supernet": "nb101-mixpath",
        "sampler": "mixpath",
        "model": {"num_nodes": 4, "stem_channels": 8, "num_stacks": 2, "cells_per_stack": 1},
    },
    "mixpath-nb101-none": {
        "supernet": "nb101-mixpath",
        "sampler": "mixpath",
        "bn": "none",
        "model": {"num_nodes": 3, "stem_channels": 8, "num_stacks": 2, "cells_per_stack": 1},
    },
    "oneshot": {"sampler": "oneshot", "sampler_options": {"drop_rate": 0.3}},
    "oneshot-ghost-per-example": {
        "sampler": "oneshot",
        "ghost_batch_size": 8,
        "sampler_options": {"drop_rate": 0.3, "per_example": True},
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_few_steps_lower_the_loss(case, tmp_path):
    """36 steps (12 for FairNAS with distinct batches) lower the expected loss of sampled paths."""
    kw = {"model": {"C": 8, "N": 1}, "subset": 384, "epochs": 3, "lr": 0.3, **CASES[case]}
    cfg = _cfg(**kw)
    before = _expected_loss(_initial_model(cfg), cfg)
    result = train_supernet(cfg, tmp_path, progress=False)
    after = _expected_loss(result.model, cfg)
    assert after < before - 0.02, (before, after)
    assert all(np.isfinite(r["loss"]) for r in result.history)


def _count_calls(monkeypatch):
    """Patch the trainer's model builder to count forward calls of every NB201 op module."""
    calls: dict[str, int] = {}
    original = train_mod._build

    def build(c, data):
        model, sampler = original(c, data)
        for name, module in model.named_modules():
            parts = name.split(".")
            if len(parts) == 5 and parts[2] == "edges":  # cells.i.edges.{dst}<-{src}.{op}
                calls[name] = 0
                module.register_forward_hook(
                    lambda m, i, o, name=name: calls.__setitem__(name, calls[name] + 1)
                )
        return model, sampler

    monkeypatch.setattr(train_mod, "_build", build)
    return calls


def test_fairnas_runs_every_choice_exactly_once_per_step(tmp_path, monkeypatch):
    """Forward fairness: every op module runs once per step ('none' is skipped, not run)."""
    calls = _count_calls(monkeypatch)
    cfg = _cfg(sampler="fairnas", subset=64, epochs=1, weight_decay=0.0)  # 2 steps
    result = train_supernet(cfg, tmp_path, progress=False)
    assert result.history[0]["steps"] == 2
    for name, n in calls.items():
        op = int(name.split(".")[-1])
        assert n == (0 if op == 0 else 2), name


def _op_weights_with_gradient(spy, step) -> tuple[set[str], set[str]]:
    """(op weight tensors with a non-zero gradient at ``step``, all op weight tensors)."""
    ops = {n for n in step.grads if ".edges." in n}
    moved = {n for n in ops if step.grads[n] is not None and bool(step.grads[n].ne(0).any())}
    return moved, ops


def _numel_fraction(step, names, ops) -> float:
    return sum(step.before[n].numel() for n in names) / sum(step.before[n].numel() for n in ops)


def test_fairnas_forward_fairness_leaves_op_weights_without_gradient_and_logs_it(
    tmp_path, monkeypatch
):
    """The defect FairNAS's forward hooks could not see: every op runs, yet ops on dead nodes get
    a zero gradient. The logged coverage is the fraction measured on the gradients."""
    spy = TrainerSpy(monkeypatch)
    cfg = _cfg(sampler="fairnas", subset=256, epochs=1, log_every=1, seed=0)  # 8 steps
    train_supernet(cfg, tmp_path, progress=False)
    logged = [
        r["update_coverage"]
        for r in map(json.loads, (tmp_path / "log.jsonl").read_text().splitlines())
        if r["event"] == "step"
    ]
    measured = []
    for step in spy.steps:
        moved, ops = _op_weights_with_gradient(spy, step)
        measured.append(_numel_fraction(step, moved, ops))
    assert logged == pytest.approx(measured, abs=1e-6)
    assert min(measured) < 1.0  # some op weights got no update although every op ran
    epoch = train_mod._Log(tmp_path / "log.jsonl").epochs()[0]
    assert epoch["update_coverage"]["mean"] == pytest.approx(np.mean(measured), abs=1e-6)
    assert epoch["update_coverage"]["min"] == pytest.approx(min(measured), abs=1e-6)


def test_fairnas_update_fairness_gives_every_op_weight_a_gradient_every_step(tmp_path, monkeypatch):
    spy = TrainerSpy(monkeypatch)
    cfg = _cfg(
        sampler="fairnas", sampler_options={"fairness": "update"}, subset=256, epochs=1, seed=0
    )
    result = train_supernet(cfg, tmp_path, progress=False)
    assert len(spy.steps) == 8
    for step in spy.steps:
        assert len(step.forwards) == 5  # still every op once per step
        moved, ops = _op_weights_with_gradient(spy, step)
        assert moved == ops
    assert result.history[0]["update_coverage"] == {"mean": 1.0, "min": 1.0}


def test_spos_step_leaves_unused_ops_untouched_weight_decay_included(tmp_path, monkeypatch):
    calls = _count_calls(monkeypatch)
    cfg = _cfg(
        sampler_options={"sharing": "shared"}, subset=32, epochs=1, weight_decay=0.1
    )  # 1 step
    init = _initial_model(cfg).state_dict()
    result = train_supernet(cfg, tmp_path, progress=False)
    after = result.model.state_dict()
    used = {n for n, c in calls.items() if c > 0}
    assert 0 < len(used) <= 18  # one shared choice: at most 6 ops in each of the 3 cells
    for key in init:
        parts = key.split(".")
        if len(parts) > 5 and parts[2] == "edges" and key.endswith("op.1.weight"):
            module = ".".join(parts[:5])
            if module not in used:  # no gradient, so no weight decay and no momentum either
                assert torch.equal(init[key], after[key]), key
            elif parts[3].startswith("3<-"):
                assert not torch.equal(init[key], after[key]), key


def _epoch_records(path):
    out = []
    for line in (path / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["event"] == "epoch":
            out.append({k: v for k, v in rec.items() if k not in ("seconds", "images_per_s")})
    return out


@pytest.mark.parametrize(
    "case",
    [
        {"eval_children": 1, "valid_subset": 32, "eval_bn_images": 128},
        {"sampler": "oneshot", "ghost_batch_size": 8, "sampler_options": {"per_example": True}},
    ],
)
def test_resume_equals_uninterrupted(case, tmp_path):
    cfg = _cfg(subset=128, epochs=3, **case)
    full = train_supernet(cfg, tmp_path / "full", progress=False)

    def kill(epoch, record):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_supernet(cfg, tmp_path / "cut", progress=False, on_epoch_end=kill)
    names = sorted(p.name for p in (tmp_path / "cut" / "checkpoints").iterdir())
    assert names == ["epoch-0001.pt", "init.pt"]
    resumed = train_supernet(cfg, tmp_path / "cut", resume=True, progress=False)
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _epoch_records(tmp_path / "full") == _epoch_records(tmp_path / "cut")
    ca = torch.load(tmp_path / "full/checkpoints/epoch-0003.pt", weights_only=True)["optimizer"]
    cb = torch.load(tmp_path / "cut/checkpoints/epoch-0003.pt", weights_only=True)["optimizer"]
    for sa, sb in zip(ca["state"].values(), cb["state"].values()):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])


def test_run_folder_provenance_and_checkpoints(tmp_path):
    cfg = _cfg(epochs=2, keep_checkpoints=1, seed=5)
    result = train_supernet(cfg, tmp_path, progress=False)
    prov = json.loads((tmp_path / "config.json").read_text())
    assert prov["seed"] == 5 and prov["config"]["seed"] == 5
    assert prov["nasbench_tools_version"] and prov["torch_version"] == torch.__version__
    assert len(prov["data"]["train"]["sha256"]) == 64
    assert prov["sampler"] == {"name": "spos", "sharing": "per_cell", "reject_zero_nodes": True}
    assert prov["config"]["bn"] == "none" and prov["config"]["augment"] == "none"
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["epoch-0001.pt", "epoch-0002.pt", "init.pt"]  # epoch 1: angle reference
    events = [
        json.loads(line)["event"] for line in (tmp_path / "log.jsonl").read_text().splitlines()
    ]
    assert events[0] == "start" and events[-1] == "end" and events.count("epoch") == 2
    assert "step" in events
    model, c = load_supernet(tmp_path)
    a, b = model.state_dict(), result.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a) and c.seed == 5


def test_distinct_nb101_graphs_are_counted(tmp_path):
    cfg = _cfg(**CASES["mixpath-nb101-none"], epochs=1)
    result = train_supernet(cfg, tmp_path, progress=False)
    assert 1 < result.distinct_archs <= 19  # m = 3: 19 NB101 graphs in the sub-space
    assert result.history[-1]["distinct_archs"] == result.distinct_archs


def test_a_config_from_a_preset_does_not_share_the_presets_dicts():
    # the defect: from_preset handed out the preset's own `model` and `sampler_options` dicts, so
    # changing one config's model changed the preset, and every later config made from it
    first = TrainConfig.from_preset("mixpath-nb101")
    first.model["num_nodes"] = 2
    first.sampler_options["m"] = 1
    again = TrainConfig.from_preset("mixpath-nb101")
    assert again.model == {"num_nodes": 4, "stem_channels": 128}
    assert again.sampler_options == {"m": 4, "sharing": "shared"}


def test_configuration_errors(tmp_path):
    with pytest.raises(TrainConfigError, match="CUDA"):
        train_supernet(_cfg(amp=True), tmp_path / "a", progress=False)
    train_supernet(_cfg(epochs=1, subset=64), tmp_path / "b", progress=False)
    with pytest.raises(TrainConfigError, match="already holds a run"):
        train_supernet(_cfg(epochs=1, subset=64), tmp_path / "b", progress=False)
    with pytest.raises(TrainConfigError, match="lr"):
        train_supernet(
            _cfg(epochs=1, subset=64, lr=0.2), tmp_path / "b", resume=True, progress=False
        )
    with pytest.raises(TrainConfigError, match="unknown training options"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(
        TrainConfigError, match="unknown training preset 'darts'; known: abs-nb201, mixpath-nb101"
    ):
        TrainConfig.from_preset("darts")
    assert TrainConfig.from_preset("mixpath-nb101").resolved().bn == "shadow"
    with pytest.raises(TrainConfigError, match="cutout"):
        train_supernet(_cfg(cutout=8), tmp_path / "d", progress=False)
    with pytest.raises(TrainingDivergedError, match="non-finite"):
        train_supernet(
            _cfg(epochs=1, subset=64, lr=1e30, grad_clip=None), tmp_path / "e", progress=False
        )
    assert not list((tmp_path / "e" / "checkpoints").glob("epoch-*"))
    with pytest.raises(TrainConfigError, match="ghost"):
        train_supernet(
            _cfg(**CASES["mixpath-nb101-none"], ghost_batch_size=8), tmp_path / "c", progress=False
        )


@pytest.mark.gpu
def test_amp_training_on_cuda(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    cfg = _cfg(device="cuda", amp=True, epochs=2)
    result = train_supernet(cfg, tmp_path, progress=False)
    assert all(np.isfinite(r["loss"]) for r in result.history)
    state = torch.load(tmp_path / "checkpoints/epoch-0002.pt", weights_only=True)
    assert state["scaler"]["scale"] > 0
    assert next(result.model.parameters()).is_cuda
    resumed = train_supernet(cfg, tmp_path, resume=True, progress=False)
    assert resumed.epochs_completed == 2


# --------------------------------------------------------------------------- hardening defects
def _interrupted(cfg, out, after_epoch=1):
    def kill(epoch, record):
        if epoch == after_epoch:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_supernet(cfg, out, progress=False, on_epoch_end=kill)


def test_resume_restores_the_recorded_thread_count(tmp_path):
    """A resume without a thread count runs with the run's recorded one, bit for bit."""
    cfg = _cfg(subset=128, epochs=2, threads=1)
    full = train_supernet(cfg, tmp_path / "full", progress=False)
    _interrupted(cfg, tmp_path / "cut")
    assert json.loads((tmp_path / "cut" / "config.json").read_text())["config"]["threads"] == 1
    torch.set_num_threads(2)  # a new process with another default
    seen = []
    resumed = train_supernet(
        dataclasses.replace(cfg, threads=None), tmp_path / "cut", resume=True, progress=False,
        on_epoch_end=lambda e, r: seen.append(torch.get_num_threads()),
    )  # fmt: skip
    assert seen == [1] and torch.get_num_threads() == 2  # restored after the run
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    starts = [r for r in map(json.loads, (tmp_path / "cut/log.jsonl").read_text().splitlines())]
    assert [r["threads"] for r in starts if r["event"] == "start"] == [1, 1]
    with pytest.raises(TrainConfigError, match="threads: 1 -> 2"):
        train_supernet(
            dataclasses.replace(cfg, threads=2), tmp_path / "cut", resume=True, progress=False
        )


def test_eval_children_are_drawn_from_the_training_sampler_and_named_in_the_log(tmp_path):
    """An NB101 MixPath supernet trained with SPOS (one node per cell) is evaluated on
    single-node children, not on 2-4-node ones whose shadow BNs never trained."""
    nb101 = {k: v for k, v in CASES["mixpath-nb101-shadow"].items() if k != "sampler"}
    cfg = _cfg(
        **nb101, sampler="spos", epochs=2, subset=64, eval_children=6, eval_bn_images=64,
        valid_subset=32,
    )  # fmt: skip
    result = train_supernet(cfg, tmp_path, progress=False)
    for rec in result.history:
        ev = rec["eval"]
        choices = [np.array(c, dtype=np.int8) for c in ev["choices"]]
        assert len(choices) == ev["children"] == len(ev["accuracy"]) == 6
        assert all((result.model.space.num_active(c) == 1).all() for c in choices)
        assert ev["arch_keys"] == [result.model.arch_key(c) for c in choices]
        assert all(len(k) == 32 for k in ev["arch_keys"])  # NB101 module hashes
        assert ev["calibration_images"] == 64
    assert result.history[0]["eval"]["choices"] == result.history[1]["eval"]["choices"]
    # MixPath with m = 2 trains one or two nodes: so are its children
    cfg = dataclasses.replace(
        cfg, sampler="mixpath", sampler_options={"m": 2}, eval_children=20, epochs=1
    )
    result = train_supernet(cfg, tmp_path / "m2", progress=False)
    counts = {
        int(result.model.space.num_active(np.array(c))[0, 0])
        for c in result.history[0]["eval"]["choices"]
    }
    assert counts == {1, 2}


def test_oneshot_dropout_ramp_reaches_drop_rate_at_the_last_step(tmp_path, monkeypatch):
    spy = TrainerSpy(monkeypatch)
    cfg = _cfg(sampler="oneshot", sampler_options={"drop_rate": 0.4}, subset=128, epochs=2)
    train_supernet(cfg, tmp_path, progress=False)
    rates = [spy.sampler.rate(p) for p in spy.progress]
    assert len(rates) == 8
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.4)
    assert rates == pytest.approx([0.4 * t / 7 for t in range(8)])


def test_recalibration_image_count_is_checked_before_the_run_starts(tmp_path):
    with pytest.raises(TrainConfigError, match="20,000 training images.*has 64"):
        train_supernet(_cfg(subset=64, eval_children=1), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_failed_data_load_or_bad_config_leaves_no_run_folder(tmp_path):
    missing = _cfg(dataset="fashion-mnist", data_root=str(tmp_path / "nowhere"))
    with pytest.raises(NasbenchToolsError, match="nowhere"):
        train_supernet(missing, tmp_path / "a", progress=False)
    assert not (tmp_path / "a").exists()
    with pytest.raises(TrainConfigError, match="cutout"):
        train_supernet(_cfg(cutout=8), tmp_path / "b", progress=False)
    assert not (tmp_path / "b").exists()
    with pytest.raises(TrainConfigError, match="no full step"):
        train_supernet(_cfg(subset=16), tmp_path / "c", progress=False)
    assert not (tmp_path / "c").exists()


def test_init_checkpoint_holds_the_weights_before_the_first_step(tmp_path, monkeypatch):
    spy = TrainerSpy(monkeypatch)
    cfg = _cfg(subset=64, epochs=2)
    train_supernet(cfg, tmp_path, progress=False)
    w0, _ = load_supernet(tmp_path, "init")
    first = spy.steps[0].before
    assert all(torch.equal(p, first[n]) for n, p in w0.named_parameters())
    last, _ = load_supernet(tmp_path)
    assert not all(torch.equal(p, first[n]) for n, p in last.named_parameters())
    saved = torch.load(tmp_path / "checkpoints" / "init.pt", weights_only=True)
    assert saved["epoch"] == 0 and saved["config"] == cfg.resolved().to_dict() | {"threads": 1}
    # a resumed run whose init.pt is gone rewrites the same W0
    (tmp_path / "checkpoints" / "init.pt").unlink()
    (tmp_path / "checkpoints" / "epoch-0002.pt").unlink()
    monkeypatch.undo()
    train_supernet(cfg, tmp_path, resume=True, progress=False)
    again = torch.load(tmp_path / "checkpoints" / "init.pt", weights_only=True)["model"]
    assert all(torch.equal(again[k], saved["model"][k]) for k in saved["model"])
    with pytest.raises(TrainConfigError, match="no checkpoint 'best'"):
        load_supernet(tmp_path, "best")


def test_run_files_are_written_through_atomic_write_under_unique_temporary_names(
    tmp_path, monkeypatch
):
    # the defect: train.py had its own atomic save with a temporary name shared by every call of
    # the process (.NAME.PID.tmp); config.json and the truncated log were written in place
    renames = []
    real_replace = os.replace

    def spy_replace(src, dst):
        renames.append((Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy_replace)
    folder = tmp_path / "checkpoints"
    folder.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = folder / f".epoch-0001.pt.nbt-{dead.pid}-0badc0de.tmp"  # a killed run's temporary
    stale.write_bytes(b"partial")
    train_supernet(_cfg(subset=32, epochs=1), tmp_path, resume=True, progress=False)
    temporary = re.compile(rf"^\.(.+)\.nbt-{os.getpid()}-[0-9a-f]{{8}}\.tmp$")
    written = [dst for src, dst in renames if (m := temporary.match(src)) and m[1] == dst]
    assert sorted(written) == ["config.json", "epoch-0001.pt", "init.pt", "log.jsonl"]
    assert len({src for src, _ in renames}) == len(renames)  # one temporary per write
    assert not stale.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-0001.pt", "init.pt"]


def test_a_failed_checkpoint_write_keeps_the_last_checkpoint_and_leaves_no_temporary(
    tmp_path, monkeypatch
):
    cfg = _cfg(subset=32, epochs=2)
    real_save = torch.save

    def save_fails_at_epoch_2(obj, f, *args, **kwargs):
        if obj.get("epoch") == 2:
            Path(f).write_bytes(b"half a checkpoint")
            raise OSError("no space left on device")
        real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_fails_at_epoch_2)
    with pytest.raises(OSError, match="no space left"):
        train_supernet(cfg, tmp_path, progress=False)
    folder = tmp_path / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-0001.pt", "init.pt"]
    assert torch.load(folder / "epoch-0001.pt", weights_only=True)["epoch"] == 1
    monkeypatch.undo()
    result = train_supernet(cfg, tmp_path, resume=True, progress=False)
    assert [r["epoch"] for r in result.history] == [1, 2]
