"""Score tables: embedded tables, key handling, duplicates, file round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nasbench_tools.errors import NasbenchToolsError, QueryError
from nasbench_tools.groundtruth import load
from nasbench_tools.scores import EMBEDDED_SCORES, ScoreTable, load_scores


@pytest.mark.parametrize("name", sorted(EMBEDDED_SCORES))
def test_every_embedded_table_loads(name):
    t = load_scores(name, dataset="cifar10" if name == "nb201-zc" else None)
    assert len(t) > 0 and t.columns
    assert all(v.dtype == np.float64 and v.shape == (len(t),) for v in t.scores.values())


def test_nb101_zero_cost_duplicates():
    t = load_scores("nb101-zc")
    assert len(t) == 500 and t.n_unique == 292
    assert "val_accuracy" in t.columns and "synflow" in t.columns


def test_nb201_zero_cost_counts():
    assert [
        len(load_scores("nb201-zc", dataset=d)) for d in ("cifar10", "cifar100", "ImageNet16-120")
    ] == [724, 725, 724]
    with pytest.raises(QueryError, match="pass dataset="):
        load_scores("nb201-zc")


def test_naswot_lookup_against_ground_truth():
    t = load_scores("nb201-naswot")
    assert np.isnan(t["naswot"]).sum() == 341
    y = t.ground_truth(load("nb201"), dataset="cifar10-valid", split="x-valid", epochs=200)
    assert y.shape == (15625,)
    assert t["naswot"][6111] == pytest.approx(-280.3686, abs=1e-4)


def test_round_trips(tmp_path):
    t = load_scores("nb101-zc")
    for name in ("z.csv", "z.csv.gz", "z.h5"):
        back = ScoreTable.read(t.write(tmp_path / name))
        assert back.space == "nb101"
        np.testing.assert_array_equal(back.keys, t.keys)
        for c in t.columns:
            np.testing.assert_array_equal(back[c], t[c])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.csv", "z.csv.gz", "z.h5"]


def test_arch_string_keys_and_errors(tmp_path):
    p = tmp_path / "s.csv"
    pd.DataFrame(
        {"arch_str": ["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "score": [1.0]}
    ).to_csv(p, index=False)
    t = ScoreTable.read(p)
    assert t.space == "nb201" and t.keys.tolist() == [load("nb201").archs.keys[0] * 0 + t.keys[0]]
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"name": ["a"], "score": [1.0]}).to_csv(bad, index=False)
    with pytest.raises(NasbenchToolsError, match="needs a key column"):
        ScoreTable.read(bad)
    with pytest.raises(QueryError, match="no column 'nope'"):
        t["nope"]
    with pytest.raises(NasbenchToolsError, match="no such score table"):
        ScoreTable.read(tmp_path / "missing.csv")
