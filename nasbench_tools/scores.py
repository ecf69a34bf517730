"""Score tables: architectures x scores (proxies, supernet accuracies, predictions), keyed like ground truth.

A :class:`ScoreTable` has one row per scored architecture (rows may repeat an architecture, as in
NAS-Bench-Suite-Zero's NB101 file; :attr:`ScoreTable.n_unique` counts distinct ones) and one float
column per score. Files are CSV (a key column ``index``, ``arch_str`` or ``module_hash``, then one
column per score, optionally a ``dataset`` column) or HDF5 (``/keys``, ``/scores/<name>``, attrs
with provenance). Higher is better for every score; a score whose natural sign is inverted is
negated where it is produced, never at analysis time.

Embedded tables (``load_scores(name)``):

* ``nb201-naswot``: NASWOT (v1) score of all 15,625 NB201 archs (NaN for the 341 disconnected
  cells), from BayesWatch/nas-without-training.
* ``nb201-zc``: NAS-Bench-Suite-Zero's 12 zero-cost proxies on about 725 NB201 archs per dataset,
  with the 200-epoch accuracy the suite recorded as ``val_accuracy``; pick a dataset. That number
  is NASLib's ``eval_acc1es[-1]`` of one training run, which is ``ori-test`` for CIFAR-10 (the
  ``cifar10-valid`` model on the test set) and ``x-test`` for CIFAR-100 and ImageNet16-120 (see
  ``groundtruth/formats/nb201_naslib.py`` for the evidence), not a validation split.
* ``nb101-zc``: the same suite's 11 proxies on 500 NB101 specs (292 distinct cells) with a single
  randomly drawn repeat's 108-epoch validation accuracy (``val_accuracy``).

Failure values in the NAS-Bench-Suite-Zero tables. NASLib's ``ZeroCost.query`` stores ``-1e8``
where a proxy came out NaN or infinite (``naslib/predictors/zerocost.py``), so ``-1e8`` means "no
score", not a very low one. ``load_scores`` turns exactly ``-1e8`` into NaN by default
(``sentinels="exclude"``) and records the count per column in ``meta["sentinels"]``; the analysis
then leaves those architectures out under ``nan_policy="omit"`` and reports how many. In the
embedded NB201 table: ``jacov`` 1 on each dataset and ``epe_nas`` 1 (CIFAR-10), 1 (CIFAR-100) and
9 (ImageNet16-120), all others 0; the NB101 table has none. On CIFAR-10 the one ``jacov``
sentinel (arch 8274, whose output ignores its input) moves Pearson r from 0.652 to 0.385 (Kendall
tau 0.583 to 0.584). ``sentinels="keep"`` leaves the raw values. ``nwot`` is ``-inf`` for that
same arch on every dataset: the log-determinant of a singular kernel, a real lowest score, kept
(rank metrics use it; Pearson r, which needs finite values, is then left out) and counted in
``meta["infinite"]``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import NasbenchToolsError, QueryError
from .spaces import nb201

__all__ = [
    "EMBEDDED_SCORES",
    "SENTINEL_POLICIES",
    "ZC_FAILURE_SENTINEL",
    "ScoreTable",
    "load_scores",
]

KEY_COLUMNS = {"index": "nb201", "arch_str": "nb201", "module_hash": "nb101"}

ZC_PROXIES_NB201 = (
    "flops",
    "params",
    "synflow",
    "grasp",
    "fisher",
    "grad_norm",
    "l2_norm",
    "plain",
    "nwot",
    "epe_nas",
    "jacov",
    "snip",
)
ZC_PROXIES_NB101 = (
    "flops",
    "params",
    "snip",
    "jacov",
    "grad_norm",
    "plain",
    "epe_nas",
    "fisher",
    "grasp",
    "l2_norm",
    "synflow",
)

#: NASLib's stand-in for a NaN or infinite zero-cost score (``naslib/predictors/zerocost.py``).
ZC_FAILURE_SENTINEL = -1e8
#: What ``load_scores`` does with it: ``"exclude"`` (NaN, counted) or ``"keep"`` (raw values).
SENTINEL_POLICIES = ("exclude", "keep")

EMBEDDED_SCORES = {
    "nb201-naswot": "NASWOT v1 score, all 15,625 NB201 archs (BayesWatch/nas-without-training, MIT)",
    "nb201-zc": "NAS-Bench-Suite-Zero: 12 zero-cost proxies + val_accuracy, ~725 NB201 archs per dataset (NASLib, Apache-2.0)",
    "nb101-zc": "NAS-Bench-Suite-Zero: 11 zero-cost proxies + single-repeat val_accuracy, 500 NB101 specs / 292 cells (NASLib, Apache-2.0)",
}


@dataclass
class ScoreTable:
    """Scores of architectures, one row per scored architecture.

    Attributes
    ----------
    space : {"nb201", "nb101"}
    keys : numpy.ndarray
        Per row: NB201 benchmark index (int) or NB101 module hash (str).
    scores : dict[str, numpy.ndarray]
        Score name -> float vector over the rows (NaN = not scored).
    meta : dict
        Provenance (source file and sha256, dataset, producer config, ...).
    """

    space: str
    keys: np.ndarray
    scores: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.space not in ("nb201", "nb101"):
            raise NasbenchToolsError(f"unknown space {self.space!r}")
        self.keys = np.asarray(self.keys, dtype=np.int64 if self.space == "nb201" else object)
        for name, v in list(self.scores.items()):
            v = np.asarray(v, dtype=np.float64)
            if v.shape != (len(self.keys),):
                raise NasbenchToolsError(
                    f"score {name!r} has shape {v.shape}, expected ({len(self.keys)},)"
                )
            self.scores[name] = v

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return f"ScoreTable({self.space}, {len(self)} rows / {self.n_unique} distinct archs, scores={list(self.scores)})"

    @property
    def columns(self) -> list[str]:
        return list(self.scores)

    @property
    def n_unique(self) -> int:
        """Distinct architectures among the rows (isomorphism classes for NB101: module hashes)."""
        return len(set(self.keys.tolist()))

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.scores[name]
        except KeyError:
            raise QueryError(
                f"score table has no column {name!r}; columns: {self.columns}"
            ) from None

    def archs(self) -> list:
        """The scored architectures, row by row (:class:`Arch` or module-hash strings)."""
        if self.space == "nb201":
            return [nb201.Arch.from_index(int(k)) for k in self.keys]
        return list(self.keys)

    def ground_truth(self, gt, **query) -> np.ndarray:
        """``gt.vector(**query)`` looked up for every row (rows of the same arch get the same value)."""
        if gt.space != self.space:
            raise QueryError(f"score table is {self.space}, ground truth is {gt.space}")
        rows = gt.archs.positions(
            self.keys.tolist() if self.space == "nb101" else [int(k) for k in self.keys]
        )
        return np.asarray(gt.vector(**query))[rows]

    def select(self, mask) -> ScoreTable:
        mask = np.asarray(mask)
        return ScoreTable(
            self.space,
            self.keys[mask],
            {k: v[mask] for k, v in self.scores.items()},
            dict(self.meta),
        )

    # ------------------------------------------------------------------ files
    @classmethod
    def from_frame(cls, df, *, space: str | None = None, meta: dict | None = None) -> ScoreTable:
        key_cols = [c for c in KEY_COLUMNS if c in df.columns]
        if not key_cols:
            raise NasbenchToolsError(
                f"a score table needs a key column, one of {list(KEY_COLUMNS)}; got {list(df.columns)}"
            )
        kc = key_cols[0]
        detected = KEY_COLUMNS[kc]
        if space is not None and space != detected:
            raise NasbenchToolsError(f"key column {kc!r} means space {detected!r}, not {space!r}")
        if kc == "index":
            keys = df["index"].to_numpy()
            if (
                not np.issubdtype(keys.dtype, np.integer)
                or (keys < 0).any()
                or (keys >= nb201.NUM_ARCHS).any()
            ):
                raise NasbenchToolsError(
                    f"column 'index' must hold NB201 indices 0..{nb201.NUM_ARCHS - 1}"
                )
        elif kc == "arch_str":
            keys = np.array(
                [nb201.Arch.from_string(s).index for s in df["arch_str"]], dtype=np.int64
            )
        else:
            keys = df["module_hash"].astype(str).to_numpy()
            bad = [h for h in keys if len(h) != 32]
            if bad:
                raise NasbenchToolsError(f"module_hash {bad[0]!r} is not 32 hex digits")
        skip = set(KEY_COLUMNS) | {"dataset"}
        scores = {}
        for c in df.columns:
            if c in skip:
                continue
            try:
                scores[c] = df[c].to_numpy(dtype=np.float64)
            except (TypeError, ValueError):
                continue  # descriptive text columns (ops, matrices) are not scores
        return cls(detected, keys, scores, dict(meta or {}))

    @classmethod
    def read(cls, path: str | Path, *, dataset: str | None = None) -> ScoreTable:
        """Read a CSV (optionally gzipped) or HDF5 score table.

        A table with a ``dataset`` column holds several datasets; ``dataset`` picks one (required
        then).
        """
        from .groundtruth.store import is_store, sha256_of

        path = Path(path)
        if not path.is_file():
            raise NasbenchToolsError(f"{path}: no such score table")
        meta = {"source_path": str(path), "source_sha256": sha256_of(path)}
        if is_store(path):
            return cls._read_h5(path, meta)
        import pandas as pd

        try:
            df = pd.read_csv(path, dtype={"module_hash": str, "matrix_7x7_rowmajor": str})
        except Exception as exc:
            raise NasbenchToolsError(f"{path}: not a readable CSV score table ({exc})") from exc
        if "dataset" in df.columns:
            present = sorted(df["dataset"].unique())
            if dataset is None:
                if len(present) > 1:
                    raise QueryError(f"{path}: holds datasets {present}; pass dataset=")
                dataset = present[0]
            if dataset not in present:
                raise QueryError(f"{path}: no rows for dataset {dataset!r}; datasets: {present}")
            df = df[df["dataset"] == dataset].reset_index(drop=True)
        if dataset is not None:
            meta["dataset"] = dataset
        return cls.from_frame(df, meta=meta)

    @classmethod
    def _read_h5(cls, path: Path, meta: dict) -> ScoreTable:
        import h5py

        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != "nasbench_tools.scores":
                raise NasbenchToolsError(
                    f"{path}: an HDF5 file but not a nasbench_tools score table"
                )
            space = str(f.attrs["space"])
            keys = f["keys"][()]
            if space == "nb101":
                keys = keys.astype("U32").astype(object)
            scores = {name: ds[()] for name, ds in f["scores"].items()}
            meta = json.loads(f.attrs.get("meta_json", "{}")) | meta
        return cls(space, keys, scores, meta)

    def write(self, path: str | Path) -> Path:
        """Write as CSV (``.csv``/``.csv.gz``) or HDF5 (``.h5``/``.hdf5``), atomically."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            if path.suffix in (".h5", ".hdf5"):
                import h5py

                with h5py.File(tmp, "w") as f:
                    f.attrs["format"] = "nasbench_tools.scores"
                    f.attrs["space"] = self.space
                    f.attrs["meta_json"] = json.dumps(self.meta, sort_keys=True, default=str)
                    f["keys"] = (
                        self.keys
                        if self.space == "nb201"
                        else np.array(self.keys.tolist(), dtype="S32")
                    )
                    g = f.create_group("scores")
                    for name, v in self.scores.items():
                        g[name] = v
            else:
                import pandas as pd

                key = "index" if self.space == "nb201" else "module_hash"
                df = pd.DataFrame({key: self.keys, **self.scores})
                df.to_csv(tmp, index=False, compression="gzip" if path.suffix == ".gz" else None)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path


