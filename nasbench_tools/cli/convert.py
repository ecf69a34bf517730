"""Convert an official benchmark file or folder into a columnar HDF5 store, once.

Formats are recognised from the file (or forced with --format; --list-formats lists them): NB101
tfrecord, NASLib NB101 pickle, NB201 .pth (v1_0 / v1_1, legacy or zip container), NATS-tss
-simple folder or single .pickle.pbz2, NATS-sss -simple folder, NASLib NB201 pickles. The store is written atomically and stamped with the source's
sha256, the store format version and the package version. The output path is checked before
the source is read (exists without --force, folder missing or not writable, name too long).

NAS-Bench-101: each key must be the module hash of its cell. By default a seeded sample of 1,000
cells is recomputed (0.43 s in the benchmark run here); --verify-hashes checks every cell (about
0.2-0.3 ms a cell, so about 100 s for the full release); --verify-hashes none skips the check.
The store's provenance records which.
"""

from __future__ import annotations

import argparse
import time

NAME = "convert"
HELP = "convert an official benchmark file into a fast HDF5 store"


class _ListFormats(argparse.Action):
    """``--list-formats``: print every registered reader and exit (like ``--version``)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from ..groundtruth.formats import READERS

        rows = [(r.name, r.space, r.description) for r in READERS.values()]
        w = max(len(n) for n, _, _ in rows)
        for name, space, desc in rows:
            print(f"{name:<{w}}  {space:<8}  {desc}")
        parser.exit(0)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--list-formats", action=_ListFormats, help="list the formats it reads, then exit"
    )
    p.add_argument("source", help="official benchmark file or folder")
    p.add_argument("-o", "--output", required=True, help="store to write (e.g. nb201.h5)")
    p.add_argument("--format", help="force a reader (see --list-formats)")
    p.add_argument("--force", action="store_true", help="replace an existing store")
    p.add_argument(
        "--verify-hashes",
        nargs="?",
        const="all",
        default="sample",
        choices=("sample", "all", "none"),
        help="NB101: recompute the module hash of every cell (alone, or 'all'), of a seeded "
        "sample of 1,000 cells ('sample', the default) or of none ('none')",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..groundtruth import convert
    from ..groundtruth.api import GroundTruth

    t0 = time.perf_counter()
    out = convert(
        args.source,
        args.output,
        format=args.format,
        progress=not args.no_progress,
        overwrite=args.force,
        verify_hashes=args.verify_hashes,
    )
    dt = time.perf_counter() - t0
    gt = GroundTruth.from_store(out)
    info = gt.info()
    print(
        f"wrote {out} in {dt:.1f} s: {info['space']} {info['archs']} archs, {info['columns']} columns"
    )
    return 0
