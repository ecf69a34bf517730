"""Build your own benchmark: train stand-alone networks of a registered space under a declared
protocol into the ground-truth store (``nbt build-bench``).

:class:`Protocol` and its presets (:data:`PROTOCOLS`: ``quick``, ``cpu``, ``cpu-v1``, ``paper``) say how every
network is trained; :func:`build_benchmark` trains a :class:`BuildJob` (resumable through its
journal, shardable) and writes a store that ``nasbench_tools.groundtruth.load(space, path=...)``
opens like an official benchmark; :func:`merge_builds` joins the shards.
"""

from __future__ import annotations

from .build import BuildJob, build_benchmark, merge_builds, records_to_columnset
from .journal import BuildJournal, JournalMismatchError, journal_path
from .protocol import (
    PROTOCOLS,
    Protocol,
    ProtocolError,
    get_protocol,
    list_protocols,
    preset_with_settings,
    register_protocol,
)
from .train import SPLITS, load_splits, train_network

__all__ = [
    "PROTOCOLS",
    "SPLITS",
    "BuildJob",
    "BuildJournal",
    "JournalMismatchError",
    "Protocol",
    "ProtocolError",
    "build_benchmark",
    "get_protocol",
    "journal_path",
    "list_protocols",
    "load_splits",
    "merge_builds",
    "preset_with_settings",
    "records_to_columnset",
    "register_protocol",
    "train_network",
]
