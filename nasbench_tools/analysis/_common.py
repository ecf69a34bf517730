"""Argument validation, seeds and the result record shared by the analysis modules (private)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import AnalysisError

NanPolicy = Literal["raise", "omit"]
NAN_POLICIES = ("raise", "omit")
SeedLike = int | np.random.Generator

#: Resamples used by the single-analysis functions (``bootstrap_ci``, ``depth_gap_report``,
#: ``relative_improvement``, ...). ``rank_report`` uses its own, smaller default.
DEFAULT_N_BOOT = 1000


@dataclass(frozen=True)
class MetricResult:
    """One metric on one pair of vectors.

    Attributes
    ----------
    metric : str
        What was computed, e.g. ``"kendall_tau_b"``, ``"sparse_kendall_tau"``, ``"p_at_top_k"``.
    statistic : float
        The value (signed; correlations are never made absolute).
    n_used : int
        Pairs that entered the computation.
    n_omitted : int
        Pairs dropped by ``nan_policy="omit"``.
    pvalue : float or None
        Only where asked for (``pvalue=True``) and defined.
    info : dict
        Everything else needed to read the number: variant, ``k``, tie rule, denominator, counts.
    """

    metric: str
    statistic: float
    n_used: int
    n_omitted: int = 0
    pvalue: float | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.statistic)

    def as_dict(self) -> dict[str, Any]:
        """Flat dict: the fields, with ``info`` entries prefixed ``info.``."""
        d = asdict(self)
        info = d.pop("info")
        d.update({f"info.{k}": v for k, v in info.items()})
        return d


@dataclass(frozen=True)
class Estimate:
    """A value with an optional bootstrap interval.

    Attributes
    ----------
    value : float
        The statistic on the original sample.
    low, high : float or None
        Interval bounds; None without a bootstrap, NaN when fewer than two resamples gave a value.
    n_valid : int or None
        Resamples where the statistic was defined: the interval comes from these only (a resample
        of a small sample can be constant, and a correlation of a constant is undefined).
    n_boot : int or None
        Resamples drawn. Both counts are None without a bootstrap.
    """

    value: float
    low: float | None = None
    high: float | None = None
    n_valid: int | None = None
    n_boot: int | None = None

    def __float__(self) -> float:
        return float(self.value)

    @property
    def n_invalid(self) -> int:
        """Resamples dropped as undefined (0 without a bootstrap)."""
        if self.n_boot is None or self.n_valid is None:
            return 0
        return self.n_boot - self.n_valid

    def format(self, digits: int = 3) -> str:
        """``"0.593 [0.561, 0.628]"``, with ``" (190 of 200 resamples valid)"`` when some were not."""
        return format_interval(self.value, self.low, self.high, digits, self.n_valid, self.n_boot)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float | np.floating) and math.isnan(v))


def format_interval(
    value: Any,
    low: Any = None,
    high: Any = None,
    digits: int = 3,
    n_valid: Any = None,
    n_boot: Any = None,
) -> str:
    """``"v [lo, hi]"`` (``"v"`` without bounds), plus the count of valid resamples when fewer than
    ``n_boot`` were valid."""
    if _missing(value):
        return ""
    text = f"{value:.{digits}f}"
    if not (_missing(low) or _missing(high)):
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text + valid_note(n_valid, n_boot)


def valid_note(n_valid: Any, n_boot: Any) -> str:
    """``" (190 of 200 resamples valid)"`` when fewer than ``n_boot`` were valid, else ``""``."""
    if _missing(n_valid) or _missing(n_boot) or int(n_valid) >= int(n_boot):
        return ""
    return f" ({int(n_valid):,} of {int(n_boot):,} resamples valid)"


def format_rank(rank: Any, denominator: Any, low: Any = None, high: Any = None) -> str:
    """A best rank with its denominator: ``"3 / 15,625"``, ``"2.5 / 32 [1, 6]"``.

    Ranks are 1-based; an expectation over random tie-breaking, or an interval bound between two
    resampled ranks, can be fractional (shown with one decimal, a trailing ``.0`` dropped).
    """
    if _missing(rank):
        return ""

    def r(v: float) -> str:
        t = f"{float(v):,.1f}"
        return t[:-2] if t.endswith(".0") else t

    text = f"{r(rank)} / {int(denominator):,}"
    if not (_missing(low) or _missing(high)):
        text += f" [{r(low)}, {r(high)}]"
    return text


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
