"""Fixtures for the analysis tests: real embedded data and Yang et al.'s published arrays."""

from __future__ import annotations

from importlib import resources

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

EMBEDDED = resources.files("nasbench_tools.groundtruth") / "embedded"

# Yang, Esperanca & Carlucci (ICLR 2020), antoyang/NAS-Benchmark Plots/data, as listed in
# method_spec.md appendix A (numeric results, not code).
# correlation_cells/8_to_20_cells.npy: [accuracy with 8 cells, accuracy with 20 cells]
YANG_CELLS = np.array(
    [
        [96.26, 97.16], [96.11, 96.4], [96.99, 97.36], [96.02, 96.09], [96.74, 97.1],
        [96.73, 97.18], [96.79, 97.25], [96.86, 96.98], [96.68, 97.09], [96.46, 96.99],
        [96.66, 96.97], [96.61, 97.15], [96.37, 96.62], [96.68, 96.78], [96.38, 96.34],
        [96.94, 97.25], [96.37, 97.06], [96.36, 96.69], [96.53, 96.77], [96.84, 97.19],
        [96.45, 97.02], [96.62, 97.12], [96.76, 97.39], [96.39, 96.61], [96.21, 96.63],
        [96.42, 96.85], [96.1, 96.79], [96.33, 96.93], [96.49, 96.85], [96.76, 97.37],
        [96.4, 97.16], [96.22, 96.64],
    ]
)  # fmt: skip
# correlation_seeds/different_seed_24.npy + 8 pairs hard-coded in the notebook
YANG_SEEDS_STORED = np.array(
    [
        [96.5, 96.46], [97.05, 96.96], [96.93, 97.09], [96.91, 96.7], [97.2, 97.12],
        [96.98, 97.14], [97.29, 97.07], [96.96, 96.75], [97.13, 96.96], [96.97, 97.03],
        [97.12, 97.25], [97.08, 96.93], [97.13, 97.26], [96.91, 97.02], [96.7, 96.67],
        [97.16, 97.38], [96.86, 96.93], [96.75, 96.93], [96.88, 96.89], [97.24, 97.14],
        [96.43, 96.55], [97.14, 96.99], [97.04, 97.1], [97.32, 97.17],
    ]
)  # fmt: skip
YANG_SEEDS_HARDCODED = np.array(
    [
        [97.15, 97], [96.93, 97.02], [96.77, 96.71], [97.16, 96.8], [96.66, 97.05],
        [97.04, 97.09], [97.11, 97.05], [97.17, 97.19],
    ]
)  # fmt: skip
YANG_SEEDS = np.vstack([YANG_SEEDS_STORED, YANG_SEEDS_HARDCODED])


@pytest.fixture(scope="session")
def nb201_gt():
    """The embedded NAS-Bench-201 ground-truth table (15,625 rows, benchmark-index order)."""
    import pandas as pd

    with resources.as_file(EMBEDDED / "nb201_ground_truth_combined.csv.gz") as p:
        return pd.read_csv(p)


@pytest.fixture(scope="session")
def zc_cifar10():
    """NAS-Bench-Suite-Zero proxies on the 724 CIFAR-10 archs (with val_accuracy_200)."""
    import pandas as pd

    with resources.as_file(EMBEDDED / "nb201_zc_suite_zero_725archs.csv.gz") as p:
        z = pd.read_csv(p)
    return z[z.dataset == "cifar10"].reset_index(drop=True)


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
