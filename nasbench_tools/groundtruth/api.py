"""``load()`` and :class:`GroundTruth`: whole-space queries with explicit semantics.

Every query names the benchmark's own dataset and split, and the training budget in epochs; none of
them has a default, and nothing is remapped. Seeds are averaged unless a seed (or ``"all"``) is
asked for; a random seed is never drawn. A missing value raises unless ``missing="nan"`` asks for
NaN. Arguments are checked, never coerced (``epochs="200"`` is refused), and every array handed
out is read-only.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import NasbenchToolsError, QueryError
from ..spaces import get_space
from .axis import ArchAxis
from .benchmarks import BENCHMARKS, get_benchmark
from .columns import SPLIT_METRICS, Column, ColumnSet, Key

__all__ = ["ArchAxis", "GroundTruth", "column_label", "load", "open_path"]


# Hints for the commonest wrong queries: (dataset, split) asked -> ((dataset, split) most likely
# meant, why). A hint is shown only when what it points to exists in the ground truth queried.
_HINTS = {
    ("cifar10", "x-valid"): (
        ("cifar10-valid", "x-valid"),
        "dataset 'cifar10' was trained on train+valid, so it has no validation split; the "
        "validation accuracy is dataset='cifar10-valid', split='x-valid'",
    ),
    ("cifar10", "x-test"): (
        ("cifar10", "ori-test"),
        "dataset 'cifar10' has no 'x-test'; its test split is 'ori-test'",
    ),
    ("cifar10-valid", "x-test"): (
        ("cifar10-valid", "ori-test"),
        "dataset 'cifar10-valid' has no 'x-test'; its test split is 'ori-test'",
    ),
}
#: Names of one split across benchmarks and habits; an unknown split is pointed to the available
#: splits of its group (NB201 calls validation 'x-valid', NB101 'valid').
_SPLIT_GROUPS = (
    frozenset({"valid", "val", "validation", "x-valid", "x_valid", "xvalid"}),
    frozenset({"test", "x-test", "ori-test", "x_test", "ori_test"}),
    frozenset({"train", "training"}),
)
_DATASET_ALIASES = {
    "imagenet": "ImageNet16-120",
    "imagenet16": "ImageNet16-120",
    "imagenet16-120": "ImageNet16-120",
    "in16": "ImageNet16-120",
    "c10": "cifar10",
    "c100": "cifar100",
}
#: The keys a column dict of :meth:`GroundTruth.table` may hold.
_QUERY_FIELDS = ("dataset", "split", "epochs", "metric", "point")
#: What a column dict of :meth:`GroundTruth.table` may hold besides the query.
_COLUMN_FIELDS = (*_QUERY_FIELDS, "name")
_MISSING = ("raise", "nan")


def _check_missing_arg(missing) -> None:
    if not isinstance(missing, str) or missing not in _MISSING:
        raise QueryError(f"missing must be 'raise' or 'nan', got {missing!r}")


def _readonly(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (``a`` itself keeps its flags)."""
    v = a.view()
    v.setflags(write=False)
    return v


