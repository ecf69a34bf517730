"""The records the analysis returns, and how their numbers are printed.

:class:`MetricResult` is one metric on one pair of vectors (what every function of
:mod:`.ranking` returns); :class:`Estimate` is a value with an optional bootstrap interval and
the count of resamples behind it (what :func:`~nasbench_tools.analysis.rank_report`,
:func:`~nasbench_tools.analysis.depth_gap_report` and
:func:`~nasbench_tools.analysis.seed_agreement` hold). :func:`format_interval` and
:func:`format_rank` print them the way the tables and the report do.

This module imports numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Estimate",
    "MetricResult",
    "format_interval",
    "format_rank",
    "is_missing",
    "valid_note",
]


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


def is_missing(v: Any) -> bool:
    """None or a float NaN (a number that is not there)."""
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
    if is_missing(value):
        return ""
    text = f"{value:.{digits}f}"
    if not (is_missing(low) or is_missing(high)):
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text + valid_note(n_valid, n_boot)


def valid_note(n_valid: Any, n_boot: Any) -> str:
    """``" (190 of 200 resamples valid)"`` when fewer than ``n_boot`` were valid, else ``""``."""
    if is_missing(n_valid) or is_missing(n_boot) or int(n_valid) >= int(n_boot):
        return ""
    return f" ({int(n_valid):,} of {int(n_boot):,} resamples valid)"


def format_rank(rank: Any, denominator: Any, low: Any = None, high: Any = None) -> str:
    """A best rank with its denominator: ``"3 / 15,625"``, ``"2.5 / 32 [1, 6]"``.

    Ranks are 1-based; an expectation over random tie-breaking, or an interval bound between two
    resampled ranks, can be fractional (shown with one decimal, a trailing ``.0`` dropped).
    """
    if is_missing(rank):
        return ""

    def r(v: float) -> str:
        t = f"{float(v):,.1f}"
        return t[:-2] if t.endswith(".0") else t

    text = f"{r(rank)} / {int(denominator):,}"
    if not (is_missing(low) or is_missing(high)):
        text += f" [{r(low)}, {r(high)}]"
    return text
