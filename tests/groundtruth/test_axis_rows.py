"""``ArchAxis.rows``: the row of each architecture, -1 for one a sample ground truth does not
hold, an error for one the space does not accept (checked against the store's own key list)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nasbench_tools.errors import NasbenchToolsError
from nasbench_tools.groundtruth.target import open_ground_truth

STORE = Path(__file__).resolve().parents[2] / "data" / "builds" / "pilot_cpu_e5.h5"


def test_rows_are_positions_for_held_archs_and_minus_one_for_the_rest():
    gt = open_ground_truth(str(STORE))
    keys = [int(k) for k in gt.archs.keys]
    absent = sorted(set(range(15625)) - set(keys))[:3]
    asked = [keys[5], absent[0], keys[0], absent[1], keys[-1], absent[2]]
    np.testing.assert_array_equal(gt.archs.rows(asked), [5, -1, 0, -1, len(keys) - 1, -1])
    np.testing.assert_array_equal(gt.archs.rows(keys), np.arange(len(keys)))


def test_an_arch_the_space_does_not_accept_still_raises():
    gt = open_ground_truth(str(STORE))
    with pytest.raises(NasbenchToolsError):
        gt.archs.rows([15625])
