"""``nbt search`` killed with SIGKILL mid-run and started again gives the very file an
uninterrupted run gives, reusing the chunks written before the kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from nasbench_tools.cli.__main__ import main
from nasbench_tools.search import run as run_module
from nasbench_tools.search.run import _CHUNK

REPEATS = 400
ARGS = ["search", "--strategy", "rea", "--protocol", "nb201-cifar10", "--repeats", str(REPEATS)]
ARGS += ["--seed", "3", "--no-progress"]


def _nbt(out) -> list[str]:
    return [sys.executable, "-m", "nasbench_tools.cli", *ARGS, "-o", str(out)]


def test_kill_9_then_rerun_gives_the_uninterrupted_file(tmp_path, monkeypatch):
    out = tmp_path / "rea.npz"
    parts = tmp_path / "rea.npz.parts"
    subprocess.run(_nbt(out), check=True, capture_output=True)
    full = out.read_bytes()
    out.unlink()

    proc = subprocess.Popen(_nbt(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(list(parts.glob("chunk-*.npz"))) < 2 and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the search finished before it could be killed"
    assert not out.exists()
    kept = len(list(parts.glob("chunk-*.npz")))
    assert 2 <= kept < REPEATS // _CHUNK

    calls = {"n": 0}
    real = run_module._one

    def counting(*a, **k):
        calls["n"] += 1
        return real(*a, **k)

    monkeypatch.setattr(run_module, "_one", counting)
    monkeypatch.setattr(sys, "argv", ["nbt", *ARGS, "-o", str(out)])  # the same command line
    assert main([*ARGS, "-o", str(out)]) == 0
    assert calls["n"] == REPEATS - kept * _CHUNK  # the chunks written before the kill reused
    assert out.read_bytes() == full
    assert not parts.exists()


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 cut short"])
def test_a_chunk_cut_short_by_a_kill_is_recomputed(tmp_path, damage, nb201_oracle):
    from nasbench_tools.search import Budget, run_searches

    b = Budget(queries=10)
    full = run_searches(nb201_oracle, "random", b, repeats=30, seed=0, progress=False)
    out = tmp_path / "rs.npz"
    parts = tmp_path / "rs.npz.parts"
    parts.mkdir()
    (parts / "chunk-00000.npz").write_bytes(damage)
    got = run_searches(nb201_oracle, "random", b, repeats=30, seed=0, out=out, progress=False)
    assert (got.q_key == full.q_key).all() and (got.r_answer == full.r_answer).all()
