"""The reproduction harness: the detectable tau difference against an independent computation
(scipy's Kendall tau on explicitly materialised resamples), the journal (a unit runs once, a
resumed run gets the record read back, a torn last line is dropped, other settings are refused
by name), a missing registered benchmark named in one line with the flag that replaces it."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import _harness as H
import depth_gap
import numpy as np
import pytest
from scipy import stats

from nasbench_tools.groundtruth.benchmarks import get_benchmark

ROOT = Path(__file__).resolve().parents[2]


def _independent_half_width(y, a, b, n_boot, seed, confidence=0.95):
    """Paired bootstrap by hand: the same resampled indices for both proxies, scipy's tau-b."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))
    diffs = np.array(
        [stats.kendalltau(y[i], a[i]).statistic - stats.kendalltau(y[i], b[i]).statistic
         for i in idx]
    )  # fmt: skip
    lo, hi = np.quantile(diffs[~np.isnan(diffs)], [(1 - confidence) / 2, (1 + confidence) / 2])
    return (hi - lo) / 2, diffs


def test_detectable_tau_difference_is_the_half_width_of_an_independent_paired_bootstrap():
    rng = np.random.default_rng(11)
    y = rng.normal(size=30)
    a = y + rng.normal(scale=0.5, size=30)
    b = np.round(y + rng.normal(scale=1.5, size=30), 1)  # ties on one side
    got = H.detectable_tau_difference(y, a, b, labels=("a", "b"), n_boot=300, seed=5)
    want, _ = _independent_half_width(y, a, b, 300, 5)
    assert got["half_width"] == pytest.approx(want, abs=1e-12)
    assert got["n"] == 30 and got["between"] == ["a", "b"]
    tau = stats.kendalltau
    assert got["difference"] == pytest.approx(tau(y, a).statistic - tau(y, b).statistic)
    # a half-width, not the whole width, and it shrinks as n grows
    assert got["high"] - got["low"] == pytest.approx(2 * want, abs=1e-12)
    big = rng.normal(size=300)
    wide = H.detectable_tau_difference(
        big, big + rng.normal(scale=0.5, size=300), big + rng.normal(scale=1.5, size=300),
        n_boot=300, seed=5,
    )  # fmt: skip
    assert wide["half_width"] < got["half_width"]


def test_detectable_difference_of_known_replicates_and_of_too_few():
    r = np.linspace(0.0, 1.0, 1001)
    assert H.detectable_difference(r) == pytest.approx((0.975 - 0.025) / 2)
    assert H.detectable_difference(r, confidence=0.5) == pytest.approx(0.25)
    with_nan = np.concatenate([r, [np.nan] * 50])
    assert H.detectable_difference(with_nan) == pytest.approx((0.975 - 0.025) / 2)
    assert np.isnan(H.detectable_difference([0.1, np.nan]))


def test_identical_proxies_have_no_resolvable_difference_and_a_constant_one_is_undefined():
    y = np.arange(10.0)
    a = y[::-1].copy()
    assert H.detectable_tau_difference(y, a, a, n_boot=50, seed=0)["half_width"] == 0.0
    out = H.detectable_tau_difference(y, a, np.ones(10), n_boot=50, seed=0)
    assert out["half_width"] is None and "constant" in out["undefined"]
    ci = H.metric_ci(y, np.ones(10), n_boot=50, seed=0)
    assert ci["value"] is None and "constant" in ci["undefined"]


def _rep(tmp_path, **kw):
    preset = H.with_config(depth_gap.PRESETS.get("quick"), **kw)
    return H.Reproduction("depth_gap", preset, tmp_path / "out", progress=False).open()


def test_a_unit_runs_once_and_a_resumed_run_gets_the_record_read_back(tmp_path):
    calls = []

    def fn():
        calls.append(1)
        return {"x": (1, 2), "y": 0.1 + 0.2}

    first = _rep(tmp_path).unit("u", fn)
    assert first == {"x": [1, 2], "y": 0.30000000000000004} and len(calls) == 1
    again = _rep(tmp_path)
    assert again.unit("u", fn) == first and len(calls) == 1
    with open(again.journal, "ab") as fh:  # a kill -9 in the middle of writing a line
        fh.write(b'{"unit": "v", "res')
    third = _rep(tmp_path)
    assert third.unit("u", fn) == first and len(calls) == 1
    assert third.unit("v", fn) == first and len(calls) == 2
    lines = third.journal.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2])["unit"] == "v"


def test_stop_after_stops_before_the_next_new_unit(tmp_path):
    rep = H.Reproduction(
        "depth_gap", depth_gap.PRESETS.get("quick"), tmp_path / "o", progress=False,
        stop_after=1,
    ).open()  # fmt: skip
    rep.unit("a", lambda: {})
    with pytest.raises(H.SimulatedStop):
        rep.unit("b", lambda: {})
    assert rep.unit("a", lambda: {"other": 1}) == {}  # from the journal


