"""Shared fixtures of the search tests: the NB201 protocol oracles (built once) and small
synthetic oracles for every registered space."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_tools.groundtruth import Column, ColumnSet, GroundTruth, Key, load
from nasbench_tools.groundtruth.benchmarks import BENCHMARKS
from nasbench_tools.search import CostSpec, Measure, Oracle, get_protocol
from nasbench_tools.spaces import get_space

#: Small options per registered strategy, so each does its real work within a few dozen queries
#: (tests parametrised over ``list_strategies()`` look a strategy up here: a strategy registered
#: without an entry fails them).
SMALL = {
    "random": {},
    "rea": {"population": 5},
    "reinforce": {},
    "local-search": {"num_init": 3},
    "weaknas": {"init_samples": 5, "per_iteration": 5, "top_k": 20},
}

#: The columns of the synthetic ground truths.
SIGNAL = Key("d", "x-valid", 12, "accuracy")
REPORT = Key("d", "ori-test", 200, "accuracy")
TIME = Key("d", "train", 200, "time")


@pytest.fixture(scope="session")
def nb201_oracle() -> Oracle:
    return get_protocol("nb201-cifar10").build()


@pytest.fixture(scope="session")
def weaknas_oracle() -> Oracle:
    return get_protocol("weaknas-nb201-cifar10").build()


def space_axis(space: str):
    """Keys (and NB101-style specs) of a pool for ``space``: the whole space where it is
    enumerable, else the axis of an embedded benchmark of that space."""
    sp = get_space(space)
    keys = sp.all_keys()
    if keys is not None:
        return keys, None
    names = BENCHMARKS.filter(lambda b: b.space == space and b.has_data)
    if not names:
        raise AssertionError(f"space {space!r}: neither enumerable nor embedded; add a fixture")
    gt = load(names[0])
    return gt.archs.keys, gt.archs.specs


def synthetic_gt(space: str, *, seed: int = 0, n: int | None = None) -> GroundTruth:
    """A ground truth of ``space`` with random signal, report (correlated) and time columns."""
    keys, specs = space_axis(space)
    if n is not None and n < len(keys):
        rows = np.sort(np.random.default_rng(seed).choice(len(keys), n, replace=False))
        keys = keys[rows]
        specs = None if specs is None else specs.take(rows)
    rng = np.random.default_rng(seed)
    sig = rng.uniform(50, 90, len(keys))
    rep = sig + rng.normal(0, 2, len(keys))
    cols = {
        SIGNAL: Column(sig, (), "%"),
        REPORT: Column(np.clip(rep, 0, 100), (), "%"),
        TIME: Column(rng.uniform(100, 300, len(keys)), (), "s"),
    }
    return GroundTruth.from_columnset(ColumnSet(space, keys, cols, specs), name=f"syn-{space}")


def synthetic_oracle(gt: GroundTruth) -> Oracle:
    return Oracle.build(
        Measure("syn", "d", "x-valid", 12),
        Measure("syn", "d", "ori-test", 200),
        CostSpec("syn", "d", 12),
        ground_truths={"syn": gt},
    )
