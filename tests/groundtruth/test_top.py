"""GroundTruth.top and readable table() column names: the k best architectures by one column."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_tools.errors import QueryError
from nasbench_tools.groundtruth import GroundTruth, load
from nasbench_tools.spaces.nb201 import Arch

C10 = dict(dataset="cifar10-valid", split="x-valid", epochs=200)


@pytest.fixture(scope="module")
def gt() -> GroundTruth:
    return load("nb201")


def test_top_of_cifar10_valid_starts_with_the_known_best(gt):
    # 6111 is the best cifar10-valid x-valid arch of the seed mean (the data's provenance notes)
    top = gt.top(3, **C10)
    assert list(top.index) == [1, 2, 3] and top.index.name == "rank"
    assert top["index"].iloc[0] == 6111
    assert top["arch_str"].iloc[0] == Arch.from_index(6111).to_string()
    col = "cifar10-valid x-valid 200 epochs accuracy"
    assert top[col].iloc[0] == pytest.approx(91.6067, abs=1e-4)
    # oracle: Python's sort of every (value, index) pair, best first, ties by index
    v = gt.vector(**C10)
    expected = sorted(range(len(v)), key=lambda i: (-v[i], i))[:3]
    assert top["index"].tolist() == expected
    assert top[col].tolist() == [v[i] for i in expected]


def test_top_by_one_seed_ranks_that_seed(gt):
    top = gt.top(2, seed=777, **C10)
    v = gt.vector(seed=777, **C10)
    assert top["index"].tolist() == sorted(range(len(v)), key=lambda i: (-v[i], i))[:2]
    assert top.columns[-1].endswith("seed 777")


def test_top_as_a_share_of_the_architectures(gt):
    # K = 1% of 15,625 = 156.25 -> 156; 5% -> 781 (the rule of P@top-5%)
    assert len(gt.top("1%", **C10)) == 156
    assert len(gt.top("5%", **C10)) == 781
    assert len(gt.top("0.1%", **C10)) == 16  # 15.625 rounds to 16, not floor 15
    assert len(gt.top(10**6, **C10)) == 15625  # at most every architecture


def test_direction_is_asked_for_metrics_other_than_accuracy_and_loss(gt):
    worst = gt.top(3, largest=False, **C10)
    v = gt.vector(**C10)
    assert worst["index"].tolist() == sorted(range(len(v)), key=lambda i: (v[i], i))[:3]
    with pytest.raises(QueryError, match="larger 'params' is better"):
        gt.top(3, dataset="cifar10-valid", metric="params")
    small = gt.top(3, dataset="cifar10-valid", metric="params", largest=False)
    big = gt.top(3, dataset="cifar10-valid", metric="params", largest=True)
    p = gt.vector(dataset="cifar10-valid", metric="params")
    assert small.iloc[:, -1].max() == pytest.approx(np.min(p))
    assert big.iloc[0, -1] == pytest.approx(np.max(p))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(k=0), "positive count"),
        (dict(k="0%"), r"percentage in \(0, 100\]"),
        (dict(k="150%"), r"percentage in \(0, 100\]"),
        (dict(k="x%"), r"percentage in \(0, 100\]"),
        (dict(k=True), "positive count"),
        (dict(k=3, seed="all"), "not 'all'"),
        (dict(k=3, largest="yes"), "True or False"),
    ],
)
def test_top_refuses_bad_arguments_naming_them(gt, kwargs, match):
    with pytest.raises(QueryError, match=match):
        gt.top(**kwargs, **C10)


def test_table_columns_by_readable_label_or_given_name(gt):
    df = gt.table(columns=[C10, dict(dataset="cifar10-valid", metric="params")], names="readable")
    assert list(df.columns) == [
        "arch_str",
        "cifar10-valid x-valid 200 epochs accuracy",
        "cifar10-valid params",
    ]
    named = gt.table(
        columns=[C10 | {"name": "acc"}, dict(dataset="cifar10-valid", metric="params", name="p")]
    )
    assert list(named.columns) == ["arch_str", "acc", "p"]
    assert named["acc"].to_numpy() == pytest.approx(gt.vector(**C10))
    per_seed = gt.table(columns=[C10], seed="all", names="readable")
    assert list(per_seed.columns)[1:] == [
        f"cifar10-valid x-valid 200 epochs accuracy seed {s}" for s in (777, 888, 999)
    ]
    with pytest.raises(QueryError, match="two columns are named 'a'"):
        gt.table(
            columns=[C10 | {"name": "a"}, dict(dataset="cifar10-valid", metric="params", name="a")]
        )
    with pytest.raises(QueryError, match="names must be"):
        gt.table(columns=[C10], names="pretty")
    with pytest.raises(QueryError, match="name must be a non-empty str"):
        gt.table(columns=[C10 | {"name": ""}])
