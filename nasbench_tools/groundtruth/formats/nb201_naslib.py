"""NASLib's NAS-Bench-201 pickles (``nb201_{cifar10,cifar100,ImageNet16}_full_training.pickle``).

Layout (``naslib/utils/get_dataset_api.py`` loads it; ``search_spaces/nasbench201/graph.py``
queries it)::

    {arch_str: {dataset: {'train_acc1es': [...], 'train_losses': [...],
                          'eval_acc1es': [...], 'eval_losses': [...],
                          'cost_info': {'flops', 'params', 'latency', 'train_time'}, ...}}}

with ``dataset`` = ``cifar10-valid`` (the CIFAR-10 file; NASLib maps ``cifar10`` to it),
``cifar100`` or ``ImageNet16-120``. Keys may also be NASLib op-index tuples. One training run per
architecture and dataset; the file does not record its seed.

Which NB201 eval set ``eval_acc1es`` is
---------------------------------------
NASLib answers both ``Metric.VAL_ACCURACY`` and ``Metric.TEST_ACCURACY`` with ``eval_acc1es[-1]``.
The lists are the values of the NB201 record's ``eval_acc1es`` dict in order, and that dict holds,
at 200 epochs, ``x-valid@0..199`` then ``ori-test@199`` (``cifar10-valid``), and ``ori-test@0..199``
then ``x-valid@199``, ``x-test@199`` (``cifar100``, ``ImageNet16-120``). So, when a list has 200 +
k entries:

* ``cifar10-valid``: entries 0..199 are the ``x-valid`` curve; entry 200 (NASLib's ``[-1]``, its
  "validation" *and* "test" accuracy) is **``ori-test``** (the CIFAR-10 test set, 10,000 images);
* ``cifar100`` / ``ImageNet16-120``: entries 0..199 are the **``ori-test``** curve (valid + test
  halves together); entry 200 is ``x-valid``, entry 201 (NASLib's ``[-1]``) is **``x-test``**.

Evidence: NASLib's own published 200-epoch ``val_accuracy`` (NAS-Bench-Suite-Zero
``zc_nasbench201.json``, obtained through this query; embedded here as
``nb201_zc_suite_zero_725archs.csv.gz``) is a multiple of 1/10,000 for all 724 CIFAR-10 archs but
not of 1/25,000 (so ``ori-test``, not the 25,000-image ``x-valid``), a multiple of 1/5,000 for all
725 CIFAR-100 archs and of 1/3,000 for all 724 ImageNet16-120 archs (a 5,000 / 3,000-image half,
not the 10,000 / 6,000-image ``ori-test``): exactly the layout above.

The reader labels the columns accordingly and never aliases validation and test. A list of exactly
200 entries carries no such trailing values and its curve cannot be attributed to an eval set, so
its final value gets the split ``"naslib-eval"`` (NASLib's eval curve, set unknown).

Columns: ``Key(D, S, 200, "accuracy" | "loss")`` for ``S`` in ``train`` and the eval sets above;
``Key(D, "train", 200, "time")`` (s) = the sum of ``train_times`` if the file has it, else
``cost_info['train_time']`` x 200 (NASLib stores NB201's per-epoch training time there, which NB201
keeps constant over epochs; the product is NATS-Bench's ``'train-all-time'``); ``Key(D, "", 0,
"params" | "flops" | "latency")`` from ``cost_info``. Every column is ``(n_archs, 1)`` with the seed
label :data:`UNKNOWN_SEED` (-1): one run whose seed the file does not record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CorruptFileError, NasbenchToolsError
from ...spaces import nb201
from ..columns import Column, ColumnSet, Key
from ..safe_pickle import PickleStream, short_repr
from . import register_reader
from ._common import UNITS
from ._common import progress as _progress

__all__ = ["EVAL_LAYOUT", "UNKNOWN_SEED", "read_naslib_nb201"]

#: Seed label of NASLib's single run per architecture (the file does not say which seed it was).
UNKNOWN_SEED = -1
#: Split of the final eval value when the list has no trailing entries to place it.
UNKNOWN_SPLIT = "naslib-eval"
#: dataset -> (set of the per-epoch curve, sets of the trailing final values, in order)
EVAL_LAYOUT = {
    "cifar10-valid": ("x-valid", ("ori-test",)),
    "cifar10": ("ori-test", ()),
    "cifar100": ("ori-test", ("x-valid", "x-test")),
    "ImageNet16-120": ("ori-test", ("x-valid", "x-test")),
}
_LISTS = ("train_acc1es", "train_losses", "eval_acc1es", "eval_losses")
#: Schedule lengths (epochs) a NASLib NB201 record may have: NB201's two (the files hold 200).
SCHEDULES = (200, 12)


#: A pickle (protocol 2-5) of a dict whose first key is an NB201 arch string.
_HEAD = re.compile(
    rb"\x80[\x02-\x05](?:\x95.{8})?\}(?:\x94|q.|r.{4})?\(?(?:\x8c.|X.{4})"
    rb"\|(?:none|skip_connect|nor_conv_1x1|nor_conv_3x3|avg_pool_3x3)~0\|",
    re.DOTALL,
)


def _sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and _HEAD.match(head) is not None


def _arch_index(key: Any, where: str) -> int:
    try:
        if isinstance(key, str):
            return nb201.Arch.from_string(key).index
        if isinstance(key, Sequence) and len(key) == 6:
            return nb201.Arch.from_naslib(tuple(int(x) for x in key)).index
    except (NasbenchToolsError, TypeError, ValueError, OverflowError) as exc:
        raise CorruptFileError(
            f"{where}: key {short_repr(key)} is not an NB201 architecture "
            f"({short_repr(str(exc), 200)})"
        ) from None
    raise CorruptFileError(
        f"{where}: key {short_repr(key)} is neither an arch string nor a NASLib op tuple"
    )


def _floats(seq: Any, what: str) -> np.ndarray:
    if isinstance(seq, Mapping) or isinstance(seq, str | bytes) or not hasattr(seq, "__len__"):
        raise CorruptFileError(f"{what}: expected a list of numbers, found {type(seq).__name__}")
    if not isinstance(seq, list | tuple) or not all(
        isinstance(x, float | int | np.floating | np.integer) and not isinstance(x, bool)
        for x in seq
    ):
        raise CorruptFileError(f"{what}: expected a flat list of numbers")
    try:
        arr = np.asarray(seq, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CorruptFileError(f"{what}: not a list of numbers ({exc})") from None
    if arr.ndim != 1:
        raise CorruptFileError(f"{what}: expected a flat list, found shape {arr.shape}")
    return arr


def _scalar(value: Any, what: str, nested: bool = True) -> float:
    if nested and isinstance(value, list | tuple):  # NB201 stores latency as a list of measurements
        vals = [_scalar(v, what, nested=False) for v in value]
        return float(np.mean(vals)) if vals else np.nan
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise CorruptFileError(f"{what}: expected a number, found {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise CorruptFileError(
            f"{what}: the integer {short_repr(value)} overflows a float"
        ) from None


def _extract(rec: Any, dataset: str, where: str) -> dict[tuple[str, str, int, str], float]:
    if not isinstance(rec, Mapping):
        raise CorruptFileError(f"{where}: expected a dict, found {type(rec).__name__}")
    for name in (*_LISTS, "cost_info"):
        if name not in rec:
            raise CorruptFileError(f"{where}: missing {name!r}")
    lists = {name: _floats(rec[name], f"{where}: {name}") for name in _LISTS}
    epochs = len(lists["train_acc1es"])
    if epochs not in SCHEDULES or len(lists["train_losses"]) != epochs:
        raise CorruptFileError(
            f"{where}: train_acc1es has {epochs} entries and train_losses "
            f"{len(lists['train_losses'])}; expected the same number, one per epoch of an NB201 "
            f"schedule {SCHEDULES}"
        )
    n_eval = len(lists["eval_acc1es"])
    if len(lists["eval_losses"]) != n_eval:
        raise CorruptFileError(
            f"{where}: eval_acc1es has {n_eval} entries but eval_losses {len(lists['eval_losses'])}"
        )
    curve, trailing = EVAL_LAYOUT[dataset]
    if n_eval == epochs + len(trailing):
        placed = [(curve, epochs - 1)] + [(s, epochs + i) for i, s in enumerate(trailing)]
    elif n_eval == epochs:
        placed = [(UNKNOWN_SPLIT, epochs - 1)]
    else:
        raise CorruptFileError(
            f"{where}: eval_acc1es has {n_eval} entries; for {dataset} with {epochs} epochs "
            f"expected {epochs + len(trailing)} (the {curve} curve then {list(trailing)}) or {epochs}"
        )
    last = epochs - 1
    out = {
        (dataset, "train", epochs, "accuracy"): lists["train_acc1es"][last],
        (dataset, "train", epochs, "loss"): lists["train_losses"][last],
    }
    for split, pos in placed:
        out[(dataset, split, epochs, "accuracy")] = lists["eval_acc1es"][pos]
        out[(dataset, split, epochs, "loss")] = lists["eval_losses"][pos]
    cost = rec["cost_info"]
    if not isinstance(cost, Mapping):
        raise CorruptFileError(f"{where}: cost_info is not a dict")
    for src, metric in (("params", "params"), ("flops", "flops"), ("latency", "latency")):
        if src not in cost:
            raise CorruptFileError(f"{where}: cost_info has no {src!r}")
        out[(dataset, "", 0, metric)] = _scalar(cost[src], f"{where}: cost_info[{src!r}]")
    if rec.get("train_times") is not None:
        times = _floats(rec["train_times"], f"{where}: train_times")
        if len(times) != epochs:
            raise CorruptFileError(
                f"{where}: train_times has {len(times)} entries, expected {epochs}"
            )
        out[(dataset, "train", epochs, "time")] = float(sum(times.tolist()))  # as NATS sums
    elif "train_time" in cost:
        per_epoch = _scalar(cost["train_time"], f"{where}: cost_info['train_time']")
        if per_epoch > 0:  # some NASLib-derived files write 0.0 for "not recorded"
            out[(dataset, "train", epochs, "time")] = per_epoch * epochs
    return out


@register_reader("naslib-nb201-pickle", "nb201", _sniff, "NASLib nb201_*_full_training.pickle")
def read_naslib_nb201(path: str | Path, *, progress: bool = True) -> ColumnSet:
    """Read one of NASLib's NB201 pickles (any of its datasets present)."""
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
        raise CorruptFileError(f"{src}: expected a non-empty {{arch: {{dataset: record}}}} dict")
    index = {key: _arch_index(key, src) for key in data}
    keys = np.array(sorted(set(index.values())), dtype=np.int64)
    if len(keys) != len(index):
        raise CorruptFileError(f"{src}: an architecture appears under two keys")
    row = {k: int(r) for r, k in enumerate(keys.tolist())}
    values: dict[tuple[str, str, int, str], np.ndarray] = {}
    for key in _progress(list(data), progress, f"reading {path.name}"):
        by_ds = data.pop(key)
        if not isinstance(by_ds, Mapping):
            raise CorruptFileError(
                f"{src}: the value of {short_repr(key)} is not a {{dataset: record}} dict"
            )
        r = row[index[key]]
        for dataset, rec in by_ds.items():
            if not isinstance(dataset, str) or dataset not in EVAL_LAYOUT:
                raise CorruptFileError(
                    f"{src}: arch {short_repr(key)} has dataset {short_repr(dataset)}; expected "
                    f"one of {list(EVAL_LAYOUT)}"
                )
            for k, v in _extract(rec, dataset, f"{src}: arch {short_repr(key)}, {dataset}").items():
                arr = values.get(k)
                if arr is None:
                    arr = values[k] = np.full(len(keys), np.nan)
                arr[r] = v
    source = f"{path.name} (NASLib pickle of NAS-Bench-201; one run per arch, seed not recorded)"
    columns = {
        Key(*k): Column(arr[:, None], (UNKNOWN_SEED,), UNITS[k[3]], source)
        for k, arr in sorted(values.items())
    }
    meta = {
        "source_name": path.name,
        "source_format": "naslib-nb201-pickle",
        "benchmark": "NAS-Bench-201 via NASLib (release not recorded in the file)",
        "seed_note": f"one run per arch; seed label {UNKNOWN_SEED} = not recorded in the file",
    }
    return ColumnSet("nb201", keys, columns, None, meta)
