"""Helpers shared by the subcommands (not a subcommand itself)."""

from __future__ import annotations

import argparse
import json


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


def add_ray_arguments(p) -> None:
    """``--ray [ADDRESS]`` and ``--ray-retries N`` (nbt score, build-bench, search)."""
    g = p.add_argument_group("Ray (pip install 'nasbench-tools[ray]')")
    g.add_argument(
        "--ray", nargs="?", const="local", metavar="ADDRESS",
        help="run the work as Ray tasks: without ADDRESS on a Ray of this machine (started for "
        "the run when none is running), 'auto' or HOST:PORT for a cluster's; the output is the "
        "one a local run writes",
    )  # fmt: skip
    g.add_argument(
        "--ray-retries", type=int, default=3, metavar="N",
        help="retries of a Ray task whose worker died (default 3)",
    )  # fmt: skip


def check_ray_arguments(args, *conflicts: str) -> None:
    """Refuse ``--ray`` with an option it cannot combine with (``"merge"``, ``"workers"``), and
    fail before any work when Ray is not installed or the address does not answer."""
    from .._ray import check_ray
    from ..errors import NasbenchToolsError

    if args.ray_retries < 0:
        raise NasbenchToolsError(f"--ray-retries {args.ray_retries}: expected an integer >= 0")
    if args.ray is None:
        return
    for name in conflicts:
        value = getattr(args, name)
        if value and not (name == "workers" and value == 1):
            raise NasbenchToolsError(f"--ray and --{name} cannot be combined")
    check_ray(args.ray)


def add_device_argument(group, default: str | None = "cpu") -> None:
    """``--device auto|cpu|cuda[:i]`` (one spelling for every subcommand)."""
    shown = "cpu" if default is None else default
    group.add_argument(
        "--device",
        default=default,
        help=f"auto (CUDA when available, else CPU), cpu or cuda[:i] (default {shown}); CUDA "
        "where there is none exits with an error",
    )


def add_parallel_arguments(group, *, amp: bool = True, compile_: bool = False) -> None:
    """``--micro-batches``, and ``--amp`` / ``--compile`` where the command supports them."""
    group.add_argument(
        "--micro-batches",
        type=int,
        help="cut every batch into this many parts, each with its own BN statistics, gradients "
        "summed; under torchrun the parts are shared among the processes (default: their "
        "number, 1 without torchrun)",
    )
    if amp:
        group.add_argument(
            "--amp",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="mixed precision: float16 autocast and a gradient scaler (CUDA only)",
        )
    if compile_:
        group.add_argument(
            "--compile", action="store_true", help="torch.compile each network before training"
        )


def init_distributed(device: str | None):
    """Join the torchrun process group when launched by torchrun (else one process); returns
    the :class:`~nasbench_tools.nn.distributed.World`."""
    from ..nn import distributed as dp

    return dp.init_from_env(dp.resolve_device(device))
