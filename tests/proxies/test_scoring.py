"""Scoring many architectures: a run killed with SIGKILL resumes without duplicate or lost rows;
shards merge into the single-run table; selections, lists and non-finite scores behave."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from nasbench_tools import datasets
from nasbench_tools.cli.__main__ import main
from nasbench_tools.errors import InvalidArchError, NasbenchToolsError, ScoreTableError
from nasbench_tools.proxies.scoring import (
    ScoreJob,
    journal_path,
    merge_shards,
    nonfinite_summary,
    read_key_list,
    run_scoring,
    select_keys,
    shard_keys,
)
from nasbench_tools.scores import ScoreTable
from nasbench_tools.spaces import get_space

NB201 = get_space("nb201")
ROOT = Path(__file__).resolve().parents[2]
TINY = {"C": 4, "N": 1}


@cache
def _digits():
    return datasets.load("digits", "train")


def _job(keys, proxies=("synflow", "snip"), **kw):
    keys, sel = select_keys(NB201, list(keys))
    kw.setdefault("options", dict(TINY))
    return ScoreJob(NB201, keys, tuple(proxies), sel, data=_digits(), seed=5, **kw)


def _counter():
    seen = []
    return seen, seen.append


def test_select_all_sample_and_per_class():
    keys, sel = select_keys(NB201, "all")
    assert len(keys) == 15625 and sel["archs"] == "all"
    reps, sel = select_keys(NB201, "all", per_class=True)
    assert len(reps) == 6466 and len(np.unique(NB201.class_ids(reps))) == 6466
    assert reps[0] == 0  # the smallest key of each class
    a, _ = select_keys(NB201, "all", sample=50, seed=1)
    b, _ = select_keys(NB201, "all", sample=50, seed=1)
    c, _ = select_keys(NB201, "all", sample=50, seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c) and np.all(np.diff(a) > 0)
    with pytest.raises(InvalidArchError, match="explicit seed"):
        select_keys(NB201, "all", sample=5)


def test_shards_are_interleaved_and_cover_the_selection_once():
    keys = np.arange(10)
    parts = [shard_keys(keys, (i, 3)) for i in range(3)]
    assert parts[0].tolist() == [0, 3, 6, 9]
    assert sorted(np.concatenate(parts).tolist()) == keys.tolist()
    with pytest.raises(NasbenchToolsError, match="0 <= i < n"):
        shard_keys(keys, (3, 3))


def test_key_list_reads_keys_and_strings_and_names_bad_lines(tmp_path):
    f = tmp_path / "archs.txt"
    f.write_text(f"# my picks\n11\n\n{NB201.to_string(NB201.arch(284))}  # by string\n0\n")
    assert read_key_list(NB201, f).tolist() == [0, 11, 284]
    f.write_text("11\nnot-an-arch\n")
    with pytest.raises(InvalidArchError, match=r"archs.txt:2:"):
        read_key_list(NB201, f)
    f.write_text(f"284\n{NB201.to_string(NB201.arch(284))}\n")
    with pytest.raises(InvalidArchError, match=r"archs.txt:2: .*repeats line 1"):
        read_key_list(NB201, f)


def test_two_shards_merge_into_the_single_run_table(tmp_path):
    keys = [3, 11, 40, 284, 1000, 6111, 9000]
    whole = run_scoring(_job(keys), tmp_path / "whole.csv", progress=False)
    for i in range(2):
        run_scoring(_job(keys, shard=(i, 2)), tmp_path / f"s{i}.csv", progress=False)
    shard1 = ScoreTable.read(tmp_path / "s1.csv")
    assert shard1.keys.tolist() == [11, 284, 6111]
    merged = merge_shards([tmp_path / "s1.csv", tmp_path / "s0.csv"])
    merged.write(tmp_path / "merged.csv")
    assert (tmp_path / "merged.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    side = json.loads((tmp_path / "merged.csv.meta.json").read_text())
    assert side == json.loads((tmp_path / "whole.csv.meta.json").read_text())
    assert merged.keys.tolist() == whole.keys.tolist()


def test_merge_refuses_missing_overlapping_or_foreign_shards(tmp_path):
    keys = [3, 11, 40, 284]
    for i in range(2):
        run_scoring(_job(keys, shard=(i, 2)), tmp_path / f"s{i}.csv", progress=False)
    other = _job(keys, shard=(1, 2), options={**TINY, "N": 2})
    run_scoring(other, tmp_path / "other.csv", progress=False)
    with pytest.raises(ScoreTableError, match="each of 0..n-1 once"):
        merge_shards([tmp_path / "s0.csv"])
    with pytest.raises(ScoreTableError, match="also"):
        merge_shards([tmp_path / "s0.csv", tmp_path / "s0.csv"])
    with pytest.raises(ScoreTableError, match="not shards of one run.*settings"):
        merge_shards([tmp_path / "s0.csv", tmp_path / "other.csv"])


def _cli(out: Path, *extra: str) -> list[str]:
    return [
        "score", "--proxy", "synflow,snip", "--data", "digits", "--option", "C=4",
        "--option", "N=1", "--sample", "20", "--seed", "2", "--threads", "1", "--no-progress",
        "--out", str(out), *extra,
    ]  # fmt: skip


def _data_lines(journal: Path) -> int:
    return max(0, len(journal.read_bytes().split(b"\n")) - 2) if journal.exists() else 0


def test_run_killed_with_sigkill_resumes_without_duplicate_or_lost_rows(tmp_path):
    ref = tmp_path / "ref.csv"
    assert main(_cli(ref)) == 0
    out = tmp_path / "killed.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = (
        f"import sys; from nasbench_tools.cli.__main__ import main; sys.exit(main({_cli(out)!r}))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    journal = journal_path(out)
    deadline = time.monotonic() + 240
    while _data_lines(journal) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _data_lines(journal)
    assert 3 <= done < 20 and not out.exists(), "the run must be killed mid-way"
    with open(journal, "ab") as fh:  # a line cut short by the kill
        fh.write(b'{"group": "init", "keys": [9')
    assert main(_cli(out)) == 0
    assert not journal.exists()
    assert out.read_bytes() == ref.read_bytes()
    table = ScoreTable.read(out)
    assert len(table) == table.n_unique == 20


def test_resume_scores_only_what_the_journal_lacks(tmp_path):
    out = tmp_path / "t.csv"
    keys = [3, 11, 40, 284]
    job = _job(keys)
    journal = journal_path(out)
    seen, cb = _counter()
    with pytest.raises(KeyboardInterrupt):

        def stop_after_two(n):
            cb(n)
            if len(seen) == 2:
                raise KeyboardInterrupt

        run_scoring(job, out, progress=stop_after_two)
    assert _data_lines(journal) == 2 and not out.exists()
    seen2, cb2 = _counter()
    table = run_scoring(_job(keys), out, progress=cb2)
    assert sum(seen2) == 2 and len(table) == 4


def test_journal_of_other_settings_is_refused_naming_them(tmp_path):
    out = tmp_path / "t.csv"
    with pytest.raises(KeyboardInterrupt):

        def stop(n):
            raise KeyboardInterrupt

        run_scoring(_job([3, 11]), out, progress=stop)
    other = _job([3, 11])
    other.seed = 6
    with pytest.raises(
        ScoreTableError, match=r"other settings; differing: seed \(journal 5, now 6\)"
    ):
        run_scoring(other, out, progress=False)


def test_existing_table_is_not_replaced_without_force(tmp_path):
    out = tmp_path / "t.csv"
    out.write_text("keep me")
    with pytest.raises(NasbenchToolsError, match="exists"):
        run_scoring(_job([3]), out, progress=False)
    assert out.read_text() == "keep me"


def test_nonfinite_scores_are_kept_counted_and_named(tmp_path, capsys):
    table = run_scoring(_job([11, 8274], ("jacob_cov", "naswot")), tmp_path / "t.csv",
                        progress=False)  # fmt: skip
    assert len(table) == 2 and np.isnan(table["jacob_cov"][1])
    assert table.meta["nonfinite"] == {
        "jacob_cov": {"nan": 1, "+inf": 0, "-inf": 0},
        "naswot": {"nan": 0, "+inf": 0, "-inf": 1},
    }
    lines = nonfinite_summary(table)
    assert lines[0].startswith("jacob_cov: 1 nan of 2; keys [8274]")
    back = ScoreTable.read(tmp_path / "t.csv")
    assert np.isnan(back["jacob_cov"][1]) and back["naswot"][1] == -np.inf


def test_cli_reports_errors_with_exit_code_2(tmp_path, capsys):
    assert main(["score", "--proxy", "snip", "--out", str(tmp_path / "x.csv"), "--no-progress",
                 "--sample", "2"]) == 2  # fmt: skip
    assert "'snip' needs images" in capsys.readouterr().err
    assert main(["score", "--proxy", "nope", "--out", str(tmp_path / "x.csv")]) == 2
    assert "unknown proxy 'nope'" in capsys.readouterr().err
    assert main(["score", "--proxy", "synflow", "--shard", "2/2", "--out", "x.csv"]) == 2
    assert not (tmp_path / "x.csv").exists()


def test_cli_table_goes_through_nbt_report(tmp_path):
    out = tmp_path / "free.csv"
    assert main(["score", "--proxy", "synflow,params,flops", "--option", "C=4", "--option",
                 "N=1", "--sample", "8", "--seed", "0", "--no-progress", "--out", str(out),
                 "--target", "cifar10-valid:x-valid:200"]) == 0  # fmt: skip
    assert json.loads(Path(str(out) + ".meta.json").read_text())["data"] == "none"
    rep = tmp_path / "rep"
    assert main(["report", "--out", str(rep), "--scores", str(out), "--n-boot", "10",
                 "--figures", "none", "--no-embedded-scores", "--no-nb101",
                 "--no-progress"]) == 0  # fmt: skip
    text = (rep / "index.md").read_text()
    assert "synflow+params+flops:synflow" in text


def test_line_cut_short_by_a_kill_is_dropped_before_appending(tmp_path):
    out = tmp_path / "t.csv"
    journal = journal_path(out)

    def stop_after(k):
        seen = []

        def cb(n):
            seen.append(n)
            if len(seen) == k:
                raise KeyboardInterrupt

        return cb

    with pytest.raises(KeyboardInterrupt):
        run_scoring(_job([3, 11, 40, 284]), out, progress=stop_after(1))
    with open(journal, "ab") as fh:
        fh.write(b'{"group": "init", "ke')
    with pytest.raises(KeyboardInterrupt):
        run_scoring(_job([3, 11, 40, 284]), out, progress=stop_after(1))
    lines = journal.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line) for line in lines)


@pytest.fixture
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_workers_write_the_table_one_process_writes(tmp_path, one_thread):
    keys = [3, 11, 40, 284, 1000, 6111, 9000]
    run_scoring(_job(keys), tmp_path / "one.csv", progress=False)
    seen, count = _counter()
    run_scoring(_job(keys), tmp_path / "two.csv", progress=count, workers=2)
    assert (tmp_path / "two.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    side = [json.loads((tmp_path / f"{n}.csv.meta.json").read_text()) for n in ("one", "two")]
    assert side[0] == side[1]
    assert sum(seen) == len(keys)  # one group (the fused pass): every key once


def test_a_killed_scoring_worker_is_a_named_error_and_the_journal_resumes(tmp_path):
    """A worker that dies mid-run (here: a proxy registered in the user's own module kills its
    worker on key 284) stops the run with an error naming the table, never a hang; the journal
    keeps what was scored, and a run started again finishes the table. The workers import the
    module that registered the proxy."""
    (tmp_path / "user_proxy.py").write_text(
        "import os, signal\n"
        "from nasbench_tools.proxies import register_proxy\n"
        "@register_proxy('key_or_die', needs='nothing', deterministic=True, unit='count',\n"
        "                description='the key; kills its process on key 284 if told to')\n"
        "def key_or_die(req):\n"
        "    if os.environ.get('NBT_TEST_DIE') and 284 in req.keys.tolist():\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return {'key_or_die': req.keys.astype(float)}\n"
    )
    keys = [3, 11, 40, 284, 1000, 6111, 9000, 12000]
    out = tmp_path / "t.csv"
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import user_proxy\n"
        "from nasbench_tools.errors import NasbenchToolsError\n"
        "from nasbench_tools.proxies.scoring import run_scoring, ScoreJob, select_keys\n"
        "from nasbench_tools.spaces import get_space\n"
        "sp = get_space('nb201')\n"
        f"keys, sel = select_keys(sp, {keys!r})\n"
        "job = ScoreJob(sp, keys, ('key_or_die',), sel)\n"
        f"try:\n    run_scoring(job, {str(out)!r}, progress=False, workers=2)\n"
        "except NasbenchToolsError as e:\n    print(e); sys.exit(2)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NBT_TEST_DIE": "1"}
    run = [sys.executable, "-c", script]
    proc = subprocess.run(run, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stdout.startswith(f"nbt score {out}: a worker process died"), proc.stdout
    assert "run again to resume" in proc.stdout
    assert not out.exists() and journal_path(out).exists()
    assert _data_lines(journal_path(out)) < len(keys)
    del env["NBT_TEST_DIE"]
    proc = subprocess.run(run, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout
    table = ScoreTable.read(out)
    assert table.keys.tolist() == keys
    assert table.scores["key_or_die"].tolist() == [float(k) for k in keys]
    assert not journal_path(out).exists()
