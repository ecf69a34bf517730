"""Task functions for the ``ray_map`` tests, in a module that imports little (a Ray worker
imports the module of every function it runs)."""

from __future__ import annotations

import os
import signal


def die_once(marks, item: int) -> int:
    """``item`` squared; item 3 kills its worker (SIGKILL) the first time (a marker file)."""
    flag = marks / f"died-{item}"
    if item == 3 and not flag.exists():
        flag.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return item * item


def bad_item(_context, item):
    from nasbench_tools.errors import InvalidArchError

    raise InvalidArchError(f"architecture {item} is not one")
