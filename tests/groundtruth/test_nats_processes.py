"""NATS folder conversion in worker processes: a dead worker is an error, never a hang, and no
worker outlives a killed ``nbt convert``.

The conversion tests run ``nbt convert`` on a synthetic ``-simple`` folder of 600 per-arch files
(more than ``PARALLEL_MIN_FILES``, so workers are used): the real arch-0 record, trimmed as the
NB201 fixtures are, with each file's ``arch_index``/``arch_str`` and each result's
``arch_config['arch_str']`` set to its index (as ``benchmarks/ground_truth_nb201.py`` builds its
full-size folder).
"""

from __future__ import annotations

import bz2
import copy
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasbench_tools.groundtruth.formats import nb201_nats

from ..conftest import NATS_TSS

psutil = pytest.importorskip("psutil")
ROOT = Path(__file__).resolve().parents[2]
N_FILES = 600


def _trim(state: dict) -> dict:
    state = copy.deepcopy(state)
    for rc in state["all_results"].values():
        e = rc["epochs"]
        keep = (0, e - 2, e - 1)
        for name in ("train_acc1es", "train_acc5es", "train_losses"):
            if rc[name] is not None:
                rc[name] = {k: v for k, v in rc[name].items() if k in keep}
        for name in ("eval_acc1es", "eval_losses", "eval_times"):
            if rc[name] is not None:
                rc[name] = {k: v for k, v in rc[name].items() if int(k.split("@")[1]) in keep}
    return state


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory, nats_meta_archs) -> Path:
    assert N_FILES >= nb201_nats.PARALLEL_MIN_FILES
    folder = tmp_path_factory.mktemp("nats") / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir()
    (folder / "meta.pickle.pbz2").write_bytes((NATS_TSS / "meta.pickle.pbz2").read_bytes())
    with bz2.BZ2File(NATS_TSS / "000000.pickle.pbz2") as fh:
        rec = pickle.load(fh)  # trusted fixture
    rec = {hp: _trim(rec[hp]) for hp in ("12", "200")}
    for i in range(N_FILES):
        for hp in rec:
            rec[hp]["arch_index"] = i
            rec[hp]["arch_str"] = nats_meta_archs[i]
            for rc in rec[hp]["all_results"].values():
                rc["arch_config"]["arch_str"] = nats_meta_archs[i]
        data = bz2.compress(pickle.dumps(rec, protocol=4), 1)
        (folder / f"{i:06d}.pickle.pbz2").write_bytes(data)
    return folder


def _start(folder: Path, out: Path) -> subprocess.Popen:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    cmd = [sys.executable, "-m", "nasbench_tools.cli", "convert", str(folder)]
    cmd += ["-o", str(out / "store.h5"), "--no-progress"]
    return subprocess.Popen(cmd, cwd=out, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _workers(proc: subprocess.Popen, at_least: int = 1) -> list:
    """The worker processes of ``proc`` once there are ``at_least`` of them."""
    parent = psutil.Process(proc.pid)
    while True:
        kids = parent.children(recursive=True)
        if len(kids) >= at_least:
            return kids
        assert proc.poll() is None, "the conversion ended before its workers started"
        time.sleep(0.02)


def _gone(p) -> bool:
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.timeout(120)
def test_sigkill_of_convert_leaves_no_worker(big_folder, tmp_path):
    proc = _start(big_folder, tmp_path)
    kids = _workers(proc, at_least=2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(5)
    alive = [p.pid for p in kids if not _gone(p)]
    for pid in alive:  # do not leave them behind for the next test
        os.kill(pid, signal.SIGKILL)
    assert alive == [], f"{len(alive)} worker(s) outlived the killed parent"


@pytest.mark.timeout(120)
def test_a_killed_worker_is_an_error_not_a_hang(big_folder, tmp_path):
    proc = _start(big_folder, tmp_path)
    victim = _workers(proc, at_least=1)[0]
    victim.send_signal(signal.SIGKILL)
    _out, err = proc.communicate(timeout=100)
    assert proc.returncode == 2, err.decode()[-2000:]
    text = err.decode()
    assert text.startswith(f"nbt convert: error: {big_folder}: a worker process died"), text
    assert "Traceback" not in text
    assert os.listdir(tmp_path) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("prctl", [True, False], ids=["pdeathsig", "watchdog"])
def test_a_worker_busy_in_a_task_dies_with_its_parent(tmp_path, prctl):
    """A worker stuck in a long task (never reading its queue) still goes when its parent is
    SIGKILLed: by PR_SET_PDEATHSIG on Linux, else by the parent-pid watchdog."""
    code = (
        "import os, sys, time\n"
        "from nasbench_tools._workers import die_with_parent as _die_with_parent\n"
        "parent = os.getpid()\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        f"    _die_with_parent(parent, prctl={prctl})\n"
        "    time.sleep(600)\n"
        "    os._exit(0)\n"
        "print(child, flush=True)\n"
        "time.sleep(600)\n"
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, cwd=tmp_path
    )
    child = psutil.Process(int(proc.stdout.readline()))
    time.sleep(0.5)  # the initializer has run
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    gone = _gone(child)
    if not gone:
        child.kill()
    assert gone, "the worker outlived its killed parent by 5 s"


def test_the_synthetic_folder_converts_without_a_fault(big_folder, tmp_path):
    """The fixture itself is valid: a conversion with nothing killed succeeds. (It once set only
    the record's ``arch_str``, so the kill test failed with a consistency error whenever the
    conversion reached file 1's check before the kill.)"""
    proc = _start(big_folder, tmp_path)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert (tmp_path / "store.h5").exists()
