"""Our synflow against NAS-Bench-Suite-Zero's stored synflow on its 724 CIFAR-10 NB201 archs
(data-free: 3x32x32 all-ones input, 10 classes, the benchmark network C=16, N=5). A plain
implementation reaches Spearman 0.999 here, so less than 0.99 means a defect. About 0.3 s per
architecture on one idle core; slow."""

from __future__ import annotations

import pytest
from scipy.stats import spearmanr

from nasbench_tools.proxies import ScoreRequest, compute_scores
from nasbench_tools.scores import load_scores
from nasbench_tools.spaces import get_space


@pytest.mark.slow
def test_synflow_ranks_the_724_suite_zero_archs_as_their_stored_synflow():
    table = load_scores("nb201-zc", dataset="cifar10-valid")
    assert len(table) == 724
    ours = compute_scores(ScoreRequest(get_space("nb201"), table.keys, ("synflow",), seed=0))
    rho = spearmanr(ours["synflow"], table["synflow"]).statistic
    print(f"Spearman(our synflow, NAS-Bench-Suite-Zero synflow) on 724 archs: {rho:.4f}")
    assert rho >= 0.99
