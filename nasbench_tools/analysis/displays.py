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
==============================  ====================================================

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
    "ProxyScatterDisplay",
    "RIBarDisplay",
    "RankChangeDisplay",
    "RankingDisplay",
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

    def plot(self, ax: Any = None, *, xscale: str = "linear", **kwargs: Any) -> ProxyScatterDisplay:
        """Scatter (x: score, y: ground truth). ``xscale``: ``"linear"``, ``"log"``, ``"symlog"``;
        ``kwargs`` go to ``Axes.scatter``."""
        check_choice("xscale", xscale, ("linear", "log", "symlog"), "ProxyScatterDisplay.plot")
        ax = self._axes(ax)
        kwargs.setdefault("s", 6)
        kwargs.setdefault("alpha", 0.5)
        kwargs.setdefault("label", self.label)
        self.scatter_ = ax.scatter(self.y_score, self.y_true, **kwargs)
        ax.set_xscale(xscale)
        ax.set_xlabel("proxy score")
        ax.set_ylabel("ground truth")
        ax.legend(loc="best", fontsize="small")
        return self


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
        1-based ranks (best first; ties broken by input order, so every line is visible).
    tau : float
        Kendall tau-b between the two scores (ties handled properly, unlike the drawing).
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
    ):
        self.ranks_a = np.asarray(ranks_a)
        self.ranks_b = np.asarray(ranks_b)
        self.tau = float(tau)
        self.names = tuple(names)
        self.labels = None if labels is None else [str(s) for s in labels]

    @classmethod
    def from_scores(
        cls,
        score_a: Any,
        score_b: Any,
        *,
        names: Sequence[str] = ("a", "b"),
        labels: Sequence[str] | None = None,
    ) -> RankChangeDisplay:
        (a, b), _ = prepare({"score_a": score_a, "score_b": score_b}, where="RankChangeDisplay")
        if labels is not None and len(labels) != a.size:
            raise AnalysisError(f"RankChangeDisplay: {len(labels)} labels for {a.size} items")
        return cls(
            _ordinal_rank(a),
            _ordinal_rank(b),
            tau=kendall_tau(a, b).statistic,
            names=names,
            labels=labels,
        )

    def plot(self, ax: Any = None, *, highlight_top: int = 5, **kwargs: Any) -> RankChangeDisplay:
        """Lines from rank at a (x=0) to rank at b (x=1), rank 1 on top; the ``highlight_top``
        best at a are coloured. ``kwargs`` go to ``Axes.plot``."""
        ax = self._axes(ax)
        kwargs.setdefault("linewidth", 1.0)
        self.lines_ = []
        for i, (ra, rb) in enumerate(zip(self.ranks_a, self.ranks_b)):
            top = ra <= highlight_top
            kw = dict(kwargs)
            kw.setdefault("color", f"C{int(ra) - 1}" if top else "0.75")
            kw.setdefault("zorder", 3 if top else 1)
            (line,) = ax.plot([0, 1], [ra, rb], marker="o", markersize=3, **kw)
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
        ax.invert_yaxis()
        ax.set_ylabel("rank (1 = best)")
        ax.set_title(f"τ_b = {self.tau:.3f} (n = {self.ranks_a.size})")
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
        ax.set_xlabel("budget")
        ax.set_ylabel(self.metric)
        if self.label is not None or reference is not None:
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
        annotate: bool = True,
        cmap: str = "RdBu_r",
        colorbar: bool = True,
        **kwargs: Any,
    ) -> CorrelationHeatmapDisplay:
        ax = self._axes(ax)
        self.im_ = ax.imshow(self.matrix, cmap=cmap, vmin=-1.0, vmax=1.0, **kwargs)
        k = len(self.names)
        ax.set_xticks(range(k), labels=self.names, rotation=45, ha="right")
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
            self.figure_.colorbar(self.im_, ax=ax, label=self.metric) if colorbar else None
        )
        return self


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

    def plot(self, ax: Any = None, **kwargs: Any) -> RankingDisplay:
        """Horizontal points with interval whiskers, best on top; each reference as a dashed line
        with its interval shaded."""
        ax = self._axes(ax)
        y = np.arange(len(self.names))[::-1]
        kwargs.setdefault("fmt", "o")
        kwargs.setdefault("capsize", 3)
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
        self.reference_lines_ = {}
        styles = ("--", ":", "-.")
        for i, (label, (v, lo, hi)) in enumerate(self.references.items()):
            color = f"C{3 + i}"
            self.reference_lines_[label] = ax.axvline(
                v, color=color, linestyle=styles[i % len(styles)], label=f"{label}: {v:.3f}"
            )
            if np.isfinite(lo) and np.isfinite(hi):
                ax.axvspan(lo, hi, color=color, alpha=0.15)
        if self.references:
            # beside the axes: inside, the legend would cover proxies near the reference lines
            ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="x-small")
        ax.axvline(0.0, color="k", linewidth=0.8)
        ax.set_yticks(y, labels=self.names)
        ax.set_xlabel(self.metric.replace("_", " "))
        return self
