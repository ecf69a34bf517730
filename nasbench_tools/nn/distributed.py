"""Data-parallel training over ``torch.distributed`` (launched by ``torchrun``), its one-process
twin (micro-batches), and the device choice shared by the trainers.

**Micro-batches.** A trainer with ``micro_batches = M`` cuts every global batch of ``n`` images
into ``M`` contiguous parts (part ``k`` holds images ``k n // M`` to ``(k + 1) n // M``), runs
forward and backward on each part with its own BatchNorm statistics, weights part ``k``'s mean
loss by ``n_k / n`` and sums the gradients: one optimizer step per global batch, whose gradient
is the gradient of the batch's mean loss except that BN normalises each part by its own batch
statistics. BN running statistics (used in eval mode) are updated once per forward from the
state before the step's parts, and averaged over the parts (:class:`BufferSync`), so they too do
not depend on how the parts are spread. ``M = 1`` is the plain loop, bit for bit.

**Ranks.** Under ``torchrun`` with ``W`` processes (the *world*), every rank loads the same data,
draws the same batch order and the same architectures (identically seeded generators, checked
across ranks by :func:`check_same`), and runs the ``M / W`` parts ``r M / W .. (r + 1) M / W - 1``
of each batch; the gradients (:func:`all_reduce_grads`) and running statistics are summed over
ranks. The step is therefore the one a single process with ``M`` micro-batches takes, up to the
order of floating-point sums, whatever ``W`` divides ``M``: a run may be resumed on another
number of processes when the new ``W`` divides ``M``. ``M`` is recorded with the run; ``W`` is
not part of the numbers.

:func:`world` tells the rank and size (``World()``: one process when no process group is
initialised); :func:`init_from_env` initialises the group from torchrun's variables
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``): ``nccl`` for CUDA,
``gloo`` for CPU. :func:`resolve_device` turns ``auto`` / ``cpu`` / ``cuda[:i]`` into a device,
refusing CUDA where there is none.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ..errors import DeviceError, DistributedError

__all__ = [
    "BufferSync",
    "World",
    "all_reduce_grads",
    "all_reduce_sum",
    "broadcast_object",
    "check_micro_batches",
    "check_same",
    "digest",
    "init_from_env",
    "local_parts",
    "part_bounds",
    "resolve_device",
    "world",
]

#: Values ``--device`` accepts besides ``cuda:<i>``.
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel ranks (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world() -> World:
    """The current world: the initialised process group's rank and size, else one process."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return World()


