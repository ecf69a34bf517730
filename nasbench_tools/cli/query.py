"""Query a ground truth: one architecture, or the whole space as CSV (ARCH = all).

Dataset, split and epochs are the benchmark's own names and have no defaults; --seed is 'mean'
unless asked (a seed label, or 'all'). Examples:

  nbt query nb201 6111 --dataset cifar10-valid --split x-valid --epochs 200
  nbt query nb201 all --dataset cifar100 --split ori-test --epochs 200 --seed all -o c100.csv
  nbt query nb101 ff92c322c5d9d3d587d9c146a63d0807 --dataset cifar10 --split valid --epochs 108
  nbt query nb201 all --dataset cifar10-valid --split x-valid --epochs 200 --top 10
  nbt query nb201 all --dataset cifar100 --metric params --sort asc --top 1%

With ARCH = all, --sort orders the rows by the value (desc: best accuracy first) and --top keeps
the first K (a count, or a percentage of the architectures with a value), ranked 1..K; a metric
other than accuracy (higher is better) or loss (lower) needs --sort to say which way is best.
"""

from __future__ import annotations

import argparse

from ..errors import QueryError
from ..groundtruth.target import open_ground_truth
from ._common import print_json

NAME = "query"
HELP = "query one architecture or the whole space"


def _seed(text: str):
    return text if text in ("mean", "all") else int(text)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", help="nb201 | nb201-v1_1 | nb101 | path to a store or official file")
    p.add_argument("arch", help="NB201 index or arch string, NB101 module hash, or 'all'")
    p.add_argument("--dataset", required=True)
    p.add_argument("--split")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=_seed, default="mean", help="'mean' (default), a seed, or 'all'")
    p.add_argument("--metric", default="accuracy")
    p.add_argument("--point", default="final")
    p.add_argument("--missing", choices=("raise", "nan"), default="raise")
    p.add_argument(
        "--sort",
        choices=("desc", "asc"),
        help="ARCH=all: order rows by the value, largest first (desc) or smallest first (asc)",
    )
    p.add_argument(
        "--top",
        metavar="K",
        help="ARCH=all: keep the K best rows (a count, or a percentage such as 1%%); the order "
        "is --sort's, or best first (accuracy: desc, loss: asc)",
    )
    p.add_argument(
        "--names",
        choices=("key", "readable"),
        default="key",
        help="column names of ARCH=all: the stable key (cifar100||0|params|final; default) or "
        "readable (cifar100 params)",
    )
    p.add_argument(
        "-o",
        "--output",
        help="CSV file for ARCH=all (default: stdout); written atomically, its folder must exist",
    )


def run(args) -> int:
    gt = open_ground_truth(args.target)
    q = dict(
        dataset=args.dataset,
        split=args.split,
        epochs=args.epochs,
        metric=args.metric,
        point=args.point,
    )
    key = gt.resolve(q["dataset"], q["split"], q["epochs"], q["metric"], q["point"])
    if args.arch != "all" and (args.sort or args.top):
        raise QueryError("--sort and --top rank the whole space: give ARCH = all")
    if args.arch == "all":
        if args.top is not None:
            if args.seed == "all":
                raise QueryError("--top ranks by the seed mean or one seed, not --seed all")
            if args.sort is None and args.metric not in ("accuracy", "loss"):
                raise QueryError(
                    f"--top by --metric {args.metric}: say which way is best with --sort desc "
                    "(largest first) or --sort asc"
                )
            largest = None if args.sort is None else args.sort == "desc"
            df = gt.top(args.top, seed=args.seed, largest=largest, **q)
        else:
            df = gt.table(columns=[q], seed=args.seed, missing=args.missing, names=args.names)
            if args.sort:
                df = df.sort_values(
                    df.columns[-1], ascending=args.sort == "asc", kind="stable", na_position="last"
                )
        if args.output:
            from ..groundtruth.store import AtomicOutput

            with AtomicOutput(args.output, overwrite=True) as out:
                df.to_csv(out.tmp)
                out.commit()
            print(f"wrote {len(df)} rows to {args.output}")
        else:
            print(df.to_csv(), end="")
        return 0
    value = gt.query(args.arch, seed=args.seed, missing=args.missing, **q)
    print_json({"arch": args.arch, "column": key.to_str(), "seed": args.seed, "value": value})
    return 0
