"""How a supernet's choices are described and written down (numpy only).

A supernet is a stack of ``num_cells`` cells; each cell has ``num_blocks`` choice blocks; a block
has ``num_paths`` candidate paths, and each path has ``num_alternatives`` interchangeable ops.

* NB201 supernet: a block is an edge, its paths are the 5 ops, each with 1 alternative.
* MixPath NB101 supernet (method spec 2.2): one block per cell, its paths are the candidate nodes
  and each node has 3 alternative ops (conv1x1, conv3x3, maxpool).

A **choice** is an ``int8`` array of shape ``(G, num_blocks, num_paths)``: ``choice[g, b, p]`` is
the alternative used by path ``p`` of block ``b`` in cell group ``g``, or ``-1`` when the path is
off. ``G == 1`` means one choice shared by every cell; ``G == num_cells`` gives each cell its own.
A single-path choice has exactly one path on per block; a multi-path one (MixPath, one-shot) may
have several, whose outputs are summed.

Samplers (:mod:`nasbench_tools.supernet.samplers`) draw choices; supernets consume them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidChoiceError

__all__ = ["OFF", "ChoiceSpace"]

#: Marks a path that is off in a choice array.
OFF = -1


@dataclass(frozen=True)
class ChoiceSpace:
    """The shape of a supernet's choices.

    Parameters
    ----------
    num_cells : int
        Cells that can take independent choices.
    num_blocks : int
        Choice blocks per cell.
    num_paths : int
        Candidate paths per block.
    num_alternatives : int
        Alternative ops per path (1 when the paths are the ops themselves).
    zero_path : int or None
        A path whose output is identically zero (NB201's ``none``), or ``None``.
    node_blocks : tuple of tuple of int
        For spaces whose blocks are edges into nodes: the blocks feeding each node. Used by
        samplers that reject nodes whose every input is the zero path (ABS's SPOS, spec 3.4).
    edges : tuple of (int, int)
        For spaces whose blocks are the edges of a cell DAG: ``(source, destination)`` node of
        each block, listed in order of destination; node 0 is the cell input and the highest
        node its output. Lets samplers tell which ops can receive a gradient
        (:meth:`live_blocks`).
    weightless_paths : tuple of int
        Paths without parameters (NB201: ``none``, ``skip_connect``, ``avg_pool_3x3``).
    path_names, alternative_names : tuple of str
        Labels for logs and reports.
    """

    num_cells: int
    num_blocks: int
    num_paths: int
    num_alternatives: int = 1
    zero_path: int | None = None
    node_blocks: tuple[tuple[int, ...], ...] = ()
    edges: tuple[tuple[int, int], ...] = ()
    weightless_paths: tuple[int, ...] = ()
    path_names: tuple[str, ...] = field(default=())
    alternative_names: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if self.edges:
            dsts = [d for _, d in self.edges]
            if len(self.edges) != self.num_blocks or dsts != sorted(dsts):
                raise InvalidChoiceError(
                    f"edges must list one (source, destination) per block ({self.num_blocks}) "
                    f"in order of destination, got {self.edges}"
                )
            if any(not 0 <= s < d for s, d in self.edges):
                raise InvalidChoiceError(f"every edge must run from a lower node, got {self.edges}")

    @property
    def num_choices(self) -> int:
        """Single-path choices per block: ``num_paths * num_alternatives``."""
        return self.num_paths * self.num_alternatives

    def groups(self, shared: bool) -> int:
        """``1`` for one choice shared by all cells, else ``num_cells``."""
        return 1 if shared else self.num_cells

    def empty(self, groups: int) -> np.ndarray:
        """An all-off choice array of shape ``(groups, num_blocks, num_paths)``."""
        return np.full((groups, self.num_blocks, self.num_paths), OFF, dtype=np.int8)

    def from_flat(self, flat: np.ndarray) -> np.ndarray:
        """Single-path choice from flat choice indices.

        Parameters
        ----------
        flat : (G, num_blocks) int array
            Flat index ``c = path * num_alternatives + alternative`` per block.
        """
        flat = np.asarray(flat)
        if flat.ndim != 2 or flat.shape[1] != self.num_blocks:
            raise InvalidChoiceError(
                f"flat choice must have shape (G, {self.num_blocks}), got {flat.shape}"
            )
        if flat.size and (flat.min() < 0 or flat.max() >= self.num_choices):
            raise InvalidChoiceError(f"flat choice indices must lie in 0..{self.num_choices - 1}")
        out = self.empty(flat.shape[0])
        paths, alts = np.divmod(flat, self.num_alternatives)
        g, b = np.indices(flat.shape)
        out[g, b, paths] = alts
        return out

    def to_flat(self, choice: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`from_flat` for a single-path choice; raises if a block is multi-path."""
        choice = self.validate(choice)
        on = choice != OFF
        if not (on.sum(axis=2) == 1).all():
            raise InvalidChoiceError("to_flat needs exactly one active path per block")
        paths = on.argmax(axis=2)
        alts = np.take_along_axis(choice, paths[..., None], axis=2)[..., 0]
        return paths * self.num_alternatives + alts

    def validate(self, choice) -> np.ndarray:
        """Check shape and values; returns the choice as an ``int8`` array."""
        c = np.asarray(choice)
        if c.ndim != 3 or c.shape[1:] != (self.num_blocks, self.num_paths):
            raise InvalidChoiceError(
                f"a choice must have shape (G, {self.num_blocks}, {self.num_paths}), got {c.shape}"
            )
        if c.shape[0] not in (1, self.num_cells):
            raise InvalidChoiceError(
                f"a choice must have 1 (shared) or {self.num_cells} (per-cell) groups, "
                f"got {c.shape[0]}"
            )
        if c.size and (c.min() < OFF or c.max() >= self.num_alternatives):
            raise InvalidChoiceError(
                f"choice entries must be -1 (off) or 0..{self.num_alternatives - 1}"
            )
        return c.astype(np.int8, copy=False)

    def active(self, choice: np.ndarray) -> list[list[tuple[tuple[int, int], ...]]]:
        """``active[g][b]`` = tuple of ``(path, alternative)`` that are on, in path order."""
        c = self.validate(choice)
        out = []
        for g in range(c.shape[0]):
            rows = []
            for b in range(self.num_blocks):
                row = c[g, b]
                rows.append(tuple((int(p), int(row[p])) for p in np.flatnonzero(row != OFF)))
            out.append(rows)
        return out

    def live_blocks(self, paths: np.ndarray) -> np.ndarray:
        """Which blocks of single-path cells lie on a path from the cell input to its output.

        Parameters
        ----------
        paths : (..., num_blocks) int array
            The path of every block (``flat // num_alternatives``).

        Returns
        -------
        (..., num_blocks) bool array
            ``True`` where the block's op is not the zero path, its source node receives the
            input through non-zero ops, and its destination reaches the output through them.
            Only such ops get a gradient: a *dead* node (all inputs zero) feeds zeros, so the
            weights of ops leaving it get a zero gradient, and ops into a node whose output
            reaches nothing are not on the loss's graph. Without :attr:`edges` every block not on
            the zero path is live. A cell with no live block outputs zeros and so cuts the
            gradient of every layer before it.
        """
        paths = np.asarray(paths)
        on = paths != self.zero_path if self.zero_path is not None else np.ones(paths.shape, bool)
        if not self.edges:
            return on
        n = self.edges[-1][1] + 1
        on_k = np.moveaxis(on, -1, 0).copy()  # (blocks, ...): contiguous per block
        none = np.zeros(paths.shape[:-1], dtype=bool)
        fwd = [~none] + [none] * (n - 1)  # node reached from the input
        bwd = [none] * (n - 1) + [~none]  # node reaching the output
        for k, (s, d) in enumerate(self.edges):
            fwd[d] = fwd[d] | (on_k[k] & fwd[s])
        for k in reversed(range(len(self.edges))):
            s, d = self.edges[k]
            bwd[s] = bwd[s] | (on_k[k] & bwd[d])
        live = [on_k[k] & fwd[s] & bwd[d] for k, (s, d) in enumerate(self.edges)]
        return np.stack(live, axis=-1)

    def num_active(self, choice: np.ndarray) -> np.ndarray:
        """Active paths per ``(group, block)``."""
        return (self.validate(choice) != OFF).sum(axis=2)