def launched_by_torchrun() -> bool:
    """``WORLD_SIZE`` and ``RANK`` are set (torchrun, or a launcher that sets the same)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def init_from_env(device: str = "cpu") -> World:
    """Initialise the default process group when launched by torchrun with more than one
    process (``nccl`` for a CUDA ``device``, else ``gloo``); a no-op otherwise or when a group
    exists. Returns :func:`world`."""
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) <= 1:
        return world()
    if not dist.is_initialized():
        backend = "nccl" if str(device).startswith("cuda") else "gloo"
        if str(device).startswith("cuda"):
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend)
    return world()


def resolve_device(name: str | None, what: str = "--device") -> str:
    """``auto`` -> ``cuda`` if available else ``cpu``; ``cpu``; ``cuda`` or ``cuda:<i>`` only where
    CUDA is available (else :class:`~nasbench_tools.errors.DeviceError`, naming ``what``).
    ``None`` means ``cpu``. Returns the name (a string, as configs record it)."""
    name = "cpu" if name is None else str(name)
    base, _, index = name.partition(":")
    if base not in DEVICES or (index and (base != "cuda" or not index.isdigit())):
        raise DeviceError(f"{what} must be auto, cpu, cuda or cuda:<i>, got {name!r}")
    if base == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if base == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"{what} {name}: CUDA is not available on this machine (torch {torch.__version__}"
                f", built for CUDA {torch.version.cuda}); use --device cpu or auto"
            )
        if index and int(index) >= torch.cuda.device_count():
            raise DeviceError(
                f"{what} {name}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    return name


def rank_device(name: str, w: World | None = None) -> torch.device:
    """The torch device of this rank: ``cuda`` becomes ``cuda:<LOCAL_RANK>`` with several ranks
    (an explicit ``cuda:<i>`` is refused then: every rank would use the same GPU)."""
    w = world() if w is None else w
    if name.startswith("cuda") and w.distributed:
        if ":" in name:
            raise DeviceError(
                f"--device {name}: with {w.size} processes each rank uses cuda:<LOCAL_RANK>; "
                "pass --device cuda"
            )
        return torch.device("cuda", w.local_rank)
    return torch.device(name)


# --------------------------------------------------------------------------- micro-batches
def check_micro_batches(micro_batches: int, w: World, error=DistributedError) -> None:
    """Refuse a split of each batch that the ranks cannot share equally."""
    if isinstance(micro_batches, bool) or not isinstance(micro_batches, int) or micro_batches < 1:
        raise error(f"micro_batches must be an integer >= 1, got {micro_batches!r}")
    if micro_batches % w.size:
        raise error(
            f"micro_batches {micro_batches} is not a multiple of the {w.size} processes: each "
            f"rank runs micro_batches / processes parts of every batch (the run's micro_batches "
            "is fixed when it starts; resume it on a number of processes that divides it)"
        )


def part_bounds(n: int, micro_batches: int) -> list[int]:
    """Boundaries of the ``micro_batches`` contiguous parts of a batch of ``n``: part ``k`` is
    ``[b[k], b[k + 1])`` with ``b[k] = k n // micro_batches``."""
    if n < micro_batches:
        raise DistributedError(
            f"a batch of {n} image(s) cannot be cut into {micro_batches} micro-batches"
        )
    return [k * n // micro_batches for k in range(micro_batches + 1)]


def local_parts(n: int, micro_batches: int, w: World) -> list[slice]:
    """The slices of a batch of ``n`` that rank ``w.rank`` runs (see the module text)."""
    b = part_bounds(n, micro_batches)
    per = micro_batches // w.size
    return [slice(b[k], b[k + 1]) for k in range(w.rank * per, (w.rank + 1) * per)]


# --------------------------------------------------------------------------- collectives
def all_reduce_sum(t: torch.Tensor, w: World | None = None) -> torch.Tensor:
    """``t`` summed over the ranks, in place (unchanged with one process). Returns ``t``."""
    w = world() if w is None else w
    if w.distributed:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_grads(params: Sequence[nn.Parameter], w: World | None = None) -> None:
    """Sum the gradients of ``params`` over the ranks (in one coalesced all-reduce).

    A parameter that has a gradient on some rank gets one on every rank (zeros where it had
    none); one without a gradient on every rank keeps ``None`` (so SGD still skips it: no decay,
    no momentum). Each rank's loss is already weighted by its share of the batch, so the sum is
    the global gradient."""
    w = world() if w is None else w
    if not w.distributed or not params:
        return
    device = params[0].device
    has = torch.tensor([p.grad is not None for p in params], dtype=torch.int32, device=device)
    dist.all_reduce(has, op=dist.ReduceOp.MAX)
    used = [p for p, h in zip(params, has.tolist()) if h]
    for p in used:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    if not used:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in used])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for p in used:
        n = p.numel()
        p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
        offset += n


def digest(*values) -> int:
    """A 63-bit digest of numpy arrays, tensors and plain values (their bytes and shapes)."""
    h = hashlib.blake2b(digest_size=8)
    for v in values:
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu().numpy()
        if isinstance(v, np.ndarray):
            h.update(str((v.dtype.str, v.shape)).encode())
            h.update(np.ascontiguousarray(v).tobytes())
        else:
            h.update(repr(v).encode())
    return int.from_bytes(h.digest(), "little") >> 1


