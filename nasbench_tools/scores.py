"""Score tables: scores of architectures (proxies, supernet accuracies, predictions) or of
operators, keyed like the search space keys them, with metadata that says what they are.

The contract
------------
A :class:`ScoreTable` has one row per scored item and one float column per score (NaN = not
scored). Every stored score is **higher-is-better**; a score whose natural sign was flipped
(a loss, say) is negated where it is produced and listed in the metadata's ``negated``.

Keys (``level``):

* ``"arch"``: one architecture of a registered search space per row, keyed as the space keys
  it (:class:`~nasbench_tools.spaces.Space`): its ``key_column`` (``index`` for NB201 and
  NATS-sss, ``module_hash`` for NB101) or one of its ``alt_key_columns`` (``arch_str``). Rows may
  repeat an architecture (NAS-Bench-Suite-Zero's NB101 file does; :attr:`ScoreTable.n_unique`
  counts distinct ones). Several key columns in one file must agree row by row.
* ``"operator"``: one ``(edge, op)`` pair of the space's cell per row, in two columns ``edge``
  (``"0->1"``: source node, then target node) and ``op`` (the space's op name), as
  :meth:`Space.operators` lists them (NB201: 6 edges x 5 ops = 30 pairs). Each pair at most once.
  Edges are never given as a number: NB201 and NASLib number them in different orders.

Metadata (``ScoreTable.meta``; validated wherever a table is made or read):

``label`` (str)
    Short name; the report prefixes the table's columns with it.
``source`` (str)
    Where the scores come from (a repository at a commit, a run folder, a paper).
``negated`` (list of str)
    Score columns whose natural sign was flipped to make them higher-is-better (default none).
``data`` (str)
    The images the scores were computed on: ``cifar10``, ``cifar100``, ``ImageNet16-120``,
    ``fashion-mnist``, ``digits``, or ``none`` for data-free scores (``params``, ``synflow``).
    Absent means not stated (the report then says it cannot tell).
``target`` (dict, optional)
    The ground truth the table was made to be compared with, in the benchmark's own names:
    ``{"dataset": "cifar10-valid", "split": "x-valid", "epochs": 200}`` (``split`` and
    ``epochs`` optional).

Other keys are free provenance (a producer's config, counts, hashes) and are kept as they are.

Files. CSV (``.csv``, ``.csv.gz``): the key column(s), then one column per score, optionally a
``dataset`` column (a file holding several datasets, selected with ``dataset=`` in the
benchmark's names). Every other cell must be a number: ``inf`` and ``-inf`` are, an empty cell
or ``nan`` means not scored, anything else (``n/a``, ``None``, a word) is refused;
a column of descriptive text must be declared: ``ops``, ``matrix``, ``matrix_7x7_rowmajor`` and
``naslib_op_indices`` are known, others go in the sidecar's ``text_columns``. Text columns are
not kept. The metadata lives in a JSON **sidecar** next to the CSV, ``<file>.meta.json``
(``scores.csv`` -> ``scores.csv.meta.json``): the metadata keys above at the top level, plus
``space`` and ``level`` (which the file's columns may not settle alone: ``index`` keys both NB201
and NATS-sss), ``text_columns``, and, in a sidecar this package wrote, ``format``,
``format_version`` and ``csv_sha256`` (the CSV's sha256: a sidecar that describes another version
of the CSV is refused). A CSV without a sidecar is read with its space inferred from its key
column (``space=`` where that is ambiguous) and no metadata. HDF5 (``.h5``, ``.hdf5``):
``/keys``, ``/scores/<name>``, attributes ``format``, ``space``, ``level`` and ``meta_json``.
:meth:`ScoreTable.write` writes both atomically (:func:`nasbench_tools._io.atomic_write`).
Every error is a :class:`~nasbench_tools.errors.ScoreTableError` (or, for a missing column or
section, :class:`~nasbench_tools.errors.QueryError`) naming the file, and the row and column
where one is to blame.

Embedded tables (``load_scores(name)``, :data:`EMBEDDED_SCORES`), sections named by the
benchmark's own dataset names:

* ``nb201-naswot``: NASWOT (v1) score of all 15,625 NB201 archs (NaN for the 341 disconnected
  cells), from BayesWatch/nas-without-training, computed on CIFAR-10 images (``data="cifar10"``).
* ``nb201-zc``: NAS-Bench-Suite-Zero's 12 zero-cost proxies on about 725 NB201 archs per
  dataset, with the 200-epoch accuracy the suite recorded as ``val_accuracy``; pick a section:
  ``cifar10-valid``, ``cifar100`` or ``ImageNet16-120``. That accuracy is NASLib's
  ``eval_acc1es[-1]`` of one training run, which is ``ori-test`` of ``cifar10-valid`` (the suite
  calls this section ``cifar10``: models trained on the CIFAR-10 train split, evaluated on its
  test set) and ``x-test`` of ``cifar100`` and ``ImageNet16-120`` (see
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._io import atomic_write
from .errors import NasbenchToolsError, QueryError, ResourceLimitError, ScoreTableError
from .registry import Registry
from .spaces import get_space, list_spaces

__all__ = [
    "DATASET_IMAGES",
    "DATA_SOURCES",
    "EMBEDDED_SCORES",
    "LEVELS",
    "SENTINEL_POLICIES",
    "SIDECAR_SUFFIX",
    "SUITE_ZERO_COUNTERPARTS",
    "ZC_FAILURE_SENTINEL",
    "EmbeddedScores",
    "EmbeddedSection",
    "ScoreTable",
    "check_meta",
    "data_note",
    "load_scores",
    "sidecar_path",
]

#: ``data`` values: the image set scores were computed on, and what to call it in text.
DATA_SOURCES: dict[str, str] = {
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "ImageNet16-120": "ImageNet16-120",
    "fashion-mnist": "Fashion-MNIST",
    "digits": "scikit-learn digits",
    "none": "no images (data-free)",
}
#: The images each benchmark dataset is trained and evaluated on (NB201, NATS-Bench, NB101).
#: ``cifar10-valid`` (trained on the train split) and ``cifar10`` (on train + valid) are both
#: CIFAR-10 images.
DATASET_IMAGES: dict[str, str] = {
    "cifar10-valid": "cifar10",
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "ImageNet16-120": "ImageNet16-120",
}
#: Proxies of ``nbt score`` (registry names) -> the NAS-Bench-Suite-Zero column (NASLib's names)
#: that measures the same thing; the report shows how well ours agree with theirs.
SUITE_ZERO_COUNTERPARTS: dict[str, str] = {
    "synflow": "synflow",
    "snip": "snip",
    "grasp": "grasp",
    "fisher": "fisher",
    "grad_norm": "grad_norm",
    "plain": "plain",
    "l2_norm": "l2_norm",
    "jacob_cov": "jacov",
    "epe_nas": "epe_nas",
    "naswot": "nwot",
    "params": "params",
    "flops_naslib": "flops",
}
#: ``level`` values: what a row is.
LEVELS = ("arch", "operator")
#: The key columns of an operator-level table.
OPERATOR_COLUMNS = ("edge", "op")
#: The column that splits a file into datasets (named as the benchmark names them).
DATASET_COLUMN = "dataset"
#: Descriptive text columns every reader knows (others are declared in ``text_columns``).
TEXT_COLUMNS = frozenset({"ops", "matrix", "matrix_7x7_rowmajor", "naslib_op_indices"})
#: The sidecar of ``scores.csv`` is ``scores.csv.meta.json``.
SIDECAR_SUFFIX = ".meta.json"
SIDECAR_FORMAT = "nasbench_tools.scores"
SIDECAR_VERSION = 1
#: Sidecar keys about the file, not metadata of the scores.
_FILE_KEYS = ("format", "format_version", "space", "level", "text_columns", "csv_sha256")
_TARGET_KEYS = ("dataset", "split", "epochs")
#: Stamped on a table by ``read`` (the file it was read from); not written into a new file.
_READ_STAMPS = ("source_path", "source_sha256")
#: The CSV cells that mean "not scored" (pandas' longer default list, with "NA", "null", "n/a",
#: "None", ..., would turn a typo or a note into a missing score).
_MISSING = ["", "nan", "NaN"]

#: Bounds derived from a file's size (hostile input): a gzipped CSV may expand to this many times
#: its size (CSVs of floats compress 3-10x; gzip's own limit is about 1000x), an HDF5 table's
#: arrays may hold this many times the file's bytes (we write them uncompressed); at least
#: ``_MIN_BOUND`` bytes either way.
_EXPANSION = 64
_MIN_BOUND = 64 << 20

#: NASLib's stand-in for a NaN or infinite zero-cost score (``naslib/predictors/zerocost.py``).
ZC_FAILURE_SENTINEL = -1e8
#: What ``load_scores`` does with it: ``"exclude"`` (NaN, counted) or ``"keep"`` (raw values).
SENTINEL_POLICIES = ("exclude", "keep")


# =========================================================================== metadata
def check_meta(meta: Mapping[str, Any], columns: Iterable[str], where: str) -> dict:
    """A copy of ``meta`` after checking the documented keys (see the module docstring).

    ``columns`` are the table's score columns (``negated`` must name some of them); ``where``
    (a file, a table's label) starts every message. Raises :class:`ScoreTableError`.
    """
    if not isinstance(meta, Mapping):
        raise ScoreTableError(f"{where}: metadata must be a mapping, got {type(meta).__name__}")
    meta = dict(meta)
    for key in _FILE_KEYS:
        if key in meta:
            raise ScoreTableError(
                f"{where}: metadata key {key!r} belongs to the file, not the scores; "
                "give it to ScoreTable/read, or put it at the sidecar's top level"
            )
    for key in ("label", "source"):
        if key in meta and (not isinstance(meta[key], str) or not meta[key]):
            raise ScoreTableError(f"{where}: {key!r} must be a non-empty string, got {meta[key]!r}")
    if "negated" in meta:
        meta["negated"] = _check_negated(meta["negated"], set(columns), where)
    if meta.get("data") is not None and meta["data"] not in DATA_SOURCES:
        raise ScoreTableError(
            f"{where}: 'data' is {meta['data']!r}; expected one of {', '.join(DATA_SOURCES)} "
            "(the images the scores were computed on; 'none' for data-free scores)"
        )
    if meta.get("target") is not None:
        meta["target"] = _check_target(meta["target"], where)
    return meta


def _check_negated(value: Any, columns: set[str], where: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ScoreTableError(f"{where}: 'negated' must be a list of score columns, got {value!r}")
    unknown = [c for c in value if c not in columns]
    if unknown or len(set(value)) != len(value):
        raise ScoreTableError(
            f"{where}: 'negated' lists {list(value)!r}; it must name distinct score columns "
            f"(the table has {sorted(columns)})"
        )
    return list(value)


def _check_target(value: Any, where: str) -> dict:
    if not isinstance(value, Mapping) or not isinstance(value.get("dataset"), str):
        raise ScoreTableError(
            f"{where}: 'target' must be a mapping with a 'dataset' (the benchmark's name, "
            f"e.g. {{'dataset': 'cifar10-valid', 'split': 'x-valid', 'epochs': 200}}), "
            f"got {value!r}"
        )
    extra = sorted(set(value) - set(_TARGET_KEYS))
    if extra:
        raise ScoreTableError(
            f"{where}: 'target' holds {extra}; it may hold {', '.join(_TARGET_KEYS)} only"
        )
    if "split" in value and not isinstance(value["split"], str):
        raise ScoreTableError(f"{where}: target 'split' must be a string, got {value['split']!r}")
    epochs = value.get("epochs")
    if "epochs" in value and (
        isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1
    ):
        raise ScoreTableError(f"{where}: target 'epochs' must be a positive int, got {epochs!r}")
    return {k: value[k] for k in _TARGET_KEYS if k in value}


def data_note(meta: Mapping[str, Any], dataset: str, name: str | None = None) -> str | None:
    """What to warn about when scores with metadata ``meta`` are compared with a ground truth of
    benchmark dataset ``dataset``; ``None`` when the images match or the scores are data-free.

    ``cifar10-valid`` and ``cifar10`` are both CIFAR-10 images; Fashion-MNIST scores against a
    CIFAR-10 ground truth are a transfer question, and the note says so.
    """
    name = name or meta.get("label", "scores")
    data = meta.get("data")
    images = DATASET_IMAGES.get(dataset)
    title = DATA_SOURCES.get(data, data)
    if data == "none":
        return None
    if data is None:
        return (
            f"{name}: the table does not say which images its scores were computed on (no "
            f"'data' in its metadata), so whether they match {dataset} is unknown"
        )
    if images is None:
        return (
            f"{name}: scores computed on {title} images; which images the ground "
            f"truth's dataset {dataset!r} uses is not known here"
        )
    if data != images:
        return (
            f"{name}: scores computed on {title} images, ranked against {dataset} "
            f"({DATA_SOURCES[images]} images): a transfer question (does a ranking on one image "
            "set carry over to another), not a same-data comparison"
        )
    return None


def sidecar_path(path: str | Path) -> Path:
    """The metadata sidecar of a CSV score table: ``scores.csv`` -> ``scores.csv.meta.json``."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


# =========================================================================== the table
@dataclass
class ScoreTable:
    """Scores of architectures or operators, one row per scored item; see the module docstring.

    Attributes
    ----------
    space : str
        A registered search space's name (a :class:`~nasbench_tools.spaces.Space` is accepted
        and stored by name).
    keys : numpy.ndarray
        Per row: the architecture's key (``level="arch"``: int64 benchmark indices, or an object
        array of str hashes), or the ``(edge, op)`` pair (``level="operator"``, object array of
        tuples).
    scores : dict[str, numpy.ndarray]
        Score name -> float64 vector over the rows (NaN = not scored). Higher is better.
    meta : dict
        Metadata (``label``, ``source``, ``negated``, ``data``, ``target``) and provenance.
    level : {"arch", "operator"}
    """

    space: Any
    keys: Any
    scores: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)
    level: str = "arch"

    def __post_init__(self):
        where = (
            self.meta.get("label", "score table") if isinstance(self.meta, dict) else "score table"
        )
        sp = get_space(self.space)
        self.space = sp.name
        if self.level not in LEVELS:
            raise ScoreTableError(f"{where}: level must be one of {LEVELS}, got {self.level!r}")
        if self.level == "arch":
            self.keys = _arch_keys(sp, self.keys, where)
        else:
            self.keys = _operator_keys(sp, self.keys, where)
        self.scores = _score_vectors(self.scores, len(self.keys), where)
        self.meta = check_meta(self.meta, self.scores, where)

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        what = "archs" if self.level == "arch" else "(edge, op) pairs"
        return (
            f"ScoreTable({self.space}, {len(self)} rows / {self.n_unique} distinct {what}, "
            f"scores={list(self.scores)})"
        )

    @property
    def columns(self) -> list[str]:
        return list(self.scores)

    @property
    def n_unique(self) -> int:
        """Distinct keys among the rows (NB101: module hashes, i.e. isomorphism classes)."""
        return len(set(self.keys.tolist()))

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.scores[name]
        except KeyError:
            raise QueryError(
                f"score table has no column {name!r}; columns: {self.columns}"
            ) from None

    def archs(self) -> list:
        """The scored architectures, row by row (the space's architecture objects; for a space
        keyed by hashes, which name a cell only together with a ground truth, the hashes)."""
        self._need_level("arch", "archs()")
        sp = get_space(self.space)
        if sp.key_kind == "hash":
            return list(self.keys)
        return [sp.arch(k) for k in self.keys.tolist()]

    def operators(self) -> list[tuple[str, str]]:
        """The scored ``(edge, op)`` pairs, row by row (operator-level tables)."""
        self._need_level("operator", "operators()")
        return list(self.keys)

    def ground_truth(self, gt, **query) -> np.ndarray:
        """``gt.vector(**query)`` looked up for every row (rows of the same arch get the same value)."""
        self._need_level("arch", "ground_truth()")
        if get_space(gt.space).name != self.space:
            raise QueryError(
                f"score table is {self.space}, ground truth is {get_space(gt.space).name}"
            )
        rows = gt.archs.positions(self.keys.tolist())
        return np.asarray(gt.vector(**query))[rows]

    def select(self, mask) -> ScoreTable:
        mask = np.asarray(mask)
        return ScoreTable(
            self.space,
            self.keys[mask],
            {k: v[mask] for k, v in self.scores.items()},
            dict(self.meta),
            self.level,
        )

    def _need_level(self, level: str, what: str) -> None:
        if self.level != level:
            raise QueryError(
                f"{self.meta.get('label', 'score table')}: {what} needs a {level}-level table; "
                f"this one is keyed by {'(edge, op)' if self.level == 'operator' else 'architecture'}"
            )

    # ------------------------------------------------------------------ files
    @classmethod
    def from_frame(
        cls,
        df,
        *,
        space: str | None = None,
        meta: dict | None = None,
        level: str | None = None,
        text_columns: Iterable[str] = (),
        where: str = "score table",
    ) -> ScoreTable:
        """A table from a DataFrame laid out as a CSV score table (see the module docstring).

        ``space`` and ``level`` are inferred from the key columns where not given; ``where``
        names the source in errors (a file path). Rows are named by the frame's index labels
        (a CSV's data row ``i`` is line ``i + 2``).
        """
        level = level or ("operator" if set(OPERATOR_COLUMNS) <= set(df.columns) else "arch")
        if level not in LEVELS:
            raise ScoreTableError(f"{where}: level must be one of {LEVELS}, got {level!r}")
        sp = get_space(space) if space is not None else _infer_space(df, level, where)
        if level == "arch":
            keys, used = _frame_arch_keys(df, sp, where), set(sp.key_columns())
        else:
            keys, used = _frame_operator_keys(df, sp, where), set(OPERATOR_COLUMNS)
        skip = used | {DATASET_COLUMN} | TEXT_COLUMNS | set(text_columns)
        scores = {c: _numeric_column(df, c, where) for c in df.columns if c not in skip}
        if not scores:
            raise ScoreTableError(f"{where}: no score columns (columns: {list(df.columns)})")
        return cls(sp.name, keys, scores, check_meta(meta or {}, scores, where), level)

    @classmethod
    def read(
        cls, path: str | Path, *, dataset: str | None = None, space: str | None = None
    ) -> ScoreTable:
        """Read a CSV (optionally gzipped, with its sidecar if present) or HDF5 score table.

        A file with a ``dataset`` column holds several datasets; ``dataset`` (the benchmark's
        name) picks one (required then). ``space`` settles a key column that several spaces use
        (``index``) where the file's sidecar does not.
        """
        from .groundtruth.store import is_store, sha256_of

        path = Path(path)
        if not path.is_file():
            raise ScoreTableError(f"{path}: no such score table")
        digest = sha256_of(path)
        if is_store(path):
            return _read_h5(path, space, digest)
        return _read_csv(path, dataset, space, digest)

    def write(self, path: str | Path, *, overwrite: bool = True) -> Path:
        """Write as CSV (``.csv``/``.csv.gz``, with its ``.meta.json`` sidecar) or HDF5
        (``.h5``/``.hdf5``), atomically; returns the path."""
        path = Path(path)
        if path.suffix in (".h5", ".hdf5"):
            with atomic_write(path, overwrite=overwrite) as tmp:
                self._write_h5(tmp)
            return path
        self._write_csv(path, overwrite)
        return path

    def _written_meta(self) -> dict:
        """The metadata a new file carries: all but the stamps of the file it was read from."""
        return {k: v for k, v in self.meta.items() if k not in _READ_STAMPS}

    def _key_frame(self) -> dict[str, Any]:
        if self.level == "operator":
            return {"edge": [e for e, _ in self.keys], "op": [o for _, o in self.keys]}
        return {get_space(self.space).key_column: self.keys}

    def _write_csv(self, path: Path, overwrite: bool) -> None:
        import pandas as pd

        from .groundtruth.store import sha256_of

        with atomic_write(path, overwrite=overwrite) as tmp:
            df = pd.DataFrame({**self._key_frame(), **self.scores})
            df.to_csv(tmp, index=False, compression="gzip" if path.suffix == ".gz" else None)
            sidecar = {
                "format": SIDECAR_FORMAT,
                "format_version": SIDECAR_VERSION,
                "space": self.space,
                "level": self.level,
                "csv_sha256": sha256_of(tmp),
                **self._written_meta(),
            }
            # the sidecar is renamed first: a reader between the two renames sees a sidecar
            # whose csv_sha256 is not the CSV's, and refuses the pair
            with atomic_write(sidecar_path(path), overwrite=overwrite) as side:
                side.write_text(json.dumps(sidecar, indent=2, default=str) + "\n")

    def _write_h5(self, tmp: Path) -> None:
        import h5py

        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = SIDECAR_FORMAT
            f.attrs["space"] = self.space
            f.attrs["level"] = self.level
            f.attrs["meta_json"] = json.dumps(self._written_meta(), sort_keys=True, default=str)
            if self.level == "operator":
                f["keys"] = np.array([list(k) for k in self.keys], dtype="S")
            else:
                f["keys"] = get_space(self.space).store_keys(self.keys)
            g = f.create_group("scores")
            for name, v in self.scores.items():
                g[name] = v


