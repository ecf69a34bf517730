"""Argument validation and seeds shared by the analysis modules (private).

The records the analysis returns live in :mod:`.results`, the bootstrap engine in
:mod:`.bootstrap`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from ..errors import AnalysisError

NanPolicy = Literal["raise", "omit"]
NAN_POLICIES = ("raise", "omit")
SeedLike = int | np.random.Generator


def check_choice(name: str, value: Any, choices: Sequence[Any], where: str) -> None:
    if value not in choices:
        raise AnalysisError(
            f"{where}: {name}={value!r} is not one of {', '.join(map(repr, choices))}"
        )


def as_vector(v: Any, name: str, where: str) -> np.ndarray:
    """1-D float64 copy of ``v`` or an :class:`AnalysisError` naming the argument."""
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(f"{where}: {name} must be numeric ({exc})") from None
    if a.ndim != 1:
        raise AnalysisError(f"{where}: {name} must be 1-D, got shape {a.shape}")
    return a


def prepare(
    arrays: Mapping[str, Any],
    *,
    where: str,
    nan_policy: str = "raise",
    min_n: int = 2,
    finite: bool = False,
    nonconstant: bool = True,
) -> tuple[list[np.ndarray], int]:
    """Validate equally long vectors and apply the NaN policy.

    Parameters
    ----------
    arrays : mapping name -> array-like
        The vectors, paired by position (names are used in messages).
    where : str
        Function name for messages.
    nan_policy : {"raise", "omit"}
        ``"raise"``: any NaN is an error. ``"omit"``: drop every position where any vector is NaN.
    min_n : int
        Fewest positions left after the policy.
    finite : bool
        Also reject infinities (Pearson r, regressions).
    nonconstant : bool
        Reject a vector whose remaining values are all equal (correlations are undefined).

    Returns
    -------
    vectors, n_omitted
    """
    check_choice("nan_policy", nan_policy, NAN_POLICIES, where)
    vecs = {k: as_vector(v, k, where) for k, v in arrays.items()}
    sizes = {k: v.size for k, v in vecs.items()}
    if len(set(sizes.values())) > 1:
        desc = ", ".join(f"{k} has {s}" for k, s in sizes.items())
        raise AnalysisError(f"{where}: inputs differ in length ({desc})")
    n = next(iter(sizes.values()))
    bad = np.zeros(n, dtype=bool)
    counts = {}
    for k, v in vecs.items():
        isnan = np.isnan(v)
        counts[k] = int(isnan.sum())
        bad |= isnan
    n_bad = int(bad.sum())
    if n_bad and nan_policy == "raise":
        desc = ", ".join(f"{k} {c}" for k, c in counts.items() if c)
        raise AnalysisError(
            f"{where}: {n_bad} position(s) hold NaN ({desc}) and nan_policy='raise'; "
            "pass nan_policy='omit' to drop them"
        )
    if n_bad:
        vecs = {k: v[~bad] for k, v in vecs.items()}
    n_used = n - n_bad
    if n_used < min_n:
        raise AnalysisError(
            f"{where}: needs at least {min_n} valid pairs, got {n_used}"
            + (f" ({n_bad} dropped for NaN)" if n_bad else "")
        )
    if finite:
        for k, v in vecs.items():
            if not np.isfinite(v).all():
                raise AnalysisError(
                    f"{where}: {k} holds infinite values; this metric needs finite input"
                )
    if nonconstant:
        for k, v in vecs.items():
            if v.size and (v == v[0]).all():
                raise AnalysisError(
                    f"{where}: {k} is constant (all {v.size} values equal {v[0]!r}); "
                    "a rank correlation with it is undefined"
                )
    return list(vecs.values()), n_bad


def check_k(k: Any, n: int, where: str) -> int:
    """A top-K size: an integer with ``1 <= k <= n``."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise AnalysisError(f"{where}: k must be an integer, got {k!r}")
    k = int(k)
    if not 1 <= k <= n:
        raise AnalysisError(f"{where}: k={k} must lie in 1..{n} (the number of valid pairs)")
    return k


def check_ks(ks: Any, n: int, where: str) -> tuple[int, ...]:
    if isinstance(ks, int | np.integer) and not isinstance(ks, bool):
        ks = (ks,)
    return tuple(sorted({check_k(k, n, where) for k in ks}))


def rng_from(seed: SeedLike | None, where: str) -> np.random.Generator:
    """A Generator from an explicit seed; ``None`` is refused (no hidden randomness)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise AnalysisError(
            f"{where}: resampling needs an explicit seed (an int or a numpy Generator), got {seed!r}"
        )
    return np.random.default_rng(int(seed))


def seed_label(seed: SeedLike | None) -> int | str | None:
    """What to record about a seed: the int itself, or ``"Generator"``."""
    if isinstance(seed, np.random.Generator):
        return "Generator"
    return None if seed is None else int(seed)


def check_confidence(confidence: float, where: str) -> float:
    c = float(confidence)
    if not 0.0 < c < 1.0 or math.isnan(c):
        raise AnalysisError(
            f"{where}: confidence must lie strictly between 0 and 1, got {confidence!r}"
        )
    return c


def check_n_boot(n_boot: Any, where: str, *, allow_zero: bool = True) -> int:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer):
        raise AnalysisError(f"{where}: n_boot must be an integer, got {n_boot!r}")
    lo = 0 if allow_zero else 1
    if n_boot < lo:
        raise AnalysisError(f"{where}: n_boot must be >= {lo}, got {n_boot}")
    return int(n_boot)
