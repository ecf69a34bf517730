"""Plots in the scikit-learn "Display" style: compute once, draw with ``.plot(ax=...)``.

A display is built by a ``from_*`` class method, which computes and stores every value it will
draw as plain attributes (``tau``, ``ranks_a``, ``values`` ...). ``plot(ax=None, **kwargs)`` draws
on the given axes (or a new figure), stores the artists (``ax_``, ``figure_``, ``line_`` ...) and
returns the display, so displays compose into subplots and onto one another. ``savefig(path)``
writes vector (``.pdf``, ``.svg``, ``.eps``) or raster (``.png``) output.

==============================  ====================================================
display                         shows
==============================  ====================================================
:class:`ProxyScatterDisplay`    proxy score vs ground truth, tau and rho in the legend
:class:`RankChangeDisplay`      bump chart: rank at setting a -> rank at setting b
:class:`CorrelationBudgetDisplay`  correlation vs budget (epochs, depth ...) with a band
:class:`RIBarDisplay`           relative improvement over random, with intervals
:class:`ErrorEDFDisplay`        empirical distribution of errors (Radosavovic et al.)
:class:`CorrelationHeatmapDisplay`  rank correlation between proxies (and ground truth)
:class:`RankingDisplay`         one correlation per proxy with intervals, beside the
                                benchmark's seed agreement (reference lines)
:class:`TopKCurveDisplay`       P@top-K against K as a fraction of n, beside random
:class:`PairwiseTestDisplay`    paired test between every two proxies: differences,
                                significant ones marked
==============================  ====================================================

Text sizes follow matplotlib's rc settings; draw inside
:func:`nasbench_tools.analysis.style.paper_style` for a paper (8 pt at 3.3 in wide).

matplotlib is imported inside ``plot`` only, so importing :mod:`nasbench_tools.analysis` does not
load it. Tests check the stored values, not pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AnalysisError
from ._common import check_choice, prepare
from .ranking import kendall_tau, pearson_r, spearman_rho, weighted_tau

__all__ = [
    "CorrelationBudgetDisplay",
    "CorrelationHeatmapDisplay",
    "ErrorEDFDisplay",
    "PairwiseTestDisplay",
    "ProxyScatterDisplay",
    "RIBarDisplay",
    "RankChangeDisplay",
    "RankingDisplay",
    "TopKCurveDisplay",
]

_VECTOR = {".pdf", ".svg", ".eps"}
_RASTER = {".png"}
_POINT_METRICS = {
    "kendall_tau": kendall_tau,
    "spearman_rho": spearman_rho,
    "pearson_r": pearson_r,
    "weighted_tau": weighted_tau,
}


class _Display:
    """Shared axes handling and saving."""

    ax_: Any = None
    figure_: Any = None

    def _axes(self, ax: Any) -> Any:
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        self.ax_ = ax
        self.figure_ = ax.figure
        return ax

    def savefig(self, path: str | Path, **kwargs: Any) -> _Display:
        """Save the figure; the suffix picks the format (``.pdf``/``.svg``/``.eps``/``.png``).

        ``kwargs`` go to ``Figure.savefig`` (default ``bbox_inches="tight"``, ``dpi=200`` for PNG).
        """
        if self.figure_ is None:
            raise AnalysisError(f"{type(self).__name__}.savefig: call plot() first")
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix not in _VECTOR | _RASTER:
            raise AnalysisError(
                f"savefig: unsupported format {suffix!r}; use one of {sorted(_VECTOR | _RASTER)}"
            )
        kwargs.setdefault("bbox_inches", "tight")
        if suffix in _RASTER:
            kwargs.setdefault("dpi", 200)
        self.figure_.savefig(p, **kwargs)
        return self


class ProxyScatterDisplay(_Display):
    """Proxy score against ground truth, with Kendall tau and Spearman rho in the legend.

    Attributes
    ----------
    y_true, y_score : ndarray
        The pairs drawn (after the NaN policy).
    tau, rho : float
        Kendall tau (``tau_variant``) and Spearman rho of those pairs, signed.
    n_used, n_omitted : int
    name : str
    """

    def __init__(
        self,
        y_true,
        y_score,
        *,
        tau: float,
        rho: float,
        name: str = "proxy",
        tau_variant: str = "b",
        n_omitted: int = 0,
    ):
        self.y_true = np.asarray(y_true, dtype=float)
        self.y_score = np.asarray(y_score, dtype=float)
        self.tau = float(tau)
        self.rho = float(rho)
        self.name = name
        self.tau_variant = tau_variant
        self.n_used = int(self.y_true.size)
        self.n_omitted = int(n_omitted)

    @classmethod
    def from_predictions(
        cls,
        y_true: Any,
        y_score: Any,
        *,
        name: str = "proxy",
        tau_variant: str = "b",
        nan_policy: str = "raise",
    ) -> ProxyScatterDisplay:
        (x, y), n_omitted = prepare(
            {"y_true": y_true, "y_score": y_score},
            where="ProxyScatterDisplay",
            nan_policy=nan_policy,
        )
        tau = kendall_tau(x, y, variant=tau_variant).statistic
        rho = spearman_rho(x, y).statistic
        return cls(x, y, tau=tau, rho=rho, name=name, tau_variant=tau_variant, n_omitted=n_omitted)

    @property
    def label(self) -> str:
        return f"{self.name}: τ_{self.tau_variant} = {self.tau:.3f}, ρ = {self.rho:.3f} (n = {self.n_used})"

    def ranks(self) -> tuple[np.ndarray, np.ndarray]:
        """Percentile ranks ``(score, ground truth)`` in (0, 100], 100 = the highest; ties
        share their average rank."""
        from scipy.stats import rankdata

        n = self.n_used
        return rankdata(self.y_score) / n * 100.0, rankdata(self.y_true) / n * 100.0

    def plot(
        self,
        ax: Any = None,
        *,
        space: str = "rank",
        kind: str = "auto",
        xscale: str = "auto",
        clip: float | None = 3.0,
        xlabel: str | None = None,
        ylabel: str | None = None,
        title: bool = True,
        legend: bool = False,
        gridsize: int = 25,
        **kwargs: Any,
    ) -> ProxyScatterDisplay:
        """Proxy score (x) against ground truth (y).

        Parameters
        ----------
        space : {"rank", "value"}
            ``"rank"`` (default): percentile ranks (100 = best), where every proxy's panel is
            readable whatever its range or outliers. ``"value"``: the raw values, with outliers
            clipped (see ``clip``) and counted in :attr:`n_clipped` and the title.
        kind : {"auto", "scatter", "hexbin"}
            ``"auto"``: a hexbin (log-scaled counts) above 2,000 points, else a scatter whose
            transparency grows with n.
        xscale : {"auto", "linear", "log"}
            Value space: ``"auto"`` uses a log axis for positive scores spanning more than two
            decades (1st to 99th percentile), else linear.
        clip : float or None
            Value space: points beyond ``clip`` interquartile ranges outside the quartiles (on
            the axis' scale; Tukey's far-out fences at 3) are left out of the axes and counted;
            None keeps every finite point. Infinite values always count as clipped.
        xlabel, ylabel : str, optional
            Say what each axis is (the report names dataset, split and budget).
        title : bool
            Name, τ, ρ and n above the panel (out of the data's way).
        legend : bool
            A legend entry (:attr:`label`) beside the axes, for composing several proxies.
        gridsize : int
            Hexagons across (hexbin).
        kwargs
            To ``Axes.scatter`` or ``Axes.hexbin``.
        """
        where = "ProxyScatterDisplay.plot"
        check_choice("space", space, ("rank", "value"), where)
        check_choice("kind", kind, ("auto", "scatter", "hexbin"), where)
        check_choice("xscale", xscale, ("auto", "linear", "log"), where)
        if clip is not None and not (isinstance(clip, int | float) and clip > 0):
            raise AnalysisError(
                f"{where}: clip must be a positive number of IQRs or None, got {clip!r}"
            )
        ax = self._axes(ax)
        n = self.n_used
        x, y, xscale = self._points(space, xscale, clip)
        self.xscale_ = xscale
        if kind == "auto":
            kind = "hexbin" if n > 2000 else "scatter"
        self.kind_ = kind
        self.scatter_ = self._draw(ax, x, y, kind, xscale, gridsize, kwargs)
        if space == "rank":
            ax.set_xlim(-3, 103)
            ax.set_ylim(-3, 103)
            ax.set_xticks([0, 50, 100])
            ax.set_yticks([0, 50, 100])
        else:
            _few_ticks(ax.xaxis, xscale)
        rank_note = " (percentile rank)" if space == "rank" else ""
        ax.set_xlabel(xlabel if xlabel is not None else f"{self.name} score{rank_note}")
        ax.set_ylabel(ylabel if ylabel is not None else f"ground truth{rank_note}")
        if title:
            line2 = rf"$\tau_{self.tau_variant}$ {self.tau:.3f}, $\rho$ {self.rho:.3f}"
            if self.n_clipped:
                line2 += f"; {self.n_clipped:,} clipped"
            ax.set_title(f"{self.name} (n = {n:,})\n{line2}")
        if legend:
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
        return self

    def _points(self, space: str, xscale: str, clip) -> tuple[np.ndarray, np.ndarray, str]:
        """The points drawn (ranks, or values inside the fences; :attr:`n_clipped` counts the
        others) and the x scale."""
        self.n_clipped = 0
        if space == "rank":
            x, y = self.ranks()
            return x, y, "linear"
        x, y = self.y_score, self.y_true
        if xscale == "auto":
            xscale = _auto_scale(x)
        (xlo, xhi), (ylo, yhi) = _fences(x, clip, xscale == "log"), _fences(y, clip, False)
        inside = (x >= xlo) & (x <= xhi) & (y >= ylo) & (y <= yhi)
        self.n_clipped = int(self.n_used - inside.sum())
        return x[inside], y[inside], xscale

    def _draw(self, ax, x, y, kind: str, xscale: str, gridsize: int, kwargs: dict):
        """A hexbin (log counts) or a scatter whose transparency grows with n."""
        if kind == "hexbin":
            kwargs.setdefault("gridsize", gridsize)
            kwargs.setdefault("bins", "log")
            kwargs.setdefault("mincnt", 1)
            kwargs.setdefault("cmap", "Blues")
            kwargs.setdefault("linewidths", 0.0)
            kwargs.setdefault("xscale", xscale)
            return ax.hexbin(x, y, **kwargs)
        kwargs.setdefault("s", 4)
        kwargs.setdefault("alpha", float(min(0.7, max(0.15, 300.0 / max(self.n_used, 1)))))
        kwargs.setdefault("linewidths", 0)
        kwargs.setdefault("label", self.label)
        out = ax.scatter(x, y, **kwargs)
        ax.set_xscale(xscale)
        return out


def _auto_scale(v: np.ndarray) -> str:
    """``"log"`` for positive values whose 1st and 99th percentiles are over 100x apart."""
    f = v[np.isfinite(v)]
    if not f.size or f.min() <= 0:
        return "linear"
    lo, hi = np.quantile(f, [0.01, 0.99])
    return "log" if hi > 100 * lo else "linear"


def _fences(v: np.ndarray, k: float | None, log: bool) -> tuple[float, float]:
    """Values kept in view: within ``k`` IQRs of the quartiles (on a log scale if ``log``),
    never beyond the finite data; everything finite when ``k`` is None."""
    f = v[np.isfinite(v)]
    if log:
        f = f[f > 0]
    if not f.size:
        return np.inf, -np.inf
    lo, hi = float(f.min()), float(f.max())
    if k is None:
        return lo, hi
    t = np.log10(f) if log else f
    q1, q3 = np.quantile(t, [0.25, 0.75])
    a, b = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
    if log:
        a, b = 10.0**a, 10.0**b
    return max(lo, float(a)), min(hi, float(b))


def _few_ticks(axis: Any, scale: str) -> None:
    """At most about four ticks, so tick labels of a small panel never run into each other."""
    from matplotlib.ticker import LogLocator, MaxNLocator

    if scale == "log":
        axis.set_major_locator(LogLocator(numticks=4))
    else:
        axis.set_major_locator(MaxNLocator(nbins=3))


def _ordinal_rank(v: np.ndarray) -> np.ndarray:
    """1-based ranks, best (largest) first; ties keep input order."""
    order = np.argsort(-v, kind="stable")
    r = np.empty(v.size, dtype=np.int64)
    r[order] = np.arange(1, v.size + 1)
    return r


class RankChangeDisplay(_Display):
    """Bump chart: each architecture's rank at setting a joined to its rank at setting b.

    Attributes
    ----------
    ranks_a, ranks_b : ndarray of int
        1-based ranks among all items (best first; ties broken by input order, so every line
        is visible) of the items drawn: all of them, or the ``top`` best at one setting.
    tau : float
        Kendall tau-b between the two scores over all items (ties handled properly, unlike the
        drawing).
    n_total : int
        Items ranked (the drawn ones may be a subset).
    names : (str, str)
    labels : list of str or None
    """

    def __init__(
        self,
        ranks_a,
        ranks_b,
        *,
        tau: float,
        names: Sequence[str] = ("a", "b"),
        labels: Sequence[str] | None = None,
        n_total: int | None = None,
        by: str = "a",
    ):
        self.ranks_a = np.asarray(ranks_a)
        self.ranks_b = np.asarray(ranks_b)
        self.tau = float(tau)
        self.names = tuple(names)
        self.labels = None if labels is None else [str(s) for s in labels]
        self.n_total = int(self.ranks_a.size if n_total is None else n_total)
        self.by = by

    @classmethod
    def from_scores(
        cls,
        score_a: Any,
        score_b: Any,
        *,
        names: Sequence[str] = ("a", "b"),
        labels: Sequence[str] | None = None,
        top: int | None = None,
        by: str = "b",
    ) -> RankChangeDisplay:
        """Ranks of every item at a and at b; ``top``: draw only the ``top`` best at setting
        ``by`` ("a" or "b"), still ranked among all items (a bump chart of 15,625 lines is
        unreadable; the 20 best at 200 epochs and where 12 epochs put them is not)."""
        (a, b), _ = prepare({"score_a": score_a, "score_b": score_b}, where="RankChangeDisplay")
        if labels is not None and len(labels) != a.size:
            raise AnalysisError(f"RankChangeDisplay: {len(labels)} labels for {a.size} items")
        check_choice("by", by, ("a", "b"), "RankChangeDisplay")
        ra, rb = _ordinal_rank(a), _ordinal_rank(b)
        keep = np.arange(a.size)
        if top is not None:
            if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
                raise AnalysisError(f"RankChangeDisplay: top must be a positive int, got {top!r}")
            keep = np.argsort(ra if by == "a" else rb, kind="stable")[: int(top)]
        return cls(
            ra[keep],
            rb[keep],
            tau=kendall_tau(a, b).statistic,
            names=names,
            labels=None if labels is None else [labels[i] for i in keep],
            n_total=a.size,
            by=by if top is not None else "a",
        )

    def plot(
        self,
        ax: Any = None,
        *,
        highlight_top: int = 5,
        yscale: str = "linear",
        title: bool = True,
        **kwargs: Any,
    ) -> RankChangeDisplay:
        """Lines from rank at a (x=0) to rank at b (x=1), rank 1 on top; the ``highlight_top``
        best at a (at b when the items were chosen by b) are coloured. ``yscale="log"`` spreads
        ranks from 1 to thousands. ``kwargs`` go to ``Axes.plot``."""
        check_choice("yscale", yscale, ("linear", "log"), "RankChangeDisplay.plot")
        ax = self._axes(ax)
        kwargs.setdefault("linewidth", 0.8)
        self.lines_ = []
        order = np.argsort(self.ranks_b if self.by == "b" else self.ranks_a, kind="stable")
        colour_of = {int(i): f"C{j}" for j, i in enumerate(order[:highlight_top])}
        for i, (ra, rb) in enumerate(zip(self.ranks_a, self.ranks_b)):
            top = i in colour_of
            kw = dict(kwargs)
            kw.setdefault("color", colour_of[i] if top else "0.7")
            kw.setdefault("zorder", 3 if top else 1)
            (line,) = ax.plot([0, 1], [ra, rb], marker="o", markersize=2.5, **kw)
            self.lines_.append(line)
            if self.labels is not None and top:
                ax.annotate(
                    self.labels[i],
                    (0, ra),
                    xytext=(-4, 0),
                    textcoords="offset points",
                    ha="right",
                    va="center",
                    fontsize="x-small",
                )
        ax.set_xticks([0, 1], labels=list(self.names))
        ax.set_xlim(-0.25, 1.25)
        ax.set_yscale(yscale)
        if yscale == "log":
            from matplotlib.ticker import FixedLocator, NullLocator, StrMethodFormatter

            top = max(int(self.ranks_a.max()), int(self.ranks_b.max()))
            ticks = [10**e for e in range(len(str(top)) + 1) if 10**e <= 10 * top]
            ax.yaxis.set_major_locator(FixedLocator(ticks))
            ax.yaxis.set_minor_locator(NullLocator())
            ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
            ax.set_ylim(top * 1.5, 0.7)
        else:
            ax.invert_yaxis()
        ax.set_ylabel("rank (1 = best)")
        if title:
            ax.set_title(rf"$\tau_b$ = {self.tau:.3f} (n = {self.n_total:,})")
        return self


class CorrelationBudgetDisplay(_Display):
    """A rank correlation as a function of budget (epochs, depth, resolution ...).

    Attributes
    ----------
    budgets, values : ndarray
    low, high : ndarray or None
        Interval bounds (bootstrap) per budget.
    metric, label : str
    n_used : ndarray of int or None
    n_valid : ndarray of int or None
        Valid bootstrap resamples behind each interval (of ``n_boot``).
    """

    def __init__(
        self,
        budgets,
        values,
        *,
        low=None,
        high=None,
        metric: str = "kendall_tau",
        label: str | None = None,
        n_used=None,
        n_valid=None,
    ):
        self.budgets = np.asarray(budgets, dtype=float)
        self.values = np.asarray(values, dtype=float)
        if self.budgets.shape != self.values.shape or self.budgets.ndim != 1:
            raise AnalysisError(
                "CorrelationBudgetDisplay: budgets and values must be 1-D and equally long"
            )
        self.low = None if low is None else np.asarray(low, dtype=float)
        self.high = None if high is None else np.asarray(high, dtype=float)
        self.metric = metric
        self.label = label
        self.n_used = None if n_used is None else np.asarray(n_used)
        self.n_valid = None if n_valid is None else np.asarray(n_valid)

    @classmethod
    def from_values(
        cls,
        budgets: Any,
        values: Any,
        *,
        low: Any = None,
        high: Any = None,
        metric: str = "kendall_tau",
        label: str | None = None,
    ) -> CorrelationBudgetDisplay:
        return cls(budgets, values, low=low, high=high, metric=metric, label=label)

    @classmethod
    def from_scores(
        cls,
        y_true: Any,
        scores_by_budget: Mapping[float, Any],
        *,
        metric: str = "kendall_tau",
        k: int | None = None,
        n_boot: int = 200,
        confidence: float = 0.95,
        seed: int | np.random.Generator = 0,
        nan_policy: str = "raise",
        label: str | None = None,
    ) -> CorrelationBudgetDisplay:
        """``metric(y_true, scores)`` for every budget, with a bootstrap band (``n_boot=0``: none)."""
        from .uncertainty import bootstrap_ci

        if not isinstance(scores_by_budget, Mapping) or not scores_by_budget:
            raise AnalysisError(
                "CorrelationBudgetDisplay: scores_by_budget must be a non-empty mapping budget -> scores"
            )
        budgets = sorted(scores_by_budget)
        vals, lows, highs, ns, valid = [], [], [], [], []
        for b in budgets:
            if n_boot:
                r = bootstrap_ci(
                    y_true,
                    scores_by_budget[b],
                    metric,
                    k=k,
                    n_boot=n_boot,
                    confidence=confidence,
                    seed=seed,
                    nan_policy=nan_policy,
                )
                vals.append(r.estimate)
                lows.append(r.low)
                highs.append(r.high)
                valid.append(r.n_valid)
            else:
                fn = _POINT_METRICS.get(metric)
                if fn is None:
                    raise AnalysisError(
                        f"CorrelationBudgetDisplay: without a bootstrap, metric must be one of {sorted(_POINT_METRICS)}"
                    )
                r = fn(y_true, scores_by_budget[b], nan_policy=nan_policy)
                vals.append(r.statistic)
            ns.append(r.n_used)
        return cls(
            budgets,
            vals,
            low=lows if n_boot else None,
            high=highs if n_boot else None,
            metric=metric,
            label=label,
            n_used=ns,
            n_valid=valid if n_boot else None,
        )

    def plot(
        self,
        ax: Any = None,
        *,
        band: bool = True,
        reference: float | None = None,
        reference_label: str = "seed vs seed",
        xlabel: str = "budget",
        ylabel: str | None = None,
        legend: bool = True,
        **kwargs: Any,
    ) -> CorrelationBudgetDisplay:
        """Line with markers and, if intervals exist and ``band``, a shaded band. ``reference``
        draws a dashed horizontal line labelled ``reference_label`` (e.g. the benchmark's
        seed-to-seed agreement, :func:`seed_agreement`)."""
        ax = self._axes(ax)
        kwargs.setdefault("marker", "o")
        if self.label is not None:
            kwargs.setdefault("label", self.label)
        (self.line_,) = ax.plot(self.budgets, self.values, **kwargs)
        self.band_ = None
        if band and self.low is not None and self.high is not None:
            self.band_ = ax.fill_between(
                self.budgets, self.low, self.high, alpha=0.2, color=self.line_.get_color()
            )
        self.reference_ = None
        if reference is not None:
            self.reference_ = ax.axhline(
                reference,
                linestyle="--",
                color="0.4",
                linewidth=1,
                label=f"{reference_label} {reference:.3f}",
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel if ylabel is not None else _metric_text(self.metric))
        if legend and (self.label is not None or reference is not None):
            ax.legend(loc="best", fontsize="small")
        return self


class RIBarDisplay(_Display):
    """Relative improvement over random per method, with interval error bars.

    Attributes
    ----------
    names : list of str
    ri : ndarray
    low, high : ndarray (NaN where no interval)
    """

    def __init__(self, names: Sequence[str], ri, *, low=None, high=None):
        self.names = [str(s) for s in names]
        self.ri = np.asarray(ri, dtype=float)
        nan = np.full(self.ri.shape, np.nan)
        self.low = nan if low is None else np.asarray(low, dtype=float)
        self.high = nan if high is None else np.asarray(high, dtype=float)

    @classmethod
    def from_results(cls, results: Mapping[str, Any]) -> RIBarDisplay:
        """From ``{name: RelativeImprovement}`` (:func:`relative_improvement`)."""
        if not isinstance(results, Mapping) or not results:
            raise AnalysisError(
                "RIBarDisplay: results must be a non-empty mapping name -> RelativeImprovement"
            )
        names = list(results)
        ri = [results[n].ri for n in names]
        low = [np.nan if results[n].low is None else results[n].low for n in names]
        high = [np.nan if results[n].high is None else results[n].high for n in names]
        return cls(names, ri, low=low, high=high)

    def plot(self, ax: Any = None, **kwargs: Any) -> RIBarDisplay:
        ax = self._axes(ax)
        x = np.arange(len(self.names))
        self.bars_ = ax.bar(x, self.ri, **kwargs)
        has = ~(np.isnan(self.low) | np.isnan(self.high))
        self.errorbar_ = None
        if has.any():
            err = np.vstack([self.ri - self.low, self.high - self.ri])[:, has]
            self.errorbar_ = ax.errorbar(
                x[has], self.ri[has], yerr=err, fmt="none", ecolor="k", capsize=3
            )
        ax.axhline(0.0, color="k", linewidth=0.8)
        ax.set_xticks(x, labels=self.names, rotation=30, ha="right")
        ax.set_ylabel("RI over random (%)")
        return self


class ErrorEDFDisplay(_Display):
    """Empirical distribution function of errors, one curve per population (NDS-style).

    Attributes
    ----------
    errors : dict name -> sorted ndarray
    unit : {"percent", "fraction"}
    """

    def __init__(self, errors: Mapping[str, Any], *, unit: str = "percent"):
        self.errors = {str(k): np.sort(np.asarray(v, dtype=float)) for k, v in errors.items()}
        self.unit = unit

    @staticmethod
    def _clean(
        values: Mapping[str, Any] | Any, nan_policy: str, where: str
    ) -> dict[str, np.ndarray]:
        items = values if isinstance(values, Mapping) else {"": values}
        out = {}
        for k, v in items.items():
            (a,), _ = prepare(
                {str(k) or "values": v},
                where=where,
                nan_policy=nan_policy,
                min_n=1,
                nonconstant=False,
                finite=True,
            )
            out[str(k)] = a
        return out

    @classmethod
    def from_errors(
        cls, errors: Mapping[str, Any] | Any, *, unit: str = "percent", nan_policy: str = "raise"
    ) -> ErrorEDFDisplay:
        check_choice("unit", unit, ("percent", "fraction"), "ErrorEDFDisplay")
        return cls(cls._clean(errors, nan_policy, "ErrorEDFDisplay"), unit=unit)

    @classmethod
    def from_accuracies(
        cls,
        accuracies: Mapping[str, Any] | Any,
        *,
        unit: str = "percent",
        nan_policy: str = "raise",
    ) -> ErrorEDFDisplay:
        """Errors ``100 - acc`` (``unit="percent"``) or ``1 - acc`` (``"fraction"``)."""
        check_choice("unit", unit, ("percent", "fraction"), "ErrorEDFDisplay")
        top = 100.0 if unit == "percent" else 1.0
        acc = cls._clean(accuracies, nan_policy, "ErrorEDFDisplay")
        return cls({k: top - v for k, v in acc.items()}, unit=unit)

    def edf(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(sorted errors, cumulative fraction)`` of one population."""
        e = self.errors[name]
        return e, np.arange(1, e.size + 1) / e.size

    def plot(self, ax: Any = None, *, xscale: str = "linear", **kwargs: Any) -> ErrorEDFDisplay:
        check_choice("xscale", xscale, ("linear", "log"), "ErrorEDFDisplay.plot")
        ax = self._axes(ax)
        self.lines_ = {}
        for name in self.errors:
            x, y = self.edf(name)
            kw = dict(kwargs)
            if name:
                kw.setdefault("label", f"{name} (n = {x.size})")
            (self.lines_[name],) = ax.step(x, y, where="post", **kw)
        ax.set_xscale(xscale)
        ax.set_xlabel("error (%)" if self.unit == "percent" else "error")
        ax.set_ylabel("cumulative fraction")
        ax.set_ylim(0, 1)
        if any(self.errors):
            ax.legend(loc="lower right", fontsize="small")
        return self


class CorrelationHeatmapDisplay(_Display):
    """Pairwise rank correlation between proxies (and the ground truth, if given).

    Attributes
    ----------
    names : list of str
    matrix : ndarray (k, k)
        ``matrix[i, j]`` = metric(scores_i, scores_j); 1 on the diagonal.
    n_used : ndarray (k, k) of int
        Pairs behind each entry (``nan_policy="omit"`` drops pairwise).
    metric : str
    """

    def __init__(self, names: Sequence[str], matrix, *, metric: str = "kendall_tau", n_used=None):
        self.names = [str(s) for s in names]
        self.matrix = np.asarray(matrix, dtype=float)
        self.metric = metric
        self.n_used = None if n_used is None else np.asarray(n_used)

    @classmethod
    def from_scores(
        cls,
        scores: Mapping[str, Any],
        *,
        metric: str = "kendall_tau",
        y_true: Any = None,
        true_name: str = "ground truth",
        nan_policy: str = "omit",
    ) -> CorrelationHeatmapDisplay:
        check_choice("metric", metric, tuple(_POINT_METRICS), "CorrelationHeatmapDisplay")
        if not isinstance(scores, Mapping) or not scores:
            raise AnalysisError(
                "CorrelationHeatmapDisplay: scores must be a non-empty mapping name -> array"
            )
        cols = dict(scores)
        if y_true is not None:
            cols = {true_name: y_true, **cols}
        names = list(cols)
        k = len(names)
        mat = np.eye(k)
        nn = np.zeros((k, k), dtype=int)
        fn = _POINT_METRICS[metric]
        for i in range(k):
            nn[i, i] = int(np.count_nonzero(~np.isnan(np.asarray(cols[names[i]], dtype=float))))
            for j in range(i + 1, k):
                r = fn(cols[names[i]], cols[names[j]], nan_policy=nan_policy)
                mat[i, j] = mat[j, i] = r.statistic
                nn[i, j] = nn[j, i] = r.n_used
        return cls(names, mat, metric=metric, n_used=nn)

    def plot(
        self,
        ax: Any = None,
        *,
        annotate: bool | str = "auto",
        cmap: str = "RdBu_r",
        colorbar: bool = True,
        **kwargs: Any,
    ) -> CorrelationHeatmapDisplay:
        """The matrix as an image; ``annotate``: write each value in its cell (``"auto"``: when
        the cells are large enough for the text, about 0.27 in)."""
        ax = self._axes(ax)
        if annotate == "auto":
            annotate = _cell_inches(ax, len(self.names)) >= 0.27
        self.im_ = ax.imshow(self.matrix, cmap=cmap, vmin=-1.0, vmax=1.0, **kwargs)
        k = len(self.names)
        ax.set_xticks(range(k), labels=self.names, rotation=90)
        ax.set_yticks(range(k), labels=self.names)
        self.texts_ = []
        if annotate:
            for i in range(k):
                for j in range(k):
                    v = self.matrix[i, j]
                    color = "white" if abs(v) > 0.6 else "black"
                    self.texts_.append(
                        ax.text(
                            j,
                            i,
                            f"{v:.2f}",
                            ha="center",
                            va="center",
                            color=color,
                            fontsize="x-small",
                        )
                    )
        self.colorbar_ = (
            self.figure_.colorbar(self.im_, ax=ax, label=_metric_text(self.metric))
            if colorbar
            else None
        )
        return self


def _cell_inches(ax: Any, k: int) -> float:
    """About how wide one of ``k`` x ``k`` square cells in ``ax`` is, in inches (before layout:
    the axes' share of the figure, less room for labels and a colour bar)."""
    pos = ax.get_position()
    w = pos.width * ax.figure.get_figwidth()
    h = pos.height * ax.figure.get_figheight()
    return 0.8 * min(w, h) / max(k, 1)


class RankingDisplay(_Display):
    """Forest plot: one rank correlation per proxy with its interval, beside reference lines.

    The references are typically the benchmark's agreement with itself (:func:`seed_agreement`):
    one seed against another, and one seed against the mean of the others. They are context, not
    bounds: a proxy can rank a seed-mean ground truth better than one seed ranks another.

    Attributes
    ----------
    names : list of str
    values, low, high : ndarray (``low``/``high`` NaN where no interval)
    references : dict
        ``{label: (value, low, high)}`` drawn as dashed vertical lines with shaded intervals
        (``low``/``high`` may be None or NaN).
    metric : str
    """

    def __init__(
        self,
        names,
        values,
        *,
        low=None,
        high=None,
        references: Mapping[str, tuple[float, float | None, float | None]] | None = None,
        metric: str = "kendall_tau",
    ):
        self.names = [str(s) for s in names]
        self.values = np.asarray(values, dtype=float)
        nan = np.full(self.values.shape, np.nan)
        self.low = nan if low is None else np.asarray(low, dtype=float)
        self.high = nan if high is None else np.asarray(high, dtype=float)
        self.references = {
            str(k): (
                float(v),
                np.nan if lo is None else float(lo),
                np.nan if hi is None else float(hi),
            )
            for k, (v, lo, hi) in (references or {}).items()
        }
        self.metric = metric

    @staticmethod
    def seed_references(agreement: Any) -> dict[str, tuple[float, float | None, float | None]]:
        """Reference lines from a :class:`SeedAgreement`: seed vs seed (the mean over pairs) and
        one seed vs the mean of the others (the mean over seeds)."""
        if len(agreement.pairs) == 1:
            ((a, b),) = agreement.pairs
            out = {f"seed {a} vs seed {b}": agreement.between}
        else:
            n_pairs, n_runs = len(agreement.pairs), len(agreement.vs_rest)
            out = {
                f"seed vs seed (mean of {n_pairs} pairs)": agreement.between,
                f"one seed vs mean of the others (mean of {n_runs})": agreement.rest,
            }
        return {k: (e.value, e.low, e.high) for k, e in out.items()}

    @classmethod
    def from_reports(
        cls,
        reports: Mapping[str, Any],
        *,
        metric: str = "kendall_tau",
        seed_agreement: Any = None,
        references: Mapping[str, tuple[float, float | None, float | None]] | None = None,
        sort: bool = True,
    ) -> RankingDisplay:
        """From ``{name: RankReport}`` (:func:`rank_report`), an optional :class:`SeedAgreement`
        (same metric) and any other ``references`` ``{label: (value, low, high)}``."""
        if not isinstance(reports, Mapping) or not reports:
            raise AnalysisError(
                "RankingDisplay: reports must be a non-empty mapping name -> RankReport"
            )
        names = list(reports)
        est = [getattr(reports[n], metric) for n in names]
        values = np.array([e.value for e in est], dtype=float)
        low = np.array([np.nan if e.low is None else e.low for e in est], dtype=float)
        high = np.array([np.nan if e.high is None else e.high for e in est], dtype=float)
        if sort:
            order = np.argsort(-values, kind="stable")
            names = [names[i] for i in order]
            values, low, high = values[order], low[order], high[order]
        refs = {}
        if seed_agreement is not None:
            if not str(seed_agreement.metric).startswith(metric):
                raise AnalysisError(
                    f"RankingDisplay: seed agreement is {seed_agreement.metric}, not {metric}"
                )
            refs.update(cls.seed_references(seed_agreement))
        refs.update(references or {})
        return cls(names, values, low=low, high=high, metric=metric, references=refs)

    def plot(
        self,
        ax: Any = None,
        *,
        zero_line: str = "auto",
        legend: str = "below",
        **kwargs: Any,
    ) -> RankingDisplay:
        """Horizontal points with interval whiskers, best on top; each reference as a dashed line
        with its interval shaded.

        The axis spans the values and intervals shown (not 0 to 1), so a whisker of 0.007 stays
        visible. ``zero_line``: ``"auto"`` draws the line at 0 only when 0 lies within that
        span (a negative correlation), ``"always"`` or ``"never"``. ``legend``: ``"below"`` the
        axes, ``"right"`` of them, or ``"none"``; never over the points."""
        check_choice("zero_line", zero_line, ("auto", "always", "never"), "RankingDisplay.plot")
        check_choice("legend", legend, ("below", "right", "none"), "RankingDisplay.plot")
        ax = self._axes(ax)
        y = np.arange(len(self.names))[::-1]
        kwargs.setdefault("fmt", "o")
        kwargs.setdefault("capsize", 2.5)
        kwargs.setdefault("markersize", 3.5)
        kwargs.setdefault("elinewidth", 1.0)
        kwargs.setdefault("color", "C0")
        err = None
        has = ~(np.isnan(self.low) | np.isnan(self.high))
        if has.any():
            err = np.vstack(
                [
                    np.where(has, self.values - self.low, 0),
                    np.where(has, self.high - self.values, 0),
                ]
            )
        self.errorbar_ = ax.errorbar(self.values, y, xerr=err, **kwargs)
        lo, hi = self._references(ax, [self.values, self.low[has], self.high[has]])
        pad = 0.06 * (hi - lo) if hi > lo else 0.05
        ax.set_xlim(lo - pad, hi + pad)
        self.zero_line_ = None
        if zero_line == "always" or (zero_line == "auto" and lo - pad < 0 < hi + pad):
            self.zero_line_ = ax.axvline(0.0, color="k", linewidth=0.6)
        if self.references and legend != "none":
            _outside_legend(ax, legend)
        ax.set_yticks(y, labels=self.names)
        ax.set_ylim(-0.6, len(self.names) - 0.4)
        ax.set_xlabel(_metric_text(self.metric))
        return self

    def _references(self, ax: Any, span: list) -> tuple[float, float]:
        """Each reference as a dashed line with its interval shaded; the smallest and largest
        value drawn (``span`` plus the references)."""
        self.reference_lines_ = {}
        styles = ("--", ":", "-.")
        for i, (label, (v, lo, hi)) in enumerate(self.references.items()):
            color = f"C{3 + i}"
            self.reference_lines_[label] = ax.axvline(
                v, color=color, linestyle=styles[i % len(styles)], label=f"{label}: {v:.3f}"
            )
            span.append(np.array([v]))
            if np.isfinite(lo) and np.isfinite(hi):
                ax.axvspan(lo, hi, color=color, alpha=0.15, linewidth=0)
                span.append(np.array([lo, hi]))
        vals = np.concatenate([np.ravel(a) for a in span])
        vals = vals[np.isfinite(vals)]
        return float(vals.min()), float(vals.max())


def _metric_text(metric: str) -> str:
    from .style import metric_label

    return metric_label(metric, "mathtext")


#: K as a fraction of n along a P@K curve: 0.1 % to 50 %, evenly spaced on a log axis.
DEFAULT_TOPK_FRACTIONS = tuple(float(f) for f in np.geomspace(0.001, 0.5, 28))


class TopKCurveDisplay(_Display):
    """P@top-K against K, with K as a fraction of the architectures each proxy scored, so
    curves of samples of different sizes compare; random ranking gives P@K = K / n (the
    diagonal).

    Attributes
    ----------
    names : list of str
    fractions : ndarray
        The fractions asked for (K / n).
    ks, values : dict name -> ndarray
        Per proxy, the K each fraction resolved to on its n (K = max(1, round(f n)), distinct
        Ks only) and P@top-K there (score ties broken at random, in expectation).
    n_used : dict name -> int
    """

    def __init__(self, names, fractions, ks, values, n_used):
        self.names = [str(s) for s in names]
        self.fractions = np.asarray(fractions, dtype=float)
        self.ks = {k: np.asarray(v) for k, v in ks.items()}
        self.values = {k: np.asarray(v, dtype=float) for k, v in values.items()}
        self.n_used = dict(n_used)

    @classmethod
    def from_predictions(
        cls,
        y_true: Any,
        scores: Mapping[str, Any],
        *,
        fractions: Sequence[float] = DEFAULT_TOPK_FRACTIONS,
        nan_policy: str = "omit",
    ) -> TopKCurveDisplay:
        """P@top-K of every proxy in ``scores`` for K = each fraction of its n."""
        from .bootstrap import PairStats, Request, point_values

        if not isinstance(scores, Mapping) or not scores:
            raise AnalysisError(
                "TopKCurveDisplay: scores must be a non-empty mapping name -> array"
            )
        fr = np.asarray(fractions, dtype=float)
        if fr.ndim != 1 or not fr.size or not ((fr > 0) & (fr <= 1)).all():
            raise AnalysisError("TopKCurveDisplay: fractions must lie in (0, 1]")
        ks, vals, ns = {}, {}, {}
        for name, sc in scores.items():
            (x, y), _ = prepare(
                {"y_true": y_true, "y_score": sc},
                where="TopKCurveDisplay",
                nan_policy=nan_policy,
                nonconstant=False,
            )
            n = x.size
            k = np.unique(np.maximum(1, np.floor(fr * n + 0.5)).astype(int))
            pv = point_values(PairStats(x, y), [Request("p_at_top_k", int(kk)) for kk in k])
            ks[name] = k
            vals[name] = np.array([pv[f"p_at_top_k@{int(kk)}"] for kk in k])
            ns[name] = n
        return cls(list(scores), fr, ks, vals, ns)

    def plot(
        self,
        ax: Any = None,
        *,
        random: bool = True,
        legend: str = "right",
        labels: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> TopKCurveDisplay:
        """One line per proxy (x: K as % of n, log scale; y: P@top-K), the random expectation
        K / n dashed. ``legend``: ``"right"`` of the axes, ``"below"``, or ``"none"``."""
        check_choice("legend", legend, ("right", "below", "none"), "TopKCurveDisplay.plot")
        ax = self._axes(ax)
        self.lines_ = {}
        for i, name in enumerate(self.names):
            x = 100.0 * self.ks[name] / self.n_used[name]
            kw = dict(kwargs)
            kw.setdefault("color", f"C{i % 10}")
            kw.setdefault("linestyle", ("-", "--", "-.")[(i // 10) % 3])
            kw.setdefault("label", (labels or {}).get(name, name))
            (self.lines_[name],) = ax.plot(x, self.values[name], **kw)
        self.random_ = None
        if random:
            x = 100.0 * self.fractions
            self.random_ = ax.plot(
                x, self.fractions, color="k", linestyle=":", linewidth=0.8, label="random (K / n)"
            )[0]
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("K as % of the architectures scored")
        ax.set_ylabel("P@top-K")
        _percent_ticks(ax)
        if legend == "right":
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
        elif legend == "below":
            from matplotlib.transforms import offset_copy

            under = offset_copy(ax.transAxes, fig=ax.figure, y=-30, units="points")
            ax.legend(
                loc="upper center",
                bbox_to_anchor=(0.5, 0.0),
                bbox_transform=under,
                borderaxespad=0,
                ncols=2,
            )
        return self


def _percent_ticks(ax: Any) -> None:
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ticks = [0.1, 1, 10, 50]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))


def _outside_legend(ax: Any, where: str) -> None:
    """The legend ``"below"`` the axes' tick and axis labels, or to their ``"right"``."""
    if where == "below":
        from matplotlib.transforms import offset_copy

        # below the tick labels and the axis label (about 30 pt under the axes)
        under = offset_copy(ax.transAxes, fig=ax.figure, y=-30, units="points")
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=under, borderaxespad=0
        )
    else:
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), borderaxespad=0)