# =========================================================================== ground truth
class GroundTruth:
    """Benchmark numbers aligned to one architecture axis.

    Obtain one with :func:`load`. Attributes: ``space`` ("nb201" or "nb101"), ``name``,
    ``archs`` (:class:`ArchAxis`), ``provenance`` (source file, its sha256, benchmark release,
    package version of the converter, NB101 hash check; a copy on each access).

    Nothing it returns can change what it answers later: arrays are read-only views of its
    cached columns (``.copy()`` one to change it), tables and dicts are copies. ``load()`` caches
    the embedded ground truths per process, so this matters.
    """

    def __init__(self, space, keys, columns, specs, provenance, *, name=None, sample_note=None):
        self.space = space
        self.name = name or space
        self.archs = ArchAxis(space, keys, specs)
        self._provenance = copy.deepcopy(dict(provenance))
        self.sample_note = sample_note
        if not hasattr(columns, "column"):  # Key -> Column: keep read-only views, never the arrays
            columns = {k: _frozen(c) for k, c in columns.items()}
        self._columns = columns  # Key -> Column, or a StoreReader (whose columns are read-only)
        self._keys = list(columns.column_keys if hasattr(columns, "column_keys") else columns)
        self._means: dict[Key, np.ndarray] = {}
        self._resolved: dict[tuple, Key] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_columnset(
        cls, cs: ColumnSet, *, name=None, provenance=None, sample_note=None
    ) -> GroundTruth:
        prov = copy.deepcopy(dict(cs.meta)) | dict(provenance or {})
        return cls(
            cs.space, cs.keys, dict(cs.columns), cs.specs, prov, name=name, sample_note=sample_note
        )

    @classmethod
    def from_store(cls, path, *, name=None, sample_note=None) -> GroundTruth:
        from .store import StoreReader

        reader = StoreReader(path)
        prov = dict(reader.meta) | reader.provenance | {"store": str(reader.path)}
        specs = reader.read_specs if reader.has_specs else None
        return cls(
            reader.space, reader.raw_keys, reader, specs, prov, name=name, sample_note=sample_note
        )

    @property
    def provenance(self) -> dict:
        """Source file, its sha256, benchmark release, converter version, hash check (a copy)."""
        return copy.deepcopy(self._provenance)

    # ------------------------------------------------------------------ what is inside
    def __len__(self) -> int:
        return len(self.archs)

    def __repr__(self) -> str:
        note = f", {self.sample_note}" if self.sample_note else ""
        return f"GroundTruth({self.name!r}, {len(self)} archs, {len(self._keys)} columns{note})"

    @property
    def columns(self) -> list[Key]:
        """Every column key, sorted."""
        return sorted(self._keys)

    def describe(self):
        """One row per column: dataset, split, epochs, metric, point, seeds, unit, missing, source."""
        import pandas as pd

        rows = []
        for k in self.columns:
            col = self._column(k)
            rows.append(
                {
                    "dataset": k.dataset,
                    "split": k.split,
                    "epochs": k.epochs,
                    "metric": k.metric,
                    "point": k.point,
                    "seeds": ",".join(map(str, col.seeds)) or "mean only",
                    "unit": col.unit,
                    "n_missing": int(np.isnan(self._mean(k)).sum()),
                    "source": col.source,
                }
            )
        return pd.DataFrame(rows)

    def info(self) -> dict:
        """Counts and provenance (what ``nbt info`` prints)."""
        keys = self.columns
        out = {
            "name": self.name,
            "space": self.space,
            "archs": len(self),
            "sample": self.sample_note or "",
            "datasets": sorted({k.dataset for k in keys}),
            "splits": sorted({k.split for k in keys if k.split}),
            "budgets_epochs": sorted({k.epochs for k in keys if k.epochs}),
            "metrics": sorted({k.metric for k in keys}),
            "seeds": sorted({s for k in keys for s in self._column(k).seeds}),
            "columns": len(keys),
        }
        ids = get_space(self.space).class_ids(self.archs.keys)
        out["unique_classes"] = len(self) if ids is None else len(np.unique(ids))
        out["provenance"] = {k: v for k, v in self.provenance.items() if v not in ("", None)}
        return out

    # ------------------------------------------------------------------ key resolution
    def _column(self, key: Key) -> Column:
        cols = self._columns
        return cols.column(key) if hasattr(cols, "column") else cols[key]

    def _mean(self, key: Key) -> np.ndarray:
        m = self._means.get(key)
        if m is None:
            m = self._column(key).mean()
            m.setflags(write=False)
            self._means[key] = m
        return m

    def resolve(
        self, dataset: str, split: str | None, epochs: int | None, metric: str, point: str
    ) -> Key:
        """The one column a query means, or a :class:`QueryError` saying what exists."""
        _check_query_types(dataset, split, epochs, metric, point)
        if epochs is not None:
            epochs = int(epochs)  # a numpy integer
        args = (dataset, split, epochs, metric, point)
        key = self._resolved.get(args)
        if key is None:
            try:
                key = self._resolve(*args)
            except QueryError as exc:
                elsewhere = self._elsewhere(args)
                if elsewhere is None:
                    raise
                raise QueryError(f"{exc}; {elsewhere}") from None
            self._resolved[args] = key
        return key

    def _elsewhere(self, args: tuple) -> str | None:
        """Which other embedded ground truth of this space answers the query, if any."""
        for name in BENCHMARKS.filter(lambda b: b.space == self.space and b.has_data):
            try:
                other = _embedded(name)
            except NasbenchToolsError:  # an unreadable embedded file: no hint, the error stands
                continue
            if other is self:
                continue
            try:
                other._resolve(*args)
            except QueryError:
                continue
            return f"load({name!r}) has it ({get_benchmark(name).description})"
        return None

    def _resolve(self, dataset, split, epochs, metric, point) -> Key:
        keys = self._keys
        metrics = sorted({k.metric for k in keys})
        if metric not in metrics:
            raise QueryError(f"{self.name}: no metric {metric!r}; available: {metrics}")
        with_metric = [k for k in keys if k.metric == metric]
        datasets = sorted({k.dataset for k in with_metric})
        if dataset not in datasets:
            hint = _dataset_hint(dataset, datasets)
            raise QueryError(
                f"{self.name}: no dataset {dataset!r} for metric {metric!r}{hint}; available: {datasets}"
            )
        cands = [k for k in with_metric if k.dataset == dataset]
        splits = sorted({k.split for k in cands})
        if metric in SPLIT_METRICS and split is None:
            raise QueryError(
                f"{self.name}: split is required for metric {metric!r}; dataset {dataset!r} has splits {splits}"
            )
        if split is not None:
            if split not in splits:
                hint = _split_hint(
                    dataset, split, splits, {(k.dataset, k.split) for k in with_metric}
                )
                raise QueryError(
                    f"{self.name}: dataset {dataset!r} has no split {split!r} for metric {metric!r}"
                    f"{hint}; available splits: {splits}"
                )
            cands = [k for k in cands if k.split == split]
        budgets = sorted({k.epochs for k in cands})
        if epochs is None:
            if budgets != [0]:
                raise QueryError(
                    f"{self.name}: epochs (the training budget) is required for {dataset!r} "
                    f"{split or ''} {metric}; available: {budgets}"
                )
        else:
            if epochs not in budgets:
                raise QueryError(
                    f"{self.name}: {dataset!r} {split or ''} {metric} has no {epochs}-epoch budget; "
                    f"available: {[b for b in budgets if b] or 'none (this metric does not depend on epochs)'}"
                )
            cands = [k for k in cands if k.epochs == epochs]
        points = sorted({k.point for k in cands})
        if point not in points:
            raise QueryError(f"{self.name}: no point {point!r} for this query; available: {points}")
        cands = [k for k in cands if k.point == point]
        if len(cands) != 1:
            raise QueryError(
                f"{self.name}: the query matches {len(cands)} columns; narrow it: {[k.to_str() for k in cands]}"
            )
        return cands[0]

    def _seed_index(self, key: Key, col: Column, seed: int) -> int:
        if not col.seeds:
            raise QueryError(
                f"{self.name}: only seed means are available for {key.to_str()}; use seed='mean'"
            )
        if (
            isinstance(seed, bool)
            or not isinstance(seed, int | np.integer)
            or seed not in col.seeds
        ):
            raise QueryError(
                f"{self.name}: no seed {seed!r} for {key.to_str()}; seeds: {list(col.seeds)}"
            )
        return col.seeds.index(int(seed))

    # ------------------------------------------------------------------ queries
    def vector(
        self,
        *,
        dataset: str,
        split: str | None = None,
        epochs: int | None = None,
        seed="mean",
        metric: str = "accuracy",
        point: str = "final",
        missing: str = "raise",
    ):
        """The whole space as one vector, aligned to :attr:`archs`.

        Parameters
        ----------
        dataset, split : str
            The benchmark's own names (NB201: ``cifar10-valid``, ``cifar10``, ``cifar100``,
            ``ImageNet16-120``; ``train``, ``x-valid``, ``x-test``, ``ori-test``. NB101:
            ``cifar10``; ``train``, ``valid``, ``test``). ``split`` is required for accuracy and
            loss; leave it out for ``params``/``flops``/``latency``.
        epochs : int
            The training budget (NB201 200 or 12; NB101 4, 12, 36 or 108). Required for every
            metric that depends on it.
        seed : "mean", int or "all"
            ``"mean"``: the mean over the seeds (NB101: repeats) each architecture has.
            An int: that seed (NB201 777/888/999; NB101 repeat 0/1/2). ``"all"``: a
            ``(n_archs, n_seeds)`` array (NaN where an architecture lacks a seed) with the seed
            labels in ``.seeds`` of the returned :class:`~nasbench_tools.groundtruth.columns.Column`.
        metric : str
            ``accuracy`` (percent), ``loss``, ``time`` (s), ``params``, ``flops``, ``latency``.
        point : str
            ``final``, or ``halfway`` (NB101).
        missing : {"raise", "nan"}
            What a missing value does: raise :class:`QueryError` naming the first missing
            architecture, or stay NaN.

        Returns
        -------
        numpy.ndarray of shape ``(len(archs),)``, or a new Column for ``seed="all"``. The arrays
        are read-only views of the cached column (``.copy()`` one to change it), so no caller can
        change what a later query returns.
        """
        _check_missing_arg(missing)
        key = self.resolve(dataset, split, epochs, metric, point)
        col = self._column(key)
        if isinstance(seed, str) and seed == "mean":
            out = self._mean(key)
        elif isinstance(seed, str) and seed == "all":
            if not col.seeds:
                raise QueryError(f"{self.name}: only seed means are available for {key.to_str()}")
            self._check_missing(key, np.isnan(col.values).all(axis=1), missing)
            return Column(col.values, col.seeds, col.unit, col.source)  # values: read-only
        else:
            out = col.values[:, self._seed_index(key, col, seed)]
        self._check_missing(key, np.isnan(out), missing, seed)
        return out  # a view of a read-only column (``_frozen`` or the store's cache)

    def _check_missing(self, key: Key, isnan: np.ndarray, missing: str, seed="mean") -> None:
        if missing == "raise" and isnan.any():
            first = int(np.flatnonzero(isnan)[0])
            raise QueryError(
                f"{self.name}: {int(isnan.sum())} of {len(isnan)} archs have no value for "
                f"{key.to_str()} (seed {seed}), first: {self.archs.key(first)}; "
                "pass missing='nan' to get NaN for them"
            )

    def query(
        self,
        arch,
        *,
        dataset: str,
        split: str | None = None,
        epochs: int | None = None,
        seed="mean",
        metric: str = "accuracy",
        point: str = "final",
        missing: str = "raise",
    ):
        """One architecture's value; arguments as in :meth:`vector`.

        ``arch``: an NB201 :class:`Arch`, arch string or index; an NB101 :class:`ModelSpec` or
        module hash. Returns a float, or ``{seed: value}`` for ``seed="all"`` (seeds the
        architecture lacks are left out).
        """
        _check_missing_arg(missing)
        row = self.archs.position(arch)
        key = self.resolve(dataset, split, epochs, metric, point)
        col = self._column(key)
        if isinstance(seed, str) and seed == "all":
            if not col.seeds:
                raise QueryError(f"{self.name}: only seed means are available for {key.to_str()}")
            vals = {s: float(v) for s, v in zip(col.seeds, col.values[row]) if v == v}
            if not vals and missing == "raise":
                raise QueryError(
                    f"{self.name}: arch {self.archs.key(row)} has no value for {key.to_str()}"
                )
            return vals
        if isinstance(seed, str) and seed == "mean":
            value = float(self._mean(key)[row])
        else:
            value = float(col.values[row, self._seed_index(key, col, seed)])
        if value != value and missing == "raise":
            raise QueryError(
                f"{self.name}: arch {self.archs.key(row)} has no value for {key.to_str()} (seed {seed}); "
                "pass missing='nan' to get NaN"
            )
        return value

    def table(
        self,
        *,
        columns: Sequence[dict] | None = None,
        seed="mean",
        missing: str = "nan",
        names: str = "key",
    ):
        """A pandas DataFrame, one row per architecture.

        ``columns``: a list of query dicts (``{"dataset":..., "split":..., "epochs":...}``, keys
        among ``dataset`` (required), ``split``, ``epochs``, ``metric``, ``point`` and ``name``),
        each giving one column; by default every column of the ground truth. A column is named
        by its ``name`` if the dict has one, else by ``names``: ``"key"`` (default, the stable
        key ``cifar100||0|params|final``, as stores name columns) or ``"readable"``
        (``cifar100 params``, ``cifar10-valid x-valid 200 epochs accuracy``; see
        :func:`column_label`). Per-seed columns (``seed="all"``) end in ``|seed=777`` or
        `` seed 777``. The frame holds copies: changing it changes nothing here.
        """
        import pandas as pd

        _check_missing_arg(missing)
        if names not in ("key", "readable"):
            raise QueryError(f"names must be 'key' or 'readable', got {names!r}")
        if columns is None:
            keys, given = self.columns, [None] * len(self._keys)
        else:
            keys = [self._column_query(c, i) for i, c in _items(columns)]
            given = [_column_name(c, i) for i, c in _items(columns)]

        def label(k: Key, name: str | None) -> str:
            if name is not None:
                return name
            return column_label(k) if names == "readable" else k.to_str()

        data = {}
        for k, name in zip(keys, given):
            base = label(k, name)
            if seed == "all" and self._column(k).seeds:
                col = self._column(k)
                for j, s in enumerate(col.seeds):
                    data[
                        f"{base}|seed={s}"
                        if names == "key" and name is None
                        else f"{base} seed {s}"
                    ] = col.values[:, j]
            else:
                if base in data:
                    raise QueryError(f"table(): two columns are named {base!r}; give each a name=")
                data[base] = self.vector(
                    dataset=k.dataset,
                    split=k.split or None,
                    epochs=k.epochs or None,
                    metric=k.metric,
                    point=k.point,
                    seed="mean" if seed == "all" else seed,
                    missing=missing,
                )
        sp = get_space(self.space)
        df = pd.DataFrame(data, index=pd.Index(self.archs.keys, name=sp.key_column))
        if "arch_str" in sp.alt_key_columns:
            df.insert(0, "arch_str", sp.strings(self.archs.keys))
        return df

    def top(
        self,
        k,
        *,
        dataset: str,
        split: str | None = None,
        epochs: int | None = None,
        seed="mean",
        metric: str = "accuracy",
        point: str = "final",
        largest: bool | None = None,
    ):
        """The ``k`` best architectures by one column, best first, as a pandas DataFrame.

        Parameters
        ----------
        k : int or str
            A count (``10``) or a share of the architectures that have a value (``"1%"``:
            ``max(1, floor(p / 100 * n + 0.5))``, the rule of the report's P@top-K).
        dataset, split, epochs, seed, metric, point
            As :meth:`vector` (``seed="all"`` is refused: rank by the mean or by one seed).
        largest : bool, optional
            Whether larger is better. Default: True for ``accuracy``, False for ``loss``; other
            metrics (``params``, ``flops``, ``latency``, ``time``) must say which.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``rank`` (1 = best), with the space's key column (``index`` /
            ``module_hash``), ``arch_str`` where the space has one, and the value in a column
            named by :func:`column_label`. Architectures without a value are left out. Ties are
            broken by position on the axis (benchmark order): the first listed wins.
        """
        import pandas as pd

        if isinstance(seed, str) and seed == "all":
            raise QueryError("top(): rank by seed='mean' or by one seed, not 'all'")
        if largest is None:
            if metric not in ("accuracy", "loss"):
                raise QueryError(
                    f"top(): say whether a larger {metric!r} is better (largest=True or False)"
                )
            largest = metric == "accuracy"
        if not isinstance(largest, bool):
            raise QueryError(f"largest must be True or False, got {largest!r}")
        key = self.resolve(dataset, split, epochs, metric, point)
        v = np.asarray(
            self.vector(
                dataset=dataset,
                split=split,
                epochs=epochs,
                seed=seed,
                metric=metric,
                point=point,
                missing="nan",
            ),
            dtype=float,
        )
        rows = np.flatnonzero(~np.isnan(v))
        n = _top_count(k, rows.size)
        order = rows[np.argsort(-v[rows] if largest else v[rows], kind="stable")][:n]
        sp = get_space(self.space)
        keys = [self.archs.keys[i] for i in order]
        df = pd.DataFrame({sp.key_column: keys}, index=pd.RangeIndex(1, n + 1, name="rank"))
        if "arch_str" in sp.alt_key_columns:
            df["arch_str"] = sp.strings(keys)
        df[column_label(key, seed)] = v[order]
        return df

    def _column_query(self, c, i: int) -> Key:
        if not isinstance(c, Mapping):
            raise QueryError(
                f"columns[{i}] must be a dict with keys among {list(_COLUMN_FIELDS)}, got {c!r}"
            )
        unknown = sorted(map(str, set(c) - set(_COLUMN_FIELDS)))
        if unknown:
            raise QueryError(
                f"columns[{i}]: unknown key(s) {unknown}; a column dict takes {list(_COLUMN_FIELDS)}"
                " (seed and missing are arguments of table())"
            )
        if "dataset" not in c:
            raise QueryError(f"columns[{i}] lacks 'dataset' (required); got {dict(c)!r}")
        return self.resolve(
            c["dataset"],
            c.get("split"),
            c.get("epochs"),
            c.get("metric", "accuracy"),
            c.get("point", "final"),
        )

    def sample(self, n: int, *, seed: int, unique: bool = True) -> list:
        """``n`` distinct architectures drawn uniformly with an explicit ``seed``.

        ``unique=True`` draws uniformly over isomorphism classes (the space's
        :meth:`~nasbench_tools.spaces.Space.class_ids`: NB201 ``Arch.unique_str``; NB101 and
        NATS-sss keys are already one per class) and returns each class's member with the
        smallest benchmark index; ``unique=False`` draws uniformly over the axis.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise QueryError(f"n must be a non-negative int, got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise QueryError(f"seed must be an int (no random default), got {seed!r}")
        rng = np.random.default_rng(int(seed))
        ids = get_space(self.space).class_ids(self.archs.keys) if unique else None
        if ids is not None:
            _, first = np.unique(ids, return_index=True)  # rows of each class's smallest index
            pool = np.sort(first)
        else:
            pool = np.arange(len(self))
        if n > len(pool):
            what = "isomorphism classes" if ids is not None else "archs"
            raise QueryError(f"cannot sample {n} distinct archs: only {len(pool)} {what}")
        rows = rng.choice(pool, size=n, replace=False)
        return [self.archs[int(r)] for r in rows]


def column_label(key: Key, seed="mean") -> str:
    """A column's name for people: ``cifar10-valid x-valid 200 epochs accuracy``,
    ``cifar100 params``; a point other than ``final`` and a seed other than the mean are
    appended (``... halfway``, ``... seed 777``)."""
    parts = [key.dataset, key.split]
    if key.epochs:
        parts.append(f"{key.epochs} epochs")
    parts.append(key.metric)
    if key.point != "final":
        parts.append(key.point)
    if not (isinstance(seed, str) and seed == "mean"):
        parts.append(f"seed {seed}")
    return " ".join(p for p in parts if p)


def _column_name(c, i: int) -> str | None:
    name = c.get("name") if isinstance(c, Mapping) else None
    if name is not None and (not isinstance(name, str) or not name):
        raise QueryError(f"columns[{i}]: name must be a non-empty str, got {name!r}")
    return name


def _top_count(k, n: int) -> int:
    """K from a count or a share ``"p%"`` of ``n`` (the rule of
    :func:`nasbench_tools.analysis.top_k_size`), at most ``n``."""
    if isinstance(k, str) and k.strip().endswith("%"):
        try:
            pct = float(k.strip()[:-1])
        except ValueError:
            pct = float("nan")
        if not 0 < pct <= 100:
            raise QueryError(f"top(): k={k!r}: a share must be a percentage in (0, 100]")
        return min(n, max(1, int(np.floor(pct / 100.0 * n + 0.5))))
    if isinstance(k, str) and k.strip().isdigit():
        k = int(k.strip())
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise QueryError(f"top(): k must be a positive count or a percentage like '1%', got {k!r}")
    return min(n, int(k))


def _frozen(col: Column) -> Column:
    """A Column over a read-only view of ``col``'s values (no copy; ``col`` itself unchanged)."""
    out = Column(col.values, col.seeds, col.unit, col.source)
    out.values = _readonly(out.values)
    return out


