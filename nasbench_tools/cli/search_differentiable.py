"""Run a differentiable architecture search on NAS-Bench-201 (DARTS, DARTS-V2, GDAS, FairDARTS,
DARTS-PT and its fixed-alpha variant, Single-Path NAS superkernels) and look its selection up in
ground truth.

Writes OUT/config.json (resolved config and provenance), OUT/log.jsonl, a checkpoint per epoch in
OUT/checkpoints/, and at the end OUT/selected.txt, OUT/result.json and the operator and
architecture score tables OUT/scores/{operators,archs}.csv. --seed is required. After a kill,
`--out OUT --resume` continues from the newest checkpoint with the run's own config and ends
where an uninterrupted run does.

The selection is looked up in every --ground-truth given (an embedded benchmark's name or the
path of a store, e.g. one `nbt build-bench` wrote) and always in the embedded NB201, each column
labelled `transfer` when its images are not the search's.

Presets: darts-nb201, darts-v2-nb201, gdas-nb201 (AutoDL-Projects' NB201 settings),
darts-pt-nb201, darts-pt-fixed-alpha-nb201 (DARTS-PT's), fairdarts (FairDARTS's), cpu (a quick
Fashion-MNIST run). --method swaps the method of a preset.

Example (DARTS at the cpu preset's scale on scikit-learn digits):

    nbt search-differentiable --preset cpu --method darts --dataset digits --resize 8 \\
        --subset 512 --valid-subset 256 --epochs 4 --seed 0 --out runs/darts-digits
"""

from __future__ import annotations

import argparse

from ._common import add_device_argument, add_parallel_arguments, init_distributed

NAME = "search-differentiable"
HELP = "DARTS, GDAS, FairDARTS, DARTS-PT or Single-Path NAS on NB201; selection and op scores"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="run folder (required unless --list)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--preset", help="darts-nb201, darts-pt-nb201, fairdarts, cpu, ... (see --list)")
    p.add_argument("--list", action="store_true", help="list methods and presets, then exit")
    p.add_argument(
        "--seed", type=int, help="seed of weights, alpha, batches, edge order (required)"
    )
    p.add_argument(
        "--ground-truth", action="append", default=[], metavar="NAME|PATH",
        help="look the selection up here too (repeatable); the embedded nb201 is always used",
    )  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = p.add_argument_group("method")
    g.add_argument("--method", help="darts, darts-v2, gdas, fairdarts, darts-pt, ...")
    g.add_argument("--weighting", help="softmax, sigmoid or gumbel")
    g.add_argument("--arch-update", help="bilevel, single or frozen")
    g.add_argument("--arch-order", type=int, help="1 (first order) or 2 (second order)")
    g.add_argument("--zero-one-weight", type=float, help="FairDARTS's w (10)")
    g.add_argument("--selection", help="argmax, threshold, projection or superkernel")
    g.add_argument("--alpha-init-std", type=float, help="alpha = std * N(0, 1) at start")
    g.add_argument("--threshold", type=float, help="FairDARTS's threshold (0.85)")
    g.add_argument("--proj-intv", type=int, help="DARTS-PT: tuning epochs between projections")
    g.add_argument("--proj-crit", help="DARTS-PT: acc or loss")
    g.add_argument("--edge-order", help="DARTS-PT: random or fixed")
    g.add_argument("--tau-max", type=float, help="GDAS: initial temperature")
    g.add_argument("--tau-min", type=float, help="GDAS: final temperature")
    g.add_argument("--cost", help="Single-Path NAS: params or flops")
    g.add_argument("--cost-lambda", type=float, help="Single-Path NAS: lambda of lambda*log(cost)")
    g.add_argument(
        "--free-ops", help="Single-Path NAS: softmax or exclude (the parameter-free ops)"
    )
    g = p.add_argument_group("supernet and data")
    g.add_argument("--C", type=int, help="channels of the first stage (NB201: 16)")
    g.add_argument("--N", type=int, help="cells per stage (NB201: 5)")
    g.add_argument("--affine", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--dataset", help="cifar10, cifar100, imagenet16-120, fashion-mnist, digits")
    g.add_argument("--data-root", help="folder holding the dataset's files")
    g.add_argument("--split-file", help="NB201 split file of the search halves")
    g.add_argument("--subset", type=int, help="search-train images kept (seeded by --data-seed)")
    g.add_argument("--valid-subset", type=int, help="search-valid images kept")
    g.add_argument("--data-seed", type=int, help="seed of the subsets and halves (default 0)")
    g.add_argument("--resize", type=int, help="resample images to this side")
    g.add_argument("--channels", type=int, help="1 or 3 image channels")
    g.add_argument("--augment", choices=["none", "crop", "crop_flip"])
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, help="search epochs (DARTS-PT's tuning comes after)")
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float)
    g.add_argument("--lr-min", type=float)
    g.add_argument("--lr-schedule", help="epoch or step (cosine per epoch or per step)")
    g.add_argument("--momentum", type=float)
    g.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--weight-decay", type=float)
    g.add_argument("--grad-clip", type=float, help="0 disables clipping")
    g.add_argument("--arch-lr", type=float)
    g.add_argument("--arch-betas", type=float, nargs=2, metavar=("B1", "B2"))
    g.add_argument("--arch-weight-decay", type=float)
    g.add_argument("--step-order", help="arch_first or weights_first")
    g.add_argument("--eval-batch-size", type=int, help="batch of the BN-train-mode evaluations")
    add_device_argument(g, default=None)
    add_parallel_arguments(g, amp=False)
    g.add_argument("--threads", type=int, help="torch CPU threads (recorded; kept by --resume)")
    g.add_argument("--log-every", type=int)