# =========================================================================== keys and values
def _arch_keys(sp, keys: Any, where: str) -> np.ndarray:
    """Keys as the space holds them, each checked to be one (no float truncated to an index)."""
    items = keys.tolist() if isinstance(keys, np.ndarray) else list(keys)
    for k in items:
        if not sp.is_key(k):
            expected = (
                f"int indices 0..{sp.size - 1}" if sp.key_kind == "index" else "32-hex-digit hashes"
            )
            raise ScoreTableError(f"{where}: {sp.name} keys are {expected}; got {k!r}")
    return sp.key_array(items)


def _operator_keys(sp, keys: Any, where: str) -> np.ndarray:
    known = sp.operators()
    if known is None:
        raise ScoreTableError(f"{where}: space {sp.name!r} has no (edge, op) operators")
    items = [tuple(k) if isinstance(k, list | tuple) else k for k in keys]
    arr = np.empty(len(items), dtype=object)
    for i, k in enumerate(items):
        if k not in known:
            raise ScoreTableError(
                f"{where}: {k!r} is not an (edge, op) pair of {sp.name}; pairs: "
                f"edges {sorted({e for e, _ in known})}, ops {sorted({o for _, o in known})}"
            )
        arr[i] = k
    if len(set(items)) != len(items):
        dup = next(k for k in items if items.count(k) > 1)
        raise ScoreTableError(f"{where}: (edge, op) pair {dup!r} appears more than once")
    return arr


