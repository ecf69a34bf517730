"""atomic_write: checked before anything is written, complete or absent after, nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nasbench_tools._io import atomic_write, temporary_name
from nasbench_tools.errors import OutputPathError


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_file_appears_only_when_the_block_ends(tmp_path):
    out = tmp_path / "a.csv"
    with atomic_write(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(f".a.csv.nbt-{os.getpid()}-")
        tmp.write_text("x")
        assert not out.exists()
    assert out.read_text() == "x" and _names(tmp_path) == ["a.csv"]


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path):
    # the defect: a write killed half-way left a truncated output, or a temporary behind
    out = tmp_path / "a.csv"
    out.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(out, overwrite=True) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert out.read_text() == "old" and _names(tmp_path) == ["a.csv"]


def test_existing_output_needs_overwrite(tmp_path):
    out = tmp_path / "a.csv"
    out.write_text("old")
    with pytest.raises(OutputPathError, match="a.csv: already exists; pass overwrite=True"):
        with atomic_write(out):
            pass
    with atomic_write(out, overwrite=True) as tmp:
        tmp.write_text("new")
    assert out.read_text() == "new"


def test_output_that_appears_while_writing_is_not_replaced(tmp_path):
    out = tmp_path / "a.csv"
    with pytest.raises(OutputPathError, match="created by someone else"):
        with atomic_write(out) as tmp:
            tmp.write_text("mine")
            out.write_text("theirs")
    assert out.read_text() == "theirs" and _names(tmp_path) == ["a.csv"]


def test_folder_is_replaced_whole(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    with atomic_write(out, overwrite=True, folder=True) as tmp:
        assert tmp.is_dir() and not any(tmp.iterdir())
        (tmp / "sub").mkdir()
        (tmp / "sub" / "n.json").write_text("{}")
    assert _names(out) == ["sub"] and _names(tmp_path) == ["rep"]


def test_failed_folder_write_keeps_the_old_folder(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(out, overwrite=True, folder=True) as tmp:
            (tmp / "new.txt").write_text("x")
            raise RuntimeError("boom")
    assert _names(out) == ["keep.txt"] and _names(tmp_path) == ["rep"]


@pytest.mark.parametrize(
    ("make", "kwargs", "match"),
    [
        (lambda p: None, {"path": "missing/a.csv"}, "its folder .*missing does not exist"),
        (lambda p: (p / "d").mkdir(), {"path": "d"}, "d: is a folder; give a file path"),
        (lambda p: (p / "f").write_text(""), {"path": "f", "folder": True}, "not a folder"),
        (lambda p: None, {"path": "x" * 300}, "the file name is 300 bytes long"),
    ],
)
def test_bad_output_paths_are_refused_before_writing(tmp_path, make, kwargs, match):
    make(tmp_path)
    kwargs = dict(kwargs)
    path = tmp_path / kwargs.pop("path")
    with pytest.raises(OutputPathError, match=match):
        with atomic_write(path, overwrite=True, **kwargs):
            pytest.fail("the block must not run")


def test_temporaries_are_unique_per_call(tmp_path):
    out = tmp_path / "a"
    assert len({temporary_name(out) for _ in range(50)}) == 50


def test_stale_temporary_of_a_killed_writer_is_removed(tmp_path):
    # a writer killed by SIGKILL leaves its temporary; the next writer of that path removes it
    out = tmp_path / "a.csv"
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from nasbench_tools._io import atomic_write\n"
        "with atomic_write(Path(sys.argv[1])) as tmp:\n"
        "    tmp.write_text('half')\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(out)], env=os.environ.copy())
    assert proc.returncode == -9
    left = _names(tmp_path)
    assert len(left) == 1 and left[0].startswith(".a.csv.nbt-") and left[0].endswith(".tmp")
    dead_pid = left[0].split("-")[1]
    other = tmp_path / f".b.csv.nbt-{dead_pid}-0123abcd.tmp"  # another output's: not touched
    other.write_text("")
    with atomic_write(out) as tmp:
        tmp.write_text("full")
    assert _names(tmp_path) == [other.name, "a.csv"]


def test_everything_written_is_flushed_before_the_rename(tmp_path, monkeypatch):
    # a rename is only durable with the data behind it on disk: every file, then the folders
    from nasbench_tools import _io

    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(_io.os, "fsync", fsync)
    out = tmp_path / "rep"
    with atomic_write(out, folder=True) as tmp:
        (tmp / "t").mkdir()
        (tmp / "t" / "a.md").write_text("a")
        (tmp / "n.json").write_text("{}")
        assert synced == []
    names = [os.path.relpath(p, tmp) for p in synced[:-1]]
    assert sorted(names) == [".", "n.json", "t", "t/a.md"]
    assert synced[-1] == str(tmp_path)  # the parent, after the rename
