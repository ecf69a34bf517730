"""Spies on what the supernet trainer does, for tests that check behaviour: what every forward
pass is fed (images, choice, labels), and every optimizer step (learning rate and weight decay
per group, each parameter and its gradient just before the step, and each parameter after it).
An independent oracle recomputes the step's gradients from what was fed."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from nasbench_tools.supernet import train as train_mod


@dataclass
class Forward:
    x: torch.Tensor
    choice: np.ndarray
    example_mask: torch.Tensor | None
    y: torch.Tensor | None = None


@dataclass
class Step:
    lrs: list[float]
    weight_decays: dict[str, float]
    before: dict[str, torch.Tensor]
    grads: dict[str, torch.Tensor | None]
    forwards: list[Forward]
    after: dict[str, torch.Tensor] = field(default_factory=dict)


class TrainerSpy:
    """Install with ``TrainerSpy(monkeypatch)`` before calling ``train_supernet``."""

    def __init__(self, monkeypatch):
        self.forwards: list[Forward] = []  # of the current step
        self.steps: list[Step] = []
        self.progress: list[float] = []
        self.model = None
        self.sampler = None
        build, ce, sgd_step = train_mod._build, F.cross_entropy, torch.optim.SGD.step

        def spy_build(c, data):
            model, sampler = build(c, data)
            if self.model is None:  # the run's model (load_supernet builds others)
                self.model, self.sampler = model, sampler
                model.register_forward_pre_hook(self._on_forward, with_kwargs=True)
                sample = sampler.sample

                def spy_sample(rng, progress=0.0, batch_size=None):
                    self.progress.append(progress)
                    return sample(rng, progress, batch_size)

                sampler.sample = spy_sample
            return model, sampler

        def spy_ce(logits, y, *args, **kwargs):
            if self.forwards and self.forwards[-1].y is None:
                self.forwards[-1].y = y.clone()
            return ce(logits, y, *args, **kwargs)

        def spy_step(opt, *args, **kwargs):
            names = {id(p): n for n, p in self.model.named_parameters()}
            params = [(names[id(p)], p, g) for g in opt.param_groups for p in g["params"]]
            rec = Step(
                lrs=[g["lr"] for g in opt.param_groups],
                weight_decays={n: g["weight_decay"] for n, _, g in params},
                before={n: p.detach().clone() for n, p, _ in params},
                grads={n: None if p.grad is None else p.grad.clone() for n, p, _ in params},
                forwards=self.forwards,
            )
            out = sgd_step(opt, *args, **kwargs)
            rec.after = {n: p.detach().clone() for n, p, _ in params}
            self.steps.append(rec)
            self.forwards = []
            return out

        monkeypatch.setattr(train_mod, "_build", spy_build)
        monkeypatch.setattr(F, "cross_entropy", spy_ce)
        monkeypatch.setattr(torch.optim.SGD, "step", spy_step)

    def _on_forward(self, module, args, kwargs):
        x, choice = args[0], args[1]
        mask = kwargs.get("example_mask")
        self.forwards.append(Forward(x.clone(), np.array(choice), mask))

    def fresh_copy(self, params: dict[str, torch.Tensor]):
        """A hook-free copy of the run's model holding ``params``, in train mode."""
        model = copy.deepcopy(self.model)
        model._forward_pre_hooks.clear()
        model._forward_pre_hooks_with_kwargs.clear()
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(params[name])
        return model.train()

    def oracle_grads(self, step: Step) -> dict[str, torch.Tensor | None]:
        """The gradient of the summed losses of ``step``'s forward passes, recomputed from what
        the trainer fed, on a copy holding the weights before the step (no clipping)."""
        model = self.fresh_copy(step.before)
        for f in step.forwards:
            extra = {} if f.example_mask is None else {"example_mask": f.example_mask}
            F.cross_entropy(model(f.x, f.choice, **extra), f.y).backward()
        return {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