_NOT_CONFIG = {"out", "resume", "preset", "list", "ground_truth", "no_progress", "command", "_run"}


def _config(args):
    from ..differentiable.config import SearchConfig

    flags = {k: v for k, v in vars(args).items() if k not in _NOT_CONFIG}
    if flags.get("arch_betas") is not None:
        flags["arch_betas"] = list(flags["arch_betas"])
    return SearchConfig.for_run(args.out, resume=args.resume, preset=args.preset, flags=flags)


def _list() -> None:
    from ..differentiable.config import METHODS
    from ..differentiable.presets import PRESETS

    print("methods:")
    for name, m in METHODS.items():
        print(f"  {name:22s} {m.description} ({m.reference})")
    print("presets:")
    for name, p in PRESETS.items():
        print(f"  {name:28s} method {p['method']}, {p['dataset']}, {p['epochs']} epochs")


def _epoch_line(rec: dict) -> str:
    line = (
        f"epoch {rec['epoch']:>3} ({rec['phase']})  loss {rec['loss']:.4f}  "
        f"train acc {rec['train_accuracy']:6.2f}%  valid acc {rec['valid_accuracy']:6.2f}%  "
        f"{rec['seconds']:.1f} s"
    )
    if rec.get("decided"):
        line += f"  decided {len(rec['decided'])}/6"
    return line


def _summary(result: dict) -> list[str]:
    sel = result["selected"]
    lines = [
        f"selected ({result['method']}, {sel['rule']}): {sel['arch']}  (NB201 index {sel['index']})"
    ]
    for g in result["ground_truths"]:
        for row in g["lookup"]:
            acc = (
                "not in this ground truth" if row["accuracy"] is None else f"{row['accuracy']:.2f}%"
            )
            label = "  [transfer]" if row["transfer"] else ""
            lines.append(
                f"  {g['ground_truth']}: {row['dataset']} {row['split']} {row['epochs']} epochs: "
                f"{acc}{label}"
            )
    return lines


def run(args) -> int:
    from ..differentiable.config import DifferentiableSearchError
    from ..differentiable.search import run_search

    if args.list:
        _list()
        return 0
    if args.out is None:
        raise DifferentiableSearchError("--out is required: the run folder")
    if args.preset is None and args.method is None and not args.resume:
        raise DifferentiableSearchError("give --preset or --method (see --list)")
    config = _config(args)
    main = init_distributed(config.device).is_main
    gts = [*args.ground_truth, *(["nb201"] if "nb201" not in args.ground_truth else [])]
    result = run_search(
        config, args.out, resume=args.resume, progress=not args.no_progress, ground_truths=gts,
        on_epoch_end=lambda epoch, rec: main and print(_epoch_line(rec), flush=True),
    )  # fmt: skip
    if not main:
        return 0
    for line in _summary(result.result):
        print(line)
    print(f"run folder: {result.out_dir}")
    return 0
