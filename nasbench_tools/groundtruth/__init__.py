"""Benchmark ground truth: official-format readers, the HDF5 store, and ``load()``.

``load(name, path=None)`` returns a :class:`GroundTruth`; ``convert(src, out)`` turns any official
file into a store (what ``nbt convert`` runs). Embedded data lives in ``embedded/`` with its
licences; see ``data/README.md``.
"""

from __future__ import annotations

from .api import ArchAxis, GroundTruth, load
from .columns import Column, ColumnSet, Key
from .convert import convert
from .target import open_ground_truth

__all__ = [
    "ArchAxis",
    "Column",
    "ColumnSet",
    "GroundTruth",
    "Key",
    "convert",
    "load",
    "open_ground_truth",
]
