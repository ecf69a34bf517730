"""The ABS angle (Hu et al., "Angle-based Search Space Shrinking", ECCV 2020) of every NB201
architecture at once, and the ABS operator (shrinking) score.

Definition (method spec 3.1-3.2). A child ``a`` of an NB201 supernet owns the weight vector
``V(a; W)``: the concatenation of

* the fixed parts: every parameter outside the searchable cells (stem conv and BN, the two
  residual reduction blocks, ``lastact`` BN, classifier);
* for each of the 4 input-output paths of the cell DAG, ``0->3``, ``0->2->3``,
  ``0->1->2->3``, ``0->1->3``, and each searchable cell (the genotype is shared by all cells),
  the blocks of the path's edges: a ``nor_conv_1x1`` / ``nor_conv_3x3`` edge gives its conv
  weight, an ``avg_pool_3x3`` edge a fixed pseudo-kernel of ``C_out * 3 * 3`` values ``1/9``
  (the same in both weight sets), a ``skip_connect`` edge nothing; a path with a ``none`` edge
  is dropped for that cell. An edge on several paths is counted once per path.

Only conv weights of the candidate ops are used (NB201's search cells have BN without affine
parameters; a supernet built with ``affine=True`` keeps its cell BN parameters out of the vector,
as ABS's code does). The angle is ``arccos(cos(V(a; W_ref), V(a; W)))`` in radians; **larger is
better** (ABS keeps the operators with the largest angles).

How it is computed. Every vector is a concatenation of blocks, so its dot product and squared
norms are sums over blocks. :func:`angle_stats` reduces each (cell, edge, op) block of the two
state dicts to four numbers (``<u, v>``, ``|u|^2``, ``|v|^2``, ``|u - v|^2``) once; with the
genotype shared by all cells the cells are summed, leaving a ``(6 edges, 5 ops, 4)`` table.
An architecture's totals are the fixed parts' plus, per edge, (the number of its live paths
through that edge) x (the table's entry for its op): :func:`path_multiplicity` gives those
counts for many architectures at once and :func:`angles_from_stats` does the rest with numpy.
Nothing of size 15,625 x (vector length) is built: for the C=16, N=5 supernet the statistics and
all 15,625 angles took 0.15-0.23 s here, about 1,000x faster than building the vectors
(``benchmarks/proxies_angle.py``).

The angle is evaluated as ``2 * arcsin(|u/|u| - v/|v|| / 2)``, with ``|u/|u| - v/|v||^2 =
(|u - v|^2 - (|u| - |v|)^2) / (|u| |v|)``: the same number as ``arccos`` of the cosine, without
its loss of precision for small angles (the angle of ``W`` against itself is exactly 0).

This module needs numpy only; tensors are read through ``.detach().cpu().numpy()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NasbenchToolsError
from ..spaces.nb201 import EDGES, OPS, op_index_matrix

__all__ = [
    "PATHS",
    "POOL_VALUE",
    "AngleError",
    "AngleLayout",
    "AngleStats",
    "angle_stats",
    "angles_from_stats",
    "arch_angles",
    "operator_means",
    "path_multiplicity",
]

#: The 4 input-output paths of the NB201 cell, as node sequences (method spec 3.2 order).
PATH_NODES: tuple[tuple[int, ...], ...] = ((0, 3), (0, 2, 3), (0, 1, 2, 3), (0, 1, 3))
#: The same paths as indices into :data:`~nasbench_tools.spaces.nb201.EDGES`.
PATHS: tuple[tuple[int, ...], ...] = tuple(
    tuple(EDGES.index((p[i], p[i + 1])) for i in range(len(p) - 1)) for p in PATH_NODES
)
#: Value of the avg_pool_3x3 pseudo-kernel.
POOL_VALUE = 1.0 / 9.0

_NONE = OPS.index("none")
_SKIP = OPS.index("skip_connect")
_POOL = OPS.index("avg_pool_3x3")
_CONV3 = OPS.index("nor_conv_3x3")
_CONVS = (OPS.index("nor_conv_1x1"), _CONV3)
# incidence[p, e] = 1 if edge e lies on path p
_INCIDENCE = np.zeros((len(PATHS), len(EDGES)), dtype=np.int64)
for _p, _edges in enumerate(PATHS):
    _INCIDENCE[_p, list(_edges)] = 1
_STATS = ("dot", "ref_sq", "cur_sq", "diff_sq")


class AngleError(NasbenchToolsError, ValueError):
    """The angle cannot be computed: a state dict that does not fit the supernet, a zero vector."""


@dataclass(frozen=True)
class AngleLayout:
    """Where each block of the ABS vector lives in an NB201 supernet's state dict.

    Attributes
    ----------
    fixed : tuple of str
        State-dict keys of the parameters outside the searchable cells.
    conv : tuple of ((cell, edge, op), key)
        The conv weight of each ``nor_conv_1x1`` / ``nor_conv_3x3`` op of each searchable cell
        (``cell`` counts searchable cells from 0, ``edge`` indexes ``EDGES``, ``op`` ``OPS``).
    pool_size : tuple of tuple of int
        ``pool_size[cell][edge]``: scalars in that edge's pooling pseudo-kernel
        (``C_out * 3 * 3``, the 3x3 conv's output channels on that edge).
    """

    fixed: tuple[str, ...]
    conv: tuple[tuple[tuple[int, int, int], str], ...]
    pool_size: tuple[tuple[int, ...], ...]

    @property
    def num_cells(self) -> int:
        return len(self.pool_size)

    @classmethod
    def from_supernet(cls, model: Any) -> AngleLayout:
        """The layout of a :class:`~nasbench_tools.nn.nb201.NB201Supernet` (any ``C``, ``N``)."""
        from torch.nn import Conv2d

        from ..nn.nb201 import NB201Supernet

        if not isinstance(model, NB201Supernet):
            raise AngleError(
                f"the ABS angle is defined here for the NB201 supernet; got {type(model).__name__}"
            )
        names = tuple(model.space.path_names)
        if names != OPS:
            raise AngleError(f"supernet ops {names} are not NB201's {OPS}")
        prefixes = tuple(f"cells.{pos}." for pos in model.searchable)
        fixed = tuple(n for n, _ in model.named_parameters() if not n.startswith(prefixes))
        conv, pool_size = [], []
        for g, pos in enumerate(model.searchable):
            cell = model.cells[pos]
            sizes = []
            for e, (src, dst) in enumerate(EDGES):
                ek = f"{dst}<-{src}"
                ops = cell.edges[ek]
                for p in (_NONE, _SKIP, _POOL):
                    if list(ops[p].parameters()):
                        raise AngleError(
                            f"cell {pos} edge {ek}: {OPS[p]} has parameters; the ABS vector "
                            "assumes a weight-free NB201 op there"
                        )
                for p in _CONVS:
                    convs = [(n, m) for n, m in ops[p].named_modules() if isinstance(m, Conv2d)]
                    if len(convs) != 1:
                        raise AngleError(
                            f"cell {pos} edge {ek}: {OPS[p]} has {len(convs)} conv layers, "
                            "expected 1"
                        )
                    name, module = convs[0]
                    conv.append(((g, e, p), f"cells.{pos}.edges.{ek}.{p}.{name}.weight"))
                    if p == _CONV3:  # the pseudo-kernel has the 3x3 conv's output channels
                        sizes.append(int(module.out_channels) * 9)
            pool_size.append(tuple(sizes))
        return cls(fixed, tuple(conv), tuple(pool_size))


@dataclass(frozen=True)
class AngleStats:
    """Block statistics of a pair of state dicts (reference ``u``, current ``v``).

    ``fixed``: ``(4,)`` = ``<u, v>``, ``|u|^2``, ``|v|^2``, ``|u - v|^2`` of the fixed parts;
    ``blocks``: ``(cells, 6, 5, 4)``, the same for each (cell, edge, op) block (zeros for
    ``none`` and ``skip_connect``). Read-only arrays.
    """

    fixed: np.ndarray
    blocks: np.ndarray

    def shared(self) -> np.ndarray:
        """``(6, 5, 4)``: the blocks summed over cells (one genotype shared by every cell)."""
        return self.blocks.sum(axis=0)


def _flat(sd: Mapping[str, Any], keys: list[str], which: str) -> tuple[np.ndarray, list[int]]:
    """The tensors ``keys`` of ``sd`` flattened into one float64 vector, and their sizes."""
    parts = []
    for key in keys:
        try:
            t = sd[key]
        except KeyError:
            raise AngleError(f"the {which} state dict has no {key!r}") from None
        if hasattr(t, "detach"):
            t = t.detach().cpu().numpy()
        parts.append(np.asarray(t).ravel())
    return np.concatenate(parts).astype(np.float64, copy=False), [p.size for p in parts]


def angle_stats(
    layout: AngleLayout, reference: Mapping[str, Any], current: Mapping[str, Any]
) -> AngleStats:
    """The per-block statistics of ``reference`` (e.g. W0) against ``current`` state dicts.

    Both are state dicts of the supernet ``layout`` was made from (tensors or arrays); a missing
    key or a shape mismatch raises :class:`AngleError` naming the key. Every tensor is read once
    into one float64 vector per state dict; the four block sums are then elementwise products
    summed per block (``numpy.add.reduceat``: no BLAS call per tensor, no thread pool).
    """
    keys = [*layout.fixed, *(k for _, k in layout.conv)]
    u, sizes_u = _flat(reference, keys, "reference")
    v, sizes_v = _flat(current, keys, "current")
    for key, a, b in zip(keys, sizes_u, sizes_v):
        if a != b:
            raise AngleError(f"{key}: reference has {a} values, current {b}")
    d = u - v
    starts = np.concatenate([[0], np.cumsum(sizes_u)[:-1]])
    if (np.asarray(sizes_u) == 0).any():
        raise AngleError("a tensor of the ABS vector is empty")
    sums = np.stack([np.add.reduceat(x, starts) for x in (u * v, u * u, v * v, d * d)], axis=1)
    nf = len(layout.fixed)
    fixed = sums[:nf].sum(axis=0)
    blocks = np.zeros((layout.num_cells, len(EDGES), len(OPS), 4))
    for ((g, e, p), _key), row in zip(layout.conv, sums[nf:]):
        blocks[g, e, p] = row
    pool = np.asarray(layout.pool_size, dtype=np.float64) * POOL_VALUE**2
    blocks[:, :, _POOL, 0:3] = pool[:, :, None]  # <k, k> = |k|^2 = n / 81, |k - k|^2 = 0
    fixed.setflags(write=False)
    blocks.setflags(write=False)
    return AngleStats(fixed, blocks)


def path_multiplicity(ops: np.ndarray) -> np.ndarray:
    """``(K, 6)`` int: for each architecture (row of op indices), the number of its live paths
    (no ``none`` edge) through each edge. ``ops`` is ``(K, 6)`` in ``EDGES`` order."""
    ops = np.asarray(ops)
    if ops.ndim != 2 or ops.shape[1] != len(EDGES):
        raise AngleError(f"ops must be (K, {len(EDGES)}) op indices, got shape {ops.shape}")
    off = (ops == _NONE).astype(np.int64)
    alive = (off @ _INCIDENCE.T) == 0  # (K, 4): a path is live when none of its edges is none
    return alive.astype(np.int64) @ _INCIDENCE


def angles_from_stats(stats: AngleStats, ops: np.ndarray) -> np.ndarray:
    """The ABS angle (radians) of each architecture, one genotype shared by every cell.

    ``ops``: ``(K, 6)`` op indices (``EDGES`` order, ``OPS`` numbering).
    """
    ops = np.asarray(ops, dtype=np.int64)
    mult = path_multiplicity(ops)
    table = stats.shared()  # (6, 5, 4)
    picked = table[np.arange(len(EDGES)), ops]  # (K, 6, 4)
    totals = stats.fixed + np.einsum("ke,kes->ks", mult.astype(np.float64), picked)
    return _angle(totals)


def _angle(totals: np.ndarray) -> np.ndarray:
    ref = np.sqrt(totals[:, 1])
    cur = np.sqrt(totals[:, 2])
    if (ref == 0).any() or (cur == 0).any():
        raise AngleError("the angle of a zero weight vector is undefined (all-zero weights)")
    chord_sq = (totals[:, 3] - (ref - cur) ** 2) / (ref * cur)
    chord = np.sqrt(np.clip(chord_sq, 0.0, 4.0))
    return 2.0 * np.arcsin(np.minimum(chord / 2.0, 1.0))


def arch_angles(
    model: Any,
    reference: Mapping[str, Any],
    current: Mapping[str, Any] | None = None,
    keys: Any = None,
) -> np.ndarray:
    """The ABS angle of NB201 architectures between two weight sets of one supernet.

    Parameters
    ----------
    model : NB201Supernet or AngleLayout
        The supernet (its structure only).
    reference : state dict
        The reference weights (W0, the weights at initialisation, in ABS's formula).
    current : state dict, optional
        The current weights; ``model.state_dict()`` when omitted.
    keys : int array, optional
        NB201 benchmark indices; all 15,625 in index order when omitted.

    Returns
    -------
    numpy.ndarray
        float64 angles in radians, aligned with ``keys``.
    """
    layout = model if isinstance(model, AngleLayout) else AngleLayout.from_supernet(model)
    if current is None:
        if isinstance(model, AngleLayout):
            raise AngleError("pass the current state dict along with an AngleLayout")
        current = model.state_dict()
    ops = op_index_matrix() if keys is None else op_index_matrix()[_keys(keys)]
    return angles_from_stats(angle_stats(layout, reference, current), ops)


def _keys(keys: Any) -> np.ndarray:
    k = np.asarray(keys)
    if k.ndim != 1 or not np.issubdtype(k.dtype, np.integer):
        raise AngleError(f"keys must be a 1-D array of NB201 indices, got {k.dtype} {k.shape}")
    bad = (k < 0) | (k >= len(op_index_matrix()))
    if bad.any():
        raise AngleError(f"NB201 index {int(k[bad][0])} is outside 0..{len(op_index_matrix()) - 1}")
    return k


def operator_means(values: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """``(6, 5)``: the mean of ``values`` over the architectures (rows of ``ops``) that hold each
    ``(edge, op)``; NaN where none does. ABS's shrinking score of an operator is the mean angle
    over all architectures containing it (method spec 3.5)."""
    values = np.asarray(values, dtype=np.float64)
    ops = np.asarray(ops, dtype=np.int64)
    if values.shape != (len(ops),):
        raise AngleError(f"{len(values)} values for {len(ops)} architectures")
    sums = np.zeros((len(EDGES), len(OPS)))
    counts = np.zeros((len(EDGES), len(OPS)))
    for e in range(len(EDGES)):
        np.add.at(sums[e], ops[:, e], values)
        np.add.at(counts[e], ops[:, e], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