def _score_vectors(scores: Mapping[str, Any], n: int, where: str) -> dict[str, np.ndarray]:
    out = {}
    for name, v in scores.items():
        if not isinstance(name, str) or not name:
            raise ScoreTableError(f"{where}: score names must be non-empty strings, got {name!r}")
        try:
            v = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise ScoreTableError(f"{where}: score {name!r} is not numeric") from None
        if v.shape != (n,):
            raise ScoreTableError(f"{where}: score {name!r} has shape {v.shape}, expected ({n},)")
        out[name] = v
    return out


def _row(df, label: Any) -> str:
    """``row 3 (line 5)``: 1-based data row of an index label, and its line in a CSV file."""
    try:
        i = int(label)
    except (TypeError, ValueError):
        return f"row {label!r}"
    return f"row {i + 1} (line {i + 2})"


def _infer_space(df, level: str, where: str):
    """The one registered space the key columns (and the first row's key) fit."""
    columns = set(df.columns)
    if level == "operator":
        cands = [get_space(n) for n in list_spaces() if get_space(n).operators() is not None]
        first = [(None, None)]
    else:
        cands = [get_space(n) for n in list_spaces() if columns & set(get_space(n).key_columns())]
        first = [(c, df[c].iloc[0]) for c in df.columns if c in _all_key_columns()]
    if not cands:
        keys = sorted(_all_key_columns())
        raise ScoreTableError(
            f"{where}: a score table needs a key column, one of {keys} (or 'edge' and 'op' for "
            f"operator scores); got {list(df.columns)}"
        )
    if len(cands) > 1 and len(df):
        cands = [sp for sp in cands if _accepts(sp, first)]
    if len(cands) != 1:
        names = ", ".join(sp.name for sp in cands) or "none"
        raise ScoreTableError(
            f"{where}: the key columns fit several search spaces ({names}); pass space= or put "
            f'"space" in its sidecar {SIDECAR_SUFFIX}'
        )
    return cands[0]


