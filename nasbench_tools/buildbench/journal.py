"""The build journal: one fsync-ed JSON line per finished (architecture, seed).

The first line is a header holding the build's configuration (space, protocol, seeds, selection,
shard, the data's sha256, torch threads); resuming with another configuration is refused naming
every setting that differs. A line cut short by a kill is dropped on reading, so a killed build
loses at most the network in flight. The same reading rules as the ``nbt score`` journal
(:mod:`nasbench_tools.proxies.scoring`), with records of a different shape.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .._io import atomic_write
from ..errors import NasbenchToolsError

__all__ = ["JOURNAL_SUFFIX", "BuildJournal", "JournalMismatchError", "journal_path"]

JOURNAL_SUFFIX = ".journal"
_FORMAT = "nasbench_tools.build-journal"


class JournalMismatchError(NasbenchToolsError):
    """A journal that cannot be resumed: another configuration, or a damaged line."""


def journal_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + JOURNAL_SUFFIX)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out |= _flatten(v, name + ".")
        else:
            out[name] = v
    return out


def config_differences(old: dict, new: dict) -> list[str]:
    """``"setting (journal X, now Y)"`` for every flattened setting that differs."""
    a, b = _flatten(old), _flatten(new)
    return [
        f"{k} (journal {a.get(k, '<absent>')!r}, now {b.get(k, '<absent>')!r})"
        for k in sorted(set(a) | set(b))
        if a.get(k, "<absent>") != b.get(k, "<absent>")
    ]


class BuildJournal:
    """``done[(key, seed)]`` holds the record of every finished network."""

    def __init__(self, path: Path, config: dict):
        self.path = Path(path)
        self.config = json.loads(json.dumps(config, sort_keys=True))
        self.done: dict[tuple, dict] = {}

    def open(self) -> BuildJournal:
        if self.path.exists():
            self._read()
        else:
            with atomic_write(self.path) as tmp:
                header = {"format": _FORMAT, "version": 1, "config": self.config}
                tmp.write_text(json.dumps(header, sort_keys=True) + "\n")
        return self

    def _read(self) -> None:
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        complete = b"\n".join(lines[:-1]) + b"\n" if len(lines) > 1 else b""
        if len(complete) != len(raw):  # a last line cut short by a kill: drop it
            with open(self.path, "r+b") as fh:
                fh.truncate(len(complete))
                os.fsync(fh.fileno())
        records = []
        for n, line in enumerate(lines[:-1], 1):
            try:
                records.append(json.loads(line))
            except ValueError:
                raise JournalMismatchError(
                    f"{self.path}:{n}: not a journal line; remove the file or pass --force"
                ) from None
        if not records or not isinstance(records[0], dict) or records[0].get("format") != _FORMAT:
            raise JournalMismatchError(
                f"{self.path}: not a nbt build-bench journal; remove it or pass --force"
            )
        old = records[0].get("config")
        if old != self.config:
            diff = config_differences(old if isinstance(old, dict) else {}, self.config)
            raise JournalMismatchError(
                f"{self.path} was written by a build with other settings; differing: "
                f"{'; '.join(diff)}. Resume with the same settings, or pass --force to start again"
            )
        for n, rec in enumerate(records[1:], 2):
            try:
                self.done[(rec["key"], int(rec["seed"]))] = rec["record"]
            except (KeyError, TypeError, ValueError):
                raise JournalMismatchError(
                    f"{self.path}:{n}: not a build record; remove the file or pass --force"
                ) from None

    def append(self, key, seed: int, record: dict) -> None:
        line = json.dumps({"key": key, "seed": int(seed), "record": record}, sort_keys=True)
        with open(self.path, "a") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.done[(key, int(seed))] = json.loads(line)["record"]
