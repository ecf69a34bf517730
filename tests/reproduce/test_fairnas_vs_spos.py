"""FairNAS vs SPOS (benchmarks/reproduce/fairnas_vs_spos.py) on its quick preset: the budgets it
reports are what the trainer was fed (images drawn from the loader, forward/backward passes,
steps), counted here by spies on the trainer, and they match per compared pair; the update
coverage is the spies' count of non-zero gradients and of switched-on ops; the taus are the
journalled one-shot accuracies against the store, recomputed with scipy; a run stopped (seed 1
lost, one supernet killed after its first epoch, a torn journal line) resumes to a
byte-identical results.json."""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict

import _harness as H
import _supernets as S
import fairnas_vs_spos as F
import numpy as np
import pytest
import torch
from scipy import stats

from nasbench_tools.supernet import train as train_mod


class BudgetSpy:
    """Counts, per training run (sampler, epochs, seed), what the trainer did: images in the
    batches its loader yielded, training forward passes and their images, optimizer steps, the
    switched-on paths of every pass, and per op parameter tensor the steps whose gradient had a
    non-zero entry."""

    def __init__(self, mp: pytest.MonkeyPatch):
        self.runs: dict = defaultdict(
            lambda: {
                "drawn": 0,
                "passes": 0,
                "passed_images": 0,
                "steps": 0,
                "draws": None,
                "updates": Counter(),
            }
        )
        self._params: dict[int, tuple] = {}
        build, batches, sgd_step = train_mod._build, train_mod._epoch_batches, torch.optim.SGD.step

        def key(c):
            return (c.sampler, c.epochs, c.seed)

        def spy_build(c, data):
            model, sampler = build(c, data)
            k = key(c)
            for name, p in model.named_parameters():  # all: ids of freed models get reused
                self._params[id(p)] = (k, name if ".edges." in name else None)

            def on_forward(module, args, k=k):
                if module.training and torch.is_grad_enabled():
                    rec = self.runs[k]
                    rec["passes"] += 1
                    rec["passed_images"] += int(args[0].shape[0])
                    space = module.space
                    on = np.broadcast_to(
                        np.asarray(args[1]) != -1,
                        (space.num_cells, space.num_blocks, space.num_paths),
                    ).astype(np.int64)
                    rec["draws"] = on if rec["draws"] is None else rec["draws"] + on

            model.register_forward_pre_hook(on_forward)
            return model, sampler

        def spy_batches(run, epoch):
            rec = self.runs[key(run.c)]
            for x, y in batches(run, epoch):
                rec["drawn"] += int(y.shape[0])
                yield x, y

        def spy_step(opt, *args, **kwargs):
            seen = set()
            for g in opt.param_groups:
                for p in g["params"]:
                    if id(p) not in self._params:
                        continue
                    k, name = self._params[id(p)]
                    seen.add(k)
                    if name is not None and p.grad is not None and bool(p.grad.ne(0).any()):
                        self.runs[k]["updates"][name] += 1
            for k in seen:
                self.runs[k]["steps"] += 1
            return sgd_step(opt, *args, **kwargs)

        mp.setattr(train_mod, "_build", spy_build)
        mp.setattr(train_mod, "_epoch_batches", spy_batches)
        mp.setattr(torch.optim.SGD, "step", spy_step)


def _journal(folder) -> dict:
    lines = (folder / "journal.jsonl").read_text().splitlines()[1:]
    return {r["unit"]: r["result"] for r in map(json.loads, lines)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, quick_cache):
    """The quick preset run once under the spies, and a copy of it stopped and resumed."""
    base = tmp_path_factory.mktemp("fairnas")
    full = base / "full"
    with pytest.MonkeyPatch.context() as mp:
        spy = BudgetSpy(mp)
        res = H.run_preset(F.SCRIPT, F.PRESETS, F.run, "quick", full, cache=quick_cache,
                           progress=False)  # fmt: skip
    # the state a kill during seed 1 leaves: seed 1's units not journalled, two of its supernets
    # never started, the third (5 epochs) stopped after its first epoch, a torn last line
    stopped = base / "stopped"
    shutil.copytree(full, stopped)
    for name in ("results.json", "timing.json"):
        (stopped / name).unlink()
    for name in ("report", "scores"):
        shutil.rmtree(stopped / name)
    lines = (stopped / "journal.jsonl").read_text().splitlines(keepends=True)
    keep = [lines[0]] + [x for x in lines[1:] if json.loads(x)["unit"].split(":")[1].endswith("s0")]
    (stopped / "journal.jsonl").write_text("".join(keep) + '{"unit": "train:x", "result": {"ep')
    runs_dir = stopped / "work" / "runs"
    shutil.rmtree(runs_dir / "fairnas-s1")
    shutil.rmtree(runs_dir / "spos-s1")
    (runs_dir / "spos-long-s1" / "checkpoints" / "epoch-0005.pt").unlink()
    rep = H.Reproduction(F.SCRIPT, F.PRESETS.get("quick"), stopped, cache=quick_cache,
                         progress=False, stop_after=1).open()  # fmt: skip
    with pytest.raises(H.SimulatedStop):
        F.run(rep)
    H.run_preset(F.SCRIPT, F.PRESETS, F.run, "quick", stopped, cache=quick_cache, progress=False)
    return res, full, stopped, spy


