"""The build journal: one fsync-ed JSON line per finished (architecture, seed).

The first line is a header holding the build's configuration (space, protocol, seeds, selection,
shard, the data's sha256, torch threads); resuming with another configuration is refused naming
every setting that differs. A line cut short by a kill is dropped on reading, so a killed build
loses at most the network in flight. The same reading rules as the ``nbt score`` journal
(:mod:`nasbench_tools.proxies.scoring`): both read and write through
:mod:`nasbench_tools._journal`.
"""

from __future__ import annotations

import json
from pathlib import Path

from .._journal import (
    JOURNAL_SUFFIX,
    append_record,
    config_differences,
    journal_path,
    open_journal,
)
from ..errors import NasbenchToolsError

__all__ = [
    "JOURNAL_SUFFIX",
    "BuildJournal",
    "JournalMismatchError",
    "config_differences",
    "journal_path",
]

_FORMAT = "nasbench_tools.build-journal"


class JournalMismatchError(NasbenchToolsError):
    """A journal that cannot be resumed: another configuration, or a damaged line."""


class BuildJournal:
    """``done[(key, seed)]`` holds the record of every finished network."""

    def __init__(self, path: Path, config: dict):
        self.path = Path(path)
        self.config = json.loads(json.dumps(config, sort_keys=True))
        self.done: dict[tuple, dict] = {}

    def open(self) -> BuildJournal:
        records = open_journal(
            self.path, _FORMAT, self.config, what="nbt build-bench", error=JournalMismatchError
        )
        for n, rec in enumerate(records, 2):
            try:
                self.done[(rec["key"], int(rec["seed"]))] = rec["record"]
            except (KeyError, TypeError, ValueError):
                raise JournalMismatchError(
                    f"{self.path}:{n}: not a build record; remove the file or pass --force"
                ) from None
        return self

    def append(self, key, seed: int, record: dict) -> None:
        back = append_record(self.path, {"key": key, "seed": int(seed), "record": record})
        self.done[(key, int(seed))] = back["record"]
