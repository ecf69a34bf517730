"""DARTS vs DARTS-PT (benchmarks/reproduce/darts_vs_dartspt.py) on its quick preset: DARTS's
selection is the argmax of the magnitudes in each run's operator table and DARTS-PT's is the
run's projection; each selection is looked up in the store (exact, isomorphic or not there,
never guessed), with its rank and percentile recomputed here; the operator-level taus are the
score tables against the mean accuracy of the store's architectures holding each (edge, op),
recomputed with scipy; a run stopped mid-search resumes to a byte-identical results.json."""

from __future__ import annotations

import dataclasses
import json
import shutil

import _harness as H
import darts_vs_dartspt as D
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nasbench_tools.spaces.nb201 import EDGES, OPS, Arch, isomorphism_class_ids

EDGE_NAMES = [f"{s}->{d}" for s, d in EDGES]


def _journal(folder) -> dict:
    lines = (folder / "journal.jsonl").read_text().splitlines()[1:]
    return {r["unit"]: r["result"] for r in map(json.loads, lines)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, quick_cache):
    """The quick preset run once, and a copy stopped during seed 1's search and resumed."""
    base = tmp_path_factory.mktemp("darts")
    full = base / "full"
    res = H.run_preset(D.SCRIPT, D.PRESETS, D.run, "quick", full, cache=quick_cache,
                       progress=False)  # fmt: skip
    # what a kill after seed 1's fifth epoch leaves: its checkpoints up to epoch 5, no selection
    # or scores yet, seed 1 not journalled, a torn last line
    stopped = base / "stopped"
    shutil.copytree(full, stopped)
    for name in ("results.json", "timing.json", "missing_archs.txt"):
        (stopped / name).unlink(missing_ok=True)
    for name in ("report", "scores"):
        shutil.rmtree(stopped / name)
    lines = (stopped / "journal.jsonl").read_text().splitlines(keepends=True)
    keep = [x for x in lines[1:] if json.loads(x)["unit"] == "search:s0"]
    (stopped / "journal.jsonl").write_text(lines[0] + "".join(keep) + '{"unit": "search:s1", "re')
    run1 = stopped / "work" / "runs" / "darts-pt-s1"
    for ckpt in sorted((run1 / "checkpoints").glob("epoch-*.pt"))[5:]:
        ckpt.unlink()
    shutil.rmtree(run1 / "scores")
    for name in ("result.json", "selected.txt"):
        (run1 / name).unlink()
    H.run_preset(D.SCRIPT, D.PRESETS, D.run, "quick", stopped, cache=quick_cache, progress=False)
    return res, full, stopped


def test_a_run_stopped_mid_search_resumes_to_the_same_results_json(runs):
    _, full, stopped = runs
    assert (stopped / "results.json").read_bytes() == (full / "results.json").read_bytes()
    units = [
        json.loads(x)["unit"] for x in (stopped / "journal.jsonl").read_text().splitlines()[1:]
    ]
    assert sorted(units) == ["search:s0", "search:s1"]
    log = (stopped / "work" / "runs" / "darts-pt-s1" / "log.jsonl").read_text().splitlines()
    starts = [r for r in map(json.loads, log) if r["event"] == "start"]
    assert starts[-1]["resumed"] and starts[-1]["epoch"] == 5  # continued from its checkpoint


def _operators(full, seed) -> pd.DataFrame:
    df = pd.read_csv(full / "work" / "runs" / f"darts-pt-s{seed}" / "scores" / "operators.csv")
    assert list(df["edge"]) == [e for e in EDGE_NAMES for _ in OPS]
    assert list(df["op"]) == list(OPS) * len(EDGES)
    return df


def _arch(ops) -> str:
    o = list(ops)
    return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"


