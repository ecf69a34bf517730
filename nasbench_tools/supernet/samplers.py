"""Path samplers for weight-sharing supernet training (numpy only).

A sampler turns a random generator into the sub-networks trained by **one optimizer step**:
:meth:`Sampler.sample` returns a list of :class:`Draw` (one for SPOS, MixPath and one-shot; ``m``
for FairNAS), each a choice array (:mod:`nasbench_tools.nn.choice`). The trainer runs forward and
backward for every draw, accumulating gradients, then takes one optimizer step.

Registered samplers (:data:`SAMPLERS`, a :class:`~nasbench_tools.registry.Registry`;
:func:`register_sampler`, :func:`list_samplers`, :func:`make_sampler`):

``spos``
    Uniform single path (Guo et al.; method spec 4.1). ``sharing="per_cell"`` draws every
    cell's ops independently, as ABS's NB201 supernet does (spec 3.4); ``"shared"`` draws one
    choice for all cells. ``reject_zero_nodes`` (default on, as ABS) redraws a node's incoming
    edges until at least one is not the zero op (NB201 ``none``).
``fairnas``
    Strict fairness (Chu et al.; spec 4.2): every block draws a random permutation of its ``n``
    choices and the ``n`` single-path models are the columns, so each choice of each block is
    *run* exactly once per step. Gradients of the ``n`` models are summed (not averaged) before
    the one optimizer step. ``batches="same"`` (default) feeds every model the same batch, as the
    reference re-implementation does; ``"distinct"`` gives each model its own batch, as the
    paper's figure describes (an epoch then has ``n`` times fewer steps).

    *Forward fairness is not update fairness.* In a space with a zero op (NB201's ``none``) an
    op that runs can still get no gradient: on an edge leaving a dead node (every input of the
    node is ``none``, so the op sees zeros and its weight gradient is zero), on an edge into a
    node whose output reaches nothing, or anywhere in a cell whose output is all zeros, which
    also cuts every cell before it. ``fairness="forward"`` (default) is the reference
    algorithm: every op runs once per step, and on NB201 a fraction of the op weights gets no
    update at each step (the trainer logs it as ``update_coverage``). ``fairness="update"``
    keeps the permutations (every op still runs exactly once per step) but redraws a cell's
    permutations until, in each of the ``n`` models, every op with parameters lies on an
    input-to-output path of non-zero ops (:meth:`~nasbench_tools.nn.choice.ChoiceSpace.live_blocks`),
    so every op weight receives a gradient at every step. The draw is uniform over the
    permutations that satisfy this, which is a different distribution of sub-networks: dead
    nodes never occur, and ``none`` lands only where it cuts weightless ops (about 1 draw in 10
    of NB201's is accepted per cell). In a space without a zero op the two are the same.
``mixpath``
    Multi-path (Chu et al., MixPath; spec 2.1): per block ``k ~ U{1..m}``, then a uniform
    ``k``-subset of the paths, then a uniform alternative per chosen path; the chosen paths'
    outputs are summed. Not uniform over sub-networks: ``P(k)`` is ``1/m`` whatever ``C(n, k)``.
    ``sharing="shared"`` (default) uses one choice for all cells, as MixPath's NB101 code does.
    How the sum is normalised (``"shadow"``, ``"single"``, ``"none"``) is part of the supernet
    (its ``bn`` / ``edge_norm`` argument), not of the sampler.
``oneshot``
    Bender et al.'s one-shot training (spec 5): all paths on, each dropped with probability
    ``r(t) ** (1 / k)`` for a block with ``k`` paths, so all ``k`` are dropped with probability
    ``r(t)`` whatever ``k`` is; ``r(t)`` ramps linearly from 0 to ``drop_rate`` over
    ``ramp_fraction`` of training (``ramp="constant"`` keeps it at ``drop_rate``, as the paper's
    ablation); the trainer passes ``progress = t / (T - 1)`` at step ``t`` of ``T``, so the first
    step has ``r = 0`` and the last ``r = drop_rate``. When every path of a block is dropped one is kept, chosen uniformly. The zero
    path (NB201 ``none``) is never "on": it adds nothing, so ``k`` counts the other paths.
    ``per_example`` draws an independent mask per example. These details, ``drop_rate=0.5``
    included, are unverified against the paper and are options for that reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import TrainConfigError
from ..nn.choice import OFF, ChoiceSpace
from ..registry import Registry

__all__ = [
    "SAMPLERS",
    "Draw",
    "FairNASSampler",
    "MixPathSampler",
    "OneShotSampler",
    "SPOSSampler",
    "Sampler",
    "draw_children",
    "list_samplers",
    "make_sampler",
    "register_sampler",
]


@dataclass
class Draw:
    """One sub-network to run in a step.

    Attributes
    ----------
    choice : (G, blocks, paths) int8 array
        The active paths (see :mod:`nasbench_tools.nn.choice`).
    example_mask : (batch, G, blocks, paths) float32 array or None
        Per-example multipliers (per-example path dropout); ``choice`` is then the union of the
        paths any example keeps.
    """

    choice: np.ndarray
    example_mask: np.ndarray | None = None


class Sampler(ABC):
    """Base class: ``sample(rng, progress, batch_size) -> list[Draw]`` for one optimizer step."""

    name: ClassVar[str]

    def __init__(self, space: ChoiceSpace):
        self.space = space

    @property
    def models_per_step(self) -> int:
        """Forward/backward passes per optimizer step."""
        return 1

    @property
    def batches_per_step(self) -> int:
        """Distinct data batches consumed per optimizer step."""
        return 1

    @abstractmethod
    def sample(
        self, rng: np.random.Generator, progress: float = 0.0, batch_size: int | None = None
    ) -> list[Draw]:
        """Draws for one step; ``progress`` in [0, 1] is the fraction of training done (0 at the
        first step, 1 at the last)."""

    @abstractmethod
    def options(self) -> dict:
        """The resolved options, for run configs."""

    def config(self) -> dict:
        return {"name": self.name, **self.options()}

    def child_sampler(self) -> Sampler:
        """This sampler with one choice shared by every cell and one mask per batch: a draw is
        then one child network (an architecture of the benchmark where the choice is single
        path), from the distribution the sampler trains."""
        options = {**self.options(), "sharing": "shared"}
        if "per_example" in options:
            options["per_example"] = False
        return type(self)(self.space, **options)


def draw_children(sampler: Sampler, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """``n`` children from ``sampler``'s distribution at the end of training: the first draw of
    ``n`` steps of :meth:`Sampler.child_sampler` at ``progress=1``."""
    child = sampler.child_sampler()
    return [child.sample(rng, progress=1.0)[0].choice for _ in range(n)]


#: name -> Sampler subclass; an unknown name raises
#: :class:`~nasbench_tools.errors.TrainConfigError` listing the known ones.
SAMPLERS: Registry[type[Sampler]] = Registry("sampler", error=TrainConfigError)


def register_sampler(cls: type[Sampler]) -> type[Sampler]:
    """Class decorator adding ``cls`` to :data:`SAMPLERS` under ``cls.name`` (a name already
    registered raises :class:`~nasbench_tools.errors.NasbenchToolsError`)."""
    return SAMPLERS.register(cls.name, cls)


def list_samplers() -> list[str]:
    return SAMPLERS.names()


def make_sampler(name: str, space: ChoiceSpace, **options) -> Sampler:
    """Build the sampler registered as ``name`` for ``space``."""
    cls = SAMPLERS.get(name)
    try:
        return cls(space, **options)
    except TypeError as exc:
        raise TrainConfigError(f"sampler {name!r}: {exc}") from None


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise TrainConfigError(f"{what} must be one of {list(allowed)}, got {value!r}")
    return value


# --------------------------------------------------------------------------- SPOS
@register_sampler
class SPOSSampler(Sampler):
    """Uniform single path; see the module docstring."""

    name = "spos"

    def __init__(
        self, space: ChoiceSpace, sharing: str = "per_cell", reject_zero_nodes: bool = True
    ):
        super().__init__(space)
        self.sharing = _check_choice(sharing, ("per_cell", "shared"), "spos sharing")
        self.reject_zero_nodes = bool(reject_zero_nodes)

    def options(self) -> dict:
        return {"sharing": self.sharing, "reject_zero_nodes": self.reject_zero_nodes}

    def sample(self, rng, progress=0.0, batch_size=None) -> list[Draw]:
        s = self.space
        G = s.groups(self.sharing == "shared")
        flat = rng.integers(0, s.num_choices, size=(G, s.num_blocks))
        if self.reject_zero_nodes and s.zero_path is not None and s.node_blocks:
            A = s.num_alternatives
            for g in range(G):
                for blocks in s.node_blocks:
                    idx = list(blocks)
                    while (flat[g, idx] // A == s.zero_path).all():
                        flat[g, idx] = rng.integers(0, s.num_choices, size=len(idx))
        return [Draw(s.from_flat(flat))]


# --------------------------------------------------------------------------- FairNAS
@register_sampler
class FairNASSampler(Sampler):
    """Strict fairness; see the module docstring."""

    name = "fairnas"

    #: Candidate permutations per cell before ``fairness="update"`` gives up.
    MAX_REDRAWS = 10_000
    #: Candidates drawn (and checked at once) per round of redraws.
    REDRAW_BATCH = 32

    def __init__(
        self,
        space: ChoiceSpace,
        sharing: str = "per_cell",
        batches: str = "same",
        fairness: str = "forward",
    ):
        super().__init__(space)
        self.sharing = _check_choice(sharing, ("per_cell", "shared"), "fairnas sharing")
        self.batches = _check_choice(batches, ("same", "distinct"), "fairnas batches")
        self.fairness = _check_choice(fairness, ("forward", "update"), "fairnas fairness")
        self._weighted = np.ones(space.num_paths, dtype=bool)  # path -> has parameters
        self._weighted[list(space.weightless_paths)] = False

    def options(self) -> dict:
        return {"sharing": self.sharing, "batches": self.batches, "fairness": self.fairness}

    @property
    def models_per_step(self) -> int:
        return self.space.num_choices

    @property
    def batches_per_step(self) -> int:
        return self.models_per_step if self.batches == "distinct" else 1

    def sample(self, rng, progress=0.0, batch_size=None) -> list[Draw]:
        s = self.space
        G = s.groups(self.sharing == "shared")
        n = s.num_choices
        # perms[g, b] is a random permutation of the n choices of block (g, b)
        perms = rng.permuted(np.broadcast_to(np.arange(n), (G, s.num_blocks, n)), axis=2)
        if self.fairness == "update":
            self._redraw_until_updated(rng, perms)
        return [Draw(s.from_flat(perms[:, :, k])) for k in range(n)]

    def updates_every_op(self, perms: np.ndarray) -> np.ndarray:
        """Per group: does every op with parameters get a gradient in its model?

        ``perms`` is ``(G, num_blocks, n)`` flat choices (column ``k`` is model ``k``). A group
        passes when, in every model, its cell outputs something (a live block) and every op with
        parameters is live.
        """
        paths = np.swapaxes(perms, 1, 2) // self.space.num_alternatives  # (G, n, blocks)
        live = self.space.live_blocks(paths)
        weighted = self._weighted[paths]
        ok = (live | ~weighted).all(axis=2) & live.any(axis=2)
        return ok.all(axis=1)

    def _redraw_until_updated(self, rng: np.random.Generator, perms: np.ndarray) -> None:
        """Replace, in place, each group's permutations that fail :meth:`updates_every_op` by the
        first passing one of fresh candidates (drawn :data:`REDRAW_BATCH` at a time), so a group
        ends uniform over the passing permutations."""
        _, B, n = perms.shape
        bad = np.flatnonzero(~self.updates_every_op(perms))
        for _ in range(-(-self.MAX_REDRAWS // self.REDRAW_BATCH)):
            if bad.size == 0:
                return
            shape = (bad.size, self.REDRAW_BATCH, B, n)
            cand = rng.permuted(np.broadcast_to(np.arange(n), shape), axis=3)
            ok = self.updates_every_op(cand.reshape(-1, B, n)).reshape(shape[:2])
            hit = ok.any(axis=1)
            perms[bad[hit]] = cand[hit, ok[hit].argmax(axis=1)]
            bad = bad[~hit]
        if bad.size:
            raise TrainConfigError(
                f"fairnas fairness='update': no permutations in {self.MAX_REDRAWS} draws give every "
                "op with parameters a gradient in this space; use fairness='forward'"
            )


# --------------------------------------------------------------------------- MixPath
@register_sampler
class MixPathSampler(Sampler):
    """Multi-path ``k ~ U{1..m}``; see the module docstring.

    Parameters
    ----------
    m : int, optional
        Most paths summed per block (default: every path of the block).
    sharing : {"shared", "per_cell"}
    """

    name = "mixpath"

    def __init__(self, space: ChoiceSpace, m: int | None = None, sharing: str = "shared"):
        super().__init__(space)
        self.m = space.num_paths if m is None else int(m)
        if not 1 <= self.m <= space.num_paths:
            raise TrainConfigError(f"mixpath m must be 1..{space.num_paths}, got {m}")
        self.sharing = _check_choice(sharing, ("shared", "per_cell"), "mixpath sharing")

    def options(self) -> dict:
        return {"m": self.m, "sharing": self.sharing}

    def sample(self, rng, progress=0.0, batch_size=None) -> list[Draw]:
        s = self.space
        G = s.groups(self.sharing == "shared")
        choice = s.empty(G)
        for g in range(G):
            for b in range(s.num_blocks):
                k = int(rng.integers(1, self.m + 1))
                paths = rng.choice(s.num_paths, size=k, replace=False)
                choice[g, b, paths] = rng.integers(0, s.num_alternatives, size=k)
        return [Draw(choice)]


# --------------------------------------------------------------------------- one-shot
@register_sampler
class OneShotSampler(Sampler):
    """Bender et al.'s path dropout; see the module docstring.

    Parameters
    ----------
    drop_rate : float
        Final ``r``: the probability that all paths of a block are dropped (before the
        keep-one rule).
    ramp : {"linear", "constant"}
    ramp_fraction : float
        Fraction of training over which ``r`` ramps from 0 (``"linear"`` only).
    per_example : bool
        Independent masks per example instead of one per batch.
    sharing : {"per_cell", "shared"}
    """

    name = "oneshot"

    def __init__(
        self,
        space: ChoiceSpace,
        drop_rate: float = 0.5,
        ramp: str = "linear",
        ramp_fraction: float = 1.0,
        per_example: bool = False,
        sharing: str = "per_cell",
    ):
        super().__init__(space)
        if not 0.0 <= drop_rate < 1.0:
            raise TrainConfigError(f"oneshot drop_rate must be in [0, 1), got {drop_rate}")
        if not 0.0 < ramp_fraction <= 1.0:
            raise TrainConfigError(f"oneshot ramp_fraction must be in (0, 1], got {ramp_fraction}")
        self.drop_rate = float(drop_rate)
        self.ramp = _check_choice(ramp, ("linear", "constant"), "oneshot ramp")
        self.ramp_fraction = float(ramp_fraction)
        self.per_example = bool(per_example)
        self.sharing = _check_choice(sharing, ("per_cell", "shared"), "oneshot sharing")
        self._paths = np.array(
            [p for p in range(space.num_paths) if p != space.zero_path], dtype=np.int64
        )

    def options(self) -> dict:
        return {
            "drop_rate": self.drop_rate,
            "ramp": self.ramp,
            "ramp_fraction": self.ramp_fraction,
            "per_example": self.per_example,
            "sharing": self.sharing,
        }

    def rate(self, progress: float) -> float:
        """``r(t)``: probability that every path of a block is dropped at training progress t."""
        if self.ramp == "constant":
            return self.drop_rate
        return self.drop_rate * min(1.0, max(0.0, progress) / self.ramp_fraction)

    def drop_probability(self, progress: float) -> float:
        """Per-path drop probability ``r(t) ** (1 / k)``, ``k`` = paths per block."""
        r = self.rate(progress)
        return 0.0 if r == 0.0 else r ** (1.0 / len(self._paths))

    def _keep(self, rng, shape: tuple[int, ...], p: float) -> np.ndarray:
        """Boolean keep mask ``shape + (k,)`` with at least one kept path per row."""
        k = len(self._paths)
        keep = rng.random((*shape, k)) >= p
        none_kept = ~keep.any(axis=-1)
        if none_kept.any():
            rescue = rng.integers(0, k, size=int(none_kept.sum()))
            keep[none_kept, rescue] = True
        return keep

    def sample(self, rng, progress=0.0, batch_size=None) -> list[Draw]:
        s = self.space
        G = s.groups(self.sharing == "shared")
        p = self.drop_probability(progress)
        alts = rng.integers(0, s.num_alternatives, size=(G, s.num_blocks, len(self._paths)))
        if not self.per_example:
            keep = self._keep(rng, (G, s.num_blocks), p)
            choice = s.empty(G)
            choice[:, :, self._paths] = np.where(keep, alts, OFF)
            return [Draw(choice)]
        if batch_size is None:
            raise TrainConfigError("per-example path dropout needs the batch size")
        keep = self._keep(rng, (batch_size, G, s.num_blocks), p)
        union = keep.any(axis=0)
        choice = s.empty(G)
        choice[:, :, self._paths] = np.where(union, alts, OFF)
        mask = np.zeros((batch_size, G, s.num_blocks, s.num_paths), dtype=np.float32)
        mask[..., self._paths] = keep
        return [Draw(choice, mask)]
