"""The ABS reproduction (benchmarks/reproduce/abs.py) on its quick preset, and its shrinking rule
on hand-made operator scores.

End to end (8 NB201 classes built on digits, shared with the other scripts' tests): a run stopped
after a few units, with a torn journal line, resumes to a byte-identical results.json; every tau
is recomputed here with scipy from the journalled scores (angles, one-shot accuracies, DARTS
softmax weights, the seeded random numbers) and the store; the shrinking is redone here from
those scores by a naive implementation written independently of the script (architectures'
operators parsed from their NB201 strings, operator means and ranks by loops), and its judgement
(ground-truth top-k dropped) recounted by hand."""

from __future__ import annotations

import itertools
import json
import math

import _harness as H
import abs as abs_repro
import numpy as np
import pytest
import torch
from scipy import stats

EDGE_NAMES = ["0->1", "0->2", "1->2", "0->3", "1->3", "2->3"]
OP_NAMES = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


# --------------------------------------------------------------------------- naive references
def parse_ops(arch_string: str) -> list[int]:
    """Op index per edge (EDGE_NAMES order) from an NB201 string ``|op~0|+|op~0|op~1|+...|``."""
    found = {}
    for node, part in enumerate(arch_string.split("+"), 1):
        for tok in part.strip("|").split("|"):
            op, src = tok.split("~")
            found[f"{src}->{node}"] = OP_NAMES.index(op)
    return [found[e] for e in EDGE_NAMES]


def naive_means(values, ops) -> dict:
    """(edge, op) -> mean of ``values`` over the architectures holding it (absent when none)."""
    sums, counts = {}, {}
    for v, row in zip(values, ops):
        for e, o in enumerate(row):
            sums[(e, o)] = sums.get((e, o), 0.0) + float(v)
            counts[(e, o)] = counts.get((e, o), 0) + 1
    return {k: sums[k] / counts[k] for k in sums}


def naive_shrink(scores: dict, n_drop: int) -> list:
    """Visit operators from the lowest score (ties: edge, op); drop one while its edge still has
    another remaining operator."""
    remaining = dict(scores)
    dropped = []
    for key in sorted(scores, key=lambda k: (scores[k], k)):
        if len(dropped) == n_drop:
            break
        if sum(1 for k in remaining if k[0] == key[0]) > 1:
            dropped.append(key)
            del remaining[key]
    return dropped


def naive_ranks(gt_means: dict) -> dict:
    order = sorted(gt_means, key=lambda k: (-gt_means[k], k))
    return {k: r for r, k in enumerate(order, 1)}


PATHS = [(0, 3), (0, 2, 3), (0, 1, 2, 3), (0, 1, 3)]


def naive_angle(ref: dict, cur: dict, ops: list[int]) -> float:
    """ABS's angle by hand (method spec 3.2): every parameter outside the searchable cells, then
    per path and searchable cell the path's conv weights, a 1/9 pseudo-kernel per pooling edge,
    nothing for skip, the whole path left out when it holds ``none``; arccos of the cosine."""
    params = [k for k in ref if "running_" not in k and "num_batches" not in k]
    cells = sorted({int(k.split(".")[1]) for k in params if ".edges." in k})
    u = [ref[k].double().flatten() for k in params if ".edges." not in k]
    v = [cur[k].double().flatten() for k in params if ".edges." not in k]
    for path in PATHS:
        edges = [f"{b}<-{a}" for a, b in itertools.pairwise(path)]
        names = [f"{a}->{b}" for a, b in itertools.pairwise(path)]
        chosen = [OP_NAMES[ops[EDGE_NAMES.index(n)]] for n in names]
        if "none" in chosen:
            continue
        for c in cells:
            for edge, op in zip(edges, chosen):
                if op in ("nor_conv_1x1", "nor_conv_3x3"):
                    key = f"cells.{c}.edges.{edge}.{OP_NAMES.index(op)}.op.1.weight"
                    u.append(ref[key].double().flatten())
                    v.append(cur[key].double().flatten())
                elif op == "avg_pool_3x3":
                    out = ref[f"cells.{c}.edges.{edge}.3.op.1.weight"].shape[0]
                    u.append(torch.full((out * 9,), 1 / 9, dtype=torch.float64))
                    v.append(u[-1])
    a, b = torch.cat(u), torch.cat(v)
    return float(torch.arccos(torch.dot(a, b) / (a.norm() * b.norm())))


