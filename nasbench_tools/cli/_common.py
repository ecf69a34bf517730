"""Helpers shared by the subcommands (not a subcommand itself)."""

from __future__ import annotations

import argparse
import json


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


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
