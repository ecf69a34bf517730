"""The architecture axis a ground truth is aligned to: benchmark indices or module hashes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import InvalidArchError, NasbenchToolsError, UnknownArchError
from ..spaces import get_space
from .columns import SpecArray

__all__ = ["ArchAxis"]


class ArchAxis(Sequence):
    """The architecture axis of a ground truth: a sequence of the space's architecture objects.

    ``keys`` holds the raw identifiers in the space's key form (benchmark indices, or module
    hashes); :meth:`position` maps an architecture to its row. ``keys`` and ``specs`` are
    read-only. Everything space-specific is asked of the :class:`~nasbench_tools.spaces.Space`.
    """

    def __init__(self, space: str, keys: np.ndarray, specs=None):
        self.space = space
        self._sp = get_space(space)
        self._specs = _readonly_specs(specs) if isinstance(specs, SpecArray) else specs
        # ^ a SpecArray, a callable returning one (read lazily), or None
        if self._sp.key_kind == "index":
            self._keys = _readonly(np.asarray(keys, dtype=np.int64))
            self._sorted = None
            self._row = np.full(self._sp.size, -1, dtype=np.int64)
            self._row[self._keys] = np.arange(len(self._keys))
        else:
            k = np.asarray(keys)
            if k.dtype.kind == "S":  # straight from a store: decode to str only when asked
                self._sorted, self._keys = _readonly(k), None
            else:
                self._sorted, self._keys = np.asarray(k.tolist(), dtype="S32"), _readonly(k)

    @property
    def keys(self) -> np.ndarray:
        """Benchmark indices (int64) or module hashes (str), sorted. Read-only."""
        if self._keys is None:
            self._keys = _readonly(self._sorted.astype("U32").astype(object))
        return self._keys

    def key(self, i: int):
        """The identifier of row ``i`` (cheap, no full decode)."""
        if self._sorted is None:
            return int(self._keys[i])
        return self._sorted[i].decode()

    @property
    def specs(self) -> SpecArray | None:
        """Cell specs as a :class:`SpecArray` of read-only arrays, for spaces keyed by hash."""
        if callable(self._specs):
            specs = self._specs()
            self._specs = None if specs is None else _readonly_specs(specs)
        return self._specs

    def __len__(self) -> int:
        return len(self._keys) if self._sorted is None else len(self._sorted)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if self._sorted is None:
            return self._sp.arch(int(self.keys[i]))
        if self.specs is None:
            raise NasbenchToolsError(
                f"this {self._sp.title} ground truth holds no cell specs, only hashes"
            )
        return self.specs.spec(int(i))

    def __repr__(self) -> str:
        return f"ArchAxis({self.space}, {len(self)} archs)"

    def position(self, arch) -> int:
        """Row of ``arch``; raises :class:`UnknownArchError` naming its canonical form."""
        sp = self._sp
        if self._sorted is None:
            if sp.is_key(arch):
                row = int(self._row[int(arch)])  # an index: no need to build the arch
                if row >= 0:
                    return row
            row = int(self._row[sp.key(arch)])
            if row < 0:
                raise UnknownArchError(
                    f"{sp.describe(arch)} is not in this ground truth ({len(self)} archs)"
                )
            return row
        try:
            h = sp.as_key(arch)
        except InvalidArchError as exc:
            raise UnknownArchError(str(exc)) from None
        row = int(np.searchsorted(self._sorted, h.encode()))
        if row >= len(self._sorted) or self._sorted[row] != h.encode():
            raise UnknownArchError(
                f"{sp.describe(h)} is not in this ground truth ({len(self)} cells)"
            )
        return row

    def positions(self, archs: Iterable) -> np.ndarray:
        return np.array([self.position(a) for a in archs], dtype=np.int64)

    def rows(self, archs: Iterable) -> np.ndarray:
        """Row of each of ``archs``, -1 where this ground truth does not hold it (a sample of
        the space, for example); an arch the space does not accept still raises."""
        out = []
        for a in archs:
            try:
                out.append(self.position(a))
            except UnknownArchError:
                out.append(-1)
        return np.array(out, dtype=np.int64)


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.setflags(write=False)
    return v


def _readonly_specs(specs: SpecArray) -> SpecArray:
    """A SpecArray over read-only views of ``specs``' arrays (no copy)."""
    return SpecArray(
        _readonly(specs.matrices), _readonly(specs.labels), _readonly(specs.num_vertices)
    )
