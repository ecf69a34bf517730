"""What the ground-truth benchmarks share: measuring a step in a fresh process, and their tables.

``ground_truth_nb101.py`` and ``ground_truth_nb201.py`` run each measured step as a child process
(``python SCRIPT --child TASK ARGS...``) that prints its results as one JSON line. Inside a child:
:func:`peak_mb` / :func:`maxrss_mb` (peak RSS), :func:`rss_mb` (RSS now) and :func:`timeit`. From
outside: :func:`run_measured` runs a command and records its wall time and memory, that of the
processes it starts included. For the printed tables: :func:`fmt_s`, :func:`fmt_mb`,
:func:`table_header`, :func:`table_row` and :func:`acceptance_line`.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

# ------------------------------------------------------------------------------ inside a child


def rss_mb() -> float:
    """This process's RSS now (MiB)."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_mb() -> float:
    """This process's peak RSS (MiB) since it started.

    Linux: ``VmHWM`` of ``/proc/self/status``, which starts afresh at exec. (``ru_maxrss`` would
    carry over the peak of the benchmark process that forked this one.)
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return maxrss_mb()


def maxrss_mb() -> float:
    """``ru_maxrss`` of this process (MiB on Linux): unlike :func:`peak_mb`, at least the peak of
    the process that forked this one."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, B on macOS


def timeit(fn: Callable[[], object], repeat: int, number: int) -> float:
    """Median seconds per call over ``repeat`` batches of ``number`` calls."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number)
    return statistics.median(runs)


# ------------------------------------------------------------------------------ from outside


def child_command(script: str, task: str, *args: object) -> list[str]:
    """The command that runs ``task`` of a benchmark ``script`` in a fresh process."""
    return [sys.executable, script, "--child", task, *(str(a) for a in args)]


def child_result(stdout: str) -> dict:
    """A child's results: the JSON object on the last line of its stdout."""
    return json.loads(stdout.strip().splitlines()[-1])


def run_measured(
    cmd: list[str], *, every: float = 0.01, show_stderr: bool = False, what: str | None = None
) -> dict:
    """Run ``cmd`` and measure it, with the processes it starts.

    Parameters
    ----------
    cmd : list of str
    every : float
        Seconds between two samples of the process tree's RSS.
    show_stderr : bool
        Let the command write to this process's stderr (a progress bar), instead of keeping its
        stderr for the error message.
    what : str, optional
        The command's name in the error message; by default the command line.

    Returns
    -------
    dict
        ``wall_s``; ``max_process_mb``, the largest peak RSS of the command or any process it
        started (exact, from ``wait4``); ``tree_peak_mb``, the peak of their summed RSS, and
        ``sampled_max_process_mb``, the largest RSS of one of them, both sampled every ``every``
        seconds with psutil; and the command's ``stdout``.

    Raises
    ------
    RuntimeError
        If the command fails; with the end of its stderr unless ``show_stderr``.
    """
    import psutil

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=None if show_stderr else err)
        tree_peak = one_peak = 0
        ps = psutil.Process(proc.pid)
        while True:
            try:
                procs = [ps, *ps.children(recursive=True)]
                rss = []
                for q in procs:
                    try:
                        rss.append(q.memory_info().rss)
                    except psutil.Error:  # a process exiting between the listing and the reading
                        pass
                tree_peak = max(tree_peak, sum(rss))
                one_peak = max(one_peak, *rss, 0)
            except psutil.Error:
                pass
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(every)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        message = f"{what or ' '.join(cmd)} failed (exit {proc.returncode})"
        raise RuntimeError(message if show_stderr else f"{message}:\n{stderr[-4000:]}")
    return {
        "wall_s": wall,
        "max_process_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "tree_peak_mb": tree_peak / 2**20,
        "sampled_max_process_mb": one_peak / 2**20,
        "stdout": stdout,
    }


# ------------------------------------------------------------------------------ tables


def fmt_s(s: float | None, digits: int = 1) -> str:
    """A duration in s, ms or us, with ``digits`` decimals; ``-`` for ``None``."""
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.1f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.{digits}f} ms"
    return f"{s * 1e6:.{digits}f} us"


def fmt_mb(x: float) -> str:
    return f"{x:.0f} MB"


def table_header(widths: tuple[int, int, int, int], baseline: str) -> str:
    """The header of a ``step | nasbench_tools | baseline | ratio`` table with these widths."""
    w_name, w_ours, w_theirs, w_ratio = widths
    return (
        f"{'step':{w_name}s} {'nasbench_tools':>{w_ours}s} {baseline:>{w_theirs}s} "
        f"{'ratio':>{w_ratio}s}"
    )


def table_row(
    widths: tuple[int, int, int, int],
    name: str,
    ours: float,
    theirs: float | None,
    fmt: Callable[[float], str] = fmt_s,
) -> str:
    """One row: both numbers, and the ratio baseline / ours (blank without a baseline)."""
    w_name, w_ours, w_theirs, w_ratio = widths
    if theirs is not None and ours:
        ratio = f"{theirs / ours:>{w_ratio - 1}.1f}x"
    else:
        ratio = f"{'':>{w_ratio}s}"
    shown = fmt(theirs) if theirs is not None else "-"
    return f"{name:{w_name}s} {fmt(ours):>{w_ours}s} {shown:>{w_theirs}s} {ratio}"


def acceptance_line(acceptance: dict[str, bool]) -> str:
    return "acceptance: " + ", ".join(
        f"{k} {'PASS' if v else 'FAIL'}" for k, v in acceptance.items()
    )
