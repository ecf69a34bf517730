"""The report's search section: tables, figures and numbers for a set of trajectory files.

:class:`SearchSection` groups the trajectories by *setting* (the same oracle and budget; runs
under different settings are never put in one table) and gives, per setting:

* a table with one row per strategy: runs, queries per run, the report metric of the answers
  (mean, std, bootstrap interval of the mean), the mean distance to the pool's optimum, the
  share of runs that returned the optimum, RI over random search at the same budget (with its
  interval and Welch's p; needs random-search runs in the setting), the difference to the best
  strategy (with its interval), and queries to the optimum (share of runs that queried it
  within the budget, median where reached by half of them);
* with ``at_queries``, the same numbers after 100, 150, ... queries, and for WeakNAS runs also
  under WeakNAS's own counting (labelled so);
* figures: regret against queries (and against simulated time for time budgets), the survival
  curve of queries to the optimum, WeakNAS's own counting beside every-query-counted, and the
  per-iteration Kendall tau of WeakNAS's predictor on the unqueried architectures.

``to_markdown()`` writes it (with the oracle's declaration: signal, report metric, cost, notes),
``figures(out_dir)`` the PNG/PDF files, ``numbers()`` a JSON-able dict of every number shown.
:func:`search_section` does all three in one call (what a report calls).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._common import SearchError
from .analysis import (
    check_comparable,
    difference,
    final_result,
    queries_to_optimum,
    ri_over_random,
)
from .trajectory import Trajectories, read_trajectories

__all__ = ["SearchSection", "search_section"]


def search_section(
    trajectories: Sequence[Trajectories | str | Path],
    out_dir: str | Path,
    *,
    at_queries: Sequence[int] = (),
    fmt: str = "png",
    link_base: str | Path | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[str, list[Path], dict]:
    """The report's search section for ``trajectories``: ``(markdown, figure paths, numbers)``.

    Figures are written into ``out_dir`` (which must exist); the Markdown links them relative to
    ``link_base`` (default ``out_dir``: links are file names), so a report that writes its
    Markdown into a folder above ``out_dir`` passes that folder. ``numbers`` is
    :meth:`SearchSection.numbers`. Every other argument is :class:`SearchSection`'s.
    """
    section = SearchSection(
        trajectories, at_queries=at_queries, n_boot=n_boot, confidence=confidence, seed=seed
    )
    written = section.figures(out_dir, fmt=fmt)
    base = Path(out_dir if link_base is None else link_base)
    links = {
        sid: [p.relative_to(base).as_posix() if p.is_relative_to(base) else str(p) for p in ps]
        for sid, ps in written.items()
    }
    paths = [p for ps in written.values() for p in ps]
    return section.to_markdown(figures=links), paths, section.numbers()


class SearchSection:
    """The search part of a report; see the module text.

    Parameters
    ----------
    trajectories : sequence of Trajectories or paths
    at_queries : sequence of int, optional
        Query counts for the second table (only counts every run of a setting reached).
    n_boot, confidence, seed
        Bootstrap over runs for every interval (seeded).
    """

    def __init__(
        self,
        trajectories: Sequence[Trajectories | str | Path],
        *,
        at_queries: Sequence[int] = (),
        n_boot: int = 1000,
        confidence: float = 0.95,
        seed: int = 0,
    ):
        ts = [t if isinstance(t, Trajectories) else read_trajectories(t) for t in trajectories]
        if not ts:
            raise SearchError("a search section needs at least one trajectory file")
        self.n_boot, self.confidence, self.seed = n_boot, confidence, seed
        self.at_queries = tuple(int(a) for a in at_queries)
        self.settings: list[list[Trajectories]] = []
        for t in ts:
            for group in self.settings:
                try:
                    check_comparable(group[0], t)
                except SearchError:
                    continue
                group.append(t)
                break
            else:
                self.settings.append([t])
        self._numbers = [self._setting_numbers(g) for g in self.settings]
        seen: dict[str, int] = {}
        for num in self._numbers:  # settings that differ beyond protocol and budget
            k = seen[num["id"]] = seen.get(num["id"], 0) + 1
            if k > 1:
                num["id"] = f"{num['id']}-{k}"

    # ------------------------------------------------------------------ numbers
    def _setting_numbers(self, group: list[Trajectories]) -> dict:
        kw = {"n_boot": self.n_boot, "confidence": self.confidence, "seed": self.seed}
        finals = [final_result(t, **kw) for t in group]
        best = int(np.nanargmax([f.mean for f in finals]))
        randoms = [t for t in group if t.strategy == "random"]
        rows = []
        for t, f in zip(group, finals):
            row = {
                "strategy": t.label,
                "runs": t.n_runs,
                "queries_per_run": f.queries_mean,
                "mean": f.mean,
                "std": f.std,
                "ci": [f.low, f.high],
                "regret_mean": f.regret_mean,
                "frac_optimal": f.frac_optimal,
            }
            if randoms and t is not randoms[0]:
                ri = ri_over_random(t, randoms[0], **kw)
                row["ri_over_random"] = {
                    "ri": ri.ri,
                    "ci": [ri.low, ri.high],
                    "welch_p": ri.welch_pvalue,
                }
            if t is not group[best] and t.n_runs > 1 and group[best].n_runs > 1:
                d = difference(t, group[best], **kw)
                row["diff_to_best"] = {
                    "best": d.b,
                    "diff": d.diff,
                    "ci": [d.low, d.high],
                    "welch_p": d.welch_pvalue,
                }
            surv = queries_to_optimum(t, event="queried", confidence=self.confidence)
            row["optimum_queried"] = {
                "fraction": surv.fraction_reached,
                "median_queries": surv.median,
            }
            rows.append(row)
        at_rows = []
        for n in self.at_queries:
            for t in group:
                if (t.queries_per_run() < n).any():
                    continue
                f = final_result(t, at=n, **kw)
                at_rows.append(self._at_row(t, n, f, "every query counted"))
                if "recommended_report" in t.records:
                    w = final_result(t, at=n, counting="weaknas", **kw)
                    at_rows.append(self._at_row(t, n, w, "WeakNAS's counting"))
        first = group[0]
        return {
            "id": _setting_id(first),
            "oracle": first.oracle,
            "budget": first.budget,
            "best": group[best].label,
            "rows": rows,
            "at_queries": at_rows,
        }

    @staticmethod
    def _at_row(t, n, f, counting) -> dict:
        return {
            "strategy": t.label,
            "queries": n,
            "counting": counting,
            "mean": f.mean,
            "std": f.std,
            "ci": [f.low, f.high],
            "regret_mean": f.regret_mean,
        }

    def numbers(self) -> dict:
        """Every number the section shows, per setting (JSON-able)."""
        import copy

        return {
            "settings": copy.deepcopy(self._numbers),
            "confidence": self.confidence,
            "n_boot": self.n_boot,
            "seed": self.seed,
        }

    # ------------------------------------------------------------------ markdown
    def to_markdown(self, *, figures: dict | None = None) -> str:
        """The section as Markdown; ``figures`` maps setting id -> list of image paths to link."""
        conf = f"{round(100 * self.confidence)}%"
        out = ["## Search", ""]
        for num in self._numbers:
            o = num["oracle"]
            out += [f"### {num['id']}", ""]
            out += [
                f"* signal: {_measure(o['signal'])}",
                f"* report metric: {_measure(o['report'])}",
                f"* cost per query: {o['cost'].get('description', '')}",
                f"* budget: {num['budget'].get('description')}; pool {o['pool']['size']:,} "
                f"architectures; optimum of the report metric {o['optimum']['report_max']:.3f}",
            ]
            if o["objective"]["kind"] != "accuracy":
                out.append(f"* objective: {o['objective']['formula']} (T = {o['objective']['T']})")
            out += [f"* note: {n}" for n in o.get("notes", [])]
            out += ["", self._final_table(num, conf), ""]
            if num["at_queries"]:
                out += [
                    f"After a fixed number of queries (mean ± std over runs, [{conf} CI of the mean]):",
                    "",
                ]
                out += [self._at_table(num), ""]
            for path in (figures or {}).get(num["id"], []):
                out.append(f"![{Path(path).stem}]({path})")
            out.append("")
        out.append(
            f"Intervals: percentile bootstrap over runs ({self.n_boot} resamples, seed "
            f"{self.seed}). RI = 100 (mean - mean of random search) / mean of random search, at "
            "the same budget (Yang et al. 2020). Optimum queried: share of runs that queried an "
            "architecture with the optimal report value within the budget (Kaplan-Meier)."
        )
        return "\n".join(out) + "\n"

    @staticmethod
    def _final_table(num: dict, conf: str) -> str:
        head = (
            f"| strategy | runs | queries/run | report metric (mean ± std) | {conf} CI | regret | "
            f"optimal answers | RI over random [{conf} CI] | vs best [{conf} CI] | optimum queried |"
        )
        lines = [head, "|" + "---|" * 10]
        for r in num["rows"]:
            ri = r.get("ri_over_random")
            ri_s = f"{ri['ri']:+.3f} {_ci(ri['ci'], '+.3f')}" if ri else "-"
            d = r.get("diff_to_best")
            d_s = f"{d['diff']:+.3f} {_ci(d['ci'], '+.3f')}" if d else "best"
            oq = r["optimum_queried"]
            med = "" if np.isnan(oq["median_queries"]) else f", median {oq['median_queries']:.0f} q"
            lines.append(
                f"| {r['strategy']} | {r['runs']} | {r['queries_per_run']:.1f} | "
                f"{r['mean']:.3f}{_pm(r['std'], '.3f')} | {_ci(r['ci'], '.3f')} | "
                f"{r['regret_mean']:.3f} | {100 * r['frac_optimal']:.1f}% | {ri_s} | {d_s} | "
                f"{100 * oq['fraction']:.1f}%{med} |"
            )
        return "\n".join(lines)

    @staticmethod
    def _at_table(num: dict) -> str:
        ns = sorted({r["queries"] for r in num["at_queries"]})
        keys = list(dict.fromkeys((r["strategy"], r["counting"]) for r in num["at_queries"]))
        cells = {(r["strategy"], r["counting"], r["queries"]): r for r in num["at_queries"]}
        lines = [
            "| strategy | counting | " + " | ".join(f"{n} queries" for n in ns) + " |",
            "|---|---|" + "---|" * len(ns),
        ]
        for s, c in keys:
            vals = []
            for n in ns:
                r = cells.get((s, c, n))
                vals.append(
                    "-"
                    if r is None
                    else f"{r['mean']:.2f}{_pm(r['std'], '.2f')} {_ci(r['ci'], '.2f')}"
                )
            lines.append(f"| {s} | {c} | " + " | ".join(vals) + " |")
        return "\n".join(lines)

    # ------------------------------------------------------------------ figures
    def figures(self, out_dir: str | Path, *, fmt: str = "png") -> dict[str, list[Path]]:
        """Write the figures of every setting into ``out_dir`` (which must exist)."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from .displays import CurveDisplay, SurvivalDisplay

        out_dir = Path(out_dir)
        if not out_dir.is_dir():
            raise SearchError(f"{out_dir}: not a folder; create it first")
        kw = {"n_boot": self.n_boot, "seed": self.seed}
        written: dict[str, list[Path]] = {}
        for group, num in zip(self.settings, self._numbers):
            sid, paths = num["id"], []

            def save(display, name, _paths=paths, _sid=sid):
                p = out_dir / f"{_sid}-{name}.{fmt}"
                display.savefig(p)
                plt.close(display.figure_)
                _paths.append(p)

            save(
                CurveDisplay.from_trajectories(
                    group, x="queries", y="regret", title=sid, **kw
                ).plot(),
                "regret-queries",
            )
            if group[0].budget.get("seconds"):
                save(
                    CurveDisplay.from_trajectories(
                        group, x="seconds", y="regret", title=sid, **kw
                    ).plot(),
                    "regret-seconds",
                )
            save(SurvivalDisplay.from_trajectories(group, title=sid).plot(), "optimum-survival")
            weak = [t for t in group if "recommended_report" in t.records]
            if weak:
                from .analysis import best_so_far

                curves = []
                for t in weak:
                    curves += [
                        best_so_far(t, y="report", **kw),
                        best_so_far(t, y="report", counting="weaknas", **kw),
                    ]
                save(
                    CurveDisplay(curves, title=f"{sid}: WeakNAS, two countings").plot(),
                    "weaknas-counting",
                )
            tracked = [t for t in group if "predictor_tau_unqueried" in t.records]
            if tracked:
                save(
                    CurveDisplay.from_records(
                        tracked, "predictor_tau_unqueried", title=sid, **kw
                    ).plot(),
                    "predictor-tau",
                )
            written[sid] = paths
        return written