def _all_key_columns() -> set[str]:
    return {c for n in list_spaces() for c in get_space(n).key_columns()}


def _accepts(sp, first: list[tuple[str | None, Any]]) -> bool:
    """Whether ``sp`` reads the first row's key cells (``column`` None: operator tables)."""
    for column, value in first:
        if column is None or column not in sp.key_columns():
            continue
        try:
            sp.key_from_column(column, value)
        except NasbenchToolsError:
            return False
    return True


def _frame_arch_keys(df, sp, where: str) -> np.ndarray:
    """Keys from the space's key columns, cell by cell; several key columns must agree."""
    cols = [c for c in sp.key_columns() if c in df.columns]
    if not cols:
        raise ScoreTableError(
            f"{where}: a score table needs a key column, one of {list(sp.key_columns())} "
            f"({sp.name}); got {list(df.columns)}"
        )
    keys = _column_keys(df, sp, cols[0], where)
    for other in cols[1:]:
        for label, a, b in zip(df.index, keys, _column_keys(df, sp, other, where)):
            if a != b:
                raise ScoreTableError(
                    f"{where}: {_row(df, label)}: column {cols[0]!r} gives key {a!r} but "
                    f"column {other!r} gives {b!r}"
                )
    return sp.key_array(keys)


def _column_keys(df, sp, column: str, where: str) -> list:
    out = []
    for label, value in zip(df.index, df[column].tolist()):
        try:
            out.append(sp.key_from_column(column, value))
        except NasbenchToolsError as exc:
            raise ScoreTableError(f"{where}: {_row(df, label)}, column {column!r}: {exc}") from None
    return out


