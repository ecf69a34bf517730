"""Random search: architectures drawn independently and uniformly (AutoDL ``RANDOM.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from ..strategy import Strategy, register_strategy

#: Rows drawn per :meth:`RandomSearch.ask`; the sequence of architectures a seed gives does not
#: depend on the budget.
_BATCH = 64


@register_strategy
class RandomSearch(Strategy):
    """Random search.

    Options
    -------
    sampler : str
        ``"uniform"`` (default: every architecture of the pool equally likely, as AutoDL's
        ``random_architecture`` draws each edge's op uniformly), ``"classes"`` (every isomorphism
        class equally likely) or a space's own sampler (``"naslib"`` on NB201). See
        :data:`nasbench_tools.search.domain.SAMPLERS`.
    replace : bool
        ``True`` (default, as AutoDL): draws are independent, so an architecture can come twice
        and is then queried, and charged, twice. ``False``: no architecture twice (a random
        order of the sampler's architectures; the run ends when they are all queried).
    """

    name = "random"
    defaults: ClassVar[Mapping[str, Any]] = MappingProxyType(
        {"sampler": "uniform", "replace": True}
    )

    def __init__(self, domain, rng, **options):
        super().__init__(domain, rng, **options)
        self._rows, self._text = domain.sampler_rows(self.options["sampler"])
        self._order = None if self.options["replace"] else rng.permutation(self._rows)
        self._pos = 0

    def ask(self) -> Sequence[int]:
        if self._order is None:
            return self._rows[self.rng.integers(len(self._rows), size=_BATCH)]
        out = self._order[self._pos : self._pos + _BATCH]
        self._pos += len(out)
        return out

    def tell(self, rows, values) -> None:
        self._told(len(rows))

    def sampler_text(self) -> str:
        how = "with replacement" if self.options["replace"] else "without replacement"
        return self._text.replace("(with replacement)", f"({how})")


del np
