"""What the search modules share: the error type and argument checks.

numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import NasbenchToolsError

__all__ = ["SearchError", "best_first", "check_int", "check_number", "check_options", "check_seed"]


class SearchError(NasbenchToolsError, ValueError):
    """A search is set up wrongly: an unknown strategy or option, a budget that is not a number of
    queries or seconds, a seed missing, trajectories that cannot be compared, a trajectory file
    that is not one. The message names the argument or file and what was expected."""


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int (bools and floats refused), within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise SearchError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise SearchError(f"{name} must lie in [{lo}, {hi}], got {v}")
    return v


def check_number(
    value: Any, name: str, *, low: float | None = None, high: float | None = None, open_low=False
) -> float:
    """``value`` as a finite float within ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise SearchError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not np.isfinite(v):
        raise SearchError(f"{name} must be finite, got {v}")
    if low is not None and (v < low or (open_low and v == low)):
        raise SearchError(f"{name} must be {'>' if open_low else '>='} {low}, got {v}")
    if high is not None and v > high:
        raise SearchError(f"{name} must be <= {high}, got {v}")
    return v


def check_seed(seed: Any, name: str = "seed") -> int:
    """A seed: a non-negative int (no random default; ``None`` refused)."""
    if seed is None:
        raise SearchError(f"{name} is required (an int >= 0): searches never pick a random seed")
    return check_int(seed, name, low=0)


def check_options(given: Mapping[str, Any], known: Mapping[str, Any], where: str) -> dict:
    """``known`` (the defaults) updated by ``given``; an unknown name raises naming the known."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise SearchError(
            f"{where}: unknown option(s) {unknown}; known: {', '.join(sorted(known)) or 'none'}"
        )
    return {**known, **given}


def best_first(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest ``values``, largest first, ties in index order: the first
    ``k`` of ``np.argsort(-values, kind="stable")``, without sorting all of ``values``."""
    v = np.asarray(values)
    k = min(int(k), v.size)
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    if k == v.size:
        return np.argsort(-v, kind="stable")
    kth = np.partition(v, v.size - k)[v.size - k]  # the k-th largest value
    cand = np.flatnonzero(v >= kth)  # every tie of it too, so the stable order is kept
    return cand[np.argsort(-v[cand], kind="stable")][:k]