def test_a_stopped_run_resumes_to_the_same_results_json(runs):
    _, full, stopped, _ = runs
    assert (stopped / "results.json").read_bytes() == (full / "results.json").read_bytes()
    units = [
        json.loads(x)["unit"] for x in (stopped / "journal.jsonl").read_text().splitlines()[1:]
    ]
    assert len(units) == len(set(units)), "a resumed run must not redo a journalled unit"
    log = (stopped / "work" / "runs" / "spos-long-s1" / "log.jsonl").read_text().splitlines()
    starts = [r for r in map(json.loads, log) if r["event"] == "start"]
    assert starts[-1]["resumed"] and starts[-1]["epoch"] == 1  # continued, not restarted


def _run_key(res, name: str, seed: str):
    sampler = F.SAMPLER_OF[name]
    return (sampler, res["plan"]["runs"][name], int(seed))


def test_budgets_are_what_the_trainer_was_fed_and_match_per_pair(runs):
    res, full, _, spy = runs
    plan = res["plan"]
    assert plan["passes_per_batch"] == 5
    assert plan["runs"] == {"fairnas": 1, "spos": 1, "spos-long": 5}
    j = _journal(full)
    for what, key in (("equal_images", "drawn"), ("equal_passes", "passes")):
        check = res["budget_check"][what]
        a, b = check["pair"]
        assert check["matched_on"] == {"drawn": "images", "passes": "passes"}[key]
        for seed, row in check["per_seed"].items():
            for name in (a, b):
                fed = spy.runs[_run_key(res, name, seed)]
                assert row[name]["images"] == fed["drawn"], (what, name)
                assert row[name]["passes"] == fed["passes"], (what, name)
                assert row[name]["steps"] == fed["steps"], (what, name)
                budget = j[f"budget:{name}-s{seed}"]
                assert (budget["images"], budget["passes"]) == (fed["drawn"], fed["passes"])
            assert row["matched"] is True
            # the pair's budget is equal in what the spies counted, not only in the log
            assert spy.runs[_run_key(res, a, seed)][key] == spy.runs[_run_key(res, b, seed)][key]
    for seed in ("0", "1"):
        fair = spy.runs[_run_key(res, "fairnas", seed)]
        spos = spy.runs[_run_key(res, "spos", seed)]
        assert fair["steps"] == spos["steps"] == 256 // 32
        assert fair["passes"] == 5 * spos["passes"]  # FairNAS: 5 passes over one batch
        assert fair["passed_images"] == 5 * fair["drawn"] and spos["passed_images"] == spos["drawn"]


def test_a_budget_mismatch_stops_the_run_naming_both_numbers():
    budgets = {"0": {"fairnas": {"images": 256, "passes": 40, "steps": 8},
                     "spos": {"images": 256, "passes": 8, "steps": 8},
                     "spos-long": {"images": 1280, "passes": 35, "steps": 35}}}  # fmt: skip
    pairs = {"equal_images": ("fairnas", "spos"), "equal_passes": ("fairnas", "spos-long")}
    with pytest.raises(H.ReproductionError, match="fairnas logged 40 passes but spos-long 35"):
        F.check_budgets(budgets, pairs)
    budgets["0"]["spos-long"]["passes"] = 40
    assert F.check_budgets(budgets, pairs)["equal_passes"]["per_seed"]["0"]["matched"]


