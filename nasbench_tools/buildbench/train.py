"""Train one stand-alone network under a :class:`~.protocol.Protocol` and record its curves.

Everything random in one run is a function of ``(seed, key)`` only: the initialisation
(``torch.manual_seed(arch_seed(seed, key))``, the seed ``nbt score`` initialises the same
network with) and the batch order and augmentation (a ``torch.Generator`` seeded with
``derive_seed(seed, key)``). So a network's numbers do not depend on which other networks were
trained before it, in which shard, or whether the build was resumed (for a fixed number of torch
threads: the CPU kernels' summation order follows the thread count).

:class:`Execution` says how: the device, mixed precision and ``torch.compile`` (CUDA), and
``micro_batches``, which splits every batch into parts with their own BN statistics, spread over
the processes of a ``torchrun`` launch (:mod:`nasbench_tools.nn.distributed`): every rank trains
every network on its share of each batch, and evaluation is split over the ranks too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..datasets import ImageData, iterate_batches
from ..datasets import load as load_dataset
from ..errors import DeviceError
from ..nn import distributed as dp
from ..nn.flops import count_flops
from ..nn.params import count_parameters
from ..proxies.zero_cost import arch_seed
from ..supernet.train import cosine_lr, derive_seed
from .protocol import Protocol

__all__ = [
    "SPLITS",
    "Execution",
    "Splits",
    "batch_generator",
    "build",
    "load_splits",
    "train_network",
]

#: The store's split names, in order.
SPLITS = ("train", "valid", "test")

#: Weights and batches are kept channels-last: on CPU the convolutions of these small networks
#: run 1.0-1.5x faster so (measured on NB201 cells, C=8, 16x16, one thread); the numbers are
#: deterministic per (arch, seed) all the same.
_MEMORY_FORMAT = torch.channels_last


@dataclass(frozen=True)
class Execution:
    """How networks are trained.

    ``device``: ``cpu``, ``cuda`` or ``cuda:<i>`` (resolved: see
    :func:`~nasbench_tools.nn.distributed.resolve_device`). ``amp``: float16 autocast with a
    gradient scaler (CUDA only). ``compile``: ``torch.compile`` the network before training.
    ``micro_batches``: parts per batch, each with its own BN statistics, shared among the ranks
    (a multiple of their number). The defaults are the plain CPU loop.
    """

    device: str = "cpu"
    amp: bool = False
    compile: bool = False
    micro_batches: int = 1
    world: dp.World = field(default_factory=dp.world)  # the current process group's

    def __post_init__(self):
        if self.amp and not self.device.startswith("cuda"):
            raise DeviceError(
                f"--amp needs a CUDA device (float16 autocast and a gradient scaler), got device "
                f"{self.device!r}; drop --amp on CPU"
            )
        dp.check_micro_batches(self.micro_batches, self.world)

    @property
    def torch_device(self) -> torch.device:
        return dp.rank_device(self.device, self.world)


@dataclass
class Splits:
    """The three splits of a protocol, in memory."""

    train: ImageData
    valid: ImageData
    test: ImageData

    def provenance(self) -> dict:
        return {s: getattr(self, s).provenance for s in SPLITS}


def load_splits(protocol: Protocol, root=None) -> Splits:
    """Train on a seeded part of the training set (``train_fraction``; NB201: one half),
    validate on the rest, test on the test set."""
    p = protocol
    common = {"resize": p.image_size, "channels": p.channels, "subset_seed": p.subset_seed}
    cut = {"split_seed": p.split_seed, "train_fraction": p.train_fraction}
    return Splits(
        load_dataset(p.dataset, "search-train", root, subset=p.train_subset, **cut, **common),
        load_dataset(p.dataset, "search-valid", root, subset=p.valid_subset, **cut, **common),
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


def train_epoch(
    model, opt, data: ImageData, protocol: Protocol, gen, epoch: int,
    ex: Execution | None = None, scaler: torch.amp.GradScaler | None = None,
) -> dict:  # fmt: skip
    """One epoch; the lr follows the cosine at every step. Returns train accuracy (%) and loss
    as NB201 records them: averaged over the epoch's batches as they were trained."""
    ex = Execution() if ex is None else ex
    if ex.device != "cpu" or ex.micro_batches > 1 or ex.world.distributed or ex.amp:
        return _train_epoch_parts(model, opt, data, protocol, gen, epoch, ex, scaler)
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


