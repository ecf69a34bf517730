"""Search plots in the scikit-learn "Display" style (as :mod:`nasbench_tools.analysis.displays`).

A display is built by a ``from_*`` class method that computes and stores every value it draws;
``plot(ax=None)`` draws on the given axes (or a new figure), keeps the artists (``ax_``,
``figure_``, ``lines_``) and returns the display; ``savefig(path)`` writes ``.pdf``, ``.svg``,
``.eps`` or ``.png``. matplotlib is imported inside ``plot`` only.

==========================  ==========================================================
display                     shows
==========================  ==========================================================
:class:`CurveDisplay`       best-so-far curves (report metric or regret) against queries
                            or simulated seconds, per strategy, with the interval band;
                            also per-iteration records (WeakNAS's predictor tau)
:class:`SurvivalDisplay`    share of runs not yet at the optimum against queries
                            (Kaplan-Meier, with Greenwood's band)
:class:`PredictorCurveDisplay`  a predictor-harness metric against the training-set size
==========================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._common import SearchError
from .analysis import Curve, Survival, best_so_far, queries_to_optimum, record_curve
from .harness import METRICS, PredictorCurve
from .trajectory import Trajectories

__all__ = ["CurveDisplay", "PredictorCurveDisplay", "SurvivalDisplay"]

_FORMATS = {".pdf", ".svg", ".eps", ".png"}
_Y_LABELS = {
    "report": "report metric of the answer",
    "regret": "regret: optimum - answer (pp)",
    "predictor_tau_unqueried": "predictor Kendall τ_b on unqueried archs",
    "predictor_tau_top": "predictor τ_b within its top-K",
    "predictor_p_at_top": "predictor P@top-K on unqueried archs",
}
_X_LABELS = {"queries": "queries", "seconds": "simulated seconds"}


class _Display:
    ax_: Any = None
    figure_: Any = None

    def _axes(self, ax: Any) -> Any:
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(5.0, 3.4))
        self.ax_ = ax
        self.figure_ = ax.figure
        return ax

    def savefig(self, path: str | Path, **kwargs: Any) -> _Display:
        """Save the figure (format from the suffix; ``bbox_inches="tight"``, 200 dpi for PNG)."""
        if self.figure_ is None:
            raise SearchError(f"{type(self).__name__}.savefig: call plot() first")
        p = Path(path)
        if p.suffix.lower() not in _FORMATS:
            raise SearchError(
                f"savefig: unsupported format {p.suffix!r}; use one of {sorted(_FORMATS)}"
            )
        kwargs.setdefault("bbox_inches", "tight")
        if p.suffix.lower() == ".png":
            kwargs.setdefault("dpi", 200)
        self.figure_.savefig(p, **kwargs)
        return self


class CurveDisplay(_Display):
    """Curves (mean over runs) with their interval bands.

    Attributes
    ----------
    curves : list of Curve
    title : str
    """

    def __init__(self, curves: Sequence[Curve], *, title: str = ""):
        if not curves:
            raise SearchError("CurveDisplay needs at least one curve")
        self.curves = list(curves)
        self.title = title

    @classmethod
    def from_trajectories(
        cls,
        trajectories: Sequence[Trajectories],
        *,
        x: str = "queries",
        y: str = "regret",
        counting: str = "answer",
        n_boot: int = 1000,
        seed: int = 0,
        title: str = "",
    ) -> CurveDisplay:
        """Best-so-far curves of each set of runs (:func:`..analysis.best_so_far`)."""
        return cls(
            [
                best_so_far(t, x=x, y=y, counting=counting, n_boot=n_boot, seed=seed)
                for t in trajectories
            ],
            title=title,
        )

    @classmethod
    def from_records(
        cls,
        trajectories: Sequence[Trajectories],
        name: str,
        *,
        n_boot: int = 1000,
        seed: int = 0,
        title: str = "",
    ) -> CurveDisplay:
        """A per-iteration record of each set of runs (:func:`..analysis.record_curve`)."""
        return cls(
            [record_curve(t, name, n_boot=n_boot, seed=seed) for t in trajectories], title=title
        )

    def plot(self, ax: Any = None, *, xscale: str = "linear", optimum: bool = True) -> CurveDisplay:
        """Draw every curve and its band; ``optimum`` draws the optimum for report curves."""
        ax = self._axes(ax)
        self.lines_ = []
        for c in self.curves:
            style = "--" if c.counting == "weaknas" else "-"
            label = c.label + (" (WeakNAS's counting)" if c.counting == "weaknas" else "")
            (line,) = ax.plot(c.x, c.mean, style, label=label, lw=1.4)
            if np.isfinite(c.low).any():
                ax.fill_between(c.x, c.low, c.high, color=line.get_color(), alpha=0.2, lw=0)
            self.lines_.append(line)
        first = self.curves[0]
        if optimum and first.y == "report" and np.isfinite(first.optimum):
            ax.axhline(first.optimum, color="0.3", lw=0.8, ls=":", label="optimum")
        ax.set_xscale(xscale)
        ax.set_xlabel(_X_LABELS.get(first.x_kind, first.x_kind))
        ax.set_ylabel(_Y_LABELS.get(first.y, first.y))
        if first.y == "regret":
            _regret_axis(ax)
        if self.title:
            ax.set_title(self.title, fontsize="medium")
        conf = round(100 * first.confidence)
        ax.legend(fontsize="small", title=f"mean over runs, {conf}% CI", title_fontsize="small")
        ax.grid(alpha=0.3)
        return self


def _regret_axis(ax) -> None:
    """Symmetric-log regret axis with ticks at 1, 2 and 5 of every decade, written as numbers
    (matplotlib's default labels only the decades, often a single tick on a search's range)."""
    from matplotlib.ticker import FuncFormatter, NullLocator, SymmetricalLogLocator

    ax.set_yscale("symlog", linthresh=0.05)
    ax.yaxis.set_major_locator(SymmetricalLogLocator(linthresh=0.05, base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())


class SurvivalDisplay(_Display):
    """Kaplan-Meier curves of the queries until the optimum, one per set of runs."""

    def __init__(self, survivals: Sequence[Survival], *, title: str = ""):
        if not survivals:
            raise SearchError("SurvivalDisplay needs at least one survival curve")
        self.survivals = list(survivals)
        self.title = title

    @classmethod
    def from_trajectories(
        cls, trajectories: Sequence[Trajectories], *, event: str = "queried", title: str = ""
    ) -> SurvivalDisplay:
        return cls([queries_to_optimum(t, event=event) for t in trajectories], title=title)

    def plot(self, ax: Any = None) -> SurvivalDisplay:
        ax = self._axes(ax)
        self.lines_ = []
        for s in self.survivals:
            label = f"{s.label}: {100 * s.fraction_reached:.0f}% reached"
            (line,) = ax.step(s.n, s.survival, where="post", label=label, lw=1.4)
            ax.fill_between(
                s.n, s.low, s.high, step="post", color=line.get_color(), alpha=0.2, lw=0
            )
            self.lines_.append(line)
        what = "queried" if self.survivals[0].event == "queried" else "returned"
        ax.set_xlabel("queries")
        ax.set_ylabel(f"runs that have not {what} the optimum")
        ax.set_ylim(-0.02, 1.02)
        if self.title:
            ax.set_title(self.title, fontsize="medium")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
        return self


class PredictorCurveDisplay(_Display):
    """One predictor-harness metric against the number of training architectures."""

    def __init__(self, curves: Sequence[PredictorCurve], *, metric: str = "kendall_tau"):
        if metric not in METRICS:
            raise SearchError(f"metric must be one of {list(METRICS)}, got {metric!r}")
        if not curves:
            raise SearchError("PredictorCurveDisplay needs at least one curve")
        self.curves = list(curves)
        self.metric = metric

    def plot(self, ax: Any = None) -> PredictorCurveDisplay:
        ax = self._axes(ax)
        self.lines_ = []
        for c in self.curves:
            (line,) = ax.plot(c.ns, c.mean[self.metric], "o-", ms=3, label=c.predictor, lw=1.4)
            ax.fill_between(
                c.ns,
                c.low[self.metric],
                c.high[self.metric],
                color=line.get_color(),
                alpha=0.2,
                lw=0,
            )
            self.lines_.append(line)
        ax.set_xscale("log")
        ax.set_xlabel("training architectures n")
        label = {
            "kendall_tau": "Kendall τ_b on the rest",
            "sparse_kendall_tau": "sparse τ (NASLib, 0.1 pp)",
            "p_at_top_k": f"P@top-{self.curves[0].k} on the rest",
        }[self.metric]
        ax.set_ylabel(label)
        ax.legend(
            fontsize="small",
            title=f"mean of {self.curves[0].repeats} repeats, 95% CI",
            title_fontsize="small",
        )
        ax.grid(alpha=0.3)
        return self
