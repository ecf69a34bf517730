"""``--device auto|cpu|cuda`` and ``--amp`` on a machine without CUDA: CUDA is refused with one
line and exit 2 before anything is written, ``auto`` picks the CPU, ``--amp`` on the CPU is
refused (mixed precision here is float16 with a gradient scaler, CUDA only)."""

from __future__ import annotations

import json

import pytest

from nasbench_tools.cli.__main__ import main

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")

_SUPERNET = ["--C", "4", "--N", "1", "--subset", "64", "--valid-subset", "32", "--epochs", "1",
             "--batch-size", "32", "--threads", "1", "--no-progress"]  # fmt: skip
CASES = {
    "train-supernet cuda": (["train-supernet", "--out", "{out}", "--device", "cuda", *_SUPERNET],
                            "--device cuda: CUDA is not available on this machine"),
    "train-supernet amp": (["train-supernet", "--out", "{out}", "--amp", *_SUPERNET],
                           "amp=True needs a CUDA device, got device='cpu'"),
    "build-bench cuda": (["build-bench", "--preset", "quick", "--sample", "1", "--seed", "0",
                          "--out", "{out}/b.h5", "--device", "cuda", "--no-progress"],
                         "--device cuda: CUDA is not available on this machine"),
    "build-bench amp": (["build-bench", "--preset", "quick", "--sample", "1", "--seed", "0",
                         "--out", "{out}/b.h5", "--amp", "--no-progress"],
                        "--amp needs a CUDA device"),
    "search-differentiable cuda": (["search-differentiable", "--method", "darts", "--seed", "0",
                                    "--out", "{out}", "--device", "cuda:0", "--no-progress"],
                                   "--device cuda:0: CUDA is not available on this machine"),
    "score cuda": (["score", "--proxy", "params", "--sample", "2", "--seed", "0",
                    "--out", "{out}/s.csv", "--device", "cuda"],
                   "--device cuda: CUDA is not available on this machine"),
    "score bad name": (["score", "--proxy", "params", "--sample", "2", "--seed", "0",
                        "--out", "{out}/s.csv", "--device", "gpu"],
                       "--device must be auto, cpu, cuda or cuda:<i>, got 'gpu'"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_unavailable_device_or_amp_on_cpu_exits_2_with_one_line_and_writes_nothing(
    case, tmp_path, capsys
):
    argv, message = CASES[case]
    out = tmp_path / "out"
    argv = [a.replace("{out}", str(out)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"nbt {argv[0]}: error: "), err
    assert message in err
    assert not out.exists() or not any(out.rglob("*"))


def test_device_auto_trains_on_the_cpu_and_records_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train-supernet", "--out", str(out), "--device", "auto", *_SUPERNET]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["device"] == "cpu" and saved["config"]["micro_batches"] == 1
