"""Search strategies on tabular benchmarks, with honest query and time accounting.

Torch-free; imports numpy only (scipy, matplotlib and scikit-learn inside the functions that
need them). The pieces:

:mod:`.oracle`
    :class:`Oracle` (search signal, report metric, cost; a query counter and a simulated clock
    per run), :class:`Measure`, :class:`CostSpec`, :class:`MnasNetReward`, :class:`Budget`.
:mod:`.protocols`
    Named oracles of published setups (``nb201-cifar10``: NAS-Bench-201's 12,000 s protocol;
    ``weaknas-nb201-cifar10``; ...): :func:`get_protocol`.
:mod:`.domain`
    :class:`Domain`: the pool of architectures a search may propose, with one-edit mutation,
    neighbourhoods and random samplers (:data:`SAMPLERS`).
:mod:`.strategy`, :mod:`.strategies`
    The ask/tell interface and the registered strategies (:data:`STRATEGIES`: ``random``,
    ``rea``, ``reinforce``, ``local-search``, ``weaknas``).
:mod:`.predictors`
    Performance predictors (:data:`PREDICTORS`) and :mod:`.harness`, their evaluation as a
    curve over training-set sizes.
:mod:`.run`, :mod:`.trajectory`
    :func:`run_search` / :func:`run_searches` (seeded, resumable, with a progress bar) and the
    trajectory file format (:func:`write_trajectories`, :func:`read_trajectories`).
:mod:`.analysis`, :mod:`.displays`, :mod:`.report`
    Best-so-far curves with intervals (against queries and simulated time), final results, RI
    over random at equal budget, queries to the optimum as a censored quantity; Display objects;
    the report's search section (:class:`SearchSection`).

>>> from nasbench_tools.search import get_protocol, run_searches, final_result
>>> oracle = get_protocol("nb201-cifar10").build()
>>> runs = run_searches(oracle, "rea", get_protocol("nb201-cifar10").budget, repeats=5, seed=0,
...                     progress=False)
>>> runs.n_runs
5
"""

from ._common import SearchError
from .analysis import (
    Curve,
    Difference,
    FinalResult,
    Survival,
    answers_at,
    best_so_far,
    check_comparable,
    difference,
    final_result,
    queries_to_optimum,
    record_curve,
    ri_over_random,
)
from .domain import SAMPLERS, Domain, register_sampler
from .oracle import Budget, CostSpec, Measure, MnasNetReward, Oracle, Session
from .predictors import PREDICTORS, NumpyMLP, make_predictor, register_predictor
from .protocols import PROTOCOLS, Protocol, get_protocol, list_protocols, register_protocol
from .report import SearchSection, search_section
from .run import run_search, run_searches, run_seeds
from .strategy import (
    STRATEGIES,
    Strategy,
    get_strategy,
    list_strategies,
    make_strategy,
    register_strategy,
    resolve_options,
)
from .trajectory import Trajectories, read_trajectories, write_trajectories

__all__ = [
    "PREDICTORS",
    "PROTOCOLS",
    "SAMPLERS",
    "STRATEGIES",
    "Budget",
    "CostSpec",
    "Curve",
    "Difference",
    "Domain",
    "FinalResult",
    "Measure",
    "MnasNetReward",
    "NumpyMLP",
    "Oracle",
    "Protocol",
    "SearchError",
    "SearchSection",
    "Session",
    "Strategy",
    "Survival",
    "Trajectories",
    "answers_at",
    "best_so_far",
    "check_comparable",
    "difference",
    "final_result",
    "get_protocol",
    "get_strategy",
    "list_protocols",
    "list_strategies",
    "make_predictor",
    "make_strategy",
    "queries_to_optimum",
    "read_trajectories",
    "record_curve",
    "register_predictor",
    "register_protocol",
    "register_sampler",
    "register_strategy",
    "resolve_options",
    "ri_over_random",
    "run_search",
    "run_searches",
    "run_seeds",
    "search_section",
    "write_trajectories",
]
