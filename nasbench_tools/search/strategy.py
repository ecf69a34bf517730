"""The ask/tell interface every search strategy implements, and the strategy registry.

A strategy proposes rows of a :class:`~nasbench_tools.search.domain.Domain`; the runner
(:func:`nasbench_tools.search.run.run_search`) queries them through the oracle, which charges
each one, and tells the strategy what it saw::

    strategy = make_strategy("rea", domain, rng)        # rng: the run's own Generator
    while budget left:
        rows = strategy.ask()                          # one or more rows; [] = nothing left
        values = [session.query(r) for r in rows]      # charged, in order, until the budget ends
        strategy.tell(rows[:len(values)], values)      # only what finished within the budget

A strategy never sees the report metric and never chooses the run's answer: the answer is the
queried architecture with the best signal (the reference implementations' ``max(history)``), so
it is always an architecture that was queried and paid for.

Options: every strategy declares its options and their defaults (:attr:`Strategy.defaults`,
documented in its docstring) and may offer named presets (:attr:`Strategy.presets`, e.g. the
settings of a reference implementation). :func:`resolve_options` applies the preset, then the
user's options; an unknown option is an error. The resolved options are written into every
trajectory file. Randomness comes only from the ``rng`` given (no global state, no default).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from ..registry import Registry
from ._common import SearchError, check_options
from .domain import Domain

__all__ = [
    "STRATEGIES",
    "Strategy",
    "get_strategy",
    "list_strategies",
    "make_strategy",
    "register_strategy",
    "resolve_options",
]

#: Every search strategy, by name (``random``, ``rea``, ``reinforce``, ``local-search``, ``weaknas``).
STRATEGIES: Registry[type] = Registry(
    "search strategy", error=SearchError, discover="nasbench_tools.search.strategies"
)


def register_strategy(cls: type) -> type:
    """Class decorator: register a :class:`Strategy` subclass under its ``name``."""
    STRATEGIES.register(cls.name, cls)
    return cls


def get_strategy(name: str) -> type:
    return STRATEGIES.get(name)


def list_strategies() -> list[str]:
    return STRATEGIES.names()


def resolve_options(name: str, preset: str | None, options: Mapping[str, Any]) -> dict:
    """Defaults of strategy ``name``, then its ``preset``, then ``options``."""
    cls = get_strategy(name)
    base = dict(cls.defaults)
    if preset is not None:
        if preset not in cls.presets:
            raise SearchError(
                f"strategy {name!r} has no preset {preset!r}; presets: "
                f"{', '.join(sorted(cls.presets)) or 'none'}"
            )
        base.update(cls.presets[preset])
    return check_options(dict(options), base, f"strategy {name!r}")


def make_strategy(
    name: str,
    domain: Domain,
    rng: np.random.Generator,
    *,
    preset: str | None = None,
    **options: Any,
) -> Strategy:
    """A new strategy ``name`` over ``domain``, drawing from ``rng`` (required)."""
    cls = get_strategy(name)
    if not isinstance(rng, np.random.Generator):
        raise SearchError(
            f"strategy {name!r} needs a numpy Generator (its run's seed), got {rng!r}"
        )
    opts = resolve_options(name, preset, options)
    return cls(domain, rng, **opts)


class Strategy(ABC):
    """Base class: subclasses set ``name``, ``defaults`` (and ``presets``) and implement
    :meth:`ask` and :meth:`tell`."""

    name: ClassVar[str]
    #: Option name -> default value (every option a strategy takes).
    defaults: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    #: Preset name -> option values it sets.
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = MappingProxyType({})

    def __init__(self, domain: Domain, rng: np.random.Generator, **options: Any):
        self.domain = domain
        self.rng = rng
        self.options = check_options(options, self.defaults, f"strategy {self.name!r}")
        self.n_told = 0
        self._records: list[tuple[str, int, Any]] = []

    @abstractmethod
    def ask(self) -> Sequence[int]:
        """Rows to query next, in order (at least one; an empty sequence ends the run)."""

    @abstractmethod
    def tell(self, rows: Sequence[int], values: Sequence[float]) -> None:
        """The signals of ``rows`` (a prefix of what :meth:`ask` returned)."""

    def _told(self, n: int) -> None:
        self.n_told += n

    def record(self, name: str, value: Any) -> None:
        """Keep a per-iteration record (``name``, queries told so far, ``value``) for the runner
        (WeakNAS's predicted top-1 row, its predictions over the pool)."""
        self._records.append((name, self.n_told, value))

    def pop_records(self) -> list[tuple[str, int, Any]]:
        out, self._records = self._records, []
        return out

    def sampler_text(self) -> str:
        """How this strategy draws random architectures, in words (for outputs)."""
        return ""


def check_rows(rows: Sequence[int], domain: Domain, who: str) -> np.ndarray:
    """``rows`` as an int array, each a row of ``domain`` (a strategy bug otherwise)."""
    a = np.asarray(rows, dtype=np.int64).reshape(-1)
    if a.size and (a.min() < 0 or a.max() >= len(domain)):
        raise SearchError(f"strategy {who!r} proposed a row outside its pool of {len(domain)}")
    return a
