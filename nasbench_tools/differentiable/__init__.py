"""Differentiable supernets on NAS-Bench-201: DARTS (first and second order), GDAS, FairDARTS,
DARTS-PT's perturbation-based projection (and its fixed-alpha variant) and Single-Path NAS
superkernels, with their operator scores (magnitudes, perturbation importances) as score tables
and their selections looked up in ground truth. Importing this package imports torch.

>>> from nasbench_tools.differentiable import SearchConfig, run_search   # doctest: +SKIP
>>> cfg = SearchConfig.from_preset("cpu", method="darts", seed=0)   # doctest: +SKIP
>>> result = run_search(cfg, "runs/darts-s0")   # doctest: +SKIP
>>> result.result["selected"]["arch"]   # doctest: +SKIP

See docs/differentiable.md for what each method reproduces and adapts.
"""

from .architect import Searcher, unrolled_arch_gradient
from .compare import lookup, open_ground_truth, operator_importance, operator_tau
from .config import METHODS, DifferentiableSearchError, Method, SearchConfig
from .network import MixedNB201
from .presets import PRESETS
from .search import SearchResult, build_model, load_run, run_search
from .selection import SELECTIONS, Selection, select
from .superkernel import SuperConv, SuperkernelNB201, op_costs
from .weights import WEIGHTINGS, zero_one_loss

__all__ = [
    "METHODS",
    "PRESETS",
    "SELECTIONS",
    "WEIGHTINGS",
    "DifferentiableSearchError",
    "Method",
    "MixedNB201",
    "SearchConfig",
    "SearchResult",
    "Searcher",
    "Selection",
    "SuperConv",
    "SuperkernelNB201",
    "build_model",
    "load_run",
    "lookup",
    "op_costs",
    "open_ground_truth",
    "operator_importance",
    "operator_tau",
    "run_search",
    "select",
    "unrolled_arch_gradient",
    "zero_one_loss",
]