def test_update_coverage_is_the_spies_count_of_gradients_and_draws(runs):
    res, full, _, spy = runs
    j = _journal(full)
    from nasbench_tools.spaces.nb201 import EDGES, OPS

    for name in res["plan"]["runs"]:
        for seed in ("0", "1"):
            fed = spy.runs[_run_key(res, name, seed)]
            budget = j[f"budget:{name}-s{seed}"]
            assert budget["op_updates"] == dict(fed["updates"]) | {
                n: 0 for n in budget["op_updates"] if n not in fed["updates"]
            }
            assert np.array_equal(np.array(budget["op_draws"]), fed["draws"])
            cov = res["coverage"][name][seed]
            steps = fed["steps"]
            for row in cov["per_op"]:
                e, o = [f"{s}->{d}" for s, d in EDGES].index(row["edge"]), OPS.index(row["op"])
                drawn = fed["draws"][:, e, o]
                assert row["drawn_per_step"] == pytest.approx(drawn.mean() / steps)
                counts = [
                    n for p, n in budget["op_updates"].items()
                    if f".edges.{EDGES[e][1]}<-{EDGES[e][0]}.{o}." in p
                ]  # fmt: skip
                if row["op"].startswith("nor_conv"):
                    assert row["updated_mean"] == pytest.approx(np.mean(counts))
                    assert row["updated_per_step"] == pytest.approx(np.mean(counts) / steps)
                else:
                    assert row["updated_per_step"] is None and not counts
    for seed in ("0", "1"):
        fair = res["coverage"]["fairnas"][seed]
        assert fair["every_op_drawn_every_step"]  # strict fairness, as the trainer ran it
        assert fair["drawn_min_over_ops"] == fair["drawn_max_over_ops"] == fair["steps"]
        assert not res["coverage"]["spos"][seed]["every_op_drawn_every_step"]


def test_coverage_per_op_by_hand():
    budget = {
        "steps": 4,
        "op_draws": np.zeros((2, 6, 5), dtype=int).tolist(),
        "op_updates": {"cells.0.edges.1<-0.2.op.1.weight": 3, "cells.2.edges.1<-0.2.op.1.weight": 1,
                       "cells.0.edges.3<-2.3.op.1.weight": 0, "cells.2.edges.3<-2.3.op.1.weight": 2},
        "update_coverage_mean": 0.5,
    }  # fmt: skip
    budget["op_draws"][0][0][2], budget["op_draws"][1][0][2] = 4, 2
    cov = F.coverage(budget)
    rows = {(r["edge"], r["op"]): r for r in cov["per_op"]}
    r = rows[("0->1", "nor_conv_1x1")]
    assert (r["updated_mean"], r["updated_per_step"], r["updated_min"], r["updated_max"]) == (
        2.0,
        0.5,
        1,
        3,
    )
    assert (r["drawn_mean"], r["drawn_per_step"], r["drawn_min"], r["drawn_max"]) == (3, 0.75, 2, 4)
    r = rows[("2->3", "nor_conv_3x3")]
    assert (r["updated_per_step"], r["updated_min"], r["updated_max"]) == (0.25, 0, 2)
    assert rows[("0->1", "skip_connect")]["updated_per_step"] is None
    assert (cov["updated_min_over_ops"], cov["updated_max_over_ops"]) == (0, 3)
    assert not cov["every_op_drawn_every_step"]
    with pytest.raises(H.ReproductionError, match="stem.0.weight"):
        F.coverage(budget | {"op_updates": {"stem.0.weight": 1}})


def _store(res, quick_cache):
    from nasbench_tools.groundtruth.target import open_ground_truth

    g = res["provenance"]["ground_truth"]["nb201"]
    return open_ground_truth(str(quick_cache / g["source"]["file"]), progress=False)


