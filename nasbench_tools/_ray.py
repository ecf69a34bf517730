"""Fan work out as Ray tasks: what ``nbt score``, ``nbt build-bench`` and ``nbt search`` do with
``--ray [ADDRESS]``. Ray (``pip install 'nasbench-tools[ray]'``) is imported only here, and only
when a run asks for it.

Sessions (:func:`ray_session`)
    ``"local"`` (``--ray`` without an address): attach to a Ray instance started on this machine
    by ``ray start`` (or named by ``RAY_ADDRESS``), else start one for the run and stop it
    after. ``"auto"``: the running cluster this machine belongs to. ``HOST:PORT`` or
    ``ray://HOST:PORT``: that cluster (checked to answer first: an unreachable address is an
    error naming it, not a hang). A Ray already initialised in this process (``ray.init`` by the
    caller or a test) is used as it is and left running.
Tasks (:func:`ray_map`)
    The caller's items are grouped into tasks (``per_task`` items each), each task asks for
    ``num_cpus`` CPUs (the torch threads it runs with) and ``num_gpus`` GPUs, and the results
    come back to this process item by item, in the order the tasks finish. The caller keeps its
    journal here, exactly as a local run does: a result is recorded once, when it arrives, so a
    task that is retried recomputes its items without any being recorded twice, and a killed
    driver resumes from the journal like a killed local run.
Failures
    A task whose worker dies (killed, out of memory, node lost) is retried by Ray up to
    ``max_retries`` times; after that the run stops with a :class:`RayRunError` (what finished is
    in the journal). An exception raised by the work itself (a bad architecture, a proxy error)
    is not retried: it is raised here as it would be in a local run.
Context
    What every task needs (the job, its data, the oracle) is put into Ray's object store once;
    each worker process fetches it and runs ``setup(context)`` (torch threads, registrations)
    once per run, not once per task.
"""

from __future__ import annotations

import contextlib
import math
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .errors import NasbenchToolsError

__all__ = [
    "DEFAULT_RETRIES",
    "INSTALL",
    "LOCAL",
    "RayRunError",
    "check_ray",
    "gpus_per_task",
    "import_ray",
    "ray_map",
    "ray_session",
]

#: ``--ray`` without an address.
LOCAL = "local"
#: How to install Ray, for messages.
INSTALL = "pip install 'nasbench-tools[ray]'"
#: Retries of a task whose worker died (Ray's own default).
DEFAULT_RETRIES = 3
#: Seconds to wait for a cluster address to answer.
CONNECT_TIMEOUT = 10.0
#: Tasks per CPU slot when the caller leaves the task size to :func:`ray_map`.
TASKS_PER_SLOT = 8


class RayRunError(NasbenchToolsError):
    """Ray is missing, the cluster cannot be reached, or a task failed past its retries."""


def import_ray():
    """The ``ray`` module, or :class:`RayRunError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RayRunError(
            f"--ray needs the Ray package, which is not installed: {INSTALL} (or pip install ray)"
        ) from None
    return ray


def _check_address(address: str, timeout: float) -> None:
    """Refuse an address that is not ``HOST:PORT`` or on which nothing answers."""
    hostport = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = hostport.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit():
        raise RayRunError(
            f"--ray {address!r}: expected HOST:PORT, ray://HOST:PORT or 'auto' (or no address "
            "for a Ray on this machine)"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise RayRunError(
            f"--ray {address}: no Ray cluster answers at that address ({why}); start one there "
            "with `ray start --head`, or check the address"
        ) from None


def check_ray(address: str | None, *, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail now (before any work or file) if Ray is not installed or ``address`` does not
    answer; ``"local"`` and ``"auto"`` are only checked on connecting."""
    import_ray()
    address = LOCAL if address is None else str(address)
    if address not in (LOCAL, "auto"):
        _check_address(address, timeout)