def _frame_operator_keys(df, sp, where: str) -> np.ndarray:
    missing = [c for c in OPERATOR_COLUMNS if c not in df.columns]
    if missing:
        raise ScoreTableError(
            f"{where}: an operator-level table needs columns 'edge' and 'op'; missing {missing}"
        )
    known = set(sp.operators() or ())
    keys = []
    for label, edge, op in zip(df.index, df["edge"].tolist(), df["op"].tolist()):
        key = (str(edge).strip(), str(op).strip())
        if key not in known:
            raise ScoreTableError(
                f"{where}: {_row(df, label)}: ({edge!r}, {op!r}) is not an (edge, op) pair of "
                f"{sp.name}; edges are written 'src->dst' ({', '.join(sorted({e for e, _ in known}))})"
                f" and ops are {', '.join(sorted({o for _, o in known}))}"
            )
        keys.append(key)
    return _operator_keys(sp, keys, where)


def _numeric_column(df, column: str, where: str) -> np.ndarray:
    """A score column as float64; the first cell that is not a number is an error."""
    import pandas as pd

    s = df[column]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=np.float64)
    values = pd.to_numeric(s, errors="coerce")
    bad = (values.isna() & s.notna()).to_numpy()
    if pd.api.types.is_bool_dtype(s) or bad.any():
        pos = int(np.flatnonzero(bad)[0]) if bad.any() else 0
        raise ScoreTableError(
            f"{where}: {_row(df, s.index[pos])}, column {column!r}: {s.iloc[pos]!r} is not a "
            "number; a score column holds numbers only (a column of descriptive text must be "
            'declared in the sidecar\'s "text_columns")'
        )
    return values.to_numpy(dtype=np.float64)