def _items(columns):
    if isinstance(columns, Mapping | str):
        raise QueryError(
            f"columns must be a list of query dicts, got {type(columns).__name__}; "
            "wrap a single dict in a list"
        )
    return enumerate(columns)


def _check_query_types(dataset, split, epochs, metric, point) -> None:
    for name, value, optional in (
        ("dataset", dataset, False),
        ("split", split, True),
        ("metric", metric, False),
        ("point", point, False),
    ):
        if not isinstance(value, str) and not (optional and value is None):
            raise QueryError(
                f"{name} must be a str{' or None' if optional else ''}, got {value!r} "
                f"({type(value).__name__})"
            )
    if epochs is not None and (
        isinstance(epochs, bool) or not isinstance(epochs, int | np.integer)
    ):
        raise QueryError(
            f"epochs must be an int (the training budget in epochs) or None, got {epochs!r} "
            f"({type(epochs).__name__})"
        )


def _dataset_hint(dataset: str, datasets: list[str]) -> str:
    lower = dataset.lower()
    guess = _DATASET_ALIASES.get(lower)
    if guess not in datasets:
        guess = next((d for d in datasets if d.lower() == lower), None)
    return f" (did you mean {guess!r}?)" if guess else ""


def _split_hint(dataset: str, split: str, splits: list[str], present: set) -> str:
    """A hint naming only splits this ground truth has."""
    hint = _HINTS.get((dataset, split))
    if hint is not None and hint[0] in present:
        return f"; {hint[1]}"
    for group in _SPLIT_GROUPS:
        if split.lower() in group:
            same = [s for s in splits if s in group]
            if same:
                return f"; the benchmark calls it {' or '.join(map(repr, same))}"
    return ""


