"""Open a ground truth from one word: an embedded benchmark's name or a path.

:func:`open_ground_truth` is what ``nbt info``, ``nbt query`` and ``nbt report`` call with their
``TARGET`` argument, and what library code (the report builder) calls with a user's setting. It
lives in the ground-truth layer so that nothing above it needs the command-line package.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import QueryError
from .api import GroundTruth, load, open_path
from .benchmarks import BENCHMARKS

__all__ = ["open_ground_truth"]


def open_ground_truth(
    target: str | Path, *, format: str | None = None, progress: bool = True
) -> GroundTruth:
    """The ground truth named by ``target``.

    Parameters
    ----------
    target : str or Path
        An embedded benchmark's name (``nb201``, ``nb201-v1_1``, ``nb101``: see
        :data:`nasbench_tools.groundtruth.benchmarks.BENCHMARKS`), or the path of a store written by
        ``nbt convert`` or of an official file or folder (its benchmark is inferred).
    format : str, optional
        Force a reader for an official file.
    progress : bool
        Show a progress bar while reading an official file.

    Raises
    ------
    QueryError
        ``target`` is neither an embedded benchmark nor an existing path (the message lists the
        embedded names).
    """
    embedded = BENCHMARKS.filter(lambda b: b.has_data)
    if isinstance(target, str) and target in embedded:
        return load(target)
    path = Path(target)
    if not path.exists():
        raise QueryError(
            f"{str(target)!r} is neither an embedded benchmark ({', '.join(embedded)}) "
            "nor an existing path"
        )
    return open_path(path, format=format, progress=progress)
