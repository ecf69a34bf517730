"""Helpers every reader shares: the progress bar, units, and worker processes that die with
their parent. (The whole-pickle loaders are :mod:`~nasbench_tools.groundtruth.safe_pickle`'s.)"""

from __future__ import annotations

from collections.abc import Iterable

from ..._workers import die_with_parent

__all__ = ["UNITS", "die_with_parent", "progress"]

#: The unit of each metric's values in every reader's columns.
UNITS = {"accuracy": "%", "loss": "", "time": "s", "params": "M", "flops": "MFLOPs", "latency": "s"}


def progress(items: Iterable, show: bool, desc: str, total: int | None = None) -> Iterable:
    """``items`` behind a tqdm bar counting architectures (or ``items`` itself when not ``show``)."""
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, total=total, unit="arch", leave=False)
