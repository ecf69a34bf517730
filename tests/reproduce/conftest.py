"""The reproduction scripts live in benchmarks/reproduce (run as files); the tests import them
from there, with one torch thread, and share one folder of quick ground truths (tiny stores built
on digits by nbt build-bench's quick protocol) between every script, and one quick run of each
script between the script's tests and its notebook's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[2] / "benchmarks" / "reproduce"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def quick_cache(tmp_path_factory) -> Path:
    """Quick ground truths shared by the scripts' tests (built once, on first use)."""
    return tmp_path_factory.mktemp("quick_ground_truth")


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory, quick_cache):
    """``quick_run(name)``: the folder of one uninterrupted quick run of
    ``benchmarks/reproduce/<name>.py``, made on first use and shared by every test of the
    session (test_scripts.py, test_notebooks.py): read it, never write into it."""
    import importlib

    import _harness as H
    import torch

    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in done:
            mod = importlib.import_module(name)
            out = tmp_path_factory.mktemp(f"quick_{name}") / "run"
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                H.run_preset(name, mod.PRESETS, mod.run, "quick", out, cache=quick_cache,
                             progress=False)  # fmt: skip
            finally:
                torch.set_num_threads(before)
            done[name] = out
        return done[name]

    return get


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