def check_same(value: int, what: str, w: World | None = None) -> None:
    """Raise :class:`~nasbench_tools.errors.DistributedError` on every rank unless every rank
    passes the same ``value`` (a :func:`digest`); ``what`` names it in the message."""
    w = world() if w is None else w
    if not w.distributed:
        return
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"  # nccl moves CUDA tensors only
    mine = torch.tensor([value], dtype=torch.int64, device=device)
    got = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(w.size)]
    dist.all_gather(got, mine)
    values = [int(g) for g in got]
    if len(set(values)) > 1:
        raise DistributedError(
            f"the ranks disagree on {what}: digests {values} (rank order); every rank must draw "
            "the same architectures and batches from identically seeded generators"
        )


def broadcast_object(obj, w: World | None = None):
    """Rank 0's ``obj`` on every rank (one process: ``obj``)."""
    w = world() if w is None else w
    if not w.distributed:
        return obj
    box = [obj if w.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(w: World | None = None) -> None:
    w = world() if w is None else w
    if w.distributed:
        dist.barrier()


# --------------------------------------------------------------------------- running statistics
class BufferSync:
    """Running statistics averaged over a step's micro-batches (see the module text).

    ``sync = BufferSync(model, micro_batches)``; before each part ``sync.before_part()``; after
    all of this rank's parts ``sync.finish()``. Every floating buffer becomes
    ``before + mean over all parts of (after part - before)``; an integer buffer (BN's
    ``num_batches_tracked``) ``before + sum of increments // micro_batches``. Buffers no part
    changed keep their exact value. With one part and one process it does nothing at all.

    ``inplace=False`` gives every part after the first, and the result, fresh buffer tensors
    instead of writing into the ones a part ran with: needed when the parts' losses are summed
    into one graph before ``backward`` (BatchNorm saves its running statistics for backward, so
    writing into them would break it); ``inplace=True`` (the default) keeps the buffers' identity
    for loops that call ``backward`` after each part.
    """

    def __init__(
        self, model: nn.Module, micro_batches: int, w: World | None = None, inplace: bool = True
    ):
        self.w = world() if w is None else w
        self.m = micro_batches
        self.inplace = inplace
        self.active = micro_batches > 1 or self.w.distributed
        self.slots = []
        if self.active:
            self.slots = [
                (mod, name)
                for mod in model.modules()
                for name, b in mod._buffers.items()
                if b is not None
            ]
        self.before = [mod._buffers[name].detach().clone() for mod, name in self.slots]
        self.delta = [torch.zeros_like(b) for b in self.before]
        self._started = False

    def before_part(self) -> None:
        if not self.active:
            return
        if self._started:  # record the previous part's change, restore the state before it
            self._collect(restore=True)
        self._started = True

    def _collect(self, restore: bool) -> None:
        with torch.no_grad():
            for (mod, name), b0, d in zip(self.slots, self.before, self.delta):
                b = mod._buffers[name]
                d += b - b0
                if not restore:
                    continue
                if self.inplace:
                    b.copy_(b0)
                else:
                    mod._buffers[name] = b0.clone()

    def finish(self) -> None:
        if not self.active or not self.slots:
            return
        if self._started:
            self._collect(restore=False)
        if self.w.distributed:
            flat = torch.cat([d.reshape(-1).double() for d in self.delta])
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            offset = 0
            for d in self.delta:
                n = d.numel()
                d.copy_(flat[offset : offset + n].view_as(d).to(d.dtype))
                offset += n
        with torch.no_grad():
            for (mod, name), b0, d in zip(self.slots, self.before, self.delta):
                if b0.is_floating_point():
                    new = b0 + d / self.m
                else:
                    new = b0 + torch.div(d, self.m, rounding_mode="floor")
                if self.inplace:
                    mod._buffers[name].copy_(new)
                else:
                    mod._buffers[name] = new


def weighted(loss: torch.Tensor, part: slice, n: int, micro_batches: int) -> torch.Tensor:
    """Part ``part``'s mean ``loss`` weighted by its share of the batch of ``n`` (unchanged, not
    even multiplied by 1, with one micro-batch)."""
    if micro_batches == 1:
        return loss
    return loss * ((part.stop - part.start) / n)