def as_keys(pairs) -> list:
    return [(EDGE_NAMES.index(e), OP_NAMES.index(o)) for e, o in pairs]


# --------------------------------------------------------------------------- pure functions
def test_shrink_drops_the_lowest_scored_operators_but_never_an_edges_last():
    s = np.arange(30, dtype=float).reshape(6, 5)  # edge 0 holds the 5 lowest scores
    dropped = abs_repro.shrink(s, 6)
    # edge 0's best (score 4) survives; the 6th drop is the next lowest elsewhere (score 5)
    assert dropped == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]
    assert abs_repro.shrink(s, 24)[-1] == (5, 3)  # 24 = 30 - 6 edges: every edge keeps one
    with pytest.raises(H.ReproductionError, match="only 24 of 30"):
        abs_repro.shrink(s, 25)


def test_shrink_leaves_unscored_operators_out_and_breaks_ties_by_edge_then_op():
    s = np.full((6, 5), 1.0)
    s[2, :] = np.nan  # an edge no architecture scored: nothing to drop or keep there
    s[3, 4] = 0.5
    got = abs_repro.shrink(s, 3)
    assert got == [(3, 4), (0, 0), (0, 1)]
    assert got == naive_shrink({(e, o): s[e, o] for e in range(6) for o in range(5)
                                if np.isfinite(s[e, o])}, 3)  # fmt: skip


def test_ground_truth_ranks_one_is_the_best_and_unscored_gets_zero():
    imp = np.array([[3.0, 1.0, np.nan, 2.0, 2.0]] + [[0.0] * 5] * 5)
    r = abs_repro.ground_truth_ranks(imp)
    assert r[0].tolist() == [1, 4, 0, 2, 3]
    assert sorted(r[r > 0].tolist()) == list(range(1, 30))


def test_judge_counts_the_ground_truth_top_k_including_rank_k():
    ranks = np.arange(1, 31).reshape(6, 5)  # operator (e, o) has rank 5e + o + 1
    got = abs_repro._judge([(0, 0), (1, 4), (2, 0), (5, 4)], ranks, 10)
    assert got["dropped_ranks"] == [1, 10, 11, 30]
    assert got["top_dropped"] == 2 and got["best_dropped"] is True
    assert got["dropped"] == [["0->1", "none"], ["0->2", "avg_pool_3x3"], ["1->2", "none"],
                              ["2->3", "avg_pool_3x3"]]  # fmt: skip
    assert abs_repro._judge([(0, 1)], ranks, 1)["top_dropped"] == 0


def test_usefulness_is_the_first_epoch_from_which_every_seed_stays_above_zero():
    def ep(*lows):
        return {"per_seed": {str(i): {"low": lo} for i, lo in enumerate(lows)}}

    by = {"1": ep(0.1, 0.2), "2": ep(0.1, -0.1), "4": ep(0.2, 0.1), "6": ep(0.3, 0.05)}
    assert abs_repro.usefulness(by, [1, 2, 4, 6]) == {"first_above_zero": 1, "useful_from": 4}
    by["6"] = ep(0.3, None)  # an undefined tau is not above zero
    assert abs_repro.usefulness(by, [1, 2, 4, 6]) == {"first_above_zero": 1, "useful_from": None}


def test_angle_useful_no_later_is_false_when_only_accuracy_becomes_useful():
    assert abs_repro._no_later(2, 4) is True and abs_repro._no_later(4, 2) is False
    assert abs_repro._no_later(2, None) is True and abs_repro._no_later(None, 2) is False
    assert abs_repro._no_later(None, None) is None


def test_checkpoints_must_end_at_the_last_epoch():
    spec = abs_repro.PRESETS.get("quick").config.supernet
    with pytest.raises(H.ReproductionError, match="ending at the supernet's last epoch"):
        abs_repro.ABSConfig(spec, abs_repro.MagnitudeSpec(), checkpoints=(1,))


