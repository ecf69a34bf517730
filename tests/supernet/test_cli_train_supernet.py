"""`nbt train-supernet`: flags to config, a small run, and a real SIGKILL followed by --resume."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import torch

from nasbench_tools.cli.__main__ import build_parser, main
from nasbench_tools.cli.train_supernet import _config
from nasbench_tools.supernet import train as train_mod
from nasbench_tools.supernet.config import TrainConfig
from nasbench_tools.supernet.train import train_supernet

SMALL = ["--dataset", "digits", "--C", "4", "--N", "1", "--batch-size", "32", "--augment", "none"]


def test_flags_override_defaults_and_presets(tmp_path):
    args = build_parser().parse_args(
        ["train-supernet", "--out", str(tmp_path), "--preset", "mixpath-nb101", "--num-nodes", "3",
         "--sampler-opt", "m=3", "--epochs", "2", "--grad-clip", "0", "--no-nesterov"]
    )  # fmt: skip
    c = _config(args)
    assert c.supernet == "nb101-mixpath" and c.model == {"num_nodes": 3, "stem_channels": 128}
    assert c.sampler_options == {"m": 3, "sharing": "shared"} and c.epochs == 2 and c.seed == 2020
    assert c.grad_clip is None and c.nesterov is False and c.cutout == 16
    args = build_parser().parse_args(
        ["train-supernet", "--out", str(tmp_path), "--sampler", "oneshot",
         "--sampler-opt", "per_example=true", "--sampler-opt", "ramp=constant", "--no-norm-decay"]
    )  # fmt: skip
    c = _config(args)
    assert c.sampler_options == {"per_example": True, "ramp": "constant"} and c == TrainConfig(
        sampler="oneshot",
        sampler_options={"per_example": True, "ramp": "constant"},
        no_wd_on_norm=True,
    )
    args = build_parser().parse_args(
        ["train-supernet", "--out", str(tmp_path), "--threads", "3", "--eval-bn-images", "500"]
    )
    c = _config(args)
    assert c.threads == 3 and c.eval_bn_images == 500


def test_small_run_prints_epochs_and_writes_the_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        [
            "train-supernet",
            "--out",
            str(out),
            *SMALL,
            "--subset",
            "96",
            "--epochs",
            "2",
            "--no-progress",
            "--eval-children",
            "1",
            "--valid-subset",
            "32",
            "--eval-bn-images",
            "96",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "epoch   1" in text and "epoch   2" in text and "children acc" in text
    assert (out / "config.json").is_file() and (out / "checkpoints" / "epoch-0002.pt").is_file()
    rc = main(["train-supernet", "--out", str(out), *SMALL, "--epochs", "2"])  # no --resume
    assert rc == 2 and "already holds a run" in capsys.readouterr().err


def test_readme_resume_without_threads_flag_is_bit_exact_after_sigkill(tmp_path):
    """The README's two commands: a run with --threads 1, SIGKILLed, then `--out X --resume`
    alone in a process whose default is 2 threads; it must equal an uninterrupted run."""
    flags = [*SMALL, "--subset", "384", "--epochs", "3", "--seed", "3"]
    reference = train_supernet(
        _config(build_parser().parse_args(["train-supernet", "--out", "x", *flags])),
        tmp_path / "ref",
        progress=False,
    )  # one thread (the test fixture)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "nasbench_tools.cli", "train-supernet", "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "2"}
    proc = subprocess.Popen(
        [*cmd, *flags, "--threads", "1", "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    first = out / "checkpoints" / "epoch-0001.pt"
    deadline = time.monotonic() + 600  # generous: a loaded machine is slow
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in (out / "checkpoints").glob("epoch-*.pt"))
    assert done and done[-1] != "epoch-0003.pt", ("the run finished before it was killed", done)
    rc = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True)
    assert rc.returncode == 0, rc.stderr
    resumed = torch.load(out / "checkpoints" / "epoch-0003.pt", weights_only=True)["model"]
    ref = reference.model.state_dict()
    assert all(torch.equal(resumed[k], ref[k]) for k in ref)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["event"] == "epoch"] == [1, 2, 3]
    starts = [r for r in records if r["event"] == "start"]
    assert [(r["resumed"], r["threads"]) for r in starts] == [(False, 1), (True, 1)]


class _FlushRecorder(io.StringIO):
    """stdout stand-in that keeps apart what was flushed from what is still buffered."""

    def __init__(self):
        super().__init__()
        self.flushed = ""

    def flush(self):
        self.flushed = self.getvalue()


def test_epoch_lines_stream_as_each_epoch_ends(tmp_path, monkeypatch):
    out_stream = _FlushRecorder()
    monkeypatch.setattr(sys, "stdout", out_stream)
    shown_at_save = {}
    save = train_mod._save_checkpoint

    def spy_save(run, epoch):
        shown_at_save[epoch] = out_stream.flushed
        save(run, epoch)

    monkeypatch.setattr(train_mod, "_save_checkpoint", spy_save)
    args = ["train-supernet", "--out", str(tmp_path / "run"), *SMALL, "--subset", "64"]
    assert main([*args, "--epochs", "3", "--no-progress"]) == 0
    assert "epoch   1" not in shown_at_save[1]
    assert "epoch   1" in shown_at_save[2] and "epoch   2" not in shown_at_save[2]
    assert "epoch   2" in shown_at_save[3]
    assert "epoch   3" in out_stream.flushed


def test_failed_data_load_leaves_no_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    missing = ["--dataset", "fashion-mnist", "--data-root", str(tmp_path / "nowhere")]
    assert main(["train-supernet", "--out", str(out), *missing, "--no-progress"]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert not out.exists()