# =========================================================================== load
@functools.cache
def _embedded(name: str) -> GroundTruth:
    bench = get_benchmark(name)
    if bench.store:
        from .formats.embedded_csv import embedded_path

        note = bench.sample_note or None
        return GroundTruth.from_store(embedded_path(bench.store), name=name, sample_note=note)
    if bench.embedded is None:
        raise QueryError(
            f"{name}: the package embeds no data for this benchmark ({bench.description}); "
            f"pass path= a store written by 'nbt convert' or an official file"
        )
    cs, path = bench.embedded()
    return GroundTruth.from_columnset(
        cs, name=name, provenance=_file_prov(path), sample_note=bench.sample_note or None
    )


def _file_prov(path: Path) -> dict:
    from .store import sha256_of

    return {"source_path": str(path), "source_sha256": sha256_of(path)}


def load(
    name: str,
    path: str | Path | None = None,
    *,
    format: str | None = None,
    progress: bool = True,
    verify_hashes="sample",
) -> GroundTruth:
    """Open a benchmark's ground truth.

    Parameters
    ----------
    name : str
        A registered benchmark (``list_benchmarks()``: ``nb201``, ``nb201-v1_1``, ``nb101``,
        ``nats-sss``, ...). Without ``path``, the data embedded in the package (NB101: a
        labelled sample of 30 real cells); a benchmark without embedded data needs ``path``.
    path : str or Path, optional
        A store written by ``nbt convert`` (opened lazily, in milliseconds), or any official file
        or folder the readers know (read into memory; convert it once for speed).
    format : str, optional
        Force a reader (see ``nasbench_tools.groundtruth.formats.list_readers()``).
    verify_hashes : {"sample", "all", "none"}
        Reading an official NB101 file: which keys are checked to be their cell's module hash
        (default a seeded sample of 1,000 cells; see :func:`.formats.read_any`). A store was
        checked when it was converted (its provenance says how).
    """
    bench = get_benchmark(name)
    if path is None:
        return _embedded(name)
    from .formats import read_any
    from .store import is_store

    path = Path(path)
    if is_store(path):
        gt = GroundTruth.from_store(path, name=name)
    else:
        cs = read_any(path, format=format, progress=progress, verify_hashes=verify_hashes)
        gt = GroundTruth.from_columnset(cs, name=name, provenance=_file_prov(path))
    if gt.space != bench.space:
        raise QueryError(
            f"{path} holds {gt.space} ground truth, not {name} ({get_space(bench.space).title})"
        )
    return gt


def open_path(
    path: str | Path,
    *,
    format: str | None = None,
    progress: bool = True,
    verify_hashes="sample",
) -> GroundTruth:
    """Open a store or an official file without naming the benchmark (inferred from its space)."""
    from .formats import read_any
    from .store import is_store

    path = Path(path)
    if is_store(path):
        return GroundTruth.from_store(path)
    cs = read_any(path, format=format, progress=progress, verify_hashes=verify_hashes)
    return GroundTruth.from_columnset(cs, name=cs.space, provenance=_file_prov(path))