def test_darts_takes_the_largest_magnitude_and_darts_pt_the_projection(runs):
    res, full, _ = runs
    per_seed = res["measured"]["selections"]["per_seed"]
    for seed in ("0", "1"):
        mag = _operators(full, seed)["magnitude"].to_numpy().reshape(6, 5)
        want = _arch(OPS[int(np.argmax(row))] for row in mag)
        assert per_seed[seed]["darts"]["arch"] == want
        run = full / "work" / "runs" / f"darts-pt-s{seed}"
        pt = (run / "selected.txt").read_text().strip()
        assert per_seed[seed]["darts_pt"]["arch"] == pt
        projections = res["measured"]["searches"][seed]["projections"]
        assert sorted(p["edge"] for p in projections) == sorted(EDGE_NAMES)  # each edge once
        ops = dict(zip(EDGE_NAMES, Arch.parse(pt).ops))
        assert all(ops[p["edge"]] == p["op"] for p in projections)
        for m in ("darts", "darts_pt"):
            a = Arch.parse(per_seed[seed][m]["arch"])
            free = sum(op in ("none", "skip_connect", "avg_pool_3x3") for op in a.ops)
            assert per_seed[seed][m]["parameter_free_ops"] == free


def _store(res, quick_cache):
    from nasbench_tools.groundtruth.target import open_ground_truth

    g = res["provenance"]["ground_truth"]["nb201"]
    return open_ground_truth(str(quick_cache / g["source"]["file"]), progress=False)


def test_each_selection_is_looked_up_in_the_store_never_guessed(runs, quick_cache):
    res, full, _ = runs
    gt = _store(res, quick_cache)
    keys = [int(k) for k in gt.archs.keys]
    y = np.asarray(gt.vector(dataset="digits", split="valid", epochs=2))
    iso = {k: Arch.from_index(k).unique_str() for k in keys}
    missing = set()
    for _seed, row in res["measured"]["selections"]["per_seed"].items():
        for m in ("darts", "darts_pt"):
            got, a = row[m], Arch.parse(row[m]["arch"])
            held = [k for k in keys if k == a.index] or [
                k for k in keys if iso[k] == a.unique_str()
            ]
            if not held:
                missing.add(a.to_string())
                assert got["in_store"] == "no" and got["accuracy"] is None
                assert got["rank"] is None and got["percentile"] is None
                continue
            v = y[keys.index(held[0])]
            assert got["in_store"] == ("exact" if held[0] == a.index else "isomorphic")
            assert got["store_index"] == held[0] and got["accuracy"] == pytest.approx(v)
            assert got["rank"] == 1 + sum(y > v)
            assert got["percentile"] == pytest.approx(100 * np.mean(y <= v))
    assert res["not_in_store"] == sorted(missing)
    listed = (full / "missing_archs.txt").read_text().split() if missing else []
    assert sorted(listed) == sorted(missing)
    if missing:
        assert "not in the built benchmark's sample" in res["verdict"]
        assert res["claim_held"]["selection"] in (True, False, None)


def test_lookup_exact_isomorphic_and_missing_by_hand():
    ids = np.asarray(isomorphism_class_ids())
    _, first, counts = np.unique(ids, return_index=True, return_counts=True)
    cls = int(np.flatnonzero(counts >= 2)[0])
    rep_key = int(first[cls])  # the class's smallest index, as a per-class sample holds it
    other = int(np.flatnonzero(ids == cls)[1])
    assert Arch.from_index(other).unique_str() == Arch.from_index(rep_key).unique_str()
    exact = 6111
    keys = np.array([rep_key, exact, 12000])
    y = np.array([80.0, 90.0, 85.0])
    got = D.lookup(Arch.from_index(exact), keys, y)
    assert (got["in_store"], got["accuracy"], got["rank"]) == ("exact", 90.0, 1)
    assert got["percentile"] == pytest.approx(100.0)
    got = D.lookup(Arch.from_index(other), keys, y)
    assert (got["in_store"], got["store_index"], got["accuracy"]) == ("isomorphic", rep_key, 80.0)
    assert got["index"] == other and (got["rank"], got["of"]) == (3, 3)
    assert got["percentile"] == pytest.approx(100 / 3)
    outside = next(k for k in range(15625) if ids[k] not in set(ids[keys]))
    got = D.lookup(Arch.from_index(outside), keys, y)
    assert got["in_store"] == "no" and got["accuracy"] is None and got["store_index"] is None
    # an added store of the same protocol answers for what the sample lacks; rank and percentile
    # are where its accuracy falls among the sample's 3
    added = (np.array([outside]), np.array([87.0]))
    got = D.lookup(Arch.from_index(outside), keys, y, added)
    assert (got["in_store"], got["store_index"], got["accuracy"]) == ("added", outside, 87.0)
    assert (got["rank"], got["of"]) == (2, 3) and got["percentile"] == pytest.approx(200 / 3)
    # the sample's own architecture wins over an added one
    got = D.lookup(Arch.from_index(exact), keys, y, (np.array([exact]), np.array([10.0])))
    assert (got["in_store"], got["accuracy"]) == ("exact", 90.0)
    far = next(k for k in range(15625) if ids[k] not in set(ids[keys]) | {ids[outside]})
    assert D.lookup(Arch.from_index(far), keys, y, added)["in_store"] == "no"


