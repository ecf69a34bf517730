"""Say what a ground truth holds: provenance, counts of archs and unique classes, datasets,
splits, budgets, seeds, and every column with its unit and number of missing values.

TARGET is an embedded benchmark (nb201, nb201-v1_1, nb101) or a store / official file.
"""

from __future__ import annotations

import argparse

from ..groundtruth.target import open_ground_truth
from ._common import print_json

NAME = "info"
HELP = "what a ground truth (embedded, store or official file) holds"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", help="nb201 | nb201-v1_1 | nb101 | path to a store or official file")
    p.add_argument("--format", help="force a reader for an official file")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    gt = open_ground_truth(args.target, format=args.format)
    info = gt.info()
    if args.json:
        info["columns_detail"] = gt.describe().to_dict(orient="records")
        print_json(info)
        return 0
    prov = info.pop("provenance")
    for k, v in info.items():
        if v != "":
            print(f"{k:<16} {v}")
    print("provenance:")
    for k, v in prov.items():
        print(f"  {k:<16} {v}")
    print("columns:")
    print(gt.describe().drop(columns=["source"]).to_string(index=False))
    return 0
