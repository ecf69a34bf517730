"""Fixtures shared by the torch test folders (``tests/nn``, ``tests/supernet``).

Each of those folders' ``conftest.py`` imports them, so they apply there only: the other tests
never load this module, and never import torch through a conftest.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny networks run faster on one thread, and a shared 2-core CI box is not oversubscribed."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
