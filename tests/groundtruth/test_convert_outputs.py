"""`convert` and `nbt convert`: output paths checked before reading, temporary files, processes.

Each test is named after a defect of the first release: a bad output path raised a raw
FileExistsError / PermissionError / OSError(36) only after the whole source was read, and after
`nbt convert` of a TFRecord was SIGKILLed its reading child blocked forever on a pipe.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasbench_tools import _io
from nasbench_tools.cli.__main__ import main
from nasbench_tools.errors import NasbenchToolsError, OutputPathError
from nasbench_tools.groundtruth import GroundTruth, convert
from nasbench_tools.groundtruth.formats import nb101_tfrecord as tfr
from nasbench_tools.groundtruth.formats.embedded_csv import COMBINED, embedded_path
from nasbench_tools.groundtruth.store import AtomicOutput, remove_stale_temporaries

from ._nb101_files import REAL30, big_tfrecord

convert_mod = importlib.import_module("nasbench_tools.groundtruth.convert")
SRC = embedded_path(COMBINED)


@pytest.fixture
def no_reading(monkeypatch):
    """Fail the test if the source is read at all: every check must come before reading."""

    def read_any(*a, **kw):
        raise AssertionError("the source was read before the output path was checked")

    monkeypatch.setattr(convert_mod, "read_any", read_any)


def _bad_paths(tmp_path: Path):
    existing = tmp_path / "exists.h5"
    existing.write_bytes(b"keep me")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    return [
        (existing, "already exists; pass overwrite=True"),
        (tmp_path, "is a folder"),
        (tmp_path / "missing" / "s.h5", "does not exist; create it first"),
        (a_file / "s.h5", "is not a folder"),
        (tmp_path / ("n" * 300 + ".h5"), "the file name is 303 bytes long"),
    ]


def test_bad_output_path_is_refused_before_reading_the_source(tmp_path, no_reading):
    for out, message in _bad_paths(tmp_path):
        before = sorted(tmp_path.rglob("*"))
        with pytest.raises(OutputPathError, match=message):
            convert(SRC, out, progress=False)
        assert sorted(tmp_path.rglob("*")) == before, out  # nothing created, nothing removed
    assert (tmp_path / "exists.h5").read_bytes() == b"keep me"


def test_unwritable_output_folder_is_refused_before_reading(tmp_path, monkeypatch, no_reading):
    """As root every folder is writable, so the refusal of the OS is simulated at os.open."""
    real_open = os.open

    def refuse(path, flags, *a):
        if Path(path).parent == tmp_path / "ro" and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *a)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(_io.os, "open", refuse)
    with pytest.raises(
        OutputPathError, match=r"cannot create a file in .*ro \(permission denied\)"
    ):
        convert(SRC, tmp_path / "ro" / "s.h5", progress=False)
    assert list((tmp_path / "ro").iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_is_refused(tmp_path, no_reading):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputPathError, match="permission denied"):
            convert(SRC, ro / "s.h5", progress=False)
    finally:
        ro.chmod(0o755)


def test_nbt_convert_bad_output_exits_2_with_one_line(tmp_path, capsys, no_reading):
    for out, message in _bad_paths(tmp_path):
        rc = main(["convert", str(SRC), "-o", str(out), "--no-progress"])
        err = capsys.readouterr().err
        assert rc == 2, out
        assert err.count("\n") == 1 and err.startswith("nbt convert: error: ") and message in err


def test_output_that_is_its_own_source_is_refused(tmp_path, no_reading):
    src = tmp_path / "x.tfrecord"
    src.write_bytes(REAL30.read_bytes())
    with pytest.raises(OutputPathError, match="its own source"):
        convert(src, src, overwrite=True)


def test_failed_conversion_leaves_nothing_behind(tmp_path, monkeypatch):
    def boom(*a, **kw):
        raise NasbenchToolsError("simulated reader failure")

    monkeypatch.setattr(convert_mod, "read_any", boom)
    with pytest.raises(NasbenchToolsError, match="simulated"):
        convert(SRC, tmp_path / "out.h5")
    assert list(tmp_path.iterdir()) == []


def test_output_created_by_someone_else_while_writing_is_not_replaced(tmp_path):
    out = tmp_path / "s.h5"
    with pytest.raises(OutputPathError, match="created by someone else"):
        with AtomicOutput(out, overwrite=False) as target:
            target.tmp.write_bytes(b"ours")
            out.write_bytes(b"theirs")  # another process finished first
            target.commit()
    assert out.read_bytes() == b"theirs" and list(tmp_path.iterdir()) == [out]


def test_temporary_names_are_unique_per_process_and_call(tmp_path):
    with AtomicOutput(tmp_path / "a.h5", overwrite=False) as a:
        with AtomicOutput(tmp_path / "a.h5", overwrite=False) as b:
            assert a.tmp != b.tmp
            assert a.tmp.name.startswith(f".a.h5.nbt-{os.getpid()}-")
    assert list(tmp_path.iterdir()) == []
    long = tmp_path / ("n" * 250 + ".h5")  # a name the file system allows, near its limit
    with AtomicOutput(long, overwrite=False) as c:
        assert len(c.tmp.name) < 80 and c.tmp.name.startswith("." + "n" * 40 + "~.nbt-")
        c.tmp.write_bytes(b"x")
        c.commit()
    assert long.read_bytes() == b"x" and list(tmp_path.iterdir()) == [long]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporary_of_a_killed_run_is_removed_and_a_live_one_kept(tmp_path):
    stale = tmp_path / f".s.h5.nbt-{_dead_pid()}-0123abcd.tmp"
    stale.write_bytes(b"half a store")
    live = tmp_path / f".s.h5.nbt-{os.getppid()}-89abcdef.tmp"  # a running process: maybe writing
    live.write_bytes(b"in progress")
    other = tmp_path / ".nbt-notes.tmp"  # not one of ours
    other.write_bytes(b"x")
    another = tmp_path / f".t.h5.nbt-{_dead_pid()}-0123abcd.tmp"  # another output's: its own run
    another.write_bytes(b"x")
    out = convert(SRC, tmp_path / "s.h5", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [out.name, live.name, other.name, another.name]
    )
    assert remove_stale_temporaries(tmp_path / "s.h5") == []
    assert remove_stale_temporaries(tmp_path / "t.h5") == [another]


def test_store_written_over_an_existing_one_only_with_force(tmp_path, capsys):
    out = tmp_path / "s.h5"
    out.write_bytes(b"old")
    assert main(["convert", str(SRC), "-o", str(out), "--no-progress"]) == 2
    assert out.read_bytes() == b"old"
    assert main(["convert", str(SRC), "-o", str(out), "--no-progress", "--force"]) == 0
    assert len(GroundTruth.from_store(out)) == 15625


# ----------------------------------------------------------------------------------- processes


def _running(p) -> bool:
    import psutil

    try:
        return p.status() != psutil.STATUS_ZOMBIE  # a zombie has ended; only its entry remains
    except psutil.NoSuchProcess:
        return False


@pytest.mark.skipif(
    sys.platform != "linux" or len(os.sched_getaffinity(0)) < 2,
    reason="the TFRecord reader forks a second reader only on Linux with 2 CPUs",
)
@pytest.mark.timeout(120)
def test_sigkilled_nbt_convert_leaves_no_reader_process(tmp_path):
    psutil = pytest.importorskip("psutil")
    src = tmp_path / "nasbench_only108.tfrecord"
    big_tfrecord(src, tfr._PARALLEL_MIN)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    cmd = [sys.executable, "-m", "nasbench_tools.cli", "convert", str(src), "-o"]
    proc = subprocess.Popen(
        [*cmd, str(out_dir / "s.h5"), "--no-progress", "--verify-hashes", "none"], env=env
    )
    children = []
    try:
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        while not children and proc.poll() is None and time.monotonic() < deadline:
            children = parent.children(recursive=True)
            time.sleep(0.002)
        assert children, "nbt convert ended or never forked its second reader"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while any(_running(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [c.pid for c in children if _running(c)] == []
    finally:
        for c in children:
            if _running(c):
                c.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The killed run's temporary file stays until the next run writing that output removes it.
    assert [p.name for p in out_dir.iterdir()] == [
        f".s.h5.nbt-{proc.pid}-" + p.name[-12:] for p in out_dir.iterdir()
    ]
    convert(REAL30, out_dir / "s.h5", progress=False)
    assert [p.name for p in out_dir.iterdir()] == ["s.h5"]


_FORKED = r"""
import os, sys, time
from nasbench_tools.groundtruth.formats import nb101_tfrecord as tfr
mode, marker = sys.argv[1], sys.argv[2]
parent = os.getpid()
if os.fork() == 0:
    if mode == "watchdog only":  # as on a system without prctl
        tfr.sys = type(sys)("elsewhere")
        tfr.sys.platform = "darwin"
    elif mode == "prctl only":
        import threading
        threading.Thread.start = lambda self: None
    tfr._die_with_parent(parent)
    with open(marker, "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(60)
    os._exit(0)
time.sleep(60)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="prctl(PR_SET_PDEATHSIG) is Linux-only")
@pytest.mark.parametrize("mode", ["both", "prctl only", "watchdog only"])
@pytest.mark.timeout(60)
def test_forked_reader_dies_with_its_killed_parent(tmp_path, mode):
    """Each of the two guards alone ends the forked reader when its parent is SIGKILLed."""
    psutil = pytest.importorskip("psutil")
    marker = tmp_path / "child.pid"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", _FORKED, mode, str(marker)], env=env)
    child = None
    try:
        deadline = time.monotonic() + 30
        while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        child = psutil.Process(int(marker.read_text()))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(child)
    finally:
        if child is not None and _running(child):
            child.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
@pytest.mark.timeout(60)
def test_forked_reader_does_not_block_on_a_pipe_nobody_reads(tmp_path, monkeypatch):
    """The first release's child kept the pipe's read end open, so with its parent gone it blocked
    forever writing its results. Here the parent drops the pipe at once (as a killed parent
    does) and the child's death-with-parent guards are off: it must still end."""
    import multiprocessing

    src = tmp_path / "records.tfrecord"
    n = big_tfrecord(src, 1 << 20)  # the second half's results exceed a pipe's 64 KiB buffer
    assert n * 13 * 8 / 2 > 1 << 16
    monkeypatch.setattr(tfr, "_die_with_parent", lambda parent: None)
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    done = ctx.Value("q", 0, lock=False)
    with open(src, "rb") as fh:
        split = tfr._find_split(fh, src.stat().st_size)
    args = (send, receive, os.getpid(), src, split, src.stat().st_size, True, done)
    child = ctx.Process(target=tfr._child, args=args, daemon=True)
    child.start()
    send.close()
    receive.close()
    child.join(timeout=20)
    try:
        assert not child.is_alive()
    finally:
        if child.is_alive():
            child.kill()
            child.join()