def _embedded_file(name: str) -> Path:
    from .groundtruth.formats.embedded_csv import embedded_path

    return embedded_path(name)


def load_scores(name: str, *, dataset: str | None = None, sentinels: str = "exclude") -> ScoreTable:
    """An embedded score table (see :data:`EMBEDDED_SCORES`) or a score-table file path.

    Parameters
    ----------
    name : str
        An embedded table's name or a path.
    dataset : str, optional
        For tables holding several datasets (``nb201-zc``: ``cifar10``, ``cifar100``,
        ``ImageNet16-120``).
    sentinels : {"exclude", "keep"}
        NAS-Bench-Suite-Zero tables only: ``"exclude"`` turns NASLib's failure value ``-1e8``
        into NaN and counts it per column in ``meta["sentinels"]``; ``"keep"`` leaves the raw
        values (the count is recorded either way). See the module docstring.
    """
    if sentinels not in SENTINEL_POLICIES:
        raise NasbenchToolsError(
            f"load_scores: sentinels must be one of {SENTINEL_POLICIES}, got {sentinels!r}"
        )
    if name not in EMBEDDED_SCORES:
        return ScoreTable.read(name, dataset=dataset)
    if name == "nb201-naswot":
        import pandas as pd

        path = _embedded_file("nb201_ground_truth_combined.csv.gz")
        df = pd.read_csv(path, usecols=["index", "naswot_v1_score"])
        meta = {
            "source": "BayesWatch/nas-without-training results/arch_score_acc.pd @ a1aa24c2",
            "source_path": str(path),
        }
        return ScoreTable(
            "nb201", df["index"].to_numpy(), {"naswot": df["naswot_v1_score"].to_numpy(float)}, meta
        )
    if name == "nb201-zc":
        if dataset is None:
            raise QueryError("nb201-zc holds cifar10, cifar100 and ImageNet16-120; pass dataset=")
        t = ScoreTable.read(_embedded_file("nb201_zc_suite_zero_725archs.csv.gz"), dataset=dataset)
        return _zc_tidy(
            t,
            ZC_PROXIES_NB201,
            "val_accuracy_200",
            "automl/NASLib naslib/data/zc_nasbench201.json @ 1bdbd960",
            sentinels,
        )
    if dataset not in (None, "cifar10"):
        raise QueryError(f"nb101-zc holds cifar10 only, not {dataset!r}")
    t = ScoreTable.read(_embedded_file("nb101_zc_500archs.csv.gz"))
    return _zc_tidy(
        t,
        ZC_PROXIES_NB101,
        "val_accuracy_108_single_repeat",
        "automl/NASLib naslib/data/zc_nasbench101.json @ 22280f71",
        sentinels,
    )


def _zc_tidy(t: ScoreTable, proxies, acc_col: str, source: str, sentinels: str) -> ScoreTable:
    scores = {}
    counts = {}
    infinite = {}
    for p in proxies:
        v = t.scores[p]
        hit = v == ZC_FAILURE_SENTINEL
        counts[p] = int(hit.sum())
        infinite[p] = int(np.isinf(v).sum())
        scores[p] = np.where(hit, np.nan, v) if sentinels == "exclude" else v.copy()
    scores["val_accuracy"] = t.scores[acc_col]
    meta = dict(t.meta) | {
        "source": source,
        "val_accuracy": acc_col,
        "proxies": list(proxies),
        "sentinels": {
            "value": ZC_FAILURE_SENTINEL,
            "meaning": "NASLib ZeroCost.query stores -1e8 where a proxy came out NaN or infinite",
            "policy": sentinels,
            "counts": counts,
        },
        "infinite": infinite,
    }
    return ScoreTable(t.space, t.keys, scores, meta)
