"""`nbt query ... all --sort/--top`: the best architectures of one column, from the command line."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from nasbench_tools.cli.__main__ import main
from nasbench_tools.groundtruth import load

C10 = ["--dataset", "cifar10-valid", "--split", "x-valid", "--epochs", "200"]


def _csv(capsys, *argv) -> pd.DataFrame:
    assert main(["query", "nb201", *argv]) == 0
    return pd.read_csv(io.StringIO(capsys.readouterr().out))


def test_top_prints_the_k_best_ranked(capsys):
    df = _csv(capsys, "all", *C10, "--top", "5")
    v = load("nb201").vector(dataset="cifar10-valid", split="x-valid", epochs=200)
    assert df["rank"].tolist() == [1, 2, 3, 4, 5]
    assert df["index"].tolist() == sorted(range(len(v)), key=lambda i: (-v[i], i))[:5]
    assert df.columns[-1] == "cifar10-valid x-valid 200 epochs accuracy"


def test_top_share_and_ascending_sort(capsys):
    df = _csv(
        capsys, "all", "--dataset", "cifar100", "--metric", "params", "--sort", "asc", "--top", "1%"
    )
    p = load("nb201").vector(dataset="cifar100", metric="params")
    assert len(df) == 156 and df.iloc[:, -1].is_monotonic_increasing
    assert df.iloc[0, -1] == pytest.approx(p.min())


def test_sort_without_top_orders_every_row(capsys):
    df = _csv(capsys, "all", *C10, "--sort", "desc", "--names", "readable")
    assert len(df) == 15625 and df.iloc[0]["index"] == 6111
    assert df.iloc[:, -1].is_monotonic_decreasing


@pytest.mark.parametrize(
    "argv, match",
    [
        (["0", *C10, "--top", "3"], "give ARCH = all"),
        (["all", *C10, "--top", "3", "--seed", "all"], "not --seed all"),
        (["all", "--dataset", "cifar100", "--metric", "params", "--top", "3"], "--sort desc"),
        (["all", *C10, "--top", "0"], "positive count"),
    ],
)
def test_bad_top_requests_exit_2_with_a_reason(capsys, argv, match):
    assert main(["query", "nb201", *argv]) == 2
    assert match in capsys.readouterr().err