def test_cpu_preset_is_nb201_fmnist_and_a_missing_file_fails_in_one_line(tmp_path, capsys):
    args = ["--preset", "cpu", "--out", str(tmp_path / "x")]
    assert abs_repro.PRESETS.get("cpu").ground_truth["nb201"].registered == "nb201-fmnist"
    code = H.main("abs", "", abs_repro.PRESETS, abs_repro.run,
                  [*args, "--ground-truth", "nb201=/no/such.h5"])  # fmt: skip
    assert code == 2 and "nb201=/no/such.h5: no such file" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_every_abs_preset_is_documented_serialisable_and_says_what_it_shrank():
    assert abs_repro.PRESETS.names() == ["cpu", "paper", "quick"]
    for name in abs_repro.PRESETS.names():
        p = abs_repro.PRESETS.get(name)
        d = json.loads(json.dumps(p.to_dict()))
        assert d["description"] and d["config"]["supernet"]["sampler"] == "spos"
        assert dict(p.config.supernet.sampler_options)["sharing"] == "per_cell"
    cpu, paper = abs_repro.PRESETS.get("cpu"), abs_repro.PRESETS.get("paper")
    assert cpu.shrunk and cpu.ground_truth["nb201"].registered == "nb201-fmnist"
    assert len(cpu.config.seeds) == 3 and cpu.config.n_drop == 20 and cpu.config.top == 10
    # ABS's NB201 settings (method spec 3.4 and 4.3)
    sp = paper.config.supernet
    assert (sp.epochs, sp.batch_size, sp.lr, sp.lr_min, sp.weight_decay) == (
        250, 64, 0.025, 0.001, 5e-4,
    )  # fmt: skip
    assert dict(sp.model) == {"C": 16, "N": 5} and len(paper.config.seeds) == 10
    assert (paper.config.calib_images, paper.config.calib_batch) == (20_000, 512)
    assert paper.config.calib_momentum == 0.1


# --------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def runs(tmp_path_factory, quick_cache):
    """``(results, full folder, resumed folder)``: one uninterrupted quick run, and one stopped
    after 5 new units (inside seed 0's checkpoints), given a torn line, and resumed."""
    base = tmp_path_factory.mktemp("abs")
    full = H.run_preset("abs", abs_repro.PRESETS, abs_repro.run, "quick", base / "full",
                        cache=quick_cache, progress=False)  # fmt: skip
    stopped = base / "stopped"
    rep = H.Reproduction("abs", abs_repro.PRESETS.get("quick"), stopped, cache=quick_cache,
                         progress=False, stop_after=5).open()  # fmt: skip
    with pytest.raises(H.SimulatedStop):
        abs_repro.run(rep)
    assert not (stopped / "results.json").exists()
    with open(rep.journal, "ab") as fh:
        fh.write(b'{"unit": "angle:spos-s0:e2", "result": {"ang')
    H.run_preset("abs", abs_repro.PRESETS, abs_repro.run, "quick", stopped, cache=quick_cache,
                 progress=False)  # fmt: skip
    return full, base / "full", stopped


def _journal(folder) -> dict:
    lines = (folder / "journal.jsonl").read_text().splitlines()[1:]
    return {r["unit"]: r["result"] for r in map(json.loads, lines)}


def _accs(j: dict, prefix: str) -> np.ndarray:
    units = sorted((k for k in j if k.startswith(prefix)), key=lambda k: int(k.rsplit(":", 1)[1]))
    return np.concatenate([j[k]["accuracy"] for k in units])


