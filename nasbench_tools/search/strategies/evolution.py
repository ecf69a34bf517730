"""Regularized (aging) evolution, Real et al. 2019, as AutoDL-Projects' ``R_EA.py`` runs it."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

from .._common import check_int
from ..strategy import Strategy, register_strategy


@register_strategy
class RegularizedEvolution(Strategy):
    """Regularized evolution (Algorithm 1 of Real et al., aging evolution).

    The first ``population`` queries are random architectures (``init_sampler``). Then each
    cycle draws ``sample_size`` members of the population uniformly *with replacement*
    (AutoDL's ``random.choice`` loop), takes the one with the best signal as parent (the first
    of ties), queries one mutant of it (one uniformly chosen edge changed to a uniformly chosen
    different op: :meth:`~nasbench_tools.search.domain.Domain.mutate`), appends the child and
    removes the *oldest* member. The run's answer is the best of the whole history.

    Options
    -------
    population : int
        Population size (default 10, AutoDL ``--ea_population 10``).
    sample_size : int
        Tournament size (default 3, AutoDL ``R-EA.sh`` / NATS-Bench ``--ea_sample_size 3``).
    init_sampler : str
        Where the first population comes from (default ``"uniform"``: uniform over the pool, as
        AutoDL's ``random_architecture``).

    Presets
    -------
    ``autodl``: the defaults. ``naslib``: NASLib's ``nb201_defaults.yaml`` (population 30,
    sample size 10, NASLib's NB201 sampler that rejects cells with all-``none`` input or
    output edges; use ``init_sampler="uniform"`` on other spaces).
    """

    name = "rea"
    defaults: ClassVar[Mapping[str, Any]] = MappingProxyType(
        {"population": 10, "sample_size": 3, "init_sampler": "uniform"}
    )
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = MappingProxyType(
        {
            "autodl": {"population": 10, "sample_size": 3, "init_sampler": "uniform"},
            "naslib": {"population": 30, "sample_size": 10, "init_sampler": "naslib"},
        }
    )

    def __init__(self, domain, rng, **options):
        super().__init__(domain, rng, **options)
        self.population_size = check_int(self.options["population"], "rea population", low=1)
        self.sample_size = check_int(self.options["sample_size"], "rea sample_size", low=1)
        self._init_rows, self._text = domain.sampler_rows(self.options["init_sampler"])
        self.population: deque[tuple[int, float]] = deque()
        self._initialised = 0

    def ask(self) -> Sequence[int]:
        if self._initialised < self.population_size:
            n = self.population_size - self._initialised
            return self._init_rows[self.rng.integers(len(self._init_rows), size=n)]
        pop = self.population
        picks = self.rng.integers(len(pop), size=self.sample_size)
        parent = max((pop[int(i)] for i in picks), key=lambda m: m[1])
        return [self.domain.mutate(parent[0], self.rng)]

    def tell(self, rows, values) -> None:
        for r, v in zip(rows, values):
            self.population.append((int(r), float(v)))
            if self._initialised < self.population_size:
                self._initialised += 1
            else:
                self.population.popleft()
        self._told(len(rows))

    def sampler_text(self) -> str:
        return f"initial population {self._text}"