def _train_epoch_parts(model, opt, data, protocol, gen, epoch, ex: Execution, scaler) -> dict:
    """:func:`train_epoch` with micro-batches, ranks or AMP: each batch's parts (this rank's)
    forward and backward with their own BN statistics, losses weighted by their share of the
    batch, gradients summed over the ranks, one step. The sums stay on the device."""
    model.train()
    device, M, w = ex.torch_device, ex.micro_batches, ex.world
    per_epoch = steps_per_epoch(protocol, len(data))
    total = protocol.epochs * per_epoch
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # correct, loss * n, n
    batches = iterate_batches(
        data, protocol.batch_size, shuffle=True, generator=gen, augment=protocol.augment,
        device=device,
    )  # fmt: skip
    params = list(model.parameters())
    for i, (x, y) in enumerate(batches):
        if w.distributed and i == 0:
            dp.check_same(dp.digest(y), f"the first batch of epoch {epoch + 1}", w)
        x = x.contiguous(memory_format=_MEMORY_FORMAT)
        lr = cosine_lr(epoch * per_epoch + i, total, protocol.lr, protocol.lr_min)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        sync = dp.BufferSync(model, M, w)
        for part in dp.local_parts(len(y), M, w):
            sync.before_part()
            with torch.autocast(device.type, dtype=torch.float16, enabled=ex.amp):
                logits = model(x[part])
                loss = F.cross_entropy(logits, y[part])
            share = dp.weighted(loss, part, len(y), M)
            (share if scaler is None else scaler.scale(share)).backward()
            k = part.stop - part.start
            sums += torch.stack([
                (logits.detach().argmax(1) == y[part]).sum().double(),
                loss.detach().double() * k, torch.tensor(k, dtype=torch.float64, device=device),
            ])  # fmt: skip
        sync.finish()
        dp.all_reduce_grads(params, w)
        if scaler is None:
            opt.step()
        else:
            scaler.step(opt)
            scaler.update()
    correct, loss_sum, n = dp.all_reduce_sum(sums, w).tolist()
    return {"accuracy": 100.0 * correct / n, "loss": loss_sum / n}


@torch.no_grad()
def evaluate(model, data: ImageData, batch_size: int, ex: Execution | None = None) -> dict:
    """Accuracy (%) and mean cross-entropy of ``model`` (eval mode) on all of ``data`` (with
    several ranks, each evaluates every ``world``-th batch and the sums are added)."""
    ex = Execution() if ex is None else ex
    model.eval()
    if ex.device != "cpu" or ex.world.distributed or ex.amp:
        return _evaluate_shared(model, data, batch_size, ex)
    correct, loss_sum = 0, 0.0
    for x, y in iterate_batches(data, batch_size):
        logits = model(x.contiguous(memory_format=_MEMORY_FORMAT))
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    return {"accuracy": 100.0 * correct / len(data), "loss": loss_sum / len(data)}


def _evaluate_shared(model, data, batch_size: int, ex: Execution) -> dict:
    device, w = ex.torch_device, ex.world
    sums = torch.zeros(2, dtype=torch.float64, device=device)
    for i, (x, y) in enumerate(iterate_batches(data, batch_size, device=device)):
        if i % w.size != w.rank:
            continue
        with torch.autocast(device.type, dtype=torch.float16, enabled=ex.amp):
            logits = model(x.contiguous(memory_format=_MEMORY_FORMAT))
        loss = F.cross_entropy(logits.float(), y, reduction="sum")
        sums += torch.stack([(logits.argmax(1) == y).sum().double(), loss.double()])
    correct, loss_sum = dp.all_reduce_sum(sums, w).tolist()
    return {"accuracy": 100.0 * correct / len(data), "loss": loss_sum / len(data)}


def train_network(
    space, key, seed: int, protocol: Protocol, splits: Splits, arch=None,
    execution: Execution | None = None,
) -> dict:  # fmt: skip
    """Train ``key`` (``arch``: see :func:`build`) with ``seed``; the record the journal keeps.
    ``execution``: how (:class:`Execution`; default: this process, CPU).

    ``curves[split][metric]`` lists one value per epoch (accuracy in %, loss), ``epoch_time``
    the seconds of each training epoch (evaluation not included), ``params`` in millions,
    ``flops`` in MFLOPs per image (NATS convention).
    """
    model = build(space, key, seed, protocol, splits.train, arch)
    params = count_parameters(model) / 1e6
    d = splits.train
    flops = count_flops(model, torch.zeros(1, d.channels, d.image_size, d.image_size))
    ex = Execution() if execution is None else execution
    model = model.to(ex.torch_device)
    opt = _optimizer(protocol, model)
    run = torch.compile(model) if ex.compile else model
    scaler = torch.amp.GradScaler("cuda") if ex.amp else None
    gen = batch_generator(seed, key)
    curves = {s: {"accuracy": [], "loss": []} for s in SPLITS}
    epoch_time = []
    full = {s: getattr(splits, s) for s in ("valid", "test")}
    head = {s: d.head(protocol.curve_subset) for s, d in full.items()}
    for epoch in range(protocol.epochs):
        t0 = time.perf_counter()
        res = {"train": train_epoch(run, opt, splits.train, protocol, gen, epoch, ex, scaler)}
        epoch_time.append(time.perf_counter() - t0)
        sets = full if epoch == protocol.epochs - 1 else head
        for s in ("valid", "test"):
            res[s] = evaluate(run, sets[s], protocol.eval_batch_size, ex)
        for s in SPLITS:
            for m in ("accuracy", "loss"):
                curves[s][m].append(res[s][m])
    return {"curves": curves, "epoch_time": epoch_time, "params": params, "flops": flops}


def batch_generator(seed: int, key) -> torch.Generator:
    """The generator of one network's batch order and augmentation: ``derive_seed(seed, key)``."""
    return torch.Generator().manual_seed(derive_seed(seed, _int_key(key)))


def _int_key(key) -> int:
    return int(key, 16) if isinstance(key, str) else int(key)
