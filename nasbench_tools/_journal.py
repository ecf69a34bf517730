"""Append-only JSON-lines journals that survive ``kill -9``: what ``nbt score`` and
``nbt build-bench`` keep while they work, so a killed run resumes where it stopped.

The first line is a header (``format``, ``version``, ``config``); every further line is one
record, appended and ``fsync``-ed. A last line cut short by a kill is dropped (and cut from the
file) on reading; any other line that is not JSON, a header of another format, or a header whose
``config`` differs from the run's is an error naming the file (and the differing settings).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ._io import atomic_write
from .errors import NasbenchToolsError

__all__ = [
    "JOURNAL_SUFFIX",
    "append_record",
    "config_differences",
    "journal_path",
    "open_journal",
]

#: ``<out>.journal`` is the journal of the run writing ``out``.
JOURNAL_SUFFIX = ".journal"


def journal_path(out: str | Path) -> Path:
    """The journal of the run writing ``out``."""
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


def open_journal(
    path: Path,
    fmt: str,
    config: dict,
    *,
    what: str,
    error: type[NasbenchToolsError] = NasbenchToolsError,
) -> list:
    """The records of the journal at ``path`` (creating it, header only, when absent).

    ``fmt`` names the journal's kind, ``what`` the command for messages (``"nbt score"``),
    ``error`` the exception type raised.
    """
    path = Path(path)
    if not path.exists():
        with atomic_write(path) as tmp:
            header = {"format": fmt, "version": 1, "config": config}
            tmp.write_text(json.dumps(header, sort_keys=True) + "\n")
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    complete = b"\n".join(lines[:-1]) + b"\n" if len(lines) > 1 else b""
    if len(complete) != len(raw):  # a last line cut short by a kill: drop it
        with open(path, "r+b") as fh:
            fh.truncate(len(complete))
            os.fsync(fh.fileno())
    records = []
    for n, line in enumerate(lines[:-1], 1):
        try:
            records.append(json.loads(line))
        except ValueError:
            raise error(
                f"{path}:{n}: not a journal line; remove the file or pass --force"
            ) from None
    if not records or not isinstance(records[0], dict) or records[0].get("format") != fmt:
        raise error(f"{path}: not a {what} journal; remove the file or pass --force")
    old = records[0].get("config")
    if old != config:
        diff = config_differences(old if isinstance(old, dict) else {}, config)
        raise error(
            f"{path} was written by a run with other settings; differing: {'; '.join(diff)}. "
            "Resume with the same settings, or pass --force to start again"
        )
    return records[1:]


def append_record(path: Path, record: dict) -> dict:
    """Append ``record`` as one line and ``fsync`` it; returns the record as read back."""
    line = json.dumps(record, sort_keys=True)
    with open(path, "a") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return json.loads(line)