def _ci(ci, fmt: str) -> str:
    """``[low, high]``, or ``[no interval]`` where there is none (a single run)."""
    lo, hi = ci
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return "[no interval]"
    return f"[{lo:{fmt}}, {hi:{fmt}}]"


def _pm(std, fmt: str) -> str:
    """`` ± std``, or nothing where there is no spread to show (a single run)."""
    return f" ± {std:{fmt}}" if std is not None and np.isfinite(std) else " (1 run)"


def _measure(d: dict) -> str:
    bits = [d["target"] + ":", d["dataset"]]
    if d.get("split"):
        bits.append(d["split"])
    if d.get("epochs") is not None:
        bits.append(f"{d['epochs']} epochs")
    seed = d.get("seed", "mean")
    seed = {
        "mean": "seed mean",
        "draw": "seed drawn per query",
        "draw-per-arch": "seed drawn per architecture and run",
    }.get(seed, f"seed {seed}")
    return f"{' '.join(bits)} {d.get('metric', 'accuracy')} ({seed}; column {d.get('column', '?')})"


def _setting_id(t: Trajectories) -> str:
    o = t.header["oracle"]
    base = o.get("protocol") or f"{o['space']}-{o['signal']['dataset']}"
    b = t.budget
    budget = f"{b['queries']}q" if b.get("queries") else f"{b['seconds']:g}s"
    if o["objective"]["kind"] != "accuracy":
        base += f"-{o['objective']['kind']}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{base}-{budget}")