@pytest.fixture(scope="module")
def recomputed(runs, quick_cache):
    """Scores per (metric, seed, epoch), rebuilt from the journal alone; the store's y; the
    architectures' ops parsed from their strings."""
    from nasbench_tools.groundtruth.target import open_ground_truth
    from nasbench_tools.spaces.nb201 import Arch

    res, full, _ = runs
    g = res["provenance"]["ground_truth"]["nb201"]
    gt = open_ground_truth(str(quick_cache / g["source"]["file"]), progress=False)
    keys = res["setting"]["keys"]
    assert gt.archs.keys.tolist() == keys
    y = np.asarray(gt.vector(dataset="digits", split="valid", epochs=res["setting"]["epochs"]))
    ops = [parse_ops(Arch.from_index(k).to_string()) for k in keys]
    c = abs_repro.PRESETS.get("quick").config
    j = _journal(full)
    scores, mags = {}, {}
    for s in c.seeds:
        darts = j[f"darts:s{s}"]["magnitude"]
        for e in c.checkpoints:
            scores["angle", s, e] = np.asarray(j[f"angle:spos-s{s}:e{e}"]["angle"])
            scores["oneshot_recal", s, e] = _accs(j, f"eval:spos-s{s}:e{e}-recal:")
            scores["oneshot_norecal", s, e] = _accs(j, f"eval:spos-s{s}:e{e}-running:")
            m = darts[str(e)]
            mags[s, e] = m
            scores["magnitude", s, e] = np.array(
                [sum(math.log(m[i][o]) for i, o in enumerate(row)) for row in ops]
            )
            scores["random", s, e] = np.random.default_rng([c.random_seed, s, e]).random(len(y))
    return {"y": y, "ops": ops, "scores": scores, "mags": mags, "journal": j, "c": c}


def test_a_stopped_abs_run_resumes_to_the_same_results_json(runs):
    _, full, resumed = runs
    assert (resumed / "results.json").read_bytes() == (full / "results.json").read_bytes()
    units = [
        json.loads(x)["unit"] for x in (resumed / "journal.jsonl").read_text().splitlines()[1:]
    ]
    assert len(units) == len(set(units)), "a resumed run must not redo a journalled unit"


def test_every_tau_is_scipys_on_the_journalled_scores(runs, recomputed):
    res, _, _ = runs
    r, c = recomputed, recomputed["c"]
    ranking = res["measured"]["ranking"]
    assert set(ranking) == {"angle", "oneshot_recal", "oneshot_norecal", "magnitude", "random"}
    for (m, s, e), v in r["scores"].items():
        assert len(v) == len(r["y"]) == res["setting"]["n"] == 8
        got = ranking[m]["by_epoch"][str(e)]["per_seed"][str(s)]
        if np.ptp(v) == 0:
            assert got["value"] is None and "undefined" in got
        else:
            assert got["value"] == pytest.approx(stats.kendalltau(r["y"], v).statistic)
            assert got["low"] <= got["value"] <= got["high"]
    for m in ranking:
        for d in ranking[m]["by_epoch"].values():
            lows = [v["low"] for v in d["per_seed"].values()]
            assert d["seeds_above_zero"] == sum(lo is not None and lo > 0 for lo in lows)
    for m in ranking:
        for e in c.checkpoints:
            taus = [stats.kendalltau(r["y"], r["scores"][m, s, e]).statistic for s in c.seeds]
            d = ranking[m]["by_epoch"][str(e)]
            if not any(np.isnan(taus)):
                assert d["mean"] == pytest.approx(np.mean(taus))
                assert d["sd"] == pytest.approx(np.std(taus, ddof=1))
                assert d["sd_population"] == pytest.approx(np.std(taus, ddof=0))


def test_magnitudes_are_the_softmax_of_each_checkpoints_alpha(runs, recomputed):
    _, full, _ = runs
    for (s, e), m in recomputed["mags"].items():
        m = np.asarray(m)
        assert m.shape == (6, 5) and m.sum(axis=1) == pytest.approx(np.ones(6))
        path = full / "work" / "runs" / f"darts-s{s}" / "checkpoints" / f"epoch-{e:04d}.pt"
        alpha = _state(path)["alpha"].double()
        want = torch.exp(alpha) / torch.exp(alpha).sum(dim=1, keepdim=True)
        np.testing.assert_allclose(m, want.numpy(), rtol=1e-6)


def _scored(r, metric: str, seed: int, e: int, gt_means: dict) -> dict:
    j = r["journal"]
    if metric == "angle_all":
        table = j[f"angle:spos-s{seed}:e{e}"]["operator_angle_all"]
    elif metric == "magnitude":
        table = r["mags"][seed, e]
    else:
        return naive_means(r["scores"][metric, seed, e], r["ops"])
    return {k: table[k[0]][k[1]] for k in gt_means}  # only the operators the store holds