# =========================================================================== reading files
def _read_sidecar(path: Path, digest: str) -> dict:
    """The sidecar of ``path`` as a dict (empty without one), its structure checked."""
    side = sidecar_path(path)
    if not side.is_file():
        return {}
    try:
        doc = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ScoreTableError(f"{side}: not a readable JSON sidecar ({exc})") from None
    if not isinstance(doc, dict):
        raise ScoreTableError(f"{side}: a sidecar holds one JSON object, got {type(doc).__name__}")
    if doc.get("format", SIDECAR_FORMAT) != SIDECAR_FORMAT:
        raise ScoreTableError(f"{side}: format {doc['format']!r} is not {SIDECAR_FORMAT!r}")
    if doc.get("format_version", SIDECAR_VERSION) != SIDECAR_VERSION:
        raise ScoreTableError(
            f"{side}: format_version {doc['format_version']!r}; this version of nasbench_tools "
            f"reads {SIDECAR_VERSION}"
        )
    if doc.get("csv_sha256") not in (None, digest):
        raise ScoreTableError(
            f"{side}: describes another version of {path.name} (its csv_sha256 is not the "
            "file's sha256); the file changed after the sidecar was written: rewrite the "
            "sidecar, or remove its csv_sha256 if the metadata still holds"
        )
    text = doc.get("text_columns", [])
    if not isinstance(text, list) or not all(isinstance(c, str) for c in text):
        raise ScoreTableError(
            f"{side}: 'text_columns' must be a list of column names, got {text!r}"
        )
    return doc


def _read_csv(path: Path, dataset: str | None, space: str | None, digest: str) -> ScoreTable:
    side = _read_sidecar(path, digest)
    space = _one_space(space, side.get("space"), path)
    text = set(side.get("text_columns", []))
    df = _load_frame(path, text)
    meta = {k: v for k, v in side.items() if k not in _FILE_KEYS}
    if DATASET_COLUMN in df.columns:
        df, dataset = _select_dataset(df, dataset, path)
    if dataset is not None:
        meta["dataset"] = dataset
    meta |= {"source_path": str(path), "source_sha256": digest}
    meta.setdefault("label", path.name.split(".")[0] or "scores")
    if side:  # the sidecar's own mistakes name the sidecar ('negated' needs the columns first)
        check_meta({k: v for k, v in meta.items() if k != "negated"}, [], str(sidecar_path(path)))
    return ScoreTable.from_frame(
        df, space=space, meta=meta, level=side.get("level"), text_columns=text, where=str(path)
    )


def _one_space(given: str | None, declared: str | None, path: Path) -> str | None:
    if given is not None and declared is not None and get_space(given).name != declared:
        raise ScoreTableError(
            f"{path}: its sidecar says space {declared!r}, the caller asked for {given!r}"
        )
    return declared if declared is not None else given


def _load_frame(path: Path, text: set[str]):
    """The CSV as a DataFrame: key and text columns as strings, everything else as parsed."""
    import pandas as pd

    as_text = _all_key_columns() | set(OPERATOR_COLUMNS) | TEXT_COLUMNS | text | {DATASET_COLUMN}
    source = _bounded_csv(path)
    try:
        return pd.read_csv(
            source, dtype=dict.fromkeys(as_text, str), keep_default_na=False, na_values=_MISSING
        )
    except Exception as exc:  # pandas raises many types for a damaged or foreign file
        raise ScoreTableError(f"{path}: not a readable CSV score table ({exc})") from exc


def _bounded_csv(path: Path):
    """``path``, or for a gzipped CSV its text, decompressed up to a bound set by its size."""
    import gzip
    import io

    if path.suffix != ".gz":
        return path
    limit = max(_MIN_BOUND, _EXPANSION * path.stat().st_size)
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except (OSError, EOFError) as exc:
        raise ScoreTableError(f"{path}: not a readable gzipped CSV ({exc})") from None
    if len(data) > limit:
        raise ResourceLimitError(
            f"{path}: decompresses to more than {limit:,} bytes ({_EXPANSION}x its size); "
            "refused as a decompression bomb"
        )
    return io.BytesIO(data)