class _Rep:
    """What ``_added`` asks of a reproduction: two ground truths' provenance."""

    def __init__(self, main: dict, extra: dict):
        self._gts = {"nb201": main, "added": extra}

    def has_ground_truth(self, role):
        return self._gts[role] is not None

    def ground_truth(self, role):
        return type("GT", (), {"provenance": self._gts[role]})()

    def ground_truth_path(self, role):
        return f"/x/{role}.h5"


def test_an_added_store_of_another_protocol_seeds_or_data_is_refused_naming_it():
    from nasbench_tools.buildbench import get_protocol

    cpu = get_protocol("cpu-v1").to_dict()  # its curve_subset is the default (None)
    main = {"protocol": cpu, "seeds": [0, 1], "data_sha256": {"v": "a"}}
    assert D._added(_Rep(main, None), "d", 4) is None  # not given: no look-ups
    # a store written before a protocol option existed records no value for it: the default
    older = {k: v for k, v in cpu.items() if k != "curve_subset"}
    with pytest.raises(AttributeError):  # got past the comparison to the (absent) store
        D._added(_Rep(main | {"protocol": older}, main), "d", 4)
    for key, other in [("protocol", cpu | {"epochs": 5}), ("seeds", [0]),
                       ("data_sha256", {"v": "b"})]:  # fmt: skip
        with pytest.raises(H.ReproductionError, match=f"added=/x/added.h5: its {key}"):
            D._added(_Rep(main, main | {key: other}), "d", 4)


def test_an_added_store_is_compared_by_protocol_settings_and_refused_naming_the_preset():
    """The embedded stores built before the cpu preset changed record the name ``cpu`` with the
    settings now called ``cpu-v1``: an added store built with ``--preset cpu-v1`` is accepted
    (equal settings), and a refusal names the preset that has the benchmark's settings."""
    from nasbench_tools.buildbench import get_protocol

    v1 = get_protocol("cpu-v1").to_dict()
    main = {"protocol": v1 | {"name": "cpu"}, "seeds": [0, 1], "data_sha256": {"v": "a"}}
    with pytest.raises(AttributeError):  # same settings under another name: accepted
        D._added(_Rep(main, main | {"protocol": v1}), "d", 4)
    new = get_protocol("cpu").to_dict()
    with pytest.raises(H.ReproductionError, match="--preset cpu-v1 --archs-file") as err:
        D._added(_Rep(main, main | {"protocol": new}), "d", 4)
    # each differing setting named with both values, and only those
    assert "its protocol.epochs = 5, the benchmark's 4" in str(err.value)
    assert "its protocol.curve_subset = 2000, the benchmark's None" in str(err.value)
    assert "protocol.lr" not in str(err.value) and "its seeds" not in str(err.value)
    odd = main | {"protocol": v1 | {"name": "mine", "lr": 0.3}}
    with pytest.raises(H.ReproductionError, match="a protocol with the benchmark's settings"):
        D._added(_Rep(odd, main), "d", 4)