def test_shrinking_is_redone_by_hand_and_judged_by_hand(runs, recomputed):
    res, _, _ = runs
    r, c = recomputed, recomputed["c"]
    sh = res["measured"]["shrinking"]
    gt_means = naive_means(r["y"], r["ops"])
    ranks = naive_ranks(gt_means)
    assert sh["operators_scored"] == len(gt_means) == 21
    assert sh["n_drop"] == c.n_drop and sh["top"] == c.top
    assert sh["ground_truth_rank"] == {f"{EDGE_NAMES[e]} {OP_NAMES[o]}": rk
                                       for (e, o), rk in ranks.items()}  # fmt: skip
    last = c.checkpoints[-1]
    for m in abs_repro.SHRINK_METRICS:
        for s in c.seeds:
            got = sh["by_metric"][m]["per_seed"][str(s)]
            scores = _scored(r, m, s, last, gt_means)
            dropped = as_keys(got["dropped"])
            # exactly the number asked, and no edge emptied
            assert len(dropped) == len(set(dropped)) == c.n_drop
            for e in {k[0] for k in scores}:
                assert any(k[0] == e and k not in dropped for k in scores), (m, s, e)
            # the lowest-scored: every droppable operator kept scores at least as high
            best = {e: max((k for k in scores if k[0] == e), key=lambda k: (scores[k], k))
                    for e in {k[0] for k in scores}}  # fmt: skip
            kept = [k for k in scores if k not in dropped and k != best[k[0]]]
            assert all(scores[k] >= max(scores[d] for d in dropped) for k in kept), (m, s)
            # the same operators in the same order as a naive implementation
            assert dropped == naive_shrink(scores, c.n_drop), (m, s)
            # judged by hand
            assert got["dropped_ranks"] == [ranks[k] for k in dropped]
            assert got["top_dropped"] == sum(ranks[k] <= c.top for k in dropped)
            assert got["best_dropped"] == any(ranks[k] == 1 for k in dropped)
        counts = [sh["by_metric"][m]["per_seed"][str(s)]["top_dropped"] for s in c.seeds]
        assert sh["by_metric"][m]["top_dropped"]["mean"] == pytest.approx(np.mean(counts))
    lo, hi = sh["random"]["interval"]
    assert 0 <= lo <= sh["random"]["mean_top_dropped"] <= hi <= c.top


def test_abs_results_json_has_paper_numbers_verdict_detectable_difference_and_outputs(runs):
    res, full, _ = runs
    assert res["reproduction"] == "abs" and res["preset"] == "quick"
    assert res["paper"] == abs_repro.PAPER
    assert res["paper"]["kendall_tau_10_seeds"]["cifar10"]["angle"] == [0.575, 0.002]
    assert res["paper"]["shrinking_top10_dropped"]["angle"] == [1, 1, 1]
    d = res["detectable_difference"]
    assert len(d["pairs"]) == 2 and d["n"] == 8
    assert d["half_width"] is None or 0 < d["half_width"] < 2
    assert set(res["claim_held"]) >= {"angle_ranks_better", "angle_shrinking_drops_fewest_top"}
    last = str(abs_repro.PRESETS.get("quick").config.checkpoints[-1])
    a = res["measured"]["ranking"]["angle"]["by_epoch"][last]["mean"]
    assert f"angle {a:.3f}" in res["verdict"]
    prov = res["provenance"]
    assert (
        prov["seeds"] == [0, 1] and prov["ground_truth"]["nb201"]["protocol"]["dataset"] == "digits"
    )
    for f in ("tables/tau.md", "tables/shrinking.md", "figures/tau_by_epoch.png",
              "figures/shrinking.png", "scores/archs_final.csv", "report/index.html"):  # fmt: skip
        assert (full / f).is_file(), f
    assert res["figures"] == [
        "figures/tau_by_epoch.png", "figures/tau_by_epoch.pdf",
        "figures/shrinking.png", "figures/shrinking.pdf",
    ]  # fmt: skip