def _select_dataset(df, dataset: str | None, path: Path):
    """The rows of one dataset (all of them when the file holds one) and its name."""
    missing = df[DATASET_COLUMN].isna()
    if missing.any():
        raise ScoreTableError(
            f"{path}: {_row(df, df.index[missing.to_numpy()][0])}, column 'dataset' is empty"
        )
    present = sorted(df[DATASET_COLUMN].unique())
    if dataset is None:
        if len(present) > 1:
            raise QueryError(f"{path}: holds datasets {present}; pass dataset=")
        dataset = present[0]
    if dataset not in present:
        raise QueryError(f"{path}: no rows for dataset {dataset!r}; datasets: {present}")
    return df[df[DATASET_COLUMN] == dataset], dataset


def _h5_array(ds, budget: list[int], path: Path) -> np.ndarray:
    """A dataset's values, if its declared size fits what is left of the file's byte budget."""
    nbytes = int(np.prod(ds.shape, dtype=np.int64)) * ds.dtype.itemsize
    if nbytes > budget[0]:
        raise ResourceLimitError(
            f"{path}: dataset {ds.name} declares {nbytes:,} bytes, more than {_EXPANSION}x "
            "the file's size allows; refused"
        )
    budget[0] -= nbytes
    return ds[()]


def _read_h5(path: Path, space: str | None, digest: str) -> ScoreTable:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != SIDECAR_FORMAT:
                raise ScoreTableError(f"{path}: an HDF5 file but not a nasbench_tools score table")
            declared = str(f.attrs["space"])
            level = str(f.attrs.get("level", "arch"))
            budget = [max(_MIN_BOUND, _EXPANSION * path.stat().st_size)]
            keys = _h5_array(f["keys"], budget, path)
            scores = {name: _h5_array(ds, budget, path) for name, ds in f["scores"].items()}
            meta = json.loads(f.attrs.get("meta_json", "{}"))
    except (ScoreTableError, ResourceLimitError):
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, AttributeError) as exc:
        raise ScoreTableError(f"{path}: not a readable score table ({exc})") from None
    space = _one_space(space, declared, path)
    if level == "operator":
        keys = [tuple(x.decode() for x in row) for row in keys]
    elif keys.dtype.kind == "S":
        keys = keys.astype("U").astype(object)
    meta = meta | {"source_path": str(path), "source_sha256": digest}
    if not isinstance(meta, dict):
        raise ScoreTableError(f"{path}: meta_json is not a JSON object")
    try:
        return ScoreTable(space, keys, scores, meta, level)
    except ScoreTableError as exc:
        raise ScoreTableError(f"{path}: {exc}") from None


# =========================================================================== embedded tables
@dataclass(frozen=True)
class EmbeddedSection:
    """One section of an embedded table: the benchmark dataset it goes with, the value of the
    file's ``dataset`` column that holds it (None: the whole file), its images and its target."""

    dataset: str
    rows: str | None
    data: str
    target: dict


@dataclass(frozen=True)
class EmbeddedScores:
    """An embedded score table: what it is, its space, its sections (keyed by the benchmark's
    dataset names) and the function that builds a section's :class:`ScoreTable`."""

    name: str
    description: str
    space: str
    sections: Mapping[str, EmbeddedSection]
    build: Callable[[EmbeddedScores, EmbeddedSection, str], ScoreTable]

    def section(self, dataset: str | None) -> EmbeddedSection:
        """The section for benchmark dataset ``dataset`` (None: the only one)."""
        names = list(self.sections)
        if dataset is None:
            if len(names) > 1:
                raise QueryError(f"{self.name} holds {', '.join(names)}; pass dataset=")
            return self.sections[names[0]]
        if dataset in self.sections:
            return self.sections[dataset]
        raise QueryError(f"{self.name} has no section {dataset!r}; {self._hint(dataset)}")

    def _hint(self, dataset: str) -> str:
        same = [s for s in self.sections.values() if s.rows == dataset and s.dataset != dataset]
        if same:
            s = same[0]
            return (
                f"its {DATA_SOURCES[s.data]} section is the benchmark dataset {s.dataset!r} "
                f"(its accuracy is {s.target['dataset']} {s.target.get('split', '')}); "
                f"pass dataset={s.dataset!r}"
            )
        return f"sections (the benchmark's dataset names): {', '.join(self.sections)}"

    def load(self, dataset: str | None, sentinels: str) -> ScoreTable:
        return self.build(self, self.section(dataset), sentinels)


#: Every embedded score table, by name.
EMBEDDED_SCORES: Registry[EmbeddedScores] = Registry("embedded score table", error=QueryError)


def _embedded_file(name: str) -> Path:
    from .groundtruth.formats.embedded_csv import embedded_path

    return embedded_path(name)


def _base_meta(entry: EmbeddedScores, sec: EmbeddedSection, source: str) -> dict:
    return {
        "label": entry.name,
        "source": source,
        "negated": [],
        "data": sec.data,
        "target": dict(sec.target),
        "dataset": sec.dataset,
    }


