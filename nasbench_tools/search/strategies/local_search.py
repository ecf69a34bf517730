"""Local search with random restarts, as NASLib's ``LocalSearch`` (White et al. 2020)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

from .._common import check_int
from ..strategy import Strategy, register_strategy


@register_strategy
class LocalSearch(Strategy):
    """Best-improvement local search with random restarts.

    1. Query ``num_init`` random architectures (``sampler``); the best is the current one.
    2. Query the one-edit neighbours of the current architecture
       (:meth:`~nasbench_tools.search.domain.Domain.neighbours`) in a random order.
    3. When all are evaluated, move to the best of them if it beats the current one and go to 2;
       otherwise the current one is a local optimum: query a new random architecture, make it
       the current one, and go to 2.

    The run's answer is the best architecture of the whole run.

    Options
    -------
    num_init : int
        Random architectures before the first climb (default 10, NASLib's ``num_init``).
    sampler : str
        Where random architectures come from (default ``"uniform"``).
    revisit : bool
        ``False`` (default): a neighbour queried before is not queried again, its known signal
        is used. ``True``: query it again (and pay), as NASLib does. Restarts are always queried.
    """

    name = "local-search"
    defaults: ClassVar[Mapping[str, Any]] = MappingProxyType(
        {"num_init": 10, "sampler": "uniform", "revisit": False}
    )
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = MappingProxyType(
        {"naslib": {"num_init": 10, "sampler": "naslib", "revisit": True}}
    )

    def __init__(self, domain, rng, **options):
        super().__init__(domain, rng, **options)
        self.num_init = check_int(self.options["num_init"], "local-search num_init", low=1)
        self._rows, self._text = domain.sampler_rows(self.options["sampler"])
        self.known: dict[int, float] = {}
        self._init_left = self.num_init
        self.current: tuple[int, float] | None = None  # (row, value)
        self.best_nb: tuple[int, float] | None = None
        self._queue: list[int] = []
        self._restart = False

    def _random(self, n: int):
        return self._rows[self.rng.integers(len(self._rows), size=n)]

    def ask(self) -> Sequence[int]:
        if self._init_left > 0:
            return self._random(self._init_left)
        if self._restart:
            return self._random(1)
        while True:
            if not self._queue:
                self._finish_neighbourhood()
                if self._restart:
                    return self._random(1)
            row = self._queue.pop()
            if self.options["revisit"] or row not in self.known:
                return [row]
            self._consider(row, self.known[row])

    def _start(self, row: int, value: float) -> None:
        self.current = (row, value)
        self.best_nb = None
        nb = self.domain.neighbours(row)
        self._queue = list(self.rng.permutation(nb)) if len(nb) else []

    def _consider(self, row: int, value: float) -> None:
        if self.best_nb is None or value > self.best_nb[1]:
            self.best_nb = (row, value)

    def _finish_neighbourhood(self) -> None:
        if self.best_nb is not None and self.best_nb[1] > self.current[1]:
            self._start(*self.best_nb)
        else:
            self._restart = True

    def tell(self, rows, values) -> None:
        for r, v in zip(rows, values):
            r, v = int(r), float(v)
            self.known[r] = v
            if self._init_left > 0:
                self._init_left -= 1
                if self.current is None or v > self.current[1]:
                    self.current = (r, v)
                if self._init_left == 0:
                    self._start(*self.current)
            elif self._restart:
                self._restart = False
                self._start(r, v)
            else:
                self._consider(r, v)
        self._told(len(rows))

    def sampler_text(self) -> str:
        return f"initial and restart architectures {self._text}"
