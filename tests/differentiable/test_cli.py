"""`nbt search-differentiable`: every preset runs (at a tiny scale), the reference presets hold the
authors' numbers, bad arguments exit 2 naming them and leave no run folder."""

from __future__ import annotations

import json

import pytest

from nasbench_tools.cli.__main__ import main
from nasbench_tools.differentiable import PRESETS, SearchConfig

#: overrides that make any preset tiny (the method and its options stay the preset's)
TINY = ["--dataset", "digits", "--resize", "8", "--subset", "64", "--valid-subset", "64",
        "--C", "4", "--N", "1", "--batch-size", "32", "--epochs", "1", "--proj-intv", "2",
        "--augment", "none", "--threads", "1", "--no-progress"]  # fmt: skip


@pytest.mark.parametrize("preset", PRESETS.names())
def test_every_preset_runs_a_tiny_search_and_reports_its_selection(preset, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(["search-differentiable", "--preset", preset, "--seed", "0", *TINY, "--out", str(out)])
        == 0
    )
    text = capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    method = PRESETS.get(preset)["method"]
    assert result["method"] == method and f"selected ({method}, " in text
    assert result["selected"]["arch"] in text and "[transfer]" in text
    saved = json.loads((out / "config.json").read_text())["config"]
    c = SearchConfig.from_preset(preset, seed=0).resolved()
    kept = ("method", "weighting", "arch_update", "arch_order", "selection", "lr", "arch_lr",
            "momentum", "weight_decay", "step_order", "lr_schedule", "proj_crit")  # fmt: skip
    assert {k: saved[k] for k in kept} == {k: getattr(c, k) for k in kept}


def test_reference_presets_hold_the_authors_numbers():
    pt = SearchConfig.from_preset("darts-pt-nb201", seed=0).resolved()
    assert (pt.C, pt.N, pt.affine, pt.batch_size, pt.epochs) == (16, 5, False, 64, 100)
    assert (pt.lr, pt.lr_min, pt.momentum, pt.weight_decay, pt.grad_clip) == (
        0.025,
        0.001,
        0.9,
        3e-4,
        5.0,
    )
    assert (pt.arch_lr, pt.arch_betas, pt.arch_weight_decay, pt.arch_order) == (
        3e-4,
        [0.5, 0.999],
        1e-3,
        1,
    )
    assert (pt.proj_intv, pt.proj_crit, pt.edge_order, pt.selection) == (
        5,
        "acc",
        "random",
        "projection",
    )
    fd = SearchConfig.from_preset("fairdarts", seed=0).resolved()
    assert (fd.weighting, fd.zero_one_weight, fd.threshold, fd.selection) == (
        "sigmoid",
        10.0,
        0.85,
        "threshold",
    )
    assert (fd.epochs, fd.lr, fd.arch_lr, fd.batch_size) == (50, 0.005, 3e-3, 128)
    d = SearchConfig.from_preset("darts-nb201", seed=0).resolved()
    assert (d.epochs, d.lr, d.lr_min, d.batch_size, d.arch_lr, d.arch_weight_decay) == (
        50, 0.025, 0.001, 64, 3e-4, 1e-3)  # fmt: skip
    assert (d.weighting, d.arch_order, d.selection) == ("softmax", 1, "argmax")
    blank = SearchConfig.from_preset("darts-pt-fixed-alpha-nb201", seed=0).resolved()
    assert (blank.arch_update, blank.alpha_init_std) == ("frozen", 0.0)


def test_list_names_every_method_and_preset(capsys):
    assert main(["search-differentiable", "--list"]) == 0
    text = capsys.readouterr().out
    from nasbench_tools.differentiable import METHODS

    assert all(m in text for m in METHODS.names()) and all(p in text for p in PRESETS.names())


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--method", "no-such-method", "--seed", "0"], "no-such-method"),
        (["--preset", "no-such-preset", "--seed", "0"], "no-such-preset"),
        (["--preset", "cpu"], "seed is required"),
        (["--seed", "0"], "--preset or --method"),
        (["--method", "darts", "--seed", "0", "NO-OUT"], "--out is required"),
        (["--method", "darts-pt", "--seed", "0", "--proj-intv", "1"], "proj_intv"),
        (["--method", "darts", "--seed", "0", "--selection", "threshold"], "threshold selection"),
        (["--method", "gdas", "--seed", "0", "--arch-order", "2"], "second-order"),
        (["--method", "darts", "--seed", "0", "--arch-order", "3"], "arch_order"),
        (["--method", "single-path", "--seed", "0", "--zero-one-weight", "1"], "zero-one loss"),
        (["--method", "darts", "--seed", "0", "--lr", "-1"], "lr must be"),
        (["--method", "darts", "--seed", "0", "--dataset", "nope"], "nope"),
        (["--method", "darts", "--seed", "0", "--ground-truth", "{tmp}/none.h5"], "none.h5"),
        (
            ["--method", "darts", "--seed", "0", "--dataset", "digits", "--subset", "8"],
            "no full batch",
        ),
    ],
)
def test_bad_arguments_exit_2_naming_them_and_leave_no_run_folder(argv, named, tmp_path, capsys):
    out = tmp_path / "run"
    args = [a.format(tmp=tmp_path) for a in argv if a != "NO-OUT"]
    where = [] if "NO-OUT" in argv else ["--out", str(out)]
    assert main(["search-differentiable", *where, "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("nbt search-differentiable: error: ")
    assert named in err
    assert not out.exists()


def test_cli_lookup_says_when_a_sampled_ground_truth_lacks_the_selection(tmp_path, capsys):
    from tests.differentiable.test_compare import _sample_store

    store = _sample_store(tmp_path, [0, 1], [50.0, 60.0], dataset="digits")
    out = tmp_path / "run"
    argv = ["search-differentiable", "--method", "darts", "--seed", "0", *TINY,
            "--ground-truth", str(store), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    if result["selected"]["index"] not in (0, 1):
        assert f"{store}: digits valid 3 epochs: not in this ground truth" in text
    assert [g["ground_truth"] for g in result["ground_truths"]] == [str(store), "nb201"]
