"""NASLib's NAS-Bench-101 pickle (``nasbench_only108.pkl``), read without TensorFlow or NASLib.

Layout (``naslib/utils/nb101_api.py``): ``{module_hash: (fixed_stats, computed_stats)}`` with
``fixed_stats = {'module_adjacency': (V, V) int array, 'module_operations': [V labels],
'trainable_parameters': int}`` (the pruned cell, as in the official ``fixed_statistics``) and
``computed_stats = {epochs: [one dict per repeat with halfway_/final_ training_time,
train_accuracy, validation_accuracy, test_accuracy]}`` (only108: ``{108: [3 repeats]}``).

Columns, the same as the official TFRecord's reader (``nb101-tfrecord``): keys are the module
hashes sorted ascending, ``specs`` the cells; for every budget ``B`` in the file and ``P`` in
``halfway`` / ``final``:

* ``Key("cifar10", S, B, "accuracy", P)`` for ``S`` in ``train`` / ``valid`` / ``test``: percent
  (the file's fractions x 100), ``(N, 3)`` with seeds ``(0, 1, 2)`` = the repeat order;
* ``Key("cifar10", "train", B, "time", P)``: training time in seconds, per repeat;
* ``Key("cifar10", "", 0, "params")``: trainable parameters, ``(N,)``, unit ``count``.

Cells are taken as stored when already pruned (checked, vectorised); any that is not is pruned
with :class:`~nasbench_tools.spaces.nb101.ModelSpec`, as the TFRecord reader does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CorruptFileError, InvalidSpecError
from ...spaces import nb101
from ..columns import Column, ColumnSet, Key, SpecArray
from ..safe_pickle import PickleStream, short_repr
from . import register_reader
from ._common import progress as _progress

__all__ = ["read_naslib_nb101"]

_HASH = re.compile(r"^[0-9a-f]{32}$")
#: A pickle (protocol 2-5) of a dict whose first key is a 32-hex module hash.
_HEAD = re.compile(
    rb"\x80[\x02-\x05](?:\x95.{8})?\}(?:\x94|q.|r.{4})?\(?(?:\x8c\x20|X\x20\x00\x00\x00)[0-9a-f]{32}",
    re.DOTALL,
)
#: The NB101 training budgets (epochs) and the most repeats per budget (NB101 has 3).
BUDGETS = (4, 12, 36, 108)
MAX_REPEATS = 10
_SPLITS = (("train", "train_accuracy"), ("valid", "validation_accuracy"), ("test", "test_accuracy"))
_POINTS = ("halfway", "final")
#: Field order of one repeat's values: per point, the three accuracies then the training time.
_FIELDS = tuple(
    f"{p}_{name}" for p in _POINTS for name in [f for _, f in _SPLITS] + ["training_time"]
)
_LABEL = {nb101.INPUT: -1, nb101.OUTPUT: -2} | {op: i for i, op in enumerate(nb101.OPS)}


def _sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and _HEAD.match(head) is not None


def _cell(key: str, fixed: Any, where: str) -> tuple[np.ndarray, list[int], int]:
    if not isinstance(fixed, Mapping):
        raise CorruptFileError(f"{where}: fixed_stats is not a dict")
    for name in ("module_adjacency", "module_operations", "trainable_parameters"):
        if name not in fixed:
            raise CorruptFileError(f"{where}: fixed_stats has no {name!r}")
    ops = fixed["module_operations"]
    adj = fixed["module_adjacency"]
    if not isinstance(adj, np.ndarray | list):
        raise CorruptFileError(f"{where}: module_adjacency is a {type(adj).__name__}, not a matrix")
    v = len(ops) if isinstance(ops, list | tuple) else -1
    if not 2 <= v <= nb101.MAX_VERTICES or len(adj) != v:
        raise CorruptFileError(
            f"{where}: module_adjacency has {len(adj)} rows for {v} operations (2..7 vertices)"
        )
    try:
        adj = np.asarray(adj)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CorruptFileError(f"{where}: module_adjacency is not a matrix ({exc})") from None
    if adj.shape != (v, v) or adj.dtype.kind not in "biuf":
        raise CorruptFileError(
            f"{where}: module_adjacency is {adj.shape} {adj.dtype}; expected ({v}, {v}) numbers"
        )
    if not np.isin(adj, (0, 1)).all() or np.tril(adj).any():
        raise CorruptFileError(f"{where}: module_adjacency is not a 0/1 upper-triangular matrix")
    if (
        ops[0] != nb101.INPUT
        or ops[-1] != nb101.OUTPUT
        or any(not isinstance(o, str) or o not in nb101.OPS for o in ops[1:-1])
    ):
        raise CorruptFileError(
            f"{where}: module_operations {short_repr(ops)} are not input, ops..., output"
        )
    params = fixed["trainable_parameters"]
    if isinstance(params, bool) or not isinstance(params, int | np.integer):
        raise CorruptFileError(
            f"{where}: trainable_parameters is {short_repr(params)}, not an integer"
        )
    return adj.astype(np.int8), [_LABEL[o] for o in ops], int(params)


def _repeat(rep: Any, where: str) -> list[float]:
    """One repeat's values in :data:`_FIELDS` order, each checked to be a number."""
    if not isinstance(rep, Mapping):
        raise CorruptFileError(f"{where}: expected a dict, found {type(rep).__name__}")
    out = []
    for f in _FIELDS:
        if f not in rep:
            raise CorruptFileError(f"{where}: lacks {f!r}")
        x = rep[f]
        if isinstance(x, bool) or not isinstance(x, int | float | np.integer | np.floating):
            raise CorruptFileError(f"{where}: {f} is a {type(x).__name__}, not a number")
        try:
            out.append(float(x))
        except OverflowError:
            raise CorruptFileError(f"{where}: {f} {short_repr(x)} overflows a float") from None
    return out


