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


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "ImageNet16-120"])
def test_zc_failure_sentinels_become_nan_with_counts(dataset):
    # the defect: NASLib's -1e8 ("the proxy came out NaN or inf") entered correlations as a score
    from nasbench_tools.groundtruth.formats.embedded_csv import embedded_path

    raw = pd.read_csv(embedded_path("nb201_zc_suite_zero_725archs.csv.gz"))
    raw = raw[raw.dataset == dataset].reset_index(drop=True)
    t = load_scores("nb201-zc", dataset=dataset)
    kept = load_scores("nb201-zc", dataset=dataset, sentinels="keep")
    sent = t.meta["sentinels"]
    assert sent["policy"] == "exclude" and kept.meta["sentinels"]["policy"] == "keep"
    for p in t.meta["proxies"]:
        hit = (raw[p] == -1e8).to_numpy()
        assert sent["counts"][p] == kept.meta["sentinels"]["counts"][p] == hit.sum()
        assert np.isnan(t[p][hit]).all() and not np.isnan(t[p][~hit]).any()
        np.testing.assert_array_equal(t[p][~hit], raw[p].to_numpy()[~hit])
        np.testing.assert_array_equal(kept[p], raw[p].to_numpy())
    nonzero = {p: n for p, n in sent["counts"].items() if n}
    assert nonzero == {"jacov": 1, "epe_nas": 9 if dataset == "ImageNet16-120" else 1}
    # nwot = -inf (a singular kernel's log-determinant) is a real, lowest score: kept, counted
    assert t.meta["infinite"]["nwot"] == 1 and np.isneginf(t["nwot"]).sum() == 1


def test_nb101_zc_has_no_sentinels_and_bad_policy_is_refused():
    t = load_scores("nb101-zc")
    assert set(t.meta["sentinels"]["counts"].values()) == {0}
    with pytest.raises(NasbenchToolsError, match="sentinels must be one of"):
        load_scores("nb101-zc", sentinels="drop")
