"""Build a benchmark: train stand-alone networks of a search space under a protocol preset into a
ground-truth store that `nbt info`, `nbt query`, `nbt report` and `load(space, path=...)` open
like an official benchmark.

Architectures: --archs all (default) or a named set (--list shows them, e.g. mixpath-nb101, the 34
NB101 graphs of MixPath's sub-space), --archs-file FILE (one key, architecture string or JSON
object per line; NB101 cells as {"matrix": ..., "ops": ...}), --sample N --seed S (a seeded sample
of those), --per-class (one representative per isomorphism class, before sampling). --C and --N
replace the preset's width and depth (the store records the protocol it was built with). Every architecture is trained once per seed of --seeds. A killed build
continues where it stopped when started again with the same arguments (the journal
<out>.journal keeps every finished network); --shard i/n builds one of n interleaved parts, and
`nbt build-bench --merge PART... --out STORE` joins the parts into the store one run writes.
--ray [ADDRESS] trains the networks as Ray tasks (on this machine, or a cluster's) into the same
store.

Example:
  nbt build-bench --preset quick --sample 20 --seed 0 --per-class --seeds 0,1 --out quick.h5
  nbt info quick.h5
  nbt build-bench --preset quick --space nb101 --archs mixpath-nb101 --seeds 0 --out mp.h5
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from ._common import (
    add_device_argument,
    add_parallel_arguments,
    add_ray_arguments,
    check_ray_arguments,
)

NAME = "build-bench"
HELP = "train stand-alone networks under a protocol preset into a ground-truth store"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="store to write (.h5); its journal is <out>.journal")
    p.add_argument("--space", default="nb201", help="search space (default nb201)")
    p.add_argument("--preset", help="protocol preset (see --list)")
    p.add_argument("--list", action="store_true", help="list the protocol presets and exit")
    p.add_argument("--dataset", help="train on this dataset instead of the preset's")
    p.add_argument("--C", type=int, help="channels of the first stage instead of the preset's")
    p.add_argument("--N", type=int, help="cells per stage instead of the preset's")
    p.add_argument("--data-root", help="folder holding the dataset's files")
    g = p.add_argument_group("architectures")
    g.add_argument("--archs", default="all", help="'all' (default) or a named set (see --list)")
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
    add_device_argument(o)
    add_parallel_arguments(o, compile_=True)
    o.add_argument("--merge", nargs="+", metavar="PART", help="merge shard stores into --out")
    o.add_argument("--force", action="store_true", help="replace --out and restart its journal")
    o.add_argument("--no-progress", action="store_true")
    add_ray_arguments(p)


def run(args) -> int:
    from ..errors import NasbenchToolsError

    if args.list:
        return _list()
    if not args.out:
        raise NasbenchToolsError("--out is required (the store to write)")
    check_ray_arguments(args, "merge")
    if Path(args.out).exists() and not args.force:
        raise NasbenchToolsError(
            f"--out {args.out}: already exists; pass --force to replace it (a build then starts "
            "again from an empty journal)"
        )
    if args.merge:
        from ..buildbench import merge_builds

        out = merge_builds(args.merge, args.out, overwrite=args.force, command=_command(args))
        print(f"merged {len(args.merge)} shards -> {out}")
        return 0
    if not args.preset:
        raise NasbenchToolsError("--preset is required (see --list)")
    return _build(args)


def _execution(args):
    """Device, AMP, compile and micro-batches; joins the torchrun group when launched by it."""
    from ..buildbench.train import Execution
    from ..nn.distributed import resolve_device
    from ._common import init_distributed

    device = resolve_device(args.device)
    w = init_distributed(device)
    micro = w.size if args.micro_batches is None else args.micro_batches
    return Execution(device, bool(args.amp), args.compile, micro, w)


def _list() -> int:
    from ..buildbench import PROTOCOLS
    from ..spaces.archsets import ARCH_SETS

    print("protocol presets:")
    for name, p in PROTOCOLS.items():
        print(
            f"  {name:8s} {p.dataset}, {p.epochs} epochs, C={p.C}, N={p.N}, "
            f"batch {p.batch_size}, lr {p.lr} cosine, wd {p.weight_decay}"
        )
    print("architecture sets (--archs):")
    for name, a in ARCH_SETS.items():
        print(f"  {name:18s} {a.space}: {a.description}")
    return 0


def _build(args) -> int:
    from ..buildbench import BuildJob, build_benchmark, get_protocol
    from ..errors import NasbenchToolsError
    from ..proxies.scoring import select_keys
    from ..spaces import get_space
    from .score import _shard

    space = get_space(args.space)
    protocol = get_protocol(args.preset)
    changes = {k: getattr(args, k) for k in ("dataset", "C", "N") if getattr(args, k) is not None}
    if changes:
        protocol = protocol.replace(**changes)
    if args.seed is not None and args.sample is None:
        raise NasbenchToolsError("--seed is the seed of --sample; pass --sample N with it")
    if args.sample is not None and args.seed is None:
        raise NasbenchToolsError("--sample needs --seed S (the sample's seed)")
    archs, objects, named = _archs(args, space)
    keys, selection = select_keys(
        space, archs, sample=args.sample, seed=args.seed, per_class=args.per_class
    )
    selection |= named
    if not space.arch_from_key:
        lacking = [k for k in keys.tolist() if k not in objects]
        if lacking:
            raise NasbenchToolsError(
                f"space {space.name!r}: key {lacking[0]} does not name an architecture by itself; "
                "list the architectures in full (e.g. NB101 cells as JSON objects) or use a set"
            )
    job = BuildJob(
        space, keys, _seeds(args.seeds), protocol, selection, shard=_shard(args.shard),
        data_root=args.data_root, threads=_threads(args.threads),
        command=_command(args),
        archs=None if space.arch_from_key else {k: objects[k] for k in keys.tolist()},
        execution=_execution(args),
    )  # fmt: skip
    t0 = time.perf_counter()
    out = build_benchmark(
        job, args.out, overwrite=args.force, progress=not args.no_progress, ray=args.ray,
        max_retries=args.ray_retries,
    )  # fmt: skip
    n = len(job.shard_keys)
    if not job.execution.world.is_main:
        return 0
    print(
        f"built {n} architectures x {len(job.seeds)} seeds in {time.perf_counter() - t0:.1f} s "
        f"this session -> {out}"
    )
    return 0


def _archs(args, space) -> tuple:
    """``(archs for select_keys, architecture objects by key, selection description)``."""
    from ..errors import NasbenchToolsError
    from ..proxies.scoring import read_arch_list
    from ..spaces.archsets import get_arch_set, list_arch_sets

    if args.archs_file:
        if args.archs != "all":
            raise NasbenchToolsError("give --archs or --archs-file, not both")
        keys, objects = read_arch_list(space, args.archs_file)
        return list(keys), objects, {"file_sha256": _sha(args.archs_file)}
    if args.archs == "all":
        return "all", {}, {}
    if args.archs not in list_arch_sets():
        raise NasbenchToolsError(
            f"--archs {args.archs!r}: expected 'all' or an architecture set, one of "
            f"{list_arch_sets()}"
        )
    arch_set = get_arch_set(args.archs)
    if arch_set.space != space.name:
        raise NasbenchToolsError(
            f"--archs {args.archs}: a set of space {arch_set.space!r}, not of --space {space.name}"
        )
    objects = {space.key(a): a for a in arch_set.archs()}
    return list(objects), objects, {"arch_set": arch_set.name}


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


def _command(args) -> str:
    """The command line that ran (for the store's provenance)."""
    return shlex.join(["nbt", *sys.argv[1:]])