def _build_naswot(entry: EmbeddedScores, sec: EmbeddedSection, sentinels: str) -> ScoreTable:
    import pandas as pd

    path = _embedded_file("nb201_ground_truth_combined.csv.gz")
    df = pd.read_csv(path, usecols=["index", "naswot_v1_score"])
    meta = _base_meta(
        entry, sec, "BayesWatch/nas-without-training results/arch_score_acc.pd @ a1aa24c2"
    )
    meta |= {"source_path": str(path)}
    return ScoreTable(
        entry.space,
        df["index"].to_numpy(),
        {"naswot": df["naswot_v1_score"].to_numpy(float)},
        meta,
    )


def _zc_builder(file: str, proxies: tuple[str, ...], acc_col: str, source: str) -> Callable:
    """A builder of a NAS-Bench-Suite-Zero section: its proxies (sentinels handled) and the
    suite's recorded accuracy as ``val_accuracy``."""

    def build(entry: EmbeddedScores, sec: EmbeddedSection, sentinels: str) -> ScoreTable:
        t = ScoreTable.read(_embedded_file(file), dataset=sec.rows, space=entry.space)
        meta = dict(t.meta) | _base_meta(entry, sec, source)
        return _zc_tidy(t, proxies, acc_col, meta, sentinels)

    return build


def _zc_tidy(t: ScoreTable, proxies, acc_col: str, meta: dict, sentinels: str) -> ScoreTable:
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
    meta = meta | {
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


def _sections(*items: EmbeddedSection) -> dict[str, EmbeddedSection]:
    return {s.dataset: s for s in items}


EMBEDDED_SCORES.register(
    "nb201-naswot",
    EmbeddedScores(
        "nb201-naswot",
        "NASWOT v1 score, all 15,625 NB201 archs, computed on CIFAR-10 images "
        "(BayesWatch/nas-without-training, MIT)",
        "nb201",
        _sections(
            EmbeddedSection(
                "cifar10-valid",
                None,
                "cifar10",
                {"dataset": "cifar10-valid", "split": "ori-test", "epochs": 200},
            )
        ),
        _build_naswot,
    ),
)
EMBEDDED_SCORES.register(
    "nb201-zc",
    EmbeddedScores(
        "nb201-zc",
        "NAS-Bench-Suite-Zero: 12 zero-cost proxies + val_accuracy, ~725 NB201 archs per "
        "dataset (NASLib, Apache-2.0)",
        "nb201",
        _sections(
            EmbeddedSection(
                "cifar10-valid",
                "cifar10",
                "cifar10",
                {"dataset": "cifar10-valid", "split": "ori-test", "epochs": 200},
            ),
            EmbeddedSection(
                "cifar100",
                "cifar100",
                "cifar100",
                {"dataset": "cifar100", "split": "x-test", "epochs": 200},
            ),
            EmbeddedSection(
                "ImageNet16-120",
                "ImageNet16-120",
                "ImageNet16-120",
                {"dataset": "ImageNet16-120", "split": "x-test", "epochs": 200},
            ),
        ),
        _zc_builder(
            "nb201_zc_suite_zero_725archs.csv.gz",
            ZC_PROXIES_NB201,
            "val_accuracy_200",
            "automl/NASLib naslib/data/zc_nasbench201.json @ 1bdbd960",
        ),
    ),
)
EMBEDDED_SCORES.register(
    "nb101-zc",
    EmbeddedScores(
        "nb101-zc",
        "NAS-Bench-Suite-Zero: 11 zero-cost proxies + single-repeat val_accuracy, 500 NB101 "
        "specs / 292 cells (NASLib, Apache-2.0)",
        "nb101",
        _sections(
            EmbeddedSection(
                "cifar10", None, "cifar10", {"dataset": "cifar10", "split": "valid", "epochs": 108}
            )
        ),
        _zc_builder(
            "nb101_zc_500archs.csv.gz",
            ZC_PROXIES_NB101,
            "val_accuracy_108_single_repeat",
            "automl/NASLib naslib/data/zc_nasbench101.json @ 22280f71",
        ),
    ),
)


def load_scores(
    name: str | Path,
    *,
    dataset: str | None = None,
    sentinels: str = "exclude",
    space: str | None = None,
) -> ScoreTable:
    """An embedded score table (see :data:`EMBEDDED_SCORES`) or a score-table file.

    Parameters
    ----------
    name : str or Path
        An embedded table's name or a path.
    dataset : str, optional
        The section, in the benchmark's own dataset names (``nb201-zc``: ``cifar10-valid``,
        ``cifar100``, ``ImageNet16-120``); for a file, the value of its ``dataset`` column.
        Required where a table holds several.
    sentinels : {"exclude", "keep"}
        NAS-Bench-Suite-Zero tables only: ``"exclude"`` turns NASLib's failure value ``-1e8``
        into NaN and counts it per column in ``meta["sentinels"]``; ``"keep"`` leaves the raw
        values (the count is recorded either way). See the module docstring.
    space : str, optional
        For a file whose key column several spaces use (``index``) and whose sidecar does not
        say.
    """
    if sentinels not in SENTINEL_POLICIES:
        raise NasbenchToolsError(
            f"load_scores: sentinels must be one of {SENTINEL_POLICIES}, got {sentinels!r}"
        )
    if isinstance(name, str) and name in EMBEDDED_SCORES:
        return EMBEDDED_SCORES.get(name).load(dataset, sentinels)
    if not Path(name).is_file():
        raise ScoreTableError(
            f"{str(name)!r} is neither an embedded score table "
            f"({', '.join(EMBEDDED_SCORES.names())}) nor an existing file"
        )
    return ScoreTable.read(name, dataset=dataset, space=space)
