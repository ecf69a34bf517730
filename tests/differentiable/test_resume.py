"""A search stopped after any epoch, or SIGKILLed in the middle of one, and resumed ends where an
uninterrupted search ends, bit for bit (weights, alpha, optimizers, DARTS-PT's decisions, log,
score tables)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from nasbench_tools.differentiable import run_search
from nasbench_tools.differentiable.config import DifferentiableSearchError


class _Stop(Exception):
    pass


def _final_state(out):
    path = sorted((out / "checkpoints").glob("epoch-*.pt"))[-1]
    return path.name, torch.load(path, weights_only=True)


def _epochs(out):
    recs = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    keep = ("epoch", "projection", "search_end")
    return [{k: v for k, v in r.items() if k != "seconds"} for r in recs if r["event"] in keep]


def _assert_same_run(a, b):
    (name_a, sa), (name_b, sb) = _final_state(a), _final_state(b)
    assert name_a == name_b
    assert sa["model"].keys() == sb["model"].keys()
    assert all(torch.equal(sa["model"][k], sb["model"][k]) for k in sa["model"])
    for opt in ("w_opt", "a_opt"):
        if sa[opt] is None:
            assert sb[opt] is None
            continue
        for i, st in sa[opt]["state"].items():
            assert all(
                torch.equal(v, sb[opt]["state"][i][k]) for k, v in st.items() if torch.is_tensor(v)
            )
    assert sa["decided"] == sb["decided"] and sa["projections"] == sb["projections"]
    assert _epochs(a) == _epochs(b)
    for f in ("scores/operators.csv", "scores/archs.csv", "selected.txt"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


@pytest.mark.parametrize(
    ("method", "stop_after", "extra"),
    [
        ("darts-pt", 2, {}),  # at the end of the search phase: the tuning starts on resume
        ("gdas", 1, {}),
        ("darts-v2", 1, {"lr_schedule": "step"}),
        ("single-path", 1, {"cost_lambda": 0.05}),
    ],
)
def test_stopped_and_resumed_search_equals_an_uninterrupted_one(
    method, stop_after, extra, tiny, tmp_path
):
    c = tiny(method, **extra)
    run_search(c, tmp_path / "ref", progress=False, ground_truths=())

    def stop(epoch, record):
        if epoch == stop_after:
            raise _Stop

    with pytest.raises(_Stop):
        run_search(c, tmp_path / "cut", progress=False, ground_truths=(), on_epoch_end=stop)
    assert not (tmp_path / "cut" / "result.json").exists()
    run_search(c, tmp_path / "cut", resume=True, progress=False, ground_truths=())
    _assert_same_run(tmp_path / "ref", tmp_path / "cut")


_KILLER = """
import json, os, signal, sys
from nasbench_tools.differentiable import architect, SearchConfig, run_search
real, count = architect.Searcher.step, [0]
def step(self, *args, **kwargs):
    count[0] += 1
    if count[0] == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, *args, **kwargs)
architect.Searcher.step = step
run_search(SearchConfig.from_dict(json.loads(sys.argv[1])), sys.argv[2], progress=False,
           ground_truths=())
"""


def test_sigkill_in_the_middle_of_a_tuning_epoch_then_cli_resume_equals_uninterrupted(
    tiny, tmp_path
):
    c = tiny("darts-pt")
    run_search(c, tmp_path / "ref", progress=False, ground_truths=())
    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    # step 9 is the first step of the third tuning epoch: its projection has been made, not saved
    proc = subprocess.run(
        [sys.executable, "-c", _KILLER, json.dumps(c.to_dict()), str(out), "9"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    assert sorted(p.name for p in (out / "checkpoints").glob("*.pt"))[-1] == "epoch-0004.pt"
    rc = subprocess.run(
        [sys.executable, "-m", "nasbench_tools.cli", "search-differentiable", "--out", str(out),
         "--resume", "--no-progress"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert rc.returncode == 0, rc.stderr
    assert "selected (darts-pt, projection)" in rc.stdout
    _assert_same_run(tmp_path / "ref", out)
    starts = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    starts = [r for r in starts if r["event"] == "start"]
    assert [(r["epoch"], r["resumed"]) for r in starts] == [(0, False), (4, True)]


def test_resume_refuses_a_changed_setting_by_name(tiny, tmp_path):
    c = tiny("darts", epochs=1)
    run_search(c, tmp_path / "r", progress=False, ground_truths=())
    with pytest.raises(DifferentiableSearchError, match=r"arch_lr: 0\.03 -> 0\.1"):
        run_search(tiny("darts", epochs=1, arch_lr=0.1), tmp_path / "r", resume=True,
                   progress=False, ground_truths=())  # fmt: skip
    with pytest.raises(DifferentiableSearchError, match="already holds a run"):
        run_search(c, tmp_path / "r", progress=False, ground_truths=())
