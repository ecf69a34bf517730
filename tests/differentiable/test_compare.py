"""Selections and operator scores against ground truth: operator importance as ABS Fig. 7 (mean
accuracy of the architectures holding each (edge, op)), Kendall tau over the 30 pairs, look-ups
labelled transfer, a sampled store that lacks the selection, and the proxies of a search run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import kendalltau

from nasbench_tools import load
from nasbench_tools.differentiable import lookup, operator_importance, operator_tau, run_search
from nasbench_tools.differentiable.compare import open_ground_truth
from nasbench_tools.groundtruth import Column, ColumnSet, Key
from nasbench_tools.groundtruth.store import write_store
from nasbench_tools.scores import ScoreTable
from nasbench_tools.spaces import get_space
from nasbench_tools.spaces.nb201 import all_archs

Q = {"dataset": "cifar10-valid", "split": "x-valid", "epochs": 200}


def test_operator_importance_is_the_mean_accuracy_of_the_archs_holding_each_op():
    gt = load("nb201")
    imp = operator_importance(gt, **Q)
    acc = gt.vector(**Q)
    archs = all_archs()
    for (edge, op), value, n in zip(imp.operators(), imp["gt_accuracy"], imp.meta["n_archs"]):
        src, dst = (int(v) for v in edge.split("->"))
        held = [a.edge_ops()[(src, dst)] == op for a in archs]  # brute force over Arch objects
        assert n == sum(held) == 3125
        assert value == pytest.approx(np.mean(acc[np.array(held)]))
    assert imp.meta["target"] == Q


def _sample_store(tmp_path, indices, values, dataset="fashion-mnist"):
    keys = np.array(sorted(indices))
    order = np.argsort(indices)
    cs = ColumnSet(
        "nb201", keys,
        {Key(dataset, "valid", 3, "accuracy"): Column(np.asarray(values, float)[order], unit="%"),
         Key(dataset, "test", 3, "accuracy"): Column(np.asarray(values, float)[order] - 1, unit="%")},
        meta={"benchmark": "test sample"},
    )  # fmt: skip
    return write_store(cs, tmp_path / "built.h5")


def test_importance_over_a_sampled_store_uses_the_archs_it_holds_with_a_value(tmp_path):
    idx = [5, 100, 2000, 7000, 15000, 15001]
    values = [80, 70, 60, 50, 40, np.nan]  # the last one failed to train: no value
    path = _sample_store(tmp_path, idx, values)
    gt = open_ground_truth(str(path))
    imp = operator_importance(gt, dataset="fashion-mnist", split="valid", epochs=3)
    archs = all_archs()
    ops = dict(zip(map(tuple, imp.operators()), imp["gt_accuracy"]))
    for e, (s, d) in enumerate([(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]):
        for op in {archs[i].ops[e] for i in idx}:
            held = [v for i, v in zip(idx, values) if archs[i].ops[e] == op and v == v]
            want = np.mean(held) if held else np.nan
            assert ops[(f"{s}->{d}", op)] == pytest.approx(want, nan_ok=True)
    assert imp.meta["archs_with_value"] == 5 and sum(imp.meta["n_archs"]) == 5 * 6


def test_operator_tau_is_scipys_tau_b_over_the_pairs_both_define():
    rng = np.random.default_rng(0)
    pairs = list(get_space("nb201").operators())
    gt_vals = rng.normal(size=30)
    gt_vals[4] = np.nan
    score = np.round(rng.normal(size=30), 1)  # ties
    score[7] = np.nan
    perm = rng.permutation(30)  # the score table lists the pairs in another order
    scores = ScoreTable("nb201", [pairs[i] for i in perm], {"s": score[perm]}, level="operator")
    imp = ScoreTable("nb201", pairs, {"gt_accuracy": gt_vals}, level="operator")
    got = operator_tau(scores, "s", imp)
    keep = ~np.isnan(gt_vals) & ~np.isnan(score)
    ref = kendalltau(score[keep], gt_vals[keep], variant="b")
    assert got["n"] == 28 and got["tau"] == pytest.approx(ref.statistic)
    assert got["pvalue"] == pytest.approx(ref.pvalue)


def test_lookup_labels_transfer_by_the_images_of_each_column(tmp_path):
    gt = load("nb201")
    arch = all_archs()[6111]
    rows = lookup(arch, gt, "cifar10")
    by = {(r["dataset"], r["split"], r["epochs"]): r for r in rows}
    r = by[("cifar10-valid", "x-valid", 200)]
    assert r["accuracy"] == pytest.approx(gt.query(6111, **Q)) and r["transfer"] is False
    assert by[("cifar100", "x-test", 12)]["transfer"] is True
    assert all(r["transfer"] for r in lookup(arch, gt, "fashion-mnist"))
    store = open_ground_truth(str(_sample_store(tmp_path, [5, 6111], [81.5, 90.25])))
    rows = {r["split"]: r for r in lookup(arch, store, "fashion-mnist")}
    assert rows["valid"]["accuracy"] == 90.25 and rows["test"]["accuracy"] == 89.25
    assert not rows["valid"]["transfer"] and rows["valid"]["held"]
    missing = lookup(all_archs()[7], store, "fashion-mnist")
    assert all(r["accuracy"] is None and not r["held"] for r in missing)


def test_search_run_writes_selection_lookups_taus_and_score_tables(tiny, tmp_path):
    from nasbench_tools.proxies import ScoreRequest, compute_scores
    from nasbench_tools.proxies.differentiable import operator_matrix

    store = _sample_store(tmp_path, [1, 2, 3], [50.0, 60.0, 70.0], dataset="digits")
    out = tmp_path / "run"
    res = run_search(tiny("darts-pt", epochs=1), out, progress=False,
                     ground_truths=("nb201", str(store)))  # fmt: skip
    result = json.loads((out / "result.json").read_text())
    assert result == res.result
    arch = result["selected"]["arch"]
    assert (out / "selected.txt").read_text() == arch + "\n"
    nb201, built = result["ground_truths"]
    assert nb201["ground_truth"] == "nb201" and all(r["transfer"] for r in nb201["lookup"])
    gt = load("nb201")
    for row in nb201["lookup"]:
        q = {k: row[k] for k in ("dataset", "split", "epochs")}
        assert row["accuracy"] == pytest.approx(gt.query(arch, **q))
    assert built["archs"] == 3 and not any(r["transfer"] for r in built["lookup"])
    held = result["selected"]["index"] in (1, 2, 3)
    assert all(r["held"] == held and (r["accuracy"] is None) != held for r in built["lookup"])
    tau = next(t for t in nb201["operator_tau"] if (t["dataset"], t["split"], t["epochs"]) ==
               ("cifar10-valid", "x-valid", 200))["tau"]  # fmt: skip
    ops = ScoreTable.read(out / "scores" / "operators.csv")
    assert ops.columns == ["magnitude", "perturbation", "projection_drop"]
    assert ops.meta["data"] == "digits" and ops.meta["method"] == "darts-pt"
    imp = operator_importance(gt, **Q)
    for col in ops.columns:
        assert tau[col] == operator_tau(ops, col, imp)
    # every projection's drops are the projection_drop rows of its edge
    drop = operator_matrix(ops, "projection_drop")
    for rec in result["projections"]:
        e = ["0->1", "0->2", "1->2", "0->3", "1->3", "2->3"].index(rec["edge"])
        assert drop[e].tolist() == pytest.approx(rec["drop"], nan_ok=True)
    # the architecture table and `nbt score`'s proxies agree with the operator table
    archs = ScoreTable.read(out / "scores" / "archs.csv")
    mats = {c: operator_matrix(ops, c) for c in ops.columns}
    for i in (0, 6111, 15624):
        a = all_archs()[i]
        pairs = list(enumerate(a.op_indices))
        assert archs["dnas_log_magnitude"][i] == pytest.approx(
            sum(np.log(mats["magnitude"][e, o]) for e, o in pairs)
        )
        for name, col in (("dnas_perturbation", "perturbation"),
                          ("dnas_projection_drop", "projection_drop")):  # fmt: skip
            assert archs[name][i] == pytest.approx(sum(mats[col][e, o] for e, o in pairs))
    keys = np.array([0, 6111, 15624])
    got = compute_scores(ScoreRequest(get_space("nb201"), keys, ("dnas_log_magnitude",
                         "dnas_perturbation", "dnas_projection_drop"), run=out))  # fmt: skip
    for name, v in got.items():
        np.testing.assert_array_equal(v, archs[name][keys])


def test_dnas_proxies_name_what_a_run_lacks(tiny, tmp_path):
    from nasbench_tools.proxies import ProxyError, ScoreRequest, compute_scores

    run_search(tiny("darts", epochs=1), tmp_path / "r", progress=False, ground_truths=())
    req = ScoreRequest(
        get_space("nb201"), np.array([0]), ("dnas_projection_drop",), run=tmp_path / "r"
    )
    with pytest.raises(ProxyError, match="projection_drop"):
        compute_scores(req)
    req = ScoreRequest(get_space("nb201"), np.array([0]), ("dnas_log_magnitude",), run=tmp_path)
    with pytest.raises(ProxyError, match="search-differentiable"):
        compute_scores(req)
