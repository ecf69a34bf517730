"""Tiny differentiable searches for the tests: digits (8x8), C=4, N=1, one torch thread."""

from __future__ import annotations

import pytest

from tests._torch_fixtures import _one_torch_thread  # noqa: F401  (an autouse fixture)

#: A search small enough for a test: 64 + 64 digits, batches of 32, C=4, N=1.
TINY = {
    "C": 4, "N": 1, "dataset": "digits", "subset": 64, "valid_subset": 64, "batch_size": 32,
    "eval_batch_size": 64, "epochs": 2, "proj_intv": 2, "augment": "none", "seed": 0,
    "threads": 1, "log_every": 1000, "arch_lr": 3e-2, "lr": 0.05,
}  # fmt: skip


@pytest.fixture
def tiny():
    """``tiny(method, **overrides) -> SearchConfig``."""
    from nasbench_tools.differentiable import SearchConfig

    def make(method: str = "darts", **overrides) -> SearchConfig:
        return SearchConfig.from_dict({**TINY, "method": method, **overrides})

    return make
