"""Build a benchmark: train stand-alone networks of a search space under a protocol preset into a
ground-truth store that `nbt info`, `nbt query`, `nbt report` and `load(space, path=...)` open
like an official benchmark.

Architectures: --archs all (default), --archs-file FILE (one key or architecture string per line),
--sample N --seed S (a seeded sample of those), --per-class (one representative per isomorphism
class, before sampling). Every architecture is trained once per seed of --seeds. A killed build
continues where it stopped when started again with the same arguments (the journal
<out>.journal keeps every finished network); --shard i/n builds one of n interleaved parts, and
`nbt build-bench --merge PART... --out STORE` joins the parts into the store one run writes.

Example:
  nbt build-bench --preset quick --sample 20 --seed 0 --per-class --seeds 0,1 --out quick.h5
  nbt info quick.h5
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

NAME = "build-bench"
HELP = "train stand-alone networks under a protocol preset into a ground-truth store"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="store to write (.h5); its journal is <out>.journal")
    p.add_argument("--space", default="nb201", help="search space (default nb201)")
    p.add_argument("--preset", help="protocol preset (see --list)")
    p.add_argument("--list", action="store_true", help="list the protocol presets and exit")
    p.add_argument("--dataset", help="train on this dataset instead of the preset's")
    p.add_argument("--data-root", help="folder holding the dataset's files")
    g = p.add_argument_group("architectures")
    g.add_argument("--archs", default="all", help="'all' (default)")
    g.add_argument("--archs-file", help="file listing architectures, one per line")
    g.add_argument("--sample", type=int, help="build a seeded sample of this many")
    g.add_argument("--seed", type=int, help="seed of --sample")
    g.add_argument(
        "--per-class", action="store_true", help="one representative per isomorphism class"
    )
    g.add_argument("--seeds", default="0", help="training seeds, comma-separated (default 0)")
    g.add_argument("--shard", help="i/n: build part i (0-based) of n interleaved parts")
    o = p.add_argument_group("running and output")
    o.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    o.add_argument("--merge", nargs="+", metavar="PART", help="merge shard stores into --out")
    o.add_argument("--force", action="store_true", help="replace --out and restart its journal")
    o.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    from ..errors import NasbenchToolsError

    if args.list:
        return _list()
    if not args.out:
        raise NasbenchToolsError("--out is required (the store to write)")
    if Path(args.out).exists() and not args.force:
        raise NasbenchToolsError(
            f"--out {args.out}: already exists; pass --force to replace it (a build then starts "
            "again from an empty journal)"
        )
    if args.merge:
        from ..buildbench import merge_builds

        out = merge_builds(args.merge, args.out, overwrite=args.force)
        print(f"merged {len(args.merge)} shards -> {out}")
        return 0
    if not args.preset:
        raise NasbenchToolsError("--preset is required (see --list)")
    return _build(args)


def _list() -> int:
    from ..buildbench import PROTOCOLS

    for name, p in PROTOCOLS.items():
        print(
            f"{name:8s} {p.dataset}, {p.epochs} epochs, C={p.C}, N={p.N}, batch {p.batch_size}, "
            f"lr {p.lr} cosine, wd {p.weight_decay}"
        )
    return 0


def _build(args) -> int:
    from ..buildbench import BuildJob, build_benchmark, get_protocol
    from ..errors import NasbenchToolsError
    from ..proxies.scoring import read_key_list, select_keys
    from ..spaces import get_space
    from .score import _shard

    space = get_space(args.space)
    protocol = get_protocol(args.preset)
    if args.dataset:
        protocol = protocol.replace(dataset=args.dataset)
    if args.archs != "all" and not args.archs_file:
        raise NasbenchToolsError(f"--archs {args.archs!r}: expected 'all' (or use --archs-file)")
    if args.seed is not None and args.sample is None:
        raise NasbenchToolsError("--seed is the seed of --sample; pass --sample N with it")
    if args.sample is not None and args.seed is None:
        raise NasbenchToolsError("--sample needs --seed S (the sample's seed)")
    archs = read_key_list(space, args.archs_file) if args.archs_file else "all"
    keys, selection = select_keys(
        space, archs, sample=args.sample, seed=args.seed, per_class=args.per_class
    )
    if args.archs_file:
        selection["file_sha256"] = _sha(args.archs_file)
    job = BuildJob(
        space, keys, _seeds(args.seeds), protocol, selection, shard=_shard(args.shard),
        data_root=args.data_root, threads=_threads(args.threads),
        command=shlex.join(["nbt", *sys.argv[1:]]),
    )  # fmt: skip
    t0 = time.perf_counter()
    out = build_benchmark(job, args.out, overwrite=args.force, progress=not args.no_progress)
    n = len(job.shard_keys)
    print(
        f"built {n} architectures x {len(job.seeds)} seeds in {time.perf_counter() - t0:.1f} s "
        f"this session -> {out}"
    )
    return 0


def _sha(path: str) -> str:
    from .._io import sha256_of

    return sha256_of(Path(path))


def _seeds(text: str) -> tuple[int, ...]:
    from ..errors import NasbenchToolsError

    parts = [t.strip() for t in text.split(",")]
    if not parts or not all(t.isdigit() for t in parts):
        raise NasbenchToolsError(
            f"--seeds {text!r}: expected comma-separated integers >= 0, e.g. 0,1"
        )
    seeds = tuple(int(t) for t in parts)
    if len(set(seeds)) != len(seeds):
        raise NasbenchToolsError(f"--seeds {text!r} names a seed twice")
    return seeds


def _threads(n: int) -> int:
    from ..errors import NasbenchToolsError

    if n < 1:
        raise NasbenchToolsError(f"--threads {n}: expected an integer >= 1")
    return n
