"""A proxy for the Ray tests: half the key, computed by a Ray worker that kills itself (SIGKILL)
the first time it meets key :data:`CRASH_KEY`.

Only processes that see ``NBT_TEST_CRASH_DIR`` (the Ray workers the tests start, through their
runtime environment; never the test process itself) crash and count: every computation of a
key leaves a file ``call-<key>-<pid>-<ns>`` there, and the first crash a file ``crashed``, so a
test can tell that the key was computed twice (the killed attempt and the retry) and every other
key once. The module registers the proxy when imported (as a Ray worker imports it); the tests
remove it from the registry again (:func:`unregister`).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

from nasbench_tools.proxies import PROXIES, register_proxy

NAME = "test_ray_half_key_or_crash"
CRASH_KEY = 284


def half_key_or_crash(req) -> dict:
    keys = req.keys.tolist()
    marks = os.environ.get("NBT_TEST_CRASH_DIR")
    if marks:
        for k in keys:
            (Path(marks) / f"call-{k}-{os.getpid()}-{time.time_ns()}").touch()
        crashed = Path(marks) / "crashed"
        if CRASH_KEY in keys and not crashed.exists():
            crashed.touch()
            os.kill(os.getpid(), signal.SIGKILL)
    return {NAME: np.asarray(keys, dtype=float) / 2}


def register() -> None:
    if NAME not in PROXIES:
        register_proxy(
            NAME, needs="nothing", deterministic=True, unit="key/2",
            description="half the key; a Ray test worker dies on its first key 284",
        )(half_key_or_crash)  # fmt: skip


def unregister() -> None:
    PROXIES._entries.pop(NAME, None)


register()