def test_taus_are_the_journalled_accuracies_against_the_store(runs, quick_cache):
    res, full, _, _ = runs
    gt = _store(res, quick_cache)
    y = np.asarray(gt.vector(dataset="digits", split="valid", epochs=2))
    assert [int(k) for k in gt.archs.keys] == res["setting"]["keys"] and len(y) == 8
    j = _journal(full)
    means = {}
    for name in res["plan"]["runs"]:
        per_seed = {}
        for seed in (0, 1):
            units = sorted((k for k in j if k.startswith(f"eval:{name}-s{seed}:recal:")),
                           key=lambda k: int(k.rsplit(":", 1)[1]))  # fmt: skip
            per_seed[seed] = np.concatenate([j[k]["accuracy"] for k in units])
            assert all(j[k]["calib_images"] == 128 for k in units)
            got = res["measured"]["tau"][name]["per_seed"][str(seed)]["value"]
            if np.ptp(per_seed[seed]) == 0:
                assert got is None
            else:
                assert got == pytest.approx(stats.kendalltau(y, per_seed[seed]).statistic)
        means[name] = np.mean(list(per_seed.values()), axis=0)
        got = res["measured"]["tau"][name]["seed_mean_score"]["value"]
        assert got == pytest.approx(stats.kendalltau(y, means[name]).statistic)
        assert res["measured"]["one_shot_seed_mean"][name] == pytest.approx(means[name].tolist())
    for what, comp in res["measured"]["comparisons"].items():
        a, b = comp["pair"]
        want = stats.kendalltau(y, means[a]).statistic - stats.kendalltau(y, means[b]).statistic
        t = comp["paired_test"]
        assert t["difference"] == pytest.approx(want), what
        assert t["half_width"] == pytest.approx((t["high"] - t["low"]) / 2, rel=0.5)
        held = comp["claim_held"]
        assert held is (True if t["low"] > 0 else False if t["high"] < 0 else None)
    seeds = gt.vector(dataset="digits", split="valid", epochs=2, seed="all").values
    agr = res["measured"]["ground_truth_seed_agreement"]["mean_seed_vs_seed"]["value"]
    assert agr == pytest.approx(stats.kendalltau(seeds[:, 0], seeds[:, 1]).statistic)
    assert res["paper"] == F.PAPER and res["verdict"].startswith("equal images")
    _provenance_and_report(res, full)


def _provenance_and_report(res, full):
    prov = res["provenance"]
    assert prov["package_version"] and prov["torch_version"] and prov["seeds"] == [0, 1]
    g = prov["ground_truth"]["nb201"]
    assert len(g["sha256"]) == 64 and g["protocol"]["dataset"] == "digits"
    assert all(len(v) == 64 for v in g["data_sha256"].values()) and g["data_sha256"]
    config = json.loads((full / "config.json").read_text())
    assert config["preset"]["config"] == json.loads(json.dumps(prov["config"]))
    assert (full / "report" / "index.md").is_file() and (full / "report" / "index.html").is_file()
    numbers = json.loads((full / "report" / "numbers.json").read_text())
    (section,) = numbers["sections"].values()
    assert section["ground_truth"]["dataset"] == "digits" and section["proxies"]


def test_plan_pairs_and_the_distinct_batches_case():
    quick = F.PRESETS.get("quick").config
    import dataclasses

    p = F.plan(dataclasses.replace(quick, batches="distinct"))
    assert p["passes_per_batch"] == 1 and p["runs"] == {"fairnas": 1, "spos": 1}
    assert p["equal_passes"] == ("fairnas", "spos")
    sup = dataclasses.replace(quick.supernet, epochs=10)
    p = F.plan(dataclasses.replace(quick, supernet=sup, passes_match="fairnas_shorter"))
    assert p["runs"] == {"fairnas": 10, "spos": 10, "fairnas-short": 2}
    assert p["equal_passes"] == ("fairnas-short", "spos")
    with pytest.raises(H.ReproductionError, match="epochs \\(1\\) must be a multiple"):
        F.plan(dataclasses.replace(quick, passes_match="fairnas_shorter"))
    spec = F._spec(quick, "spos-long", 5)
    assert spec.sampler == "spos" and spec.epochs == 5
    assert dict(F._spec(quick, "fairnas", 1).sampler_options)["fairness"] == "forward"


def test_cpu_preset_with_a_missing_ground_truth_file_fails_in_one_line(tmp_path, capsys):
    code = H.main(F.SCRIPT, F.__doc__, F.PRESETS, F.run, ["--preset", "cpu", "--out",
                  str(tmp_path / "o"), "--ground-truth", "nb201=/no/such.h5"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "nb201=/no/such.h5: no such file" in err
    assert F.PRESETS.get("cpu").ground_truth["nb201"].registered == "nb201-fmnist"
    assert not (tmp_path / "o").exists()


def test_training_budget_refuses_a_log_without_the_counts(tmp_path):
    rec = {"event": "epoch", "epoch": 1, "steps": 2, "images": 64}
    (tmp_path / "log.jsonl").write_text(json.dumps(rec) + "\n")
    with pytest.raises(H.ReproductionError, match="logged no"):
        S.training_budget(tmp_path)
