"""``nbt search``: runs end to end, writes a readable file, and user errors exit 2 with one line."""

from __future__ import annotations

import pytest

from nasbench_tools.cli.__main__ import main
from nasbench_tools.search import read_trajectories


def test_nbt_search_writes_trajectories_and_prints_the_result(tmp_path, capsys):
    out = tmp_path / "rea.npz"
    rc = main(
        [
            "search",
            "--strategy",
            "rea",
            "--protocol",
            "nb201-cifar10",
            "--budget",
            "3000s",
            "--repeats",
            "4",
            "--seed",
            "0",
            "--no-progress",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    t = read_trajectories(out)
    assert t.n_runs == 4 and t.header["strategy"]["options"]["population"] == 10
    assert t.header["oracle"]["protocol"] == "nb201-cifar10"
    assert t.header["budget"]["seconds"] == 3000
    cap = capsys.readouterr()
    assert "rea: 4 runs, 3,000 simulated seconds" in cap.out and "optimum 94.373" in cap.out
    assert "signal: nb201: cifar10-valid x-valid 12 epochs" in cap.err


def test_nbt_search_takes_options_and_explicit_measures(tmp_path):
    out = tmp_path / "rs.npz"
    rc = main(
        [
            "search",
            "--strategy",
            "random",
            "--option",
            "replace=false",
            "--option",
            "sampler=classes",
            "--signal",
            "nb201,cifar100,x-valid,12",
            "--report",
            "nb201,cifar100,ori-test,200",
            "--cost",
            "nb201,cifar100,12",
            "--budget",
            "20",
            "--repeats",
            "2",
            "--seed",
            "1",
            "--no-progress",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    t = read_trajectories(out)
    assert t.header["strategy"]["options"] == {"replace": False, "sampler": "classes"}
    assert t.header["oracle"]["report"]["column"] == "cifar100|ori-test|200|accuracy|final"
    assert t.queries_per_run().tolist() == [20, 20]


def test_nbt_search_mnasnet_reward(tmp_path):
    out = tmp_path / "m.npz"
    rc = main(
        [
            "search",
            "--strategy",
            "reinforce",
            "--protocol",
            "nb201-cifar10",
            "--budget",
            "30",
            "--reward-cost",
            "computed,cifar10,,,flops",
            "--reward-target",
            "100",
            "--repeats",
            "2",
            "--seed",
            "0",
            "--no-progress",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    obj = read_trajectories(out).header["oracle"]["objective"]
    assert obj["kind"] == "mnasnet" and obj["T"] == 100 and obj["alpha"] == -0.07


def test_nbt_search_list(capsys):
    assert main(["search", "--list"]) == 0
    out = capsys.readouterr().out
    for word in ("rea", "weaknas", "nb201-cifar10", "mlp-fast", "naslib (nb201)"):
        assert word in out


@pytest.mark.parametrize(
    "argv,match",
    [
        (
            ["--strategy", "rea", "--protocol", "nb201-cifar10", "--repeats", "2", "-o", "x.npz"],
            "--seed",
        ),
        (
            [
                "--strategy",
                "bogus",
                "--protocol",
                "nb201-cifar10",
                "--repeats",
                "2",
                "--seed",
                "0",
                "-o",
                "x.npz",
            ],
            "unknown search strategy 'bogus'",
        ),
        (
            [
                "--strategy",
                "rea",
                "--protocol",
                "nb201-cifar10",
                "--budget",
                "lots",
                "--repeats",
                "2",
                "--seed",
                "0",
                "-o",
                "x.npz",
            ],
            "budget 'lots'",
        ),
        (
            [
                "--strategy",
                "rea",
                "--protocol",
                "nope",
                "--repeats",
                "2",
                "--seed",
                "0",
                "-o",
                "x.npz",
            ],
            "unknown search protocol",
        ),
        (
            [
                "--strategy",
                "rea",
                "--protocol",
                "nb201-cifar10",
                "--option",
                "pop=3",
                "--repeats",
                "2",
                "--seed",
                "0",
                "-o",
                "x.npz",
            ],
            "unknown option",
        ),
        (
            [
                "--strategy",
                "rea",
                "--signal",
                "nb201,cifar10-valid,x-valid,12",
                "--repeats",
                "2",
                "--seed",
                "0",
                "-o",
                "x.npz",
            ],
            "give --signal, --report and --budget",
        ),
        (
            [
                "--strategy",
                "rea",
                "--protocol",
                "nb201-cifar10",
                "--seed-policy",
                "draw",
                "--repeats",
                "2",
                "--seed",
                "0",
                "-o",
                "x.npz",
            ],
            "seed means only",
        ),
        (
            [
                "--strategy",
                "rea",
                "--protocol",
                "nb201-cifar10",
                "--reward-target",
                "3",
                "--repeats",
                "2",
                "--seed",
                "0",
                "-o",
                "x.npz",
            ],
            "both --reward-cost and --reward-target",
        ),
        (
            [
                "--strategy",
                "rea",
                "--protocol",
                "nb201-cifar10",
                "--data",
                "nb101=x",
                "--repeats",
                "2",
                "--seed",
                "0",
                "-o",
                "x.npz",
            ],
            "cannot replace",
        ),
    ],
)
def test_nbt_search_user_errors_exit_2_with_one_line(tmp_path, monkeypatch, capsys, argv, match):
    monkeypatch.chdir(tmp_path)
    assert main(["search", *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("nbt search: error:") and match in err
    assert not (tmp_path / "x.npz").exists()
