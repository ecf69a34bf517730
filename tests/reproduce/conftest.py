"""The reproduction scripts live in benchmarks/reproduce (run as files); the tests import them
from there, with one torch thread, and share one folder of quick ground truths (tiny stores built
on digits by nbt build-bench's quick protocol) between every script."""

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


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
