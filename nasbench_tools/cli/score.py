"""Score architectures with registered proxies into a score table (CSV + .meta.json sidecar, or
HDF5) that `nbt report --scores` reads.

Architectures: --archs all (default), --archs-file FILE (one key or architecture string per
line), --sample N --seed S (a seeded sample of those), --per-class (one representative per
isomorphism class). Proxies: --proxy a,b,c (see --list). Data-dependent proxies need --data
(digits, fashion-mnist, cifar10, ...); supernet proxies need --run (a `nbt train-supernet`
folder). A killed run continues where it stopped when started again with the same arguments
(the journal <out>.journal); --shard i/n scores one of n interleaved parts, and
`nbt score --merge PART... --out TABLE` joins the parts into the table one run would write.
--ray [ADDRESS] scores as Ray tasks (on this machine, or a cluster's) into the same table.

Example:
  nbt score --space nb201 --proxy synflow,params,flops --archs all --out synflow.csv
  nbt score --proxy snip,naswot --data digits --sample 200 --seed 0 --out zc.csv
  nbt report --out report --scores synflow.csv
  nbt score --proxy synflow --archs all --ray auto --out synflow.csv
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ._common import add_device_argument, add_ray_arguments, check_ray_arguments

NAME = "score"
HELP = "score architectures with zero-cost or supernet proxies into a score table"


def _device(name: str) -> str:
    from ..nn.distributed import resolve_device

    return resolve_device(name)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="score table to write (.csv, .csv.gz, .h5)")
    p.add_argument("--space", default="nb201", help="search space (default nb201)")
    p.add_argument("--proxy", help="comma-separated proxy names (see --list)")
    p.add_argument("--list", action="store_true", help="list the registered proxies and exit")
    g = p.add_argument_group("architectures")
    g.add_argument("--archs", default="all", help="'all' (default)")
    g.add_argument("--archs-file", help="file listing architectures, one per line")
    g.add_argument("--sample", type=int, help="score a seeded sample of this many")
    g.add_argument("--sample-seed", type=int, help="seed of --sample (default: --seed)")
    g.add_argument(
        "--per-class", action="store_true", help="one representative per isomorphism class"
    )
    g.add_argument("--shard", help="i/n: score part i (0-based) of n interleaved parts")
    d = p.add_argument_group("data and networks")
    d.add_argument("--data", help="dataset for data-dependent proxies (digits, fashion-mnist, ...)")
    d.add_argument("--data-split", default="train", help="split to draw batches from (train)")
    d.add_argument("--data-root", help="folder holding the dataset's files")
    d.add_argument("--data-subset", type=int, help="keep a seeded subset of this many images")
    d.add_argument("--resize", type=int, help="resample images to this side")
    d.add_argument("--channels", type=int, help="1 or 3 image channels")
    d.add_argument("--run", help="a `nbt train-supernet` run folder (supernet proxies)")
    d.add_argument("--batch-size", type=int, help="batch size of the data proxies (their default)")
    d.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="proxy or network option (C=16, N=5, naswot_batch_size=128, ...); repeatable",
    )
    d.add_argument("--seed", type=int, default=0, help="seed of initialisation and batches (0)")
    add_device_argument(d)
    d.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (of each worker with --workers; default 1 there)",
    )
    d.add_argument(
        "--workers", type=int, default=1,
        help="processes scoring architectures in parallel (default 1: this process); the table "
        "is the one a single process writes",
    )  # fmt: skip
    add_ray_arguments(p)
    o = p.add_argument_group("output")
    o.add_argument("--label", help="the table's label in reports (default: the proxy names)")
    o.add_argument(
        "--target", metavar="DATASET[:SPLIT[:EPOCHS]]", help="ground truth to compare with"
    )
    o.add_argument("--merge", nargs="+", metavar="SHARD", help="merge shard tables into --out")
    o.add_argument("--force", action="store_true", help="replace --out and restart its journal")
    o.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    from ..errors import NasbenchToolsError

    if args.list:
        return _list()
    if not args.out:
        raise NasbenchToolsError("--out is required (the score table to write)")
    check_ray_arguments(args, "merge", "workers")
    if args.merge:
        return _merge(args)
    if not args.proxy:
        raise NasbenchToolsError("--proxy is required (comma-separated names; see --list)")
    return _score(args)


def _list() -> int:
    from ..proxies import PROXIES

    for name, p in PROXIES.items():
        sign = " (stored negated)" if p.negated else ""
        print(f"{name:14s} needs {p.needs:9s} group {p.group:10s} {p.unit}{sign}: {p.description}")
    return 0


def _merge(args) -> int:
    from ..proxies.scoring import merge_shards, nonfinite_summary

    table = merge_shards(args.merge)
    table.write(args.out, overwrite=args.force)
    print(f"merged {len(args.merge)} shards: {len(table)} architectures -> {args.out}")
    for line in nonfinite_summary(table):
        print(f"non-finite: {line}")
    return 0


def _score(args) -> int:
    import torch

    from ..errors import NasbenchToolsError
    from ..proxies import get_proxy
    from ..proxies.scoring import ScoreJob, read_key_list, run_scoring, select_keys
    from ..spaces import get_space

    if args.threads:
        torch.set_num_threads(args.threads)
    space = get_space(args.space)
    names = tuple(n.strip() for n in args.proxy.split(",") if n.strip())
    for n in names:
        get_proxy(n)
    if len(set(names)) != len(names):
        raise NasbenchToolsError(f"--proxy {args.proxy!r} names a proxy twice")
    if args.archs != "all" and not args.archs_file:
        raise NasbenchToolsError(f"--archs {args.archs!r}: expected 'all' (or use --archs-file)")
    archs = read_key_list(space, args.archs_file) if args.archs_file else "all"
    seed = args.sample_seed if args.sample_seed is not None else args.seed
    keys, selection = select_keys(
        space, archs, sample=args.sample, seed=seed if args.sample else None,
        per_class=args.per_class,
    )  # fmt: skip
    if args.archs_file:
        selection["file"] = str(Path(args.archs_file).resolve())
    job = ScoreJob(
        space=space, keys=keys, proxies=names, selection=selection, data=_data(args),
        run=Path(args.run) if args.run else None, seed=args.seed, batch_size=args.batch_size,
        device=_device(args.device), options=_options(args.option), shard=_shard(args.shard),
        label=args.label, target=_target(args.target),
    )  # fmt: skip
    t0 = time.perf_counter()
    table = run_scoring(
        job, args.out, overwrite=args.force, progress=not args.no_progress,
        workers=args.workers, threads=args.threads or 1, ray=args.ray,
        max_retries=args.ray_retries,
    )  # fmt: skip
    dt = time.perf_counter() - t0
    from ..proxies.scoring import nonfinite_summary

    print(
        f"scored {len(table)} architectures x {len(names)} proxies in {dt:.1f} s "
        f"({len(table) / dt:.2f} archs/s this session) -> {args.out}"
    )
    for line in nonfinite_summary(table):
        print(f"non-finite: {line}")
    return 0


def _data(args):
    if not args.data:
        return None
    from .. import datasets

    return datasets.load(
        args.data, args.data_split, args.data_root, subset=args.data_subset,
        resize=args.resize, channels=args.channels, subset_seed=args.seed,
    )  # fmt: skip


def _options(items: list[str]) -> dict:
    from ..errors import NasbenchToolsError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise NasbenchToolsError(f"--option {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _shard(text: str | None):
    from ..errors import NasbenchToolsError

    if text is None:
        return None
    i, sep, n = text.partition("/")
    if not sep or not i.isdigit() or not n.isdigit() or not 0 <= int(i) < int(n):
        raise NasbenchToolsError(f"--shard {text!r}: expected i/n with 0 <= i < n, e.g. 0/4")
    return int(i), int(n)


def _target(text: str | None):
    from ..errors import NasbenchToolsError

    if text is None:
        return None
    parts = text.split(":")
    if len(parts) > 3 or (len(parts) == 3 and not parts[2].isdigit()):
        raise NasbenchToolsError(f"--target {text!r}: expected DATASET[:SPLIT[:EPOCHS]]")
    out: dict = {"dataset": parts[0]}
    if len(parts) > 1:
        out["split"] = parts[1]
    if len(parts) > 2:
        out["epochs"] = int(parts[2])
    return out