def test_a_journal_of_other_settings_is_refused_naming_the_setting(tmp_path):
    _rep(tmp_path)
    with pytest.raises(H.ReproductionError, match=r"preset\.config\.n_boot.*200.*7"):
        _rep(tmp_path, n_boot=7)
    _rep(tmp_path, n_boot=200)  # the same settings resume


def test_a_registered_benchmark_without_data_fails_in_one_line_naming_it(tmp_path, capsys):
    """A preset whose ground truth is a registered benchmark the package holds no data for
    (nats-sss: registered, nothing embedded) stops before creating anything, naming the
    benchmark and the flag that replaces it."""
    cpu = depth_gap.PRESETS.get("cpu")
    presets = H.PresetRegistry("depth_gap (test: a benchmark without data)")
    roles = dict(cpu.ground_truth) | {"n1": H.GroundTruthRole("n1", "nats-sss")}
    presets.register(dataclasses.replace(cpu, ground_truth=roles))
    out = tmp_path / "cpu"
    code = H.main("depth_gap", depth_gap.__doc__, presets, depth_gap.run,
                  ["--preset", "cpu", "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "'nats-sss'" in err and "--ground-truth n1=PATH" in err
    assert not out.exists(), "nothing is created before the ground truths are found"


def test_an_optional_role_is_absent_until_given_and_is_not_a_journal_setting(tmp_path):
    """An optional (look-up only) role: no source until given; giving it to a finished run
    reuses the journal (no unit runs again); its file is in config.json and the provenance."""
    preset = H.with_config(depth_gap.PRESETS.get("quick"))
    roles = dict(preset.ground_truth) | {"extra": H.GroundTruthRole("extra", optional=True)}
    preset = dataclasses.replace(preset, ground_truth=roles)
    rep = H.Reproduction("depth_gap", preset, tmp_path / "out", progress=False).open()
    assert not rep.has_ground_truth("extra") and rep.has_ground_truth("n1")
    calls = []
    rep.unit("u", lambda: calls.append(1) or {"x": 1})
    store = tmp_path / "extra.h5"
    store.write_bytes(b"not opened here")
    again = H.Reproduction("depth_gap", preset, tmp_path / "out", progress=False,
                           ground_truth={"extra": str(store)}).open()  # fmt: skip
    assert again.has_ground_truth("extra")
    assert again.unit("u", lambda: calls.append(1) or {"x": 2}) == {"x": 1} and calls == [1]
    sources = json.loads((tmp_path / "out" / "config.json").read_text())["ground_truth_sources"]
    assert sources["extra"] == {"kind": "path", "sha256": H._store_sha(str(store))}
    with pytest.raises(ValueError, match="no default"):
        H.GroundTruthRole("x", "nb201", optional=True)


def test_a_built_benchmarks_file_hash_is_a_journal_setting_and_its_name_a_ground_truth(
    tmp_path, monkeypatch
):
    """A registered built benchmark's data can change between releases under the same name: the
    journal records its file's sha256, so a run started on one file refuses to resume on
    another; ``--ground-truth ROLE=NAME`` picks another built benchmark by name."""
    from nasbench_tools._io import sha256_of
    from nasbench_tools.groundtruth.formats.embedded_csv import embedded_path

    preset = H.with_config(depth_gap.PRESETS.get("cpu"))
    out = tmp_path / "out"
    rep = H.Reproduction("depth_gap", preset, out, progress=False).open()
    sources = json.loads((out / "config.json").read_text())["ground_truth_sources"]
    n1 = embedded_path(get_benchmark("nb201-fmnist").store)
    assert sources["n1"] == {"kind": "registered", "name": "nb201-fmnist", "sha256": sha256_of(n1)}
    assert rep.ground_truth_provenance()["n1"]["sha256"] == sha256_of(n1)  # results.json's
    rep.unit("u", lambda: {"x": 1})
    other = embedded_path(get_benchmark("nb101-mixpath-fmnist").store)
    real = H._registered_store
    monkeypatch.setattr(
        H, "_registered_store", lambda name: other if name == "nb201-fmnist" else real(name)
    )
    with pytest.raises(H.ReproductionError, match="sha256"):
        H.Reproduction("depth_gap", preset, out, progress=False).open()
    monkeypatch.undo()
    named = H.Reproduction("depth_gap", preset, tmp_path / "named", progress=False,
                           ground_truth={"n1": "nb201-fmnist-n3"}).open()  # fmt: skip
    assert named.sources["n1"] == {"kind": "registered", "name": "nb201-fmnist-n3"}
    assert named.ground_truth_path("n1") == "nb201-fmnist-n3"


def test_bad_ground_truth_arguments_are_named(tmp_path, capsys):
    args = ["--preset", "cpu", "--out", str(tmp_path / "x")]
    for extra, text in [
        (["--ground-truth", "n1"], "expected ROLE=PATH"),
        (["--ground-truth", "n9=/nope"], "no ground truth 'n9'"),
        (["--ground-truth", "n1=/no/such.h5"], "n1=/no/such.h5: no such file"),
        (["--ground-truth", "n1=nb201"], "nor a built benchmark shipped"),  # no store file
    ]:
        code = H.main("depth_gap", "", depth_gap.PRESETS, depth_gap.run, args + extra)
        assert code == 2 and text in capsys.readouterr().err


def test_every_preset_of_every_script_is_documented_and_its_config_serialisable():
    import bender
    import mixpath

    for mod in (depth_gap, bender, mixpath):
        assert mod.PRESETS.names() == ["cpu", "paper", "quick"]
        for name in mod.PRESETS.names():
            p = mod.PRESETS.get(name)
            d = json.loads(json.dumps(p.to_dict()))
            assert d["description"] and d["config"]
            if name == "cpu":
                assert p.shrunk and all(g.registered for g in p.ground_truth.values())
            if name == "quick":
                assert all(g.quick is not None for g in p.ground_truth.values())


def test_seed_taus_of_one_seed_have_no_sd_and_of_two_the_sample_sd():
    y = np.arange(10.0)
    rng = np.random.default_rng(0)
    a, b = y + rng.normal(0, 3, 10), y + rng.normal(0, 3, 10)
    one = H.seed_taus(y, {0: a}, n_boot=20, seed=0)
    ta = stats.kendalltau(y, a).statistic
    assert one["mean_over_seeds"] == pytest.approx(ta) and one["sd_over_seeds"] is None
    two = H.seed_taus(y, {0: a, 1: b}, n_boot=20, seed=0)
    tb = stats.kendalltau(y, b).statistic
    assert two["sd_over_seeds"] == pytest.approx(abs(ta - tb) / np.sqrt(2))
    assert two["mean_over_seeds"] == pytest.approx((ta + tb) / 2)


def test_timing_records_wall_and_cpu_seconds_of_each_computed_unit_only(tmp_path):
    def burn():
        t = time.process_time()
        while time.process_time() - t < 0.05:
            pass
        return {}

    rep = _rep(tmp_path)
    rep.unit("busy", burn)
    rep.unit("idle", lambda: time.sleep(0.05) or {})
    rep.write_results({})
    t = json.loads((tmp_path / "out" / "timing.json").read_text())
    assert t["cpu_seconds"]["busy"] >= 0.05 and t["seconds"]["busy"] >= 0.05
    assert t["seconds"]["idle"] >= 0.05 and t["cpu_seconds"]["idle"] < 0.04  # asleep: no CPU
    assert t["this_invocation"]["cpu_s"] >= 0.05
    again = _rep(tmp_path)
    again.unit("busy", burn)  # from the journal: not timed
    again.write_results({})
    t = json.loads((tmp_path / "out" / "timing.json").read_text())
    assert t["seconds"] == {} and t["cpu_seconds"] == {}


def test_the_depth_gap_refuses_depths_trained_under_other_settings_naming_them(tmp_path):
    """N=1 and N=3 must differ in N alone: the shipped first-build pair passes; the pilot of the
    5-epoch preset given as the N=3 store is refused naming epochs and curve_subset."""
    preset = H.with_config(depth_gap.PRESETS.get("cpu"))
    pair = {"n1": "nb201-fmnist-v1", "n3": "nb201-fmnist-n3-v1"}
    ok = H.Reproduction("depth_gap", preset, tmp_path / "a", progress=False,
                        ground_truth=pair).open()  # fmt: skip
    depth_gap._check_same_training(ok)
    present = {"n1": "nb201-fmnist", "n3": "nb201-fmnist-n3"}  # the present build's pair: too
    kw = {"progress": False}
    depth_gap._check_same_training(
        H.Reproduction("depth_gap", preset, tmp_path / "c", ground_truth=present, **kw).open()
    )
    mixed_builds = present | {"n3": pair["n3"]}
    builds = H.Reproduction("depth_gap", preset, tmp_path / "d", ground_truth=mixed_builds, **kw)
    builds.open()
    with pytest.raises(H.ReproductionError, match=r"protocol.epochs \(5 at N=1, 4 at N=3\)"):
        depth_gap._check_same_training(builds)
    pilot = str(ROOT / "data" / "builds" / "pilot_cpu_e5.h5")
    mixed = H.Reproduction("depth_gap", preset, tmp_path / "b", progress=False,
                           ground_truth=pair | {"n3": pilot}).open()  # fmt: skip
    with pytest.raises(H.ReproductionError, match="not trained alike") as err:
        depth_gap._shared(mixed, preset.config)
    assert "protocol.epochs (4 at N=1, 5 at N=3)" in str(err.value)
    assert "protocol.curve_subset" in str(err.value) and "protocol.N " not in str(err.value)
