"""Architecture and weight updates of one search step.

* :func:`unrolled_arch_gradient`: DARTS's second-order gradient of the validation loss with
  respect to alpha, through one virtual SGD step of the weights:
  ``w' = w - eta (momentum * buffer + dL_train/dw + weight_decay * w)``,
  ``g = dL_val(w', alpha)/dalpha - eta * H v`` with ``v = dL_val(w', alpha)/dw'`` and the
  Hessian-vector product ``H v = d^2 L_train / (dalpha dw) v`` by central differences,
  ``(dL_train(w + R v)/dalpha - dL_train(w - R v)/dalpha) / (2R)``, ``R = 0.01 / ||v||``
  (Liu et al. 2019, eqs. 7-8). The weights are restored exactly afterwards.
* :func:`step`: one step of the search (DARTS-PT's and FairDARTS's order: the architecture on a
  ``search-valid`` batch, then the weights on a ``search-train`` batch; AutoDL's NB201 DARTS and
  GDAS: the weights first), or one-level (Single-Path NAS: one loss on the training batch moves
  both), or weights only (alpha frozen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..nn import distributed as dp
from .config import SearchConfig
from .weights import Weighting, projected, zero_one_loss

__all__ = ["Searcher", "StepStats", "unrolled_arch_gradient"]


@dataclass
class StepStats:
    loss: float  # the weights' training loss (cross-entropy, plus the one-level terms)
    correct: int
    count: int
    arch_loss: float | None


def _grads(loss: torch.Tensor, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    got = torch.autograd.grad(loss, list(params), allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, got)]


def unrolled_arch_gradient(
    weights: Sequence[torch.nn.Parameter],
    arch: Sequence[torch.nn.Parameter],
    train_loss: Callable[[], torch.Tensor],
    valid_loss: Callable[[], torch.Tensor],
    *,
    eta: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    momentum_buffers: Sequence[torch.Tensor | None] | None = None,
    r: float = 0.01,
    reduce: Callable[[list[torch.Tensor]], list[torch.Tensor]] | None = None,
) -> tuple[list[torch.Tensor], float]:
    """DARTS's second-order gradient of ``valid_loss`` w.r.t. ``arch`` (see the module text).

    ``train_loss`` / ``valid_loss`` compute the loss at the parameters' current values (they are
    called with the weights moved and restored in place). ``momentum_buffers`` are the weight
    optimizer's buffers (``None`` entries: no momentum yet). ``reduce`` (data parallelism) sums
    each gradient list over the ranks, whose losses are their shares of the batch. Returns the
    gradients (one per ``arch`` tensor) and the (this rank's share of the) unrolled validation
    loss.
    """
    weights, arch = list(weights), list(arch)
    if reduce is None:
        reduce = _same
    _g = _grads
    _grads_r = lambda loss, params: reduce(_g(loss, params))  # noqa: E731
    buffers = list(momentum_buffers) if momentum_buffers is not None else [None] * len(weights)
    saved = [p.detach().clone() for p in weights]
    try:
        g_train = _grads_r(train_loss(), weights)
        with torch.no_grad():
            for p, g, buf in zip(weights, g_train, buffers):
                step = g + weight_decay * p
                if buf is not None:
                    step = step + momentum * buf
                p.sub_(eta * step)
        lv = valid_loss()
        grads = _grads_r(lv, arch + weights)
        d_arch, v = grads[: len(arch)], grads[len(arch) :]
        with torch.no_grad():
            for p, w in zip(weights, saved):
                p.copy_(w)
        norm = torch.sqrt(sum((x.double() ** 2).sum() for x in v))
        if float(norm) == 0.0:  # the validation loss does not depend on the weights
            return [d.detach() for d in d_arch], float(lv.detach())
        R = r / float(norm)
        with torch.no_grad():
            for p, x in zip(weights, v):
                p.add_(R * x)
        g_plus = _grads_r(train_loss(), arch)
        with torch.no_grad():
            for p, x in zip(weights, v):
                p.sub_(2 * R * x)
        g_minus = _grads_r(train_loss(), arch)
    finally:
        with torch.no_grad():
            for p, w in zip(weights, saved):
                p.copy_(w)
    hessian = [(gp - gm) / (2 * R) for gp, gm in zip(g_plus, g_minus)]
    return [(d - eta * h).detach() for d, h in zip(d_arch, hessian)], float(lv.detach())


def _same(grads: list[torch.Tensor]) -> list[torch.Tensor]:
    return grads


def momentum_buffers(optimizer: torch.optim.Optimizer, params) -> list[torch.Tensor | None]:
    """The SGD momentum buffer of each parameter (``None`` before its first step)."""
    return [optimizer.state.get(p, {}).get("momentum_buffer") for p in params]


@dataclass
class Searcher:
    """A supernet, its weighting and its two optimizers: computes mixing weights (with
    DARTS-PT's decided edges), losses, and one search step (:meth:`step`)."""

    c: SearchConfig
    model: nn.Module
    weighting: Weighting
    decided: dict[int, int] = field(default_factory=dict)
    tau: float = 1.0
    world: dp.World = field(default_factory=dp.World)

    def __post_init__(self):
        c = self.c
        self.micro_batches = 1 if c.micro_batches is None else c.micro_batches
        self.w_params = self.model.weight_parameters()
        self.a_params = self.model.arch_parameters()
        self.w_opt = self.new_weight_optimizer(c.lr)
        if c.arch_update == "frozen":
            for p in self.a_params:
                p.requires_grad_(False)
            self.a_opt = None
        else:
            self.a_opt = torch.optim.Adam(
                self.a_params, lr=c.arch_lr, betas=tuple(c.arch_betas),
                weight_decay=c.arch_weight_decay,
            )  # fmt: skip

    def new_weight_optimizer(self, lr: float) -> torch.optim.SGD:
        c = self.c
        return torch.optim.SGD(
            self.w_params, lr, momentum=c.momentum, nesterov=c.nesterov and c.momentum > 0,
            weight_decay=c.weight_decay,
        )  # fmt: skip

    # ------------------------------------------------------------------ weights and losses
    def mixing(self, sample: bool) -> tuple[torch.Tensor | None, np.ndarray | None]:
        """The mixing weights and the candidates to compute: a training sample (``sample``:
        GDAS draws one) or the deterministic magnitudes; decided edges one-hot."""
        alpha = getattr(self.model, "alpha", None)
        if alpha is None:  # superkernel with free_ops="exclude": no mixing
            return None, None
        if sample:
            weights, on = self.weighting.train(alpha, self.tau)
        else:
            weights = self.weighting.magnitude(alpha)
            on = np.ones(tuple(alpha.shape), dtype=bool)
        return projected(weights, on, self.decided)

    def arch_terms(self, weights) -> torch.Tensor:
        """The loss terms only alpha and the thresholds see: FairDARTS's zero-one loss and
        Single-Path NAS's cost term."""
        extra = self.model.extra_loss(weights)
        if self.c.zero_one_weight > 0:
            extra = extra + self.c.zero_one_weight * zero_one_loss(self.model.alpha)
        return extra

    def loss(self, x, y, *, sample: bool, arch_terms: bool):
        """``(loss, logits)`` of a batch: cross-entropy, plus :meth:`arch_terms` if asked.

        With micro-batches or several ranks (:mod:`nasbench_tools.nn.distributed`) one mixing
        draw serves the whole batch; this rank's parts each run with their own BN statistics,
        their mean losses weighted by their share of the batch; the arch terms are split
        evenly over the ranks. ``loss`` is then this rank's share (summed over ranks it is the
        batch's), ``logits`` those of this rank's images (``(logits, labels)`` with
        ``self.last_labels`` holding the labels)."""
        weights, on = self.mixing(sample)
        M, w = self.micro_batches, self.world
        if M == 1 and not w.distributed:
            logits = self.model(x, weights, on)
            loss = F.cross_entropy(logits, y)
            self.last_labels = y
        else:
            sync = dp.BufferSync(self.model, M, w, inplace=False)  # one graph, then backward
            parts, outs = dp.local_parts(len(y), M, w), []
            loss = 0.0
            for part in parts:
                sync.before_part()
                out = self.model(x[part], weights, on)
                loss = loss + dp.weighted(F.cross_entropy(out, y[part]), part, len(y), M)
                outs.append(out)
            sync.finish()
            logits = torch.cat(outs)
            self.last_labels = y[parts[0].start : parts[-1].stop]
        if arch_terms:
            terms = self.arch_terms(weights)
            loss = loss + (terms / w.size if w.distributed else terms)
        return loss, logits

    def _reduce(self, params) -> None:
        dp.all_reduce_grads(params, self.world)

    def _reduce_list(self, grads: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.world.distributed:
            flat = torch.cat([g.reshape(-1) for g in grads])
            dp.all_reduce_sum(flat, self.world)
            grads = [t.view_as(g) for t, g in zip(flat.split([g.numel() for g in grads]), grads)]
        return grads

    # ------------------------------------------------------------------ one step
    def step(self, batch, arch_batch, lr: float) -> StepStats:
        """One search step at learning rate ``lr`` (see the module text)."""
        for group in self.w_opt.param_groups:
            group["lr"] = lr
        c = self.c
        if c.arch_update == "single":
            return self._one_level(batch)
        arch_loss = None
        if c.arch_update == "bilevel" and c.step_order == "arch_first":
            arch_loss = self._arch_step(batch, arch_batch, lr)
        stats = self._weight_step(batch)
        if c.arch_update == "bilevel" and c.step_order == "weights_first":
            arch_loss = self._arch_step(batch, arch_batch, lr)
        stats.arch_loss = arch_loss
        return stats

    def _zero(self) -> None:
        self.w_opt.zero_grad(set_to_none=True)
        if self.a_opt is not None:
            self.a_opt.zero_grad(set_to_none=True)

    def _clip(self) -> None:
        if self.c.grad_clip is not None:
            used = [p for p in self.w_params if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(used, self.c.grad_clip)

    def _weight_step(self, batch) -> StepStats:
        x, y = batch
        self._zero()
        loss, logits = self.loss(x, y, sample=True, arch_terms=False)
        loss.backward()
        self._reduce(self.w_params)
        self._clip()
        self.w_opt.step()
        y = self.last_labels
        return StepStats(float(loss.detach()), accuracy_counts(logits, y), len(y), None)

    def _arch_step(self, batch, arch_batch, lr: float) -> float:
        xv, yv = arch_batch
        self._zero()
        if self.c.arch_order == 1:
            loss, _ = self.loss(xv, yv, sample=True, arch_terms=True)
            loss.backward()
            self._reduce(self.a_params)
            value = float(loss.detach())
        else:
            x, y = batch
            grads, value = unrolled_arch_gradient(
                self.w_params, self.a_params,
                lambda: self.loss(x, y, sample=False, arch_terms=False)[0],
                lambda: self.loss(xv, yv, sample=False, arch_terms=True)[0],
                eta=lr, momentum=self.c.momentum, weight_decay=self.c.weight_decay,
                momentum_buffers=momentum_buffers(self.w_opt, self.w_params),
                reduce=self._reduce_list if self.world.distributed else None,
            )  # fmt: skip
            for p, g in zip(self.a_params, grads):
                p.grad = g
        self.a_opt.step()
        return value

    def _one_level(self, batch) -> StepStats:
        x, y = batch
        self._zero()
        loss, logits = self.loss(x, y, sample=True, arch_terms=True)
        loss.backward()
        self._reduce(self.w_params + (self.a_params if self.a_opt is not None else []))
        self._clip()
        self.w_opt.step()
        if self.a_opt is not None:
            self.a_opt.step()
        value = float(loss.detach())
        y = self.last_labels
        return StepStats(value, accuracy_counts(logits, y), len(y), value)


def accuracy_counts(logits: torch.Tensor, y: torch.Tensor) -> int:
    return int((logits.detach().argmax(1) == y).sum())
