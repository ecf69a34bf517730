"""Train one stand-alone network under a :class:`~.protocol.Protocol` and record its curves.

Everything random in one run is a function of ``(seed, key)`` only: the initialisation
(``torch.manual_seed(arch_seed(seed, key))``, the seed ``nbt score`` initialises the same
network with) and the batch order and augmentation (a ``torch.Generator`` seeded with
``derive_seed(seed, key)``). So a network's numbers do not depend on which other networks were
trained before it, in which shard, or whether the build was resumed (for a fixed number of torch
threads: the CPU kernels' summation order follows the thread count).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..datasets import ImageData, iterate_batches
from ..datasets import load as load_dataset
from ..nn.flops import count_flops
from ..nn.params import count_parameters
from ..proxies.zero_cost import arch_seed
from ..supernet.train import cosine_lr, derive_seed
from .protocol import Protocol

__all__ = ["SPLITS", "Splits", "batch_generator", "build", "load_splits", "train_network"]

#: The store's split names, in order.
SPLITS = ("train", "valid", "test")

#: Weights and batches are kept channels-last: on CPU the convolutions of these small networks
#: run 1.0-1.5x faster so (measured on NB201 cells, C=8, 16x16, one thread); the numbers are
#: deterministic per (arch, seed) all the same.
_MEMORY_FORMAT = torch.channels_last


@dataclass
class Splits:
    """The three splits of a protocol, in memory."""

    train: ImageData
    valid: ImageData
    test: ImageData

    def provenance(self) -> dict:
        return {s: getattr(self, s).provenance for s in SPLITS}


def load_splits(protocol: Protocol, root=None) -> Splits:
    """Train on one half of the training set, validate on the other, test on the test set."""
    p = protocol
    common = {"resize": p.image_size, "channels": p.channels, "subset_seed": p.subset_seed}
    return Splits(
        load_dataset(p.dataset, "search-train", root, subset=p.train_subset,
                     split_seed=p.split_seed, **common),
        load_dataset(p.dataset, "search-valid", root, subset=p.valid_subset,
                     split_seed=p.split_seed, **common),
        load_dataset(p.dataset, "test", root, subset=p.test_subset, **common),
    )  # fmt: skip


def build(space, key, seed: int, protocol: Protocol, data: ImageData, arch=None) -> torch.nn.Module:
    """The network of ``key`` (``arch``: its architecture object where the key alone does not
    name one, as an NB101 hash does not), initialised from ``arch_seed(seed, key)`` alone."""
    arch = space.arch(key) if arch is None else arch
    opts = space.network_options(
        C=protocol.C, N=protocol.N, num_classes=data.num_classes, in_channels=data.channels,
        image_size=data.image_size,
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(arch_seed(seed, key))
        model = space.build_network(arch, **opts)
    return model.to(memory_format=_MEMORY_FORMAT)


def _optimizer(protocol: Protocol, model: torch.nn.Module) -> torch.optim.SGD:
    p = protocol
    return torch.optim.SGD(
        model.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay,
        nesterov=p.nesterov,
    )  # fmt: skip


def steps_per_epoch(protocol: Protocol, n_train: int) -> int:
    return -(-n_train // protocol.batch_size)


def train_epoch(model, opt, data: ImageData, protocol: Protocol, gen, epoch: int) -> dict:
    """One epoch; the lr follows the cosine at every step. Returns train accuracy (%) and loss
    as NB201 records them: averaged over the epoch's batches as they were trained."""
    model.train()
    per_epoch = steps_per_epoch(protocol, len(data))
    total = protocol.epochs * per_epoch
    correct, loss_sum, n = 0, 0.0, 0
    batches = iterate_batches(
        data, protocol.batch_size, shuffle=True, generator=gen, augment=protocol.augment
    )
    for i, (x, y) in enumerate(batches):
        x = x.contiguous(memory_format=_MEMORY_FORMAT)
        lr = cosine_lr(epoch * per_epoch + i, total, protocol.lr, protocol.lr_min)
        for group in opt.param_groups:
            group["lr"] = lr
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        correct += int((logits.argmax(1) == y).sum())
        loss_sum += float(loss.detach()) * len(y)
        n += len(y)
    return {"accuracy": 100.0 * correct / n, "loss": loss_sum / n}


@torch.no_grad()
def evaluate(model, data: ImageData, batch_size: int) -> dict:
    """Accuracy (%) and mean cross-entropy of ``model`` (eval mode) on all of ``data``."""
    model.eval()
    correct, loss_sum = 0, 0.0
    for x, y in iterate_batches(data, batch_size):
        logits = model(x.contiguous(memory_format=_MEMORY_FORMAT))
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    return {"accuracy": 100.0 * correct / len(data), "loss": loss_sum / len(data)}


def train_network(space, key, seed: int, protocol: Protocol, splits: Splits, arch=None) -> dict:
    """Train ``key`` (``arch``: see :func:`build`) with ``seed``; the record the journal keeps.

    ``curves[split][metric]`` lists one value per epoch (accuracy in %, loss), ``epoch_time``
    the seconds of each training epoch (evaluation not included), ``params`` in millions,
    ``flops`` in MFLOPs per image (NATS convention).
    """
    model = build(space, key, seed, protocol, splits.train, arch)
    params = count_parameters(model) / 1e6
    d = splits.train
    flops = count_flops(model, torch.zeros(1, d.channels, d.image_size, d.image_size))
    opt = _optimizer(protocol, model)
    gen = batch_generator(seed, key)
    curves = {s: {"accuracy": [], "loss": []} for s in SPLITS}
    epoch_time = []
    for epoch in range(protocol.epochs):
        t0 = time.perf_counter()
        res = {"train": train_epoch(model, opt, splits.train, protocol, gen, epoch)}
        epoch_time.append(time.perf_counter() - t0)
        for s in ("valid", "test"):
            res[s] = evaluate(model, getattr(splits, s), protocol.eval_batch_size)
        for s in SPLITS:
            for m in ("accuracy", "loss"):
                curves[s][m].append(res[s][m])
    return {"curves": curves, "epoch_time": epoch_time, "params": params, "flops": flops}


def batch_generator(seed: int, key) -> torch.Generator:
    """The generator of one network's batch order and augmentation: ``derive_seed(seed, key)``."""
    return torch.Generator().manual_seed(derive_seed(seed, _int_key(key)))


def _int_key(key) -> int:
    return int(key, 16) if isinstance(key, str) else int(key)
