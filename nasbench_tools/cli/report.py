"""Write a report folder comparing proxies against ground truth (the README's main job).

With no options it uses the data embedded in the package: for each NB201 dataset, the 200-epoch
ground truth (seed mean) against the 12-epoch accuracy, #params and NASWOT, beside the
benchmark's seed agreement (seed vs seed, and one seed vs the mean of the others); the
NAS-Bench-Suite-Zero proxies against the accuracy that suite recorded (its failure value -1e8
excluded as missing and counted, unless --zc-sentinels keep); and the NB101 sample's proxies
(with a duplicate audit). --scores adds your own
score tables (a CSV keyed by `index` or `arch_str`, with its `<file>.meta.json` sidecar saying
what the scores are, or an HDF5 table; see nasbench_tools.scores). A table goes to every
dataset's section unless its metadata names a target dataset, and joins the zero-cost sections
on the architectures it shares with them (the overlap n is stated); the report notes where a
table's scores were computed on other images than the ground truth's (a transfer question) or
do not say which.

The folder holds index.md and index.html (the same page), the headline table (proxies x
datasets: Kendall tau-b, Spearman rho, P@top-5% with intervals and n, the seed-agreement rows;
Markdown, LaTeX and CSV), per section a proxy table, paired tests (Holm-corrected) and figures
at paper size (PNG and PDF), and numbers.json with every number shown.

  nbt report --out report/
  nbt report --out report/ --scores mine.csv --pool common --top 10,1%,5% --interval pm
"""

from __future__ import annotations

import argparse
import time

NAME = "report"
HELP = "write a proxy-vs-ground-truth report folder (index.md, figures, tables, numbers.json)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="report folder to write")
    _inputs(p)
    _numbers(p)
    _output(p)


def _inputs(p: argparse.ArgumentParser) -> None:
    """What is ranked, against what."""
    p.add_argument(
        "--ground-truth",
        default="nb201",
        help="nb201 (embedded), nb201-v1_1, or an NB201 store/file",
    )
    p.add_argument(
        "--scores",
        nargs="*",
        default=[],
        help="extra score tables (CSV with a .meta.json sidecar, or HDF5)",
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="DATASET:SPLIT:EPOCHS",
        help="ground truth per dataset (repeatable; default cifar10-valid:x-valid:200, "
        "cifar100:ori-test:200, ImageNet16-120:ori-test:200)",
    )
    p.add_argument(
        "--no-embedded-scores",
        action="store_true",
        help="leave out NASWOT and NAS-Bench-Suite-Zero",
    )
    p.add_argument("--no-nb101", action="store_true", help="leave out the NB101 sample section")
    p.add_argument(
        "--zc-sentinels",
        choices=("exclude", "keep"),
        default="exclude",
        help="NAS-Bench-Suite-Zero's failure value -1e8: exclude as missing (default, counted in "
        "the report) or keep as a score",
    )


def _numbers(p: argparse.ArgumentParser) -> None:
    """How the numbers are computed."""
    p.add_argument(
        "--n-boot",
        type=int,
        default=200,
        help="bootstrap resamples over architectures (default 200)",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument(
        "--top",
        default="10,1%,5%",
        help="top-K sizes for P@top-K and BR@K: counts or percentages of the architectures a "
        "row scored (default 10,1%%,5%%)",
    )
    p.add_argument(
        "--headline-top",
        default="5%",
        help="the top-K size of the headline table's P@top-K column (default 5%%)",
    )
    p.add_argument(
        "--pool",
        choices=("each", "common"),
        default="each",
        help="each: every row on the architectures its proxy scored (n stated, a warning where "
        "rows differ; default); common: every row of a section on the architectures all its "
        "proxies scored",
    )
    p.add_argument(
        "--pairs",
        choices=("all", "best"),
        default="all",
        help="paired tests between every two proxies (default) or each against the best",
    )
    p.add_argument(
        "--correction",
        choices=("holm", "bonferroni", "none"),
        default="holm",
        help="multiple-comparison correction of the paired tests (default holm)",
    )


def _output(p: argparse.ArgumentParser) -> None:
    """How the numbers are shown."""
    p.add_argument(
        "--scatter",
        choices=("rank", "value"),
        default="rank",
        help="scatter panels in rank space (percentile ranks; default) or value space (points "
        "beyond 3 interquartile ranges of the quartiles left out of the axes and counted)",
    )
    p.add_argument(
        "--interval",
        choices=("brackets", "range", "pm", "none"),
        default="brackets",
        help="how tables print an interval: 0.648 [0.641, 0.655] (brackets, default), "
        "0.648 (0.641-0.655) (range), 0.648 +- 0.007 (pm: half the interval's width), or none",
    )
    p.add_argument("--caption", help="LaTeX caption of the headline table (default: written)")
    p.add_argument("--label", default="tab:headline", help="LaTeX label of the headline table")
    p.add_argument("--figures", choices=("all", "summary", "none"), default="all")
    p.add_argument("--no-html", action="store_true", help="write index.md only")
    p.add_argument("--force", action="store_true", help="replace an existing report folder")
    p.add_argument(
        "--search",
        nargs="+",
        default=[],
        metavar="FILE",
        help="trajectory files written by `nbt search -o` (.npz): adds a Search section (regret "
        "curves, RI over random search, the optimum's survival)",
    )
    p.add_argument(
        "--search-at-queries",
        default="",
        metavar="N,N",
        help="also tabulate every search strategy after these numbers of queries, e.g. 100,150,200",
    )
    p.add_argument("--no-progress", action="store_true")


def _query_counts(text: str) -> list[int]:
    from ..errors import NasbenchToolsError

    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise NasbenchToolsError(
            f"--search-at-queries {text!r}: expected query counts such as 100,150,200"
        ) from None


def run(args) -> int:
    from ..errors import NasbenchToolsError
    from ..report import ReportConfig, build_report

    cfg = ReportConfig(
        ground_truth=args.ground_truth,
        scores=list(args.scores),
        n_boot=args.n_boot,
        seed=args.seed,
        figures=args.figures,
        embedded_scores=not args.no_embedded_scores,
        nb101_sample=not args.no_nb101,
        zc_sentinels=args.zc_sentinels,
        top=args.top,
        headline_top=args.headline_top,
        pool=args.pool,
        scatter=args.scatter,
        interval=args.interval,
        pairs=args.pairs,
        correction=args.correction,
        caption=args.caption,
        label=args.label,
        html=not args.no_html,
        search=list(args.search),
        search_at_queries=_query_counts(args.search_at_queries),
    )
    if args.target:
        targets = {}
        for t in args.target:
            parts = t.split(":")
            if len(parts) != 3 or not parts[2].isdigit():
                raise NasbenchToolsError(
                    f"--target {t!r}: expected DATASET:SPLIT:EPOCHS, e.g. cifar10-valid:x-valid:200"
                )
            targets[parts[0]] = [parts[1], int(parts[2])]
        cfg.targets = targets
    t0 = time.perf_counter()
    out = build_report(cfg, args.out, overwrite=args.force, progress=not args.no_progress)
    page = out / ("index.html" if cfg.html else "index.md")
    print(f"report written to {out.resolve()} in {time.perf_counter() - t0:.1f} s (open {page})")
    return 0
