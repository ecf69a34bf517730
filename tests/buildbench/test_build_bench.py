"""`nbt build-bench` with the quick preset on digits: the store loads like an official benchmark
and holds exactly what the journal recorded; a build killed with SIGKILL resumes to the values
one uninterrupted build writes; two shards merge into that build; a changed protocol, seed list
or selection refuses to resume; bad arguments exit 2 naming them.

Every build here is 3 NB201 isomorphism classes x 2 seeds of the quick preset (one CPU thread).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nasbench_tools.buildbench import (
    BuildJob,
    JournalMismatchError,
    build_benchmark,
    get_protocol,
    journal_path,
    merge_builds,
)
from nasbench_tools.cli.__main__ import main
from nasbench_tools.errors import NasbenchToolsError
from nasbench_tools.groundtruth import load
from nasbench_tools.groundtruth.store import read_store
from nasbench_tools.proxies.scoring import select_keys
from nasbench_tools.spaces import get_space

ROOT = Path(__file__).resolve().parents[2]
SPACE = get_space("nb201")
SEEDS = (0, 1)
CLI = ["--preset", "quick", "--sample", "3", "--seed", "0", "--per-class", "--seeds", "0,1"]


def _job(**changes) -> BuildJob:
    keys, selection = select_keys(SPACE, "all", sample=3, seed=0, per_class=True)
    kw = {"protocol": get_protocol("quick"), "seeds": SEEDS, "shard": None} | changes
    return BuildJob(SPACE, keys, kw["seeds"], kw["protocol"], selection, shard=kw["shard"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """One uninterrupted build (its journal kept beside it)."""
    out = tmp_path_factory.mktemp("ref") / "ref.h5"
    build_benchmark(_job(), out, progress=False)
    return out


def _journal_records(path: Path) -> dict:
    lines = journal_path(path).read_text().splitlines()
    return {(r["key"], r["seed"]): r["record"] for r in map(json.loads, lines[1:])}


def _columns_except_time(path: Path) -> dict:
    cs = read_store(path)
    return {k: c for k, c in cs.columns.items() if k.metric != "time"}, cs


def _assert_same_values(a: Path, b: Path) -> None:
    ca, csa = _columns_except_time(a)
    cb, csb = _columns_except_time(b)
    assert csa.keys.tolist() == csb.keys.tolist()
    assert ca.keys() == cb.keys()
    for k in ca:
        assert ca[k].seeds == cb[k].seeds
        np.testing.assert_array_equal(ca[k].values, cb[k].values, err_msg=k.to_str())
    for cs in (csa, csb):
        t = next(c for k, c in cs.columns.items() if k.metric == "time").values
        assert np.isfinite(t).all() and (t > 0).all()


def test_built_store_loads_and_every_seed_and_the_mean_are_the_journal_values(reference):
    gt = load("nb201", path=reference)
    records = _journal_records(reference)
    keys = gt.archs.keys.tolist()
    assert len(keys) == 3 and len(records) == 6
    assert sorted(keys) == sorted({k for k, _ in records})
    for split in ("train", "valid", "test"):
        for metric in ("accuracy", "loss"):
            by_seed = np.array(
                [[records[(k, s)]["curves"][split][metric][-1] for s in SEEDS] for k in keys]
            )
            q = {"dataset": "digits", "split": split, "epochs": 3, "metric": metric}
            for j, s in enumerate(SEEDS):
                np.testing.assert_array_equal(gt.vector(**q, seed=s), by_seed[:, j])
            allc = gt.vector(**q, seed="all")
            assert allc.seeds == SEEDS
            np.testing.assert_array_equal(allc.values, by_seed)
            np.testing.assert_allclose(gt.vector(**q), by_seed.sum(axis=1) / 2, rtol=1e-15)
            # the learning curve: epoch 1 differs from the final value somewhere
            e1 = [[records[(k, s)]["curves"][split][metric][0] for s in SEEDS] for k in keys]
            np.testing.assert_array_equal(gt.vector(**q, seed="all", point="epoch-1").values, e1)
    acc = gt.vector(dataset="digits", split="valid", epochs=3, seed="all").values
    assert 20 < acc.mean() < 100, "the quick preset must learn something (chance is 10 %)"
    assert not np.array_equal(acc[:, 0], acc[:, 1]), "two seeds must train differently"
    params = gt.vector(dataset="digits", metric="params", seed="all").values
    np.testing.assert_array_equal(params[:, 0], params[:, 1])  # a property of the network
    from nasbench_tools.nn.params import count_parameters

    net = SPACE.build_network(
        SPACE.arch(keys[0]), C=4, N=1, num_classes=10, in_channels=1, image_size=8
    )
    assert params[0, 0] == count_parameters(net) / 1e6
    time_col = gt.vector(dataset="digits", split="train", epochs=3, metric="time", seed="all")
    want = [[sum(records[(k, s)]["epoch_time"]) for s in SEEDS] for k in keys]
    np.testing.assert_array_equal(time_col.values, want)
    prov = gt.provenance
    assert prov["protocol"] == get_protocol("quick").to_dict()
    assert prov["seeds"] == list(SEEDS) and prov["torch_threads"] == 1
    assert prov["data_provenance"]["train"]["split"] == "search-train"
    assert prov["package_version"] and prov["built_by"]["torch_version"]


def test_nbt_info_and_query_read_the_built_store(reference, capsys):
    assert main(["info", str(reference)]) == 0
    out = capsys.readouterr().out
    assert "nbt build-bench quick on digits" in out and "seeds" in out


def _data_lines(journal: Path) -> int:
    return max(0, len(journal.read_bytes().split(b"\n")) - 2) if journal.exists() else 0


def test_build_killed_with_sigkill_resumes_to_the_uninterrupted_values(reference, tmp_path):
    out = tmp_path / "killed.h5"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = ["build-bench", *CLI, "--out", str(out), "--no-progress"]
    code = f"import sys; from nasbench_tools.cli.__main__ import main; sys.exit(main({argv!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    journal = journal_path(out)
    deadline = time.monotonic() + 240
    while _data_lines(journal) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _data_lines(journal)
    assert 2 <= done < 6 and not out.exists(), "the build must be killed mid-way"
    with open(journal, "ab") as fh:  # a line cut short by the kill
        fh.write(b'{"key": 12, "seed": 0, "rec')
    build_benchmark(_job(), out, progress=False)
    _assert_same_values(out, reference)
    assert _data_lines(journal) == 6, "the resumed build trains only what the journal lacks"
    assert len(_journal_records(out)) == 6, "every journal line parses (the torn one dropped)"
    assert read_store(out).meta["protocol"] == read_store(reference).meta["protocol"]


def test_two_shards_merged_equal_one_build(reference, tmp_path, monkeypatch):
    parts = []
    for i in (1, 0):  # the second shard first: order must not matter
        part = tmp_path / f"part{i}.h5"
        job = _job(shard=(i, 2))
        job.command = f"nbt build-bench --shard {i}/2"
        build_benchmark(job, part, progress=False)
        parts.append(part)
    assert [len(read_store(p)) for p in parts] == [1, 2]
    out = tmp_path / "merged.h5"
    argv = ["build-bench", "--merge", *map(str, parts), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", ["nbt", *argv])
    assert main(argv) == 0
    _assert_same_values(out, reference)
    meta = read_store(out).meta
    assert meta["shard"] is None and meta["selection"] == read_store(reference).meta["selection"]
    # how it was made survives the merge: each shard's command, in shard order, and the merge's
    assert meta["shard_commands"] == ["nbt build-bench --shard 0/2", "nbt build-bench --shard 1/2"]
    assert meta["command"] == shlex.join(["nbt", *argv])


def test_merge_refuses_a_missing_shard_and_a_whole_build(reference, tmp_path):
    part = tmp_path / "part0.h5"
    build_benchmark(_job(shard=(0, 3)), part, progress=False)
    with pytest.raises(NasbenchToolsError, match=r"0/3 \.\. 2/3 exactly once"):
        merge_builds([part], tmp_path / "m.h5")
    with pytest.raises(NasbenchToolsError, match="differing: shard|whole build"):
        merge_builds([part, reference], tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            {"protocol": get_protocol("quick").replace(epochs=4)},
            "protocol.epochs (journal 3, now 4)",
        ),
        (
            {"protocol": get_protocol("quick").replace(lr=0.05)},
            "protocol.lr (journal 0.1, now 0.05)",
        ),
        ({"seeds": (0, 2)}, "seeds"),
        ({"shard": (0, 2)}, "shard"),
    ],
)
def test_changed_settings_refuse_to_resume_naming_them(reference, tmp_path, change, named):
    out = tmp_path / "other.h5"
    journal_path(out).write_bytes(journal_path(reference).read_bytes())
    before = journal_path(out).read_bytes()
    with pytest.raises(JournalMismatchError, match="other settings") as exc:
        build_benchmark(_job(**change), out, progress=False)
    assert named in str(exc.value) and "--force" in str(exc.value)
    assert journal_path(out).read_bytes() == before and not out.exists()


def test_an_existing_store_is_kept_unless_force(reference, tmp_path, capsys):
    out = tmp_path / "s.h5"
    out.write_bytes(b"keep")
    argv = ["build-bench", *CLI, "--out", str(out), "--no-progress"]
    assert main(argv) == 2
    assert str(out) in capsys.readouterr().err and out.read_bytes() == b"keep"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--preset", "nope"], "'nope'"),
        (["--preset", "quick", "--seeds", "0,x"], "--seeds '0,x'"),
        (["--preset", "quick", "--seeds", "1,1"], "names a seed twice"),
        (["--preset", "quick", "--shard", "2/2"], "--shard '2/2'"),
        (["--preset", "quick", "--sample", "3"], "--sample needs --seed"),
        (["--preset", "quick", "--seed", "3"], "--seed is the seed of --sample"),
        (["--preset", "quick", "--archs", "some"], "--archs 'some'"),
        (["--preset", "quick", "--threads", "0"], "--threads 0"),
        (["--preset", "quick", "--dataset", "mnist-x"], "'mnist-x'"),
        (["--preset", "quick", "--space", "nb999"], "'nb999'"),
        (["--seeds", "0"], "--preset is required"),
    ],
)
def test_bad_arguments_exit_2_naming_them(tmp_path, capsys, args, named):
    out = tmp_path / "x.h5"
    assert main(["build-bench", *args, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert named in err, err
    assert not out.exists() and not journal_path(out).exists()


def test_out_is_required(capsys):
    assert main(["build-bench", "--preset", "quick"]) == 2
    assert "--out is required" in capsys.readouterr().err


def test_nbt_report_ranks_against_the_built_store(reference, tmp_path):
    out = tmp_path / "rep"
    argv = [
        "report", "--out", str(out), "--ground-truth", str(reference),
        "--target", "digits:valid:3", "--no-embedded-scores", "--no-nb101", "--figures", "none",
        "--no-html", "--no-progress", "--n-boot", "20",
    ]  # fmt: skip
    assert main(argv) == 0
    numbers = json.loads((out / "numbers.json").read_text())
    text = json.dumps(numbers)
    assert "nbt build-bench quick on digits" in text
    assert '"n": 3' in text
    page = (out / "index.md").read_text()  # a built store is not called NAS-Bench-201
    assert "nbt build-bench quick on digits, all 3 architectures" in page
    assert "NAS-Bench-201, all" not in page and "against NAS-Bench-201" not in page


def test_a_search_runs_on_the_built_store_over_its_architectures_only(reference, tmp_path):
    """Random search draws from the built architectures only (with replacement, as NB201's
    random search does; 20 draws of 3 reach all three here) and answers the queried one with the
    best validation mean; the report value of a query is that architecture's test mean."""
    from nasbench_tools.search.trajectory import read_trajectories

    out = tmp_path / "rs.npz"
    argv = [
        "search", "--strategy", "random", "--signal", f"{reference},digits,valid,3",
        "--report", f"{reference},digits,test,3", "--budget", "20", "--repeats", "2",
        "--seed", "0", "--no-progress", "-o", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    gt = load("nb201", path=reference)
    keys = [a.index for a in gt.archs]
    valid = gt.vector(dataset="digits", split="valid", epochs=3)
    test = gt.vector(dataset="digits", split="test", epochs=3)
    t = read_trajectories(out)
    for run in range(2):
        queried = t.q_key[t.q_run == run].tolist()
        assert sorted(set(queried)) == keys  # the pool is the built architectures
        assert queried[t.r_answer[run]] == keys[int(np.argmax(valid))]
    assert not np.allclose(valid, test)
    for i, k in enumerate(keys):
        np.testing.assert_allclose(t.q_signal[t.q_key == k], valid[i])
        np.testing.assert_allclose(t.q_report[t.q_key == k], test[i])


def _record(loss_last: float, epochs: int = 3) -> dict:
    curve = {"accuracy": [10.0] * epochs, "loss": [2.0] * (epochs - 1) + [loss_last]}
    return {
        "curves": {s: dict(curve) for s in ("train", "valid", "test")},
        "epoch_time": [0.5] * epochs,
        "params": 0.01,
        "flops": 0.1,
    }


def test_a_diverged_loss_is_stored_as_missing_never_as_infinity(tmp_path):
    from nasbench_tools.buildbench import records_to_columnset
    from nasbench_tools.errors import QueryError
    from nasbench_tools.groundtruth.store import write_store

    job = _job()
    keys = job.keys.tolist()
    done = {(k, s): _record(2.0) for k in keys for s in SEEDS}
    done[(keys[1], 1)] = _record(float("inf"))
    out = write_store(records_to_columnset(job, done, {}), tmp_path / "nan.h5")
    gt = load("nb201", path=out)
    q = {"dataset": "digits", "split": "valid", "epochs": 3, "metric": "loss"}
    v = gt.vector(**q, seed="all").values
    assert np.isnan(v[1, 1]) and np.isfinite(np.delete(v.ravel(), 3)).all()
    with pytest.raises(QueryError, match=str(keys[1])):
        gt.vector(**q, seed=1)


def test_a_record_of_another_length_or_a_missing_network_is_refused():
    from nasbench_tools.buildbench import records_to_columnset

    job = _job()
    keys = job.keys.tolist()
    done = {(k, s): _record(2.0) for k in keys for s in SEEDS}
    done[(keys[0], 0)] = _record(2.0, epochs=2)
    with pytest.raises(NasbenchToolsError, match=f"architecture {keys[0]} seed 0: 2 epochs"):
        records_to_columnset(job, done, {})
    del done[(keys[0], 0)]
    with pytest.raises(NasbenchToolsError, match=f"architecture {keys[0]} seed 0 was not trained"):
        records_to_columnset(job, done, {})
