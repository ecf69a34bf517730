"""What one optimizer step of the trainer does, checked against an oracle that recomputes it
from what the trainer fed (tests/supernet/_spies.py): gradients of the step's models summed,
the learning rate of every step, gradient clipping, weight decay (none on norm parameters when
asked), the batches each FairNAS model gets, ghost batch norm."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasbench_tools.nn.norms import GhostBatchNorm2d
from nasbench_tools.supernet.config import TrainConfig
from nasbench_tools.supernet.train import train_supernet
from tests.supernet._spies import TrainerSpy

ONE_STEP = {
    "model": {"C": 4, "N": 1},
    "dataset": "digits",
    "subset": 32,
    "batch_size": 32,
    "epochs": 1,
    "lr": 0.1,
    "augment": "none",
    "momentum": 0.0,
    "nesterov": False,
    "weight_decay": 0.0,
    "grad_clip": None,
    "seed": 1,
}
NB101 = {
    "supernet": "nb101-mixpath",
    "model": {"num_nodes": 3, "stem_channels": 4, "num_stacks": 2, "cells_per_stack": 1},
}


def _run(tmp_path, monkeypatch, **kw):
    spy = TrainerSpy(monkeypatch)
    result = train_supernet(TrainConfig.from_dict({**ONE_STEP, **kw}), tmp_path, progress=False)
    return spy, result


def _assert_grads_equal(got, want, scale=1.0):
    assert got.keys() == want.keys()
    for name in want:
        if want[name] is None:
            assert got[name] is None, name
        else:
            assert got[name] is not None, name
            assert torch.allclose(got[name], want[name] * scale, rtol=1e-4, atol=1e-7), name


SAMPLERS = {
    "spos": {},
    "fairnas-same": {"sampler": "fairnas"},
    "fairnas-distinct": {"sampler": "fairnas", "sampler_options": {"batches": "distinct"}},
    "fairnas-nb101": {"sampler": "fairnas", **NB101},
    "mixpath-nb101": {"sampler": "mixpath", **NB101},
    "oneshot-per-example": {
        "sampler": "oneshot",
        "sampler_options": {"per_example": True, "drop_rate": 0.5, "ramp": "constant"},
    },
}


@pytest.mark.parametrize("case", list(SAMPLERS))
def test_step_gradient_is_the_sum_over_the_steps_models_not_the_mean(case, tmp_path, monkeypatch):
    kw = SAMPLERS[case]
    if case == "fairnas-distinct":
        kw = {**kw, "subset": 160}  # 5 batches of 32: one step
    spy, _ = _run(tmp_path, monkeypatch, **kw)
    step = spy.steps[0]
    expected_models = {"fairnas-same": 5, "fairnas-distinct": 5, "fairnas-nb101": 9}.get(case, 1)
    assert len(step.forwards) == expected_models
    _assert_grads_equal(step.grads, spy.oracle_grads(step))
    for name, g in step.grads.items():  # plain SGD: the update is -lr * gradient
        if g is None:
            assert torch.equal(step.after[name], step.before[name]), name
        else:
            assert torch.allclose(step.after[name], step.before[name] - 0.1 * g, atol=1e-7), name


def test_fairnas_same_batches_feed_one_batch_and_distinct_batches_five(tmp_path, monkeypatch):
    spy, _ = _run(tmp_path / "same", monkeypatch, sampler="fairnas", subset=64)
    for step in spy.steps:
        xs = [f.x for f in step.forwards]
        assert len(xs) == 5 and all(torch.equal(x, xs[0]) for x in xs)
    monkeypatch.undo()
    spy, result = _run(
        tmp_path / "distinct", monkeypatch, sampler="fairnas",
        sampler_options={"batches": "distinct"}, subset=320,
    )  # fmt: skip
    assert len(spy.steps) == result.history[0]["steps"] == 2  # 10 batches, 5 per step
    seen = []
    for step in spy.steps:
        xs = [f.x for f in step.forwards]
        assert len(xs) == 5
        for i in range(5):
            for j in range(i):
                assert not torch.equal(xs[i], xs[j])
        seen += [row for x in xs for row in x]
    # the ten batches are the epoch's 320 images, each fed once
    assert len({tuple(r.flatten().tolist()) for r in seen}) == len(seen) == 320


def test_learning_rate_of_every_step_follows_the_cosine(tmp_path, monkeypatch):
    spy, _ = _run(tmp_path, monkeypatch, subset=128, epochs=2, lr=0.2, lr_min=0.01)
    lrs = [s.lrs for s in spy.steps]
    total = len(lrs)
    assert total == 8
    for t, group_lrs in enumerate(lrs):
        want = 0.01 + (0.2 - 0.01) * (1 + math.cos(math.pi * t / total)) / 2
        assert group_lrs == pytest.approx([want] * len(group_lrs))
    firsts = [g[0] for g in lrs]
    assert firsts[0] == pytest.approx(0.2) and all(a > b for a, b in itertools.pairwise(firsts))
    # the update really uses that rate
    step = spy.steps[-1]
    name = next(n for n, g in step.grads.items() if g is not None)
    want = step.before[name] - firsts[-1] * step.grads[name]
    assert torch.allclose(step.after[name], want, atol=1e-7)


@pytest.mark.parametrize("mode", ["norm", "value"])
def test_gradient_clipping_bounds_the_gradient_the_optimizer_sees(mode, tmp_path, monkeypatch):
    clip = 0.01
    spy, _ = _run(tmp_path, monkeypatch, grad_clip=clip, grad_clip_mode=mode)
    step = spy.steps[0]
    raw = spy.oracle_grads(step)
    used = [g for g in raw.values() if g is not None]
    if mode == "norm":
        norm = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in used])))
        assert norm > 10 * clip  # clipping has something to do
        _assert_grads_equal(step.grads, raw, scale=clip / (norm + 1e-6))
    else:
        assert max(float(g.abs().max()) for g in used) > 10 * clip
        clipped = {n: None if g is None else g.clamp(-clip, clip) for n, g in raw.items()}
        _assert_grads_equal(step.grads, clipped)


def _norm_parameter_names(model) -> set[str]:
    return {
        f"{mod_name}.{p_name}" if mod_name else p_name
        for mod_name, module in model.named_modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm)
        for p_name, _ in module.named_parameters(recurse=False)
    }


@pytest.mark.parametrize("no_wd_on_norm", [True, False])
def test_weight_decay_spares_norm_parameters_only_when_asked(no_wd_on_norm, tmp_path, monkeypatch):
    wd = 0.1
    spy, _ = _run(tmp_path, monkeypatch, weight_decay=wd, no_wd_on_norm=no_wd_on_norm)
    step = spy.steps[0]
    norms = _norm_parameter_names(spy.model)
    assert {"stem.1.weight", "lastact.0.weight"} <= norms
    for name, g in step.grads.items():
        w0 = step.before[name]
        if g is None:  # not used by the step: no decay either
            assert torch.equal(step.after[name], w0), name
            continue
        decay = 0.0 if (no_wd_on_norm and name in norms) else wd
        assert torch.allclose(step.after[name], w0 - 0.1 * (g + decay * w0), atol=1e-7), name
    # the BN scale starts at 1, so decay shows as a 0.1 * 0.1 shift
    assert not torch.allclose(step.after["stem.1.weight"], step.before["stem.1.weight"])


def test_ghost_batch_norm_is_what_the_trainer_trains(tmp_path, monkeypatch):
    spy, _ = _run(tmp_path, monkeypatch, sampler="oneshot", ghost_batch_size=8)
    model = spy.model
    assert all(
        isinstance(m, GhostBatchNorm2d) and m.ghost_size == 8
        for m in model.modules()
        if isinstance(m, nn.BatchNorm2d)
    )
    # behaviour: in training mode each ghost batch of 8 is normalised on its own statistics
    conv, bn = model.stem[0], model.stem[1].train()
    z = conv(torch.cat([torch.randn(8, 1, 8, 8), torch.randn(8, 1, 8, 8) * 3 + 5]))
    want = torch.cat(
        [F.batch_norm(c, None, None, bn.weight, bn.bias, True, 0.0, bn.eps) for c in z.split(8)]
    )
    assert torch.allclose(bn(z), want, atol=1e-5)
