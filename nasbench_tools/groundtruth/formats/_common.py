"""Helpers every reader shares: the progress bar, units, and worker processes that die with
their parent. (The whole-pickle loaders are :mod:`~nasbench_tools.groundtruth.safe_pickle`'s.)"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterable

__all__ = ["UNITS", "die_with_parent", "progress"]

#: The unit of each metric's values in every reader's columns.
UNITS = {"accuracy": "%", "loss": "", "time": "s", "params": "M", "flops": "MFLOPs", "latency": "s"}

#: ``prctl`` option: the signal this process gets when the thread that forked it dies.
_PR_SET_PDEATHSIG = 1


def progress(items: Iterable, show: bool, desc: str, total: int | None = None) -> Iterable:
    """``items`` behind a tqdm bar counting architectures (or ``items`` itself when not ``show``)."""
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, total=total, unit="arch", leave=False)


def die_with_parent(parent: int, prctl: bool = True) -> None:
    """End this (worker or forked) process when ``parent`` dies: no reader outlives its parent.

    On Linux the kernel sends SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``); as a
    fallback, and on other systems, a daemon thread checks every 0.5 s whether ``parent`` is still
    this process's parent and exits when it is not. ``prctl=False`` leaves only the fallback (for
    tests).
    """
    if prctl and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watchdog below still ends the process
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            threading.Event().wait(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="nbt-parent-watchdog", daemon=True).start()
