"""Train a weight-sharing supernet (SPOS, FairNAS, MixPath or one-shot) on an image dataset.

Writes OUT/config.json (resolved config and provenance, thread count included), OUT/log.jsonl,
the initial weights OUT/checkpoints/init.pt and a checkpoint per epoch in OUT/checkpoints/; each
epoch's line is printed as the epoch ends. After an interruption, `--out OUT --resume` (the
original flags may be repeated) continues exactly where the last checkpoint left off, with the
run's recorded thread count.

Example: an NB201 supernet (C=16, N=1) on 10,000 Fashion-MNIST images at 16x16 for 5 epochs,
with 2 fixed children evaluated after each epoch; it took 113 s on this project's 2-core machine
with one torch thread:

    nbt train-supernet --out runs/fmnist --dataset fashion-mnist --subset 10000 \
        --valid-subset 1000 --resize 16 --C 16 --N 1 --epochs 5 --sampler spos \
        --eval-children 2 --seed 0 --threads 1
"""

from __future__ import annotations

import argparse
import json

from ..errors import TrainConfigError
from ._common import add_device_argument, add_parallel_arguments, init_distributed

NAME = "train-supernet"
HELP = "train an NB201 or MixPath-NB101 supernet with SPOS, FairNAS, MixPath or one-shot sampling"


def _value(text: str):
    """Parse KEY=VALUE values: JSON where it parses (numbers, true/false, null), else a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pairs(items: list[str], flag: str) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise TrainConfigError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key.replace("-", "_")] = _value(value)
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="run folder (config.json, log.jsonl, checkpoints/)")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its newest checkpoint"
    )
    p.add_argument(
        "--preset", help="start from a preset (abs-nb201, mixpath-nb101); flags override it"
    )
    g = p.add_argument_group("supernet")
    g.add_argument("--supernet", help="nb201 (default) or nb101-mixpath")
    g.add_argument("--C", type=int, help="nb201: channels of the first stage (benchmark 16)")
    g.add_argument("--N", type=int, help="nb201: cells per stage (benchmark 5)")
    g.add_argument(
        "--num-nodes", type=int, help="nb101-mixpath: candidate nodes per cell (MixPath m)"
    )
    g.add_argument("--stem-channels", type=int, help="nb101-mixpath: stem width (MixPath 128)")
    g.add_argument("--num-stacks", type=int, help="nb101-mixpath: stacks (3)")
    g.add_argument("--cells-per-stack", type=int, help="nb101-mixpath: cells per stack (3)")
    g.add_argument("--bn", choices=["shadow", "single", "none"], help="norm of multi-path sums")
    g.add_argument("--ghost-batch-size", type=int, help="ghost batch norm (one-shot, nb201)")
    g = p.add_argument_group("sampling")
    g.add_argument("--sampler", help="spos (default), fairnas, mixpath or oneshot")
    g.add_argument(
        "--sampler-opt", action="append", default=[], metavar="KEY=VALUE",
        help="sampler option, repeatable: sharing=shared, reject_zero_nodes=false, batches=distinct, "
        "m=3, drop_rate=0.3, ramp=constant, per_example=true",
    )  # fmt: skip
    g = p.add_argument_group("data")
    g.add_argument(
        "--dataset", help="digits (default), fashion-mnist, cifar10, cifar100, imagenet16-120"
    )
    g.add_argument("--data-root", help="folder holding the dataset's files")
    g.add_argument(
        "--split", choices=["search", "standard"], help="search (NB201 halves) or standard"
    )
    g.add_argument("--split-file", help="NB201 split file (cifar-split.txt, ...)")
    g.add_argument("--subset", type=int, help="train on this many images (seeded)")
    g.add_argument("--valid-subset", type=int, help="validate on this many images")
    g.add_argument("--resize", type=int, help="resample images to this side")
    g.add_argument("--channels", type=int, help="force 1 or 3 image channels")
    g.add_argument("--augment", choices=["none", "crop", "crop_flip"])
    g.add_argument("--cutout", type=int)
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float)
    g.add_argument("--lr-min", type=float)
    g.add_argument("--momentum", type=float)
    g.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--weight-decay", type=float)
    g.add_argument(
        "--norm-decay",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="weight decay on BN parameters (--no-norm-decay: none, as MixPath)",
    )
    g.add_argument("--grad-clip", type=float, help="0 disables clipping")
    g.add_argument("--grad-clip-mode", choices=["norm", "value"])
    g.add_argument("--seed", type=int, help="seed of everything random (default 0)")
    add_device_argument(g, default=None)
    add_parallel_arguments(g)
    g.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: the process's count); recorded, and restored by --resume",
    )
    g = p.add_argument_group("evaluation and logging")
    g.add_argument(
        "--eval-children",
        type=int,
        help="children evaluated after every epoch, drawn once from the training sampler",
    )
    g.add_argument("--eval-bn", help="BN recalibration preset: spos, abs, mixpath, cumulative")
    g.add_argument(
        "--eval-bn-images",
        type=int,
        help="training images the recalibration forwards (default: the preset's count)",
    )
    g.add_argument("--log-every", type=int)
    g.add_argument("--keep-checkpoints", type=int)
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def _flags(args) -> dict:
    """The run's flags as :meth:`TrainConfig.with_flags` takes them (``None``: not given)."""
    skip = {"out", "resume", "preset", "sampler_opt", "no_progress", "command", "_run"}
    flags = {k: v for k, v in vars(args).items() if k not in skip}
    flags["sampler_options"] = _pairs(args.sampler_opt, "--sampler-opt")
    return flags


def _config(args):
    from ..supernet.config import TrainConfig

    return TrainConfig.for_run(args.out, resume=args.resume, preset=args.preset, flags=_flags(args))


def _epoch_line(rec: dict) -> str:
    line = (
        f"epoch {rec['epoch']:>3}  loss {rec['loss']:.4f}  train acc {rec['train_accuracy']:6.2f}%  "
        f"{rec['images_per_s']:8.1f} img/s  update coverage {rec['update_coverage']['mean']:.3f}"
    )
    if rec.get("distinct_archs") is not None:
        line += f"  distinct archs {rec['distinct_archs']}"
    if "eval" in rec:
        line += f"  children acc {rec['eval']['mean_accuracy']:.2f}%"
    return line


def run(args) -> int:
    from ..supernet.train import train_supernet

    config = _config(args)
    main = init_distributed(config.device).is_main
    result = train_supernet(
        config,
        args.out,
        resume=args.resume,
        progress=not args.no_progress,
        on_epoch_end=lambda epoch, rec: main and print(_epoch_line(rec), flush=True),
    )
    if main:
        print(f"run folder: {result.out_dir}")
    return 0