def test_operator_taus_are_the_score_tables_against_the_stores_operator_means(runs, quick_cache):
    res, full, _ = runs
    gt = _store(res, quick_cache)
    keys = [int(k) for k in gt.archs.keys]
    y = np.asarray(gt.vector(dataset="digits", split="valid", epochs=2))
    ops = np.array([Arch.from_index(k).op_indices for k in keys])
    imp = np.full((6, 5), np.nan)
    for e in range(6):
        for o in range(5):
            if (ops[:, e] == o).any():
                imp[e, o] = y[ops[:, e] == o].mean()
    got_imp = np.array(res["measured"]["operator_ground_truth"], dtype=float)
    assert np.allclose(got_imp, imp, equal_nan=True)
    tables = {s: _operators(full, s) for s in ("0", "1")}
    ok = np.isfinite(imp.reshape(-1))
    for t in tables.values():
        ok &= np.isfinite(t["magnitude"].to_numpy()) & np.isfinite(t["perturbation"].to_numpy())
    taus = res["measured"]["operator_tau"]
    assert taus["n_operators"] == int(ok.sum()) < 30  # 8 architectures cannot hold all 30
    means = {}
    for col in ("magnitude", "perturbation"):
        for s, t in tables.items():
            want = stats.kendalltau(imp.reshape(-1)[ok], t[col].to_numpy()[ok]).statistic
            assert taus[col]["per_seed"][s]["value"] == pytest.approx(want)
        means[col] = np.mean([t[col].to_numpy()[ok] for t in tables.values()], axis=0)
        want = stats.kendalltau(imp.reshape(-1)[ok], means[col]).statistic
        assert taus[col]["seed_mean_score"]["value"] == pytest.approx(want)
    diff = (
        taus["perturbation"]["seed_mean_score"]["value"]
        - taus["magnitude"]["seed_mean_score"]["value"]
    )
    assert taus["paired_test"]["difference"] == pytest.approx(diff)
    assert res["detectable_difference"]["half_width"] == taus["paired_test"]["half_width"]
    assert res["paper"] == D.PAPER
    prov = res["provenance"]
    g = prov["ground_truth"]["nb201"]
    assert len(g["sha256"]) == 64 and g["protocol"]["dataset"] == "digits"
    assert prov["seeds"] == [0, 1] and prov["package_version"] and prov["torch_version"]
    config = json.loads((full / "config.json").read_text())
    assert config["preset"]["config"] == json.loads(json.dumps(prov["config"]))
    numbers = json.loads((full / "report" / "numbers.json").read_text())
    (section,) = numbers["sections"].values()
    assert section["ground_truth"]["dataset"] == "digits" and section["proxies"]


def test_the_search_runs_on_the_benchmarks_data_and_must_select_by_projection():
    from nasbench_tools.buildbench import get_protocol

    protocol = get_protocol("quick").replace(split_seed=3)
    quick = D.PRESETS.get("quick").config
    cfg = D.search_config(quick, protocol, seed=1).resolved()
    assert (cfg.dataset, cfg.data_seed, cfg.seed, cfg.method) == ("digits", 3, 1, "darts-pt")
    assert (cfg.resize, cfg.channels) == (protocol.image_size, protocol.channels)
    assert (cfg.subset, cfg.valid_subset, cfg.C) == (64, 64, 4)
    with pytest.raises(H.ReproductionError, match="'darts-nb201'"):
        D.search_config(dataclasses.replace(quick, preset="darts-nb201"), protocol, seed=0)
    with pytest.raises(H.ReproductionError, match="darts-pt-fixed-alpha"):
        D.search_config(dataclasses.replace(quick, preset="darts-pt-fixed-alpha-nb201"),
                        protocol, seed=0)  # fmt: skip


def test_cpu_preset_with_a_missing_ground_truth_file_fails_in_one_line(tmp_path, capsys):
    code = H.main(D.SCRIPT, D.__doc__, D.PRESETS, D.run, ["--preset", "cpu", "--out",
                  str(tmp_path / "o"), "--ground-truth", "nb201=/no/such.h5"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "nb201=/no/such.h5: no such file" in err
    assert D.PRESETS.get("cpu").ground_truth["nb201"].registered == "nb201-fmnist"
    assert not (tmp_path / "o").exists()
