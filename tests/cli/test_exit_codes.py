"""One exit-code convention for every subcommand: a user or library error exits 2 with one line
``nbt <cmd>: error: ...`` on stderr; 1 is left for crashes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nasbench_tools.cli.__main__ import main, subcommand_modules

_SEARCH = ["--strategy", "random", "--repeats", "2"]
#: Per subcommand, arguments that parse but that the library refuses (a bad value, a missing
#: file, an unknown name). Every subcommand needs at least one case.
BAD_ARGUMENTS = {
    "arch": [["99999"], [], ["--matrix", "0110"]],
    "build-bench": [
        ["--preset", "no-such-preset", "--out", "{tmp}/b.h5"],
        ["--preset", "quick", "--shard", "3/2", "--out", "{tmp}/b.h5"],
        ["--preset", "quick", "--out", "{tmp}/missing/b.h5", "--no-progress"],
    ],
    "convert": [["{tmp}/missing.pth", "-o", "{tmp}/out.h5"]],
    "info": [["no-such-benchmark"]],
    "query": [
        ["nb201", "0", "--dataset", "no-such-dataset"],
        [
            "nb201",
            "all",
            "--dataset",
            "cifar10-valid",
            "--split",
            "x-valid",
            "--epochs",
            "200",
            "-o",
            "{tmp}/missing/out.csv",
        ],
    ],
    "report": [
        ["--out", "{tmp}/rep", "--target", "cifar10-valid:x-valid"],
        ["--out", "{tmp}/missing/rep", "--n-boot", "0", "--figures", "none"],
    ],
    "score": [
        ["--proxy", "no-such-proxy", "--out", "{tmp}/s.csv"],
        ["--proxy", "snip", "--sample", "2", "--out", "{tmp}/s.csv", "--no-progress"],
        ["--proxy", "synflow", "--shard", "3/2", "--out", "{tmp}/s.csv"],
        ["--proxy", "synflow", "--out", "{tmp}/missing/s.csv", "--no-progress"],
    ],
    "search": [
        ["--strategy", "random", "--protocol", "nb201-cifar10", "--repeats", "2", "-o", "{tmp}/x"],
        [*_SEARCH, "--protocol", "no-such-protocol", "--seed", "0", "-o", "{tmp}/x.npz"],
        [*_SEARCH, "--protocol", "nb201-cifar10", "--budget", "1 hour", "--seed", "0", "-o", "x"],
    ],
    "search-differentiable": [
        ["--out", "{tmp}/run", "--method", "no-such-method", "--seed", "0"],
        ["--out", "{tmp}/run", "--preset", "cpu"],  # no --seed
    ],
    "train-supernet": [["--out", "{tmp}/run", "--sampler", "no-such-sampler"]],
}
CASES = [(cmd, argv) for cmd, cases in sorted(BAD_ARGUMENTS.items()) for argv in cases]


def _status(argv: list[str]) -> int:
    """``main(argv)`` as the interpreter would end: SystemExit("text") prints it and exits 1."""
    try:
        return main(argv)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 1
        return 0 if exc.code is None else int(exc.code)


def test_every_subcommand_has_a_bad_argument_case():
    assert sorted(BAD_ARGUMENTS) == sorted(m.NAME for m in subcommand_modules())


@pytest.mark.parametrize(("cmd", "argv"), CASES, ids=[f"{c}:{' '.join(a)}" for c, a in CASES])
def test_a_bad_argument_exits_2_with_one_line(cmd, argv, tmp_path, capsys):
    # the defect: `nbt arch` without an architecture raised SystemExit("..."), which exits 1
    rc = _status([cmd, *(a.format(tmp=tmp_path) for a in argv)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith(f"nbt {cmd}: error: "), err
    assert "Traceback" not in err


@pytest.mark.parametrize("item", ["nokey", "=3"])
def test_train_supernet_bad_key_value_exits_2(item, tmp_path, capsys):
    # the defect: --sampler-opt without KEY=VALUE raised SystemExit("..."), which exits 1
    rc = _status(["train-supernet", "--out", str(tmp_path / "run"), "--sampler-opt", item])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.splitlines() == [
        f"nbt train-supernet: error: --sampler-opt expects KEY=VALUE, got {item!r}"
    ]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["--sampler", "nope"],
        ["--supernet", "nope"],
        ["--dataset", "nope"],
        ["--eval-bn", "nope"],
        ["--preset", "nope"],
        ["--sampler", "spos", "--sampler-opt", "bogus=1"],
    ],
)
def test_train_supernet_unknown_name_leaves_no_run_folder(argv, tmp_path, capsys):
    # a run that cannot start must leave nothing behind: no run folder, no checkpoints/
    out = tmp_path / "run"
    rc = _status(["train-supernet", "--out", str(out), "--no-progress", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert "nope" in err or "bogus" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_argparse_errors_exit_2_naming_the_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["query", "nb201"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("nbt query: error: ")


def test_the_installed_entry_point_exits_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "nasbench_tools.cli", "arch"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "nbt arch: error: give an NB201 architecture, or --matrix and --ops for NB101"
    ]
