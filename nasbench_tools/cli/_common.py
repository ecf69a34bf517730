"""Helpers shared by the subcommands (not a subcommand itself)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import NasbenchToolsError


def open_ground_truth(target: str, *, format: str | None = None, progress: bool = True):
    """``target``: an embedded benchmark name (nb201, nb201-v1_1, nb101) or a store / official file path."""
    from ..groundtruth.api import NAMES, load, open_path

    if target in NAMES:
        return load(target)
    path = Path(target)
    if not path.exists():
        raise NasbenchToolsError(
            f"{target!r} is neither an embedded benchmark ({', '.join(sorted(NAMES))}) nor an existing path"
        )
    return open_path(path, format=format, progress=progress)


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))