def test_angles_use_the_w0_reference_and_every_checkpoint(runs, recomputed):
    _, full, _ = runs
    j, c = recomputed["journal"], recomputed["c"]
    for s in c.seeds:
        ckpts = sorted(
            p.name for p in (full / "work" / "runs" / f"spos-s{s}" / "checkpoints").iterdir()
        )
        every = [f"epoch-{e:04d}.pt" for e in range(1, c.supernet.epochs + 1)]
        assert ckpts == [*every, "init.pt"], "every epoch's weights are kept"
        first, last = c.checkpoints[0], c.checkpoints[-1]
        a1, a2 = (np.asarray(j[f"angle:spos-s{s}:e{e}"]["angle"]) for e in (first, last))
        assert j[f"angle:spos-s{s}:e{first}"]["reference"] == "w0"
        assert (a1 > 0).all() and (a2 > 0).all() and not np.allclose(a1, a2)
    # the recalibrated evaluations are not the running-statistics ones
    r = recomputed["scores"]
    assert any(not np.array_equal(r["oneshot_recal", s, e], r["oneshot_norecal", s, e])
               for s in c.seeds for e in c.checkpoints)  # fmt: skip


def _state(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def test_angles_are_abs_by_hand_against_w0_at_each_checkpoint(runs, recomputed):
    _, full, _ = runs
    r, c = recomputed, recomputed["c"]
    keys = runs[0]["setting"]["keys"]
    for s in c.seeds:
        folder = full / "work" / "runs" / f"spos-s{s}" / "checkpoints"
        ref = _state(folder / "init.pt")
        for e in c.checkpoints:
            cur = _state(folder / f"epoch-{e:04d}.pt")
            got = r["scores"]["angle", s, e]
            for i in (0, 3, 7):
                assert got[i] == pytest.approx(naive_angle(ref, cur, r["ops"][i]), rel=1e-9), (
                    keys[i], s, e,
                )  # fmt: skip


def test_one_shot_accuracies_use_the_checkpoint_and_images_asked_for(runs, recomputed, quick_cache):
    """The first child at the first checkpoint of seed 0 (not the newest weights), evaluated here with the supernet library directly:
    the first 128 validation images of the store's own split, BN recalibrated on its first 128
    training images (reset, cumulative average) or left as trained."""
    import dataclasses

    from nasbench_tools.buildbench import Protocol, load_splits
    from nasbench_tools.supernet import BNRecalibration, evaluate, load_supernet

    res, full, _ = runs
    c = recomputed["c"]
    protocol = Protocol(**res["provenance"]["ground_truth"]["nb201"]["protocol"])
    splits = load_splits(protocol)
    valid = dataclasses.replace(splits.valid, images=splits.valid.images[: c.eval_images],
                                labels=splits.valid.labels[: c.eval_images])  # fmt: skip
    train = dataclasses.replace(splits.train, images=splits.train.images[: c.calib_images],
                                labels=splits.train.labels[: c.calib_images])  # fmt: skip
    e = c.checkpoints[0]
    assert e < c.supernet.epochs
    model, _ = load_supernet(full / "work" / "runs" / "spos-s0", f"epoch-{e:04d}")
    choice = model.choice_of(int(res["setting"]["keys"][0]))
    recal = BNRecalibration(n_images=c.calib_images, batch_size=256, momentum=None, reset=True)
    want = evaluate(model.eval(), choice, valid, recalibrate=recal, calibration_images=train)
    assert recomputed["scores"]["oneshot_recal", 0, e][0] == pytest.approx(want["accuracy"])
    want = evaluate(model.eval(), choice, valid, recalibrate=None)
    assert recomputed["scores"]["oneshot_norecal", 0, e][0] == pytest.approx(want["accuracy"])


def test_score_tables_hold_the_recomputed_scores(runs, recomputed):
    from nasbench_tools.scores import ScoreTable

    _, full, _ = runs
    c = recomputed["c"]
    for e in c.checkpoints:
        name = "archs_final.csv" if e == c.checkpoints[-1] else f"archs_epoch{e}.csv"
        table = ScoreTable.read(full / "scores" / name)
        assert table.keys.tolist() == runs[0]["setting"]["keys"]
        for (m, s, ep), v in recomputed["scores"].items():
            if ep == e:
                np.testing.assert_allclose(table[f"{m} s{s}"], v, rtol=1e-12, err_msg=m)
