"""Ranking analysis: metrics, uncertainty, RI over random, depth gap, displays and tables.

Torch-free and light: importing this package loads numpy only; scipy, pandas and matplotlib are
imported by the functions that need them.

Metrics (:mod:`.ranking`) are pure functions ``f(y_true, y_score, ...)`` over arrays paired by
position, higher is better on both sides. They validate their arguments (length mismatch, too
few valid pairs, constant input, NaN under ``nan_policy="raise"`` all raise
:class:`~nasbench_tools.errors.AnalysisError`), never take ``abs`` of a correlation, and return a
:class:`MetricResult` that records the pairs used and every choice behind the number.

Modules: :mod:`.ranking` (the metrics), :mod:`.bootstrap` (the engine that resamples
architectures: named metrics on many resamples at once), :mod:`.uncertainty` (bootstrap
intervals, seed spread and agreement, paired test), :mod:`.rank_summary` (every number of one
pair: :func:`rank_report`), :mod:`.depth_gap`, :mod:`.baselines` (RI over random),
:mod:`.results` (the :class:`MetricResult` and :class:`Estimate` records and their formatting),
:mod:`.pairwise` (paired tests between every two proxies, Holm-corrected), :mod:`.displays`,
:mod:`.tables` (DataFrames), :mod:`.paper_tables` (the headline table and other tables for a
paper, one grid rendered as Markdown, LaTeX, CSV and HTML) and :mod:`.style` (figure sizes for
a two-column paper, display names, the layout check).

>>> from nasbench_tools.analysis import kendall_tau, rank_report
>>> kendall_tau([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]).statistic
0.6
>>> rep = rank_report([1, 2, 3, 4, 5, 6], [1, 3, 2, 4, 6, 5], k=(2,), n_boot=50, seed=0)
>>> round(rep.kendall_tau.value, 3), rep.p_at_top_k[2].value
(0.733, 1.0)
"""

from ..errors import AnalysisError
from .baselines import (
    RelativeImprovement,
    expected_random_accuracy,
    random_baseline,
    relative_improvement,
)
from .bootstrap import BOOTSTRAP_METRICS, DEFAULT_N_BOOT, bootstrap_weights
from .depth_gap import DepthGapReport, NoiseFloor, depth_gap_report
from .displays import (
    CorrelationBudgetDisplay,
    CorrelationHeatmapDisplay,
    ErrorEDFDisplay,
    PairwiseTestDisplay,
    ProxyScatterDisplay,
    RankChangeDisplay,
    RankingDisplay,
    RIBarDisplay,
    TopKCurveDisplay,
)
from .pairwise import PairTest, PairwiseComparison, adjust_pvalues, pairwise_tests
from .paper_tables import (
    PaperTable,
    dataset_label,
    format_estimate,
    headline_table,
    pairwise_table,
    proxy_table,
)
from .rank_summary import (
    DEFAULT_REPORT_N_BOOT,
    RankReport,
    parse_top,
    rank_report,
    rank_reports,
    top_k_size,
)
from .ranking import (
    SPARSE_TAU_VARIANTS,
    DuplicateAudit,
    br_at_k,
    deduplicate,
    duplicate_audit,
    kendall_tau,
    kt_at_top_k,
    p_at_bottom_k,
    p_at_top_k,
    pearson_r,
    sparse_kendall_tau,
    spearman_rho,
    weighted_tau,
)
from .results import Estimate, MetricResult
from .style import COLUMN_WIDTH, FULL_WIDTH, layout_problems, metric_label, paper_style, proxy_label
from .tables import (
    depth_gap_table,
    rank_table,
    ri_table,
    seed_table,
    to_csv,
    to_latex,
    to_markdown,
    with_intervals,
)
from .uncertainty import (
    BootstrapResult,
    PairedBootstrapTest,
    SeedAgreement,
    SeedSpread,
    across_seeds,
    bootstrap_ci,
    paired_bootstrap_test,
    seed_agreement,
    seed_spread,
)

__all__ = [
    "BOOTSTRAP_METRICS",
    "COLUMN_WIDTH",
    "DEFAULT_N_BOOT",
    "DEFAULT_REPORT_N_BOOT",
    "FULL_WIDTH",
    "SPARSE_TAU_VARIANTS",
    "AnalysisError",
    "BootstrapResult",
    "CorrelationBudgetDisplay",
    "CorrelationHeatmapDisplay",
    "DepthGapReport",
    "DuplicateAudit",
    "ErrorEDFDisplay",
    "Estimate",
    "MetricResult",
    "NoiseFloor",
    "PairTest",
    "PairedBootstrapTest",
    "PairwiseComparison",
    "PairwiseTestDisplay",
    "PaperTable",
    "ProxyScatterDisplay",
    "RIBarDisplay",
    "RankChangeDisplay",
    "RankReport",
    "RankingDisplay",
    "RelativeImprovement",
    "SeedAgreement",
    "SeedSpread",
    "TopKCurveDisplay",
    "across_seeds",
    "adjust_pvalues",
    "bootstrap_ci",
    "bootstrap_weights",
    "br_at_k",
    "dataset_label",
    "deduplicate",
    "depth_gap_report",
    "depth_gap_table",
    "duplicate_audit",
    "expected_random_accuracy",
    "format_estimate",
    "headline_table",
    "kendall_tau",
    "kt_at_top_k",
    "layout_problems",
    "metric_label",
    "p_at_bottom_k",
    "p_at_top_k",
    "paired_bootstrap_test",
    "pairwise_table",
    "pairwise_tests",
    "paper_style",
    "parse_top",
    "pearson_r",
    "proxy_label",
    "proxy_table",
    "random_baseline",
    "rank_report",
    "rank_reports",
    "rank_table",
    "relative_improvement",
    "ri_table",
    "seed_agreement",
    "seed_spread",
    "seed_table",
    "sparse_kendall_tau",
    "spearman_rho",
    "to_csv",
    "to_latex",
    "to_markdown",
    "top_k_size",
    "weighted_tau",
    "with_intervals",
]
