"""The architecture axis a ground truth is aligned to: benchmark indices or module hashes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import NasbenchToolsError, UnknownArchError
from ..spaces import nb101, nb201
from .columns import SpecArray

__all__ = ["ArchAxis"]


class ArchAxis(Sequence):
    """The architecture axis of a ground truth: a sequence of :class:`Arch` or :class:`ModelSpec`.

    ``keys`` holds the raw identifiers (NB201 benchmark indices, NB101 module hashes);
    :meth:`position` maps an architecture to its row. ``keys`` and ``specs`` are read-only.
    """

    def __init__(self, space: str, keys: np.ndarray, specs=None):
        self.space = space
        self._specs = _readonly_specs(specs) if isinstance(specs, SpecArray) else specs
        # ^ a SpecArray, a callable returning one (read lazily), or None
        if space == "nb201":
            self._keys = _readonly(np.asarray(keys, dtype=np.int64))
            self._row = np.full(nb201.NUM_ARCHS, -1, dtype=np.int64)
            self._row[self._keys] = np.arange(len(self._keys))
        else:
            k = np.asarray(keys)
            if k.dtype.kind == "S":  # straight from a store: decode to str only when asked
                self._sorted, self._keys = _readonly(k), None
            else:
                self._sorted, self._keys = np.asarray(k.tolist(), dtype="S32"), _readonly(k)

    @property
    def keys(self) -> np.ndarray:
        """NB201: int64 benchmark indices. NB101: module hashes (str), sorted. Read-only."""
        if self._keys is None:
            self._keys = _readonly(self._sorted.astype("U32").astype(object))
        return self._keys

    def key(self, i: int):
        """The identifier of row ``i`` (cheap, no full decode)."""
        if self.space == "nb201":
            return int(self._keys[i])
        return self._sorted[i].decode()

    @property
    def specs(self) -> SpecArray | None:
        """NB101: the cells as a :class:`SpecArray` of read-only arrays (None for NB201)."""
        if callable(self._specs):
            specs = self._specs()
            self._specs = None if specs is None else _readonly_specs(specs)
        return self._specs

    def __len__(self) -> int:
        return len(self._sorted) if self.space == "nb101" else len(self._keys)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if self.space == "nb201":
            return nb201.Arch.from_index(int(self.keys[i]))
        if self.specs is None:
            raise NasbenchToolsError("this NB101 ground truth holds no cell specs, only hashes")
        return self.specs.spec(int(i))

    def __repr__(self) -> str:
        return f"ArchAxis({self.space}, {len(self)} archs)"

    def position(self, arch) -> int:
        """Row of ``arch``; raises :class:`UnknownArchError` naming its canonical form."""
        if self.space == "nb201":
            if (
                isinstance(arch, int | np.integer)
                and not isinstance(arch, bool)
                and 0 <= arch < nb201.NUM_ARCHS
            ):
                row = int(self._row[arch])  # an index: no need to build the Arch
                if row >= 0:
                    return row
            a = arch if isinstance(arch, nb201.Arch) else nb201.Arch.parse(arch)
            row = int(self._row[a.index])
            if row < 0:
                raise UnknownArchError(
                    f"NB201 arch {a.index} {a.to_string()} (unique_str {a.unique_str()}) is not in "
                    f"this ground truth ({len(self)} archs)"
                )
            return row
        h = _nb101_hash(arch)
        row = int(np.searchsorted(self._sorted, h.encode()))
        if row >= len(self._sorted) or self._sorted[row] != h.encode():
            raise UnknownArchError(
                f"NB101 cell with module hash {h} is not in this ground truth ({len(self)} cells)"
            )
        return row

    def positions(self, archs: Iterable) -> np.ndarray:
        return np.array([self.position(a) for a in archs], dtype=np.int64)


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.setflags(write=False)
    return v


def _readonly_specs(specs: SpecArray) -> SpecArray:
    """A SpecArray over read-only views of ``specs``' arrays (no copy)."""
    return SpecArray(
        _readonly(specs.matrices), _readonly(specs.labels), _readonly(specs.num_vertices)
    )


def _nb101_hash(arch) -> str:
    if isinstance(arch, nb101.ModelSpec):
        if not arch.is_valid:
            raise UnknownArchError(f"{arch!r} is not in NAS-Bench-101: {arch.invalid_reason}")
        return arch.hash
    if isinstance(arch, str) and len(arch) == 32 and all(c in "0123456789abcdef" for c in arch):
        return arch
    raise UnknownArchError(f"expected an NB101 ModelSpec or a 32-hex module hash, got {arch!r}")
