"""Worker processes that die with their parent, and one way to map a function over chunks of
work in them: a worker that dies becomes a named error, never a hang, and no worker outlives a
killed parent. Used by the NATS-Bench folder readers and by ``nbt score --workers``."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .errors import NasbenchToolsError

__all__ = ["available_cpus", "die_with_parent", "in_workers"]

#: ``prctl`` option: the signal this process gets when the thread that forked it dies.
_PR_SET_PDEATHSIG = 1


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def die_with_parent(parent: int, prctl: bool = True) -> None:
    """End this (worker or forked) process when ``parent`` dies: no worker outlives its parent.

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


def _start(parent: int, setup: Callable[..., None] | None, setup_args: tuple) -> None:
    die_with_parent(parent)
    if setup is not None:
        setup(*setup_args)


def in_workers(
    fn: Callable[[Any], Any],
    chunks: Sequence[Any],
    workers: int,
    *,
    what: str,
    start_method: str = "fork",
    setup: Callable[..., None] | None = None,
    setup_args: tuple = (),
    where: Callable[[Any], str] | None = None,
    advice: str = "run with one worker to work in this process",
) -> Iterator[tuple[Any, Any]]:
    """``(chunk, fn(chunk))`` for every chunk, computed by ``workers`` processes, in the order
    they finish.

    ``fn`` and ``setup`` (run once in each worker, after it is tied to this process) must be
    module-level functions. ``start_method``: ``"fork"`` for pure-Python/numpy work; ``"spawn"``
    where the parent may hold thread pools (torch), which a fork copies in a broken state (it falls
    back to ``"spawn"`` where ``fork`` does not exist). A worker that dies (killed, out of memory)
    raises :class:`NasbenchToolsError` starting with ``"{what}: a worker process died"`` (and
    ``where(chunk)`` of the last chunk that finished, if given, then ``advice``); on any error the chunks not yet
    started are cancelled and the workers stopped.
    """
    methods = mp.get_all_start_methods()
    ctx = mp.get_context(start_method if start_method in methods else "spawn")
    pool = cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_start,
        initargs=(os.getpid(), setup, tuple(setup_args)),
    )
    futures: dict = {}
    last = ""
    try:
        for c in chunks:  # a worker may die while chunks are still being submitted
            futures[pool.submit(fn, c)] = c
        for fut in cf.as_completed(futures):
            chunk = futures[fut]
            if where is not None:
                last = where(chunk)
            yield chunk, fut.result()
    except cf.process.BrokenProcessPool:
        raise NasbenchToolsError(
            f"{what}: a worker process died (killed, or out of memory){last}; {advice}"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
