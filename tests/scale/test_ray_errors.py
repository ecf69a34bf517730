"""``--ray`` refuses what it cannot do with one line and exit code 2, before any work: Ray not
installed (naming what to install), an address where no Ray answers (naming it), a malformed
address, and options it cannot combine with. No Ray instance is started here."""

from __future__ import annotations

import socket
import sys

import pytest

from nasbench_tools.cli.__main__ import main


def _score(tmp_path, *extra: str) -> list[str]:
    return ["score", "--proxy", "params", "--archs-file", str(_archs(tmp_path)), "--option",
            "C=4", "--option", "N=1", "--no-progress", "--out", str(tmp_path / "t.csv"), *extra]  # fmt: skip


def _archs(tmp_path):
    path = tmp_path / "archs.txt"
    path.write_text("3\n11\n40\n")
    return path


def _commands(tmp_path) -> dict[str, list[str]]:
    return {
        "score": _score(tmp_path),
        "build-bench": ["build-bench", "--preset", "quick", "--archs-file", str(_archs(tmp_path)),
                        "--no-progress", "--out", str(tmp_path / "b.h5")],
        "search": ["search", "--strategy", "random", "--protocol", "nb201-cifar10", "--budget",
                   "20", "--repeats", "2", "--seed", "0", "--no-progress", "-o",
                   str(tmp_path / "s.npz")],
    }  # fmt: skip


def _one_error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"nbt {command}: error: --ray"), err
    return err[0]


@pytest.mark.parametrize("command", ["score", "build-bench", "search"])
def test_ray_not_installed_is_one_line_naming_what_to_install(
    tmp_path, capsys, monkeypatch, command
):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    assert main([*_commands(tmp_path)[command], "--ray"]) == 2
    assert "pip install 'nasbench-tools[ray]'" in _one_error_line(capsys, command)
    assert not list(tmp_path.glob("[tbs].*")), "nothing written"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", ["score", "build-bench", "search"])
def test_an_address_where_no_ray_answers_is_one_line_naming_it(tmp_path, capsys, command):
    pytest.importorskip("ray")
    address = f"127.0.0.1:{_closed_port()}"
    assert main([*_commands(tmp_path)[command], "--ray", address]) == 2
    line = _one_error_line(capsys, command)
    assert f"--ray {address}: no Ray cluster answers" in line and "ray start --head" in line


def test_a_malformed_address_is_refused(tmp_path, capsys):
    pytest.importorskip("ray")
    assert main([*_score(tmp_path), "--ray", "somewhere"]) == 2
    assert "expected HOST:PORT" in _one_error_line(capsys, "score")


@pytest.mark.parametrize(
    "extra",
    [["--workers", "2"], ["--merge", "a.csv"], ["--ray-retries", "-1"]],
    ids=["workers", "merge", "negative-retries"],
)
def test_ray_with_an_option_it_cannot_take_is_refused(tmp_path, capsys, extra):
    assert main([*_score(tmp_path, "--ray"), *extra]) == 2
    err = capsys.readouterr().err
    assert "cannot be combined" in err or "expected an integer >= 0" in err, err
