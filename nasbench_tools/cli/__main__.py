"""``nbt``: the command-line entry point. Parses argv, calls the library, prints.

Each subcommand is a small module in this package exposing ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; they are listed in ``SUBCOMMANDS``.
Nothing in the library imports this package.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import NasbenchToolsError

#: Subcommand modules, in the order ``nbt --help`` lists them.
SUBCOMMANDS = ("arch",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nbt",
        description="nasbench_tools: NAS-Bench-101/201 ground truth, supernets, proxies and ranking analysis.",
    )
    parser.add_argument("--version", action="version", version=f"nasbench_tools {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        mod = importlib.import_module(f".{name}", __package__)
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.__doc__)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except NasbenchToolsError as exc:
        print(f"nbt {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