class PairwiseTestDisplay(_Display):
    """Paired tests between every two proxies
    (:func:`~nasbench_tools.analysis.pairwise_tests`) as a triangle: cell (row, column) is the
    row proxy's metric minus the column proxy's, coloured by size and sign, with ``*`` where the
    corrected p-value is below the level.

    Attributes
    ----------
    names : list of str
        Best first (by the metric's value).
    diff, significant : ndarray (k, k)
        Row minus column; significant after the correction. NaN / False where not tested.
    comparison : PairwiseComparison
    """

    def __init__(self, names, diff, significant, comparison=None):
        self.names = [str(s) for s in names]
        self.diff = np.asarray(diff, dtype=float)
        self.significant = np.asarray(significant, dtype=bool)
        self.comparison = comparison

    @classmethod
    def from_comparison(cls, comparison: Any, *, order: Sequence[str] | None = None):
        names = list(order) if order is not None else _by_value(comparison)
        pos = [comparison.names.index(n) for n in names]
        d = comparison.matrix("diff")[np.ix_(pos, pos)]
        sig = comparison.matrix("significant")[np.ix_(pos, pos)]
        return cls(names, d, np.nan_to_num(sig) > 0, comparison)

    def plot(
        self,
        ax: Any = None,
        *,
        annotate: bool | str = "auto",
        cmap: str = "RdBu_r",
        colorbar: bool = True,
        labels: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> PairwiseTestDisplay:
        """Upper triangle: rows are every proxy but the last, columns every proxy but the first.
        ``annotate``: the difference in each cell (``"auto"``: when cells are large enough;
        otherwise only the ``*``)."""
        ax = self._axes(ax)
        k = len(self.names)
        rows, cols = list(range(k - 1)), list(range(1, k))
        mat = np.full((k - 1, k - 1), np.nan)
        for i in rows:
            for j in cols:
                if j > i:
                    mat[i, j - 1] = self.diff[i, j]
        finite = np.abs(mat[np.isfinite(mat)])
        # 1.5 x the upper quartile, at most the largest: one proxy far below the rest would
        # wash out every other cell (the colour bar marks the clipped range)
        vmax = float(min(finite.max(), 1.5 * np.quantile(finite, 0.75))) if finite.size else 1.0
        vmax = vmax if vmax > 0 else 1.0
        self.vmax_ = vmax
        self.im_ = ax.imshow(np.ma.masked_invalid(mat), cmap=cmap, vmin=-vmax, vmax=vmax, **kwargs)
        show = [(labels or {}).get(n, n) for n in self.names]
        ax.set_xticks(range(k - 1), labels=show[1:], rotation=90)
        ax.set_yticks(range(k - 1), labels=show[:-1])
        ax.tick_params(length=0)
        for side in ("top", "right", "left", "bottom"):
            ax.spines[side].set_visible(False)
        if annotate == "auto":
            annotate = _cell_inches(ax, k - 1) >= 0.3
        self._annotate(ax, bool(annotate), vmax)
        self.colorbar_ = None
        if colorbar:
            metric = self.comparison.metric if self.comparison is not None else "kendall_tau"
            self.colorbar_ = self.figure_.colorbar(
                self.im_,
                ax=ax,
                label=f"Δ {_metric_text(metric)} (row − column)",
                shrink=0.8,
                extend="both" if finite.size and finite.max() > vmax else "neither",
            )
        return self

    def _annotate(self, ax: Any, values: bool, vmax: float) -> None:
        """Each tested cell's difference (``values``) and ``*`` where significant."""
        self.texts_ = []
        k = len(self.names)
        for i in range(k - 1):
            for j in range(i + 1, k):
                v = self.diff[i, j]
                if not np.isfinite(v):
                    continue
                star = "*" if self.significant[i, j] else ""
                text = f"{v:+.2f}{star}" if values else star
                if not text:
                    continue
                color = "white" if abs(v) > 0.6 * vmax else "black"
                self.texts_.append(
                    ax.text(
                        j - 1, i, text, ha="center", va="center", color=color, fontsize="x-small"
                    )
                )


def _by_value(comparison: Any) -> list[str]:
    vals: dict[str, list[float]] = {n: [] for n in comparison.names}
    for t in comparison.tests:
        if not t.skipped:
            vals[t.a].append(t.value_a)
            vals[t.b].append(t.value_b)
    mean = {n: (np.mean(v) if v else -np.inf) for n, v in vals.items()}
    return sorted(comparison.names, key=lambda n: -mean[n])