def _unpruned(mats: np.ndarray, nv: np.ndarray) -> np.ndarray:
    """Rows whose cell has a vertex off every input-to-output path (vectorised)."""
    bad = np.zeros(len(nv), dtype=bool)
    for v in np.unique(nv):
        rows = np.flatnonzero(nv == v)
        a = mats[rows, :v, :v].astype(np.int32)
        fwd = np.zeros((len(rows), v), dtype=np.int32)
        fwd[:, 0] = 1
        bwd = np.zeros((len(rows), v), dtype=np.int32)
        bwd[:, v - 1] = 1
        for _ in range(v):
            fwd = np.minimum(fwd + np.einsum("ni,nij->nj", fwd, a), 1)
            bwd = np.minimum(bwd + np.einsum("nij,nj->ni", a, bwd), 1)
        bad[rows] = ~(fwd & bwd).astype(bool).all(axis=1)
    return bad


@register_reader(
    "naslib-nb101-pickle", "nb101", _sniff, "NASLib nasbench_only108.pkl (NB101, 108 epochs)"
)
def read_naslib_nb101(path: str | Path, *, progress: bool = True) -> ColumnSet:
    """Read NASLib's ``nasbench_only108.pkl`` into the NB101 columns."""
    path = Path(path)
    src = str(path)
    with open(path, "rb") as fh:
        stream = PickleStream(fh.read, source=src)
        data = stream.load()
        if not stream.at_end():
            raise CorruptFileError(
                f"{src}: unexpected data after the pickle's end at byte {stream.position}"
            )
    if not isinstance(data, dict) or not data:
        raise CorruptFileError(
            f"{src}: expected a non-empty {{module_hash: (fixed, computed)}} dict"
        )
    for key in data:
        if not isinstance(key, str) or not _HASH.match(key):
            raise CorruptFileError(f"{src}: key {short_repr(key)} is not a 32-hex module hash")
    keys = sorted(data)
    n = len(keys)
    mats = np.zeros((n, 7, 7), dtype=np.int8)
    labels = np.full((n, 7), SpecArray.PAD, dtype=np.int8)
    nv = np.zeros(n, dtype=np.int8)
    params = np.zeros(n)
    runs: dict[int, np.ndarray] = {}  # budget -> (n, repeats, len(_FIELDS))
    for i, key in enumerate(_progress(keys, progress, f"reading {path.name}")):
        where = f"{src}: {key}"
        entry = data.pop(key)
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            raise CorruptFileError(f"{where}: expected (fixed_stats, computed_stats)")
        fixed, computed = entry
        adj, lab, params[i] = _cell(key, fixed, where)
        v = len(lab)
        mats[i, :v, :v] = adj
        labels[i, :v] = lab
        nv[i] = v
        if not isinstance(computed, Mapping) or not computed:
            raise CorruptFileError(
                f"{where}: computed_stats is not a non-empty {{epochs: repeats}} dict"
            )
        for budget, repeats in computed.items():
            if isinstance(budget, bool) or not isinstance(budget, int) or budget not in BUDGETS:
                raise CorruptFileError(
                    f"{where}: computed_stats key {short_repr(budget)} is not an NB101 epoch "
                    f"budget {BUDGETS}"
                )
            if not isinstance(repeats, list | tuple) or not 1 <= len(repeats) <= MAX_REPEATS:
                raise CorruptFileError(
                    f"{where}: computed_stats[{budget}] is not a list of 1 to {MAX_REPEATS} repeats"
                )
            arr = runs.get(budget)
            if arr is None or arr.shape[1] < len(repeats):
                grown = np.full((n, max(3, len(repeats)), len(_FIELDS)), np.nan)
                if arr is not None:
                    grown[:, : arr.shape[1]] = arr
                arr = runs[budget] = grown
            for r, rep in enumerate(repeats):
                arr[i, r] = _repeat(rep, f"{where}: repeat {r} at {budget} epochs")
    for row in np.flatnonzero(_unpruned(mats, nv)):
        v = int(nv[row])
        names = {-1: nb101.INPUT, -2: nb101.OUTPUT} | dict(enumerate(nb101.OPS))
        try:
            spec = nb101.ModelSpec(mats[row, :v, :v], [names[int(x)] for x in labels[row, :v]])
        except InvalidSpecError as exc:
            raise CorruptFileError(f"{src}: {keys[row]}: {exc}") from None
        if not spec.is_valid:
            raise CorruptFileError(
                f"{src}: {keys[row]}: cell is not in NB101 ({spec.invalid_reason})"
            )
        mats[row] = 0
        labels[row] = SpecArray.PAD
        pv = spec.num_vertices
        mats[row, :pv, :pv] = spec.matrix
        labels[row, :pv] = spec.labels
        nv[row] = pv

    source = f"{path.name} (NASLib pickle of NAS-Bench-101)"
    cols: dict[Key, Column] = {}
    for budget in sorted(runs):
        arr = runs[budget]
        seeds = tuple(range(arr.shape[1]))
        for pi, point in enumerate(_POINTS):
            base = pi * 4
            for si, (split, _field) in enumerate(_SPLITS):
                cols[Key("cifar10", split, budget, "accuracy", point)] = Column(
                    arr[:, :, base + si] * 100.0, seeds, "%", source
                )
            cols[Key("cifar10", "train", budget, "time", point)] = Column(
                arr[:, :, base + 3], seeds, "s", source
            )
    cols[Key("cifar10", "", 0, "params")] = Column(params, (), "count", source)
    budgets = sorted(runs)
    meta = {
        "source_name": path.name,
        "source_format": "naslib-nb101-pickle",
        "benchmark": "NAS-Bench-101 nasbench_only108" if budgets == [108] else "NAS-Bench-101",
        "budgets": budgets,
    }
    return ColumnSet("nb101", np.array(keys, dtype=object), cols, SpecArray(mats, labels, nv), meta)
