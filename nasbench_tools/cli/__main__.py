"""``nbt``: the command-line entry point. Parses argv, calls the library, prints.

Each subcommand is a small module in this package exposing ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; every such module is registered (modules whose
name starts with ``_`` are helpers). Nothing in the library imports this package.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from .. import __version__
from ..errors import NasbenchToolsError


def subcommand_modules() -> list:
    """The subcommand modules of this package, sorted by command name."""
    mods = []
    for info in pkgutil.iter_modules(_package_path()):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__package__}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            mods.append(mod)
    return sorted(mods, key=lambda m: m.NAME)


def _package_path() -> list[str]:
    return list(importlib.import_module(__package__).__path__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nbt",
        description="nasbench_tools: NAS-Bench-101/201 ground truth, supernets, proxies and ranking analysis.",
    )
    parser.add_argument("--version", action="version", version=f"nasbench_tools {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for mod in subcommand_modules():
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
    except BrokenPipeError:  # e.g. `nbt query ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
