"""REINFORCE over the categorical choices (NAS-RL's update), as AutoDL-Projects' ``reinforce.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from .._common import check_number
from ..strategy import Strategy, register_strategy


@register_strategy
class Reinforce(Strategy):
    """REINFORCE with an exponential-moving-average baseline (Williams 1992; Zoph & Le 2017).

    The controller holds one categorical distribution per choice (NB201: the op of each edge),
    ``softmax(theta[j])`` with ``theta`` initialised to ``init_std * N(0, 1)``. Each step samples
    one architecture, queries it, and with reward ``R`` = the search signal:

    1. updates the baseline ``b`` (an EMA with momentum ``ema_momentum``, bias-corrected:
       ``num = m num + (1 - m) R``, ``den = m den + (1 - m)``, ``b = num / den``; updated before
       use, as the reference does);
    2. takes one Adam step (betas 0.9/0.999, eps 1e-8, torch's defaults) on the loss
       ``-(R - b) log p(arch)``, whose gradient is ``-(R - b) (onehot(arch) - p)`` per choice.

    Where the pool is not every combination of the choices (a sample), the architecture is drawn
    from the distribution restricted to the pool (renormalised), and the gradient is that of the
    restricted log-probability.

    Options
    -------
    lr : float
        Adam's learning rate, default 0.01: the value NATS-Bench's runs pass
        (AutoDL-Projects ``exps/NATS-algos/run-all.sh``, ``--learning_rate 0.01`` for every
        dataset and both spaces, and ``reinforce.py``'s header). NB201's scripts leave it to the
        caller (``REINFORCE.sh``'s usage line shows 0.001, the ``hps/GRID-RL.sh`` sweep
        0.01-0.5). ``benchmarks/search_reproduction.py`` also runs 0.001, 0.1 and 0.5 on the
        embedded NB201 data (README: the table).
    ema_momentum : float
        Baseline momentum (default 0.9, ``--EMA_momentum 0.9``).
    init_std : float
        Standard deviation of the initial logits (default 1e-3, as the reference).
    """

    name = "reinforce"
    defaults: ClassVar[Mapping[str, Any]] = MappingProxyType(
        {"lr": 0.01, "ema_momentum": 0.9, "init_std": 1e-3}
    )

    def __init__(self, domain, rng, **options):
        super().__init__(domain, rng, **options)
        self.lr = check_number(self.options["lr"], "reinforce lr", low=0.0, open_low=True)
        self.momentum = check_number(
            self.options["ema_momentum"], "reinforce ema_momentum", low=0.0, high=1.0
        )
        std = check_number(self.options["init_std"], "reinforce init_std", low=0.0)
        cards = domain.cards
        self._kmax = int(cards.max())
        # padded logits (d, kmax); padding at -inf never gets probability or gradient
        self._mask = np.arange(self._kmax)[None, :] < cards[:, None]
        self.theta = np.where(self._mask, std * rng.standard_normal((len(cards), self._kmax)), 0.0)
        self._m = np.zeros_like(self.theta)
        self._v = np.zeros_like(self.theta)
        self._t = 0
        self._num = 0.0
        self._den = 0.0
        self._product = domain.is_product
        self._codes = domain.codes
        self._pad = np.where(self._mask, 0.0, -np.inf)
        self._rows_d = np.arange(len(cards))
        self._p = None  # probabilities of the current theta (cached until the next step)

    # ------------------------------------------------------------------ the policy
    def probabilities(self) -> np.ndarray:
        """``(d, kmax)`` per-choice probabilities (0 on padding); a new array."""
        return self._probs().copy()

    def _probs(self) -> np.ndarray:
        if self._p is None:
            z = self.theta + self._pad
            e = np.exp(z - z.max(axis=1, keepdims=True))
            self._p = e / e.sum(axis=1, keepdims=True)
        return self._p

    def _pool_probabilities(self) -> np.ndarray:
        logp = np.take_along_axis(self.theta, self._codes.T, axis=1).sum(axis=0)
        logp -= logp.max()
        p = np.exp(logp)
        return p / p.sum()

    def ask(self) -> Sequence[int]:
        if self._product:
            p = self._probs()
            u = self.rng.random(len(p))
            codes = (np.cumsum(p, axis=1) < u[:, None]).sum(axis=1)
            codes = np.minimum(codes, self.domain.cards - 1)
            return [self.domain.row_of_codes(codes)]
        p = self._pool_probabilities()
        return [int(self.rng.choice(len(p), p=p))]

    def tell(self, rows, values) -> None:
        for r, v in zip(rows, values):
            self._step(int(r), float(v))
        self._told(len(rows))

    def baseline(self) -> float:
        return self._num / self._den

    def _step(self, row: int, reward: float) -> None:
        m = self.momentum
        self._num = m * self._num + (1 - m) * reward
        self._den = m * self._den + (1 - m)
        advantage = reward - self.baseline()
        code = self._codes[row]
        if self._product:
            expected = self._probs()
        else:
            p = self._pool_probabilities()
            expected = np.zeros_like(self.theta)
            for j in range(self._codes.shape[1]):
                expected[j, : self.domain.cards[j]] = np.bincount(
                    self._codes[:, j], weights=p, minlength=self.domain.cards[j]
                )
        grad = advantage * expected  # d loss / d theta = -advantage * (onehot - expected)
        grad[self._rows_d, code] -= advantage
        grad[~self._mask] = 0.0
        self._adam(grad)

    def _adam(self, g: np.ndarray, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        self._t += 1
        self._m = b1 * self._m + (1 - b1) * g
        self._v = b2 * self._v + (1 - b2) * g * g
        mhat = self._m / (1 - b1**self._t)
        vhat = self._v / (1 - b2**self._t)
        self.theta = self.theta - self.lr * mhat / (np.sqrt(vhat) + eps)
        self._p = None