@contextlib.contextmanager
def ray_session(address: str | None = LOCAL, *, timeout: float = CONNECT_TIMEOUT) -> Iterator:
    """A connected Ray for the ``with`` block (see the module text); yields the ``ray`` module.

    A Ray this call starts or connects is shut down at the end; one the process had already
    initialised is left as it was.
    """
    check_ray(address, timeout=timeout)
    ray = import_ray()
    address = LOCAL if address is None else str(address)
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(
            address=None if address == LOCAL else address,
            include_dashboard=False,
            logging_level="WARNING",
            configure_logging=True,
        )
    except Exception as exc:  # Ray raises a bare Exception when a local node times out
        ray.shutdown()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if address == LOCAL:
            hint = "start Ray with `ray start --head` and run again (--ray attaches to it)"
        elif address == "auto":
            hint = "start one with `ray start --head`, or give --ray without an address"
        else:
            hint = f"check the address and that its Ray version is this one's ({ray.__version__})"
        raise RayRunError(f"--ray {address}: cannot start or reach Ray: {first}; {hint}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def gpus_per_task(device: str | None) -> int:
    """GPUs one task asks for: 1 where the job runs on CUDA (``"cuda"``, ``"cuda:0"``, or
    ``"auto"`` on a cluster that has GPUs), else 0. Ray makes the task's GPU its ``cuda:0``."""
    device = str(device or "cpu")
    if device.startswith("cuda"):
        return 1
    if device == "auto":
        ray = import_ray()
        return 1 if ray.is_initialized() and ray.cluster_resources().get("GPU", 0) >= 1 else 0
    return 0


def ray_map(
    fn: Callable[[Any, Any], Any],
    items: Sequence[Any],
    *,
    what: str,
    context: Any = None,
    setup: Callable[[Any], None] | None = None,
    num_cpus: int = 1,
    num_gpus: float = 0,
    max_retries: int = DEFAULT_RETRIES,
    per_task: int | None = None,
) -> Iterator[tuple[Any, Any]]:
    """``(item, fn(context, item))`` for every item, computed in Ray tasks, as they finish.

    Needs a connected Ray (:func:`ray_session`). ``fn`` and ``setup`` must be module-level
    functions (a worker imports them by name). ``per_task``: items per task (``None``: about
    :data:`TASKS_PER_SLOT` tasks per CPU slot of the cluster, for balance and steady
    progress). ``what`` names the run in errors. See the module text for failures.
    """
    ray = import_ray()
    if not ray.is_initialized():
        raise RayRunError(f"{what}: Ray is not connected (use ray_session)")
    for name, value in (("num_cpus", num_cpus), ("max_retries", max_retries)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RayRunError(f"{what}: {name} must be an integer >= 0, got {value!r}")
    items = list(items)
    if not items:
        return
    have = ray.cluster_resources()
    for kind, need in (("CPU", num_cpus), ("GPU", num_gpus)):
        if need and have.get(kind, 0) < need:
            raise RayRunError(
                f"{what}: each task needs {need} {kind}(s) and the Ray cluster has "
                f"{have.get(kind, 0):g}; add such nodes, or run on CPU with fewer threads"
            )
    if per_task is None:
        slots = max(1, int(have.get("CPU", 1) // max(num_cpus, 1)))
        per_task = max(1, math.ceil(len(items) / (TASKS_PER_SLOT * slots)))
    context_ref = ray.put((context, setup))
    remote = _remote(ray).options(
        num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries, retry_exceptions=False
    )
    pending = {}
    for start in range(0, len(items), per_task):
        batch = items[start : start + per_task]
        pending[remote.remote(fn, [context_ref], batch)] = batch
    try:
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            batch = pending.pop(ref)
            yield from zip(batch, _get(ray, ref, what, max_retries), strict=True)
    finally:
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)


def _get(ray, ref, what: str, max_retries: int) -> list:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, NasbenchToolsError):
            raise cause from None
        raise
    except ray.exceptions.RayError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise RayRunError(
            f"{what}: a Ray task failed {max_retries + 1} times ({type(exc).__name__}: {first}); "
            "what finished is kept: run the same command again to resume"
        ) from None


_REMOTE = None


def _remote(ray):
    global _REMOTE
    if _REMOTE is None:
        _REMOTE = ray.remote(_run_task)
    return _REMOTE


#: In a worker process: the context of the run it last served, by object id.
_CONTEXT: dict[str, Any] = {}


def _run_task(fn: Callable, box: list, batch: list) -> list:
    """A task: ``fn(context, item)`` for the batch, the context fetched and set up once."""
    (ref,) = box
    key = ref.hex()
    if key not in _CONTEXT:
        import ray

        context, setup = ray.get(ref)
        if setup is not None:
            setup(context)
        _CONTEXT.clear()
        _CONTEXT[key] = context
    context = _CONTEXT[key]
    return [fn(context, item) for item in batch]
