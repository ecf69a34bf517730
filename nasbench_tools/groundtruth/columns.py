"""The in-memory form every benchmark reader produces and every store holds.

A :class:`ColumnSet` is a set of numeric columns aligned to one architecture axis. Each column is
identified by a :class:`Key` (dataset, split, epochs, metric, point) written in the benchmark's own
vocabulary, and holds either per-seed values ``(n_archs, n_seeds)`` with the seed labels, or only
seed means ``(n_archs,)`` where the source publishes nothing finer. Missing values are NaN.

Readers (``groundtruth.formats``) build a ColumnSet from an official file; ``store`` writes it to
HDF5 and reads it back; ``api.GroundTruth`` answers queries from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import CorruptFileError, NasbenchToolsError
from ..spaces import get_space

__all__ = [
    "VALUE_RANGES",
    "Column",
    "ColumnSet",
    "Key",
    "SpecArray",
    "check_column_values",
]


#: Metrics whose value depends on a split (the others are properties of the network or the run).
SPLIT_METRICS = frozenset({"accuracy", "loss"})

#: The closed interval every value of a metric must lie in (NaN marks a missing value and is
#: allowed; an infinity never is). A reader's output is checked against it before anything is
#: stored, so a damaged file cannot slip an accuracy of -5e218 % into a store.
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "accuracy": (0.0, 100.0),
    "loss": (0.0, np.inf),
    "time": (0.0, np.inf),
    "params": (0.0, np.inf),
    "flops": (0.0, np.inf),
    "latency": (0.0, np.inf),
}


def check_column_values(key: Key, col: Column, source: str, keys) -> None:
    """Refuse a value of ``col`` outside :data:`VALUE_RANGES` (or infinite) with
    :class:`CorruptFileError` naming ``source``, the column, the architecture (from ``keys``) and
    the value. NaN marks a missing value and is allowed."""
    lo, hi = VALUE_RANGES.get(key.metric, (-np.inf, np.inf))
    v = col.values
    with np.errstate(invalid="ignore"):
        bad = np.isinf(v) | (v < lo) | (v > hi)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        val = float(v.reshape(len(v), -1)[row][bad.reshape(len(v), -1)[row]][0])
        arch = keys[row]
        arch = arch.decode() if isinstance(arch, bytes) else arch
        raise CorruptFileError(
            f"{source}: column {key.to_str()} holds {val!r} for architecture "
            f"{arch} ({int(bad.sum())} value(s) out of range); "
            f"{key.metric} must lie in [{lo}, {hi}]"
        )


@dataclass(frozen=True, order=True)
class Key:
    """Identifies one column, in the benchmark's own names.

    Attributes
    ----------
    dataset : str
        NB201: ``cifar10-valid``, ``cifar10``, ``cifar100``, ``ImageNet16-120``. NB101: ``cifar10``.
    split : str
        NB201: ``train``, ``x-valid``, ``x-test``, ``ori-test``. NB101: ``train``, ``valid``,
        ``test``. Empty for metrics that do not depend on a split (``params``, ``flops``,
        ``latency``); ``train`` for training ``time``.
    epochs : int
        The training budget (schedule length): NB201 200 or 12; NB101 4, 12, 36 or 108. 0 for
        metrics that do not depend on it (``params``, ``flops``, ``latency``).
    metric : str
        ``accuracy`` (always percent, 0-100), ``loss``, ``time`` (seconds), ``params`` (unit in the
        column), ``flops``, ``latency``.
    point : str
        Where in the schedule the value was read: ``final`` (last epoch) or, for NB101,
        ``halfway``.
    """

    dataset: str
    split: str
    epochs: int
    metric: str
    point: str = "final"

    def __post_init__(self):
        if not isinstance(self.epochs, int) or isinstance(self.epochs, bool):
            object.__setattr__(self, "epochs", int(self.epochs))

    def to_str(self) -> str:
        """Stable text form, used as the HDF5 dataset name: ``dataset|split|epochs|metric|point``."""
        return "|".join([self.dataset, self.split, str(self.epochs), self.metric, self.point])

    @classmethod
    def from_str(cls, s: str) -> Key:
        parts = s.split("|")
        if len(parts) != 5:
            raise NasbenchToolsError(
                f"malformed column key {s!r}; expected dataset|split|epochs|metric|point"
            )
        return cls(parts[0], parts[1], int(parts[2]), parts[3], parts[4])


@dataclass
class Column:
    """Values of one :class:`Key` over the architecture axis.

    ``values`` is ``(n_archs, n_seeds)`` with ``seeds`` labelling the second axis (NB201 seeds such
    as 777/888/999, NB101 repeat numbers 0/1/2), or ``(n_archs,)`` with ``seeds == ()`` when only
    seed means exist. ``unit`` names the unit (``%``, ``s``, ``M``, ``count``, ...). ``source`` says
    where the numbers came from (file and benchmark release), for provenance.
    """

    values: np.ndarray
    seeds: tuple[int, ...] = ()
    unit: str = ""
    source: str = ""

    def __post_init__(self):
        self.values = np.asarray(self.values, dtype=np.float64)
        self.seeds = tuple(int(s) for s in self.seeds)
        if self.seeds:
            if self.values.ndim != 2 or self.values.shape[1] != len(self.seeds):
                raise NasbenchToolsError(
                    f"per-seed column must be (n_archs, {len(self.seeds)}), got {self.values.shape}"
                )
        elif self.values.ndim != 1:
            raise NasbenchToolsError(
                f"a seed-mean column must be 1-D, got shape {self.values.shape}"
            )

    @property
    def per_seed(self) -> bool:
        return bool(self.seeds)

    def mean(self) -> np.ndarray:
        """Mean over the seeds present for each architecture (NaN where none is)."""
        if not self.seeds:
            return self.values
        with np.errstate(invalid="ignore"):
            count = np.sum(~np.isnan(self.values), axis=1)
            total = np.nansum(self.values, axis=1)
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass
class SpecArray:
    """NB101 cell specs of an axis as arrays (compact for 423,624 cells).

    ``matrices[i, :v, :v]`` is the adjacency of cell ``i`` with ``v = num_vertices[i]`` vertices
    (the rest is zero); ``labels[i, :v]`` are its hash labels (-1 input, -2 output, else the index
    in ``nb101.OPS``) and ``labels[i, v:] == -3``.
    """

    matrices: np.ndarray  # (N, 7, 7) int8
    labels: np.ndarray  # (N, 7) int8
    num_vertices: np.ndarray  # (N,) int8

    PAD = -3

    def __post_init__(self):
        self.matrices = np.asarray(self.matrices, dtype=np.int8)
        self.labels = np.asarray(self.labels, dtype=np.int8)
        self.num_vertices = np.asarray(self.num_vertices, dtype=np.int8)
        n = len(self.num_vertices)
        if self.matrices.shape != (n, 7, 7) or self.labels.shape != (n, 7):
            raise NasbenchToolsError(
                f"SpecArray shapes {self.matrices.shape}, {self.labels.shape} do not match {n} cells"
            )

    def __len__(self) -> int:
        return len(self.num_vertices)

    @classmethod
    def from_specs(cls, specs) -> SpecArray:
        """From (matrix, ops) pairs or ModelSpec objects (their pruned form)."""
        from ..spaces import nb101

        specs = list(specs)
        mats = np.zeros((len(specs), 7, 7), dtype=np.int8)
        labels = np.full((len(specs), 7), cls.PAD, dtype=np.int8)
        nv = np.zeros(len(specs), dtype=np.int8)
        for i, s in enumerate(specs):
            spec = s if isinstance(s, nb101.ModelSpec) else nb101.ModelSpec(*s)
            v = spec.num_vertices
            mats[i, :v, :v] = spec.matrix
            labels[i, :v] = spec.labels
            nv[i] = v
        return cls(mats, labels, nv)

    def spec(self, i: int):
        """The :class:`~nasbench_tools.spaces.nb101.ModelSpec` of cell ``i``."""
        from ..spaces import nb101

        v = int(self.num_vertices[i])
        names = {-1: nb101.INPUT, -2: nb101.OUTPUT} | dict(enumerate(nb101.OPS))
        return nb101.ModelSpec(
            self.matrices[i, :v, :v], [names[int(x)] for x in self.labels[i, :v]]
        )

    def take(self, rows) -> SpecArray:
        return SpecArray(self.matrices[rows], self.labels[rows], self.num_vertices[rows])


@dataclass
class ColumnSet:
    """Columns aligned to one architecture axis, plus provenance.

    Attributes
    ----------
    space : str
        A registered search space (:func:`nasbench_tools.spaces.get_space`).
    keys : numpy.ndarray
        The axis, strictly increasing, in the space's key form: int64 benchmark indices (NB201,
        NATS-sss) or ``str`` module hashes (NB101, 32 hex digits).
    columns : dict[Key, Column]
    specs : SpecArray or None
        NB101 only: the cell of each axis entry, as the file states it.
    meta : dict
        Provenance: ``source_name``, ``source_format``, ``benchmark`` (release name), and anything
        else a reader knows (all JSON-serialisable).
    """

    space: str
    keys: np.ndarray
    columns: dict[Key, Column] = field(default_factory=dict)
    specs: SpecArray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.keys = get_space(self.space).key_array(self.keys)
        if len(self.keys) > 1 and not all(a < b for a, b in zip(self.keys[:-1], self.keys[1:])):
            raise NasbenchToolsError(
                "ColumnSet keys must be strictly increasing (sort the axis first)"
            )
        for key, col in self.columns.items():
            self._check(key, col)
        if self.specs is not None and len(self.specs) != len(self.keys):
            raise NasbenchToolsError(f"{len(self.specs)} specs for {len(self.keys)} archs")

    def _check(self, key: Key, col: Column) -> None:
        if not isinstance(key, Key):
            raise NasbenchToolsError(f"column keys must be Key objects, got {key!r}")
        if col.values.shape[0] != len(self.keys):
            raise NasbenchToolsError(
                f"column {key.to_str()} has {col.values.shape[0]} rows for {len(self.keys)} archs"
            )

    def __len__(self) -> int:
        return len(self.keys)

    def check_values(self, source: str) -> None:
        """Refuse values outside :data:`VALUE_RANGES` with :class:`CorruptFileError`.

        NaN (missing) is allowed, infinities never are; a metric without a declared range must
        still be finite. The message names ``source``, the column, the architecture and the value.
        """
        for key, col in self.columns.items():
            check_column_values(key, col, source, self.keys)

    def add(self, key: Key, column: Column) -> None:
        if key in self.columns:
            raise NasbenchToolsError(f"column {key.to_str()} is already present")
        self._check(key, column)
        self.columns[key] = column

    @staticmethod
    def sorted_axis(keys: Iterable) -> tuple[np.ndarray, np.ndarray]:
        """``(sorted unique keys, order)`` helper for readers that meet archs out of order."""
        arr = np.asarray(list(keys), dtype=object)
        order = np.argsort(arr, kind="stable")
        return arr[order], order

    def select(self, keys: Sequence) -> ColumnSet:
        """A new ColumnSet restricted to ``keys`` (which must all be present)."""
        pos = {k: i for i, k in enumerate(self.keys.tolist())}
        try:
            rows = np.array([pos[k] for k in keys], dtype=np.int64)
        except KeyError as exc:
            raise NasbenchToolsError(
                f"architecture {exc.args[0]!r} is not in this column set"
            ) from None
        cols = {
            k: Column(c.values[rows], c.seeds, c.unit, c.source) for k, c in self.columns.items()
        }
        specs = None if self.specs is None else self.specs.take(rows)
        return ColumnSet(self.space, self.keys[rows], cols, specs, dict(self.meta))
