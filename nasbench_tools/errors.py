"""One exception family for the whole package.

Every error a user can trigger with bad input derives from :class:`NasbenchToolsError`, so
``except NasbenchToolsError`` catches them all, and each message names the file, architecture or
argument at fault and what was expected.
"""

from __future__ import annotations

__all__ = [
    "AnalysisError",
    "CorruptFileError",
    "DatasetNotFoundError",
    "DeviceError",
    "DistributedError",
    "InvalidArchError",
    "InvalidChoiceError",
    "InvalidSpecError",
    "NasbenchToolsError",
    "OutputPathError",
    "QueryError",
    "RecalibrationError",
    "ResourceLimitError",
    "ScoreTableError",
    "StoreCorruptError",
    "StoreVersionError",
    "TrainConfigError",
    "TrainingDivergedError",
    "UnknownArchError",
    "UnsafePickleError",
]


class NasbenchToolsError(Exception):
    """Base class of every error raised on purpose by nasbench_tools."""


class InvalidSpecError(NasbenchToolsError, ValueError):
    """A NAS-Bench-101 cell spec is malformed (not square, not upper-triangular, unknown op, ...).

    A well-formed spec that merely lies outside the benchmark's space (too many vertices or edges,
    input not connected to output) is *not* malformed: it constructs and reports
    ``is_valid == False``.
    """


class InvalidArchError(NasbenchToolsError, ValueError):
    """A NAS-Bench-201 architecture string, op tuple or index is malformed or out of range."""


class UnknownArchError(NasbenchToolsError, KeyError):
    """A well-formed architecture is not in the ground truth being queried."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class QueryError(NasbenchToolsError, ValueError):
    """A ground-truth query names a dataset, split, budget or seed the benchmark does not have."""


class CorruptFileError(NasbenchToolsError):
    """A benchmark file is damaged or not in the format it claims (bad CRC, truncated, wrong container)."""


class UnsafePickleError(CorruptFileError):
    """A pickle-based benchmark file names a global outside the reader's allow-list, or gives an
    allowed stand-in state it does not build from (object dtypes, forged flags, a payload whose
    length does not match its shape)."""


class ResourceLimitError(CorruptFileError):
    """An input asks for more than the documented bound derived from its size: a decompression
    that expands past the cap, an array larger than its payload, nesting deeper than allowed."""


class StoreCorruptError(CorruptFileError):
    """An HDF5 store is damaged: a checksum fails, a dataset is truncated or missing, or its
    metadata does not parse. The message names the store and the dataset."""


class OutputPathError(NasbenchToolsError):
    """An output path cannot be written: it exists (without overwrite), its folder is missing or
    not writable, or its name is too long. Checked before any input is read."""


class StoreVersionError(NasbenchToolsError):
    """An HDF5 store was written by another format version, or is not a nasbench_tools store."""


class InvalidChoiceError(NasbenchToolsError, ValueError):
    """A supernet choice (active paths per block) has the wrong shape or values for its space."""


class RecalibrationError(NasbenchToolsError, ValueError):
    """BN recalibration was asked for more images than it was given (or an unknown preset)."""


class DatasetNotFoundError(NasbenchToolsError, FileNotFoundError):
    """An image dataset's files are not where the loader looked; the message says where to put them."""


class TrainConfigError(NasbenchToolsError, ValueError):
    """A supernet-training configuration is inconsistent (unknown sampler, AMP without CUDA, resume
    with a different configuration, ...)."""


class AnalysisError(NasbenchToolsError, ValueError):
    """Ranking-analysis inputs are unusable: length mismatch, too few valid pairs, constant input,
    NaN under ``nan_policy="raise"``, a bad ``k``, or a bootstrap without a seed."""


class TrainingDivergedError(NasbenchToolsError, RuntimeError):
    """Supernet training produced a non-finite loss; the last finite checkpoint is kept."""


class ScoreTableError(NasbenchToolsError, ValueError):
    """A score table breaks its contract (:mod:`nasbench_tools.scores`): a cell that is not a
    number, a key outside its space, a sidecar that does not parse or describes another file,
    metadata of the wrong type. The message names the file, and the row and column where one
    is to blame."""


class DeviceError(NasbenchToolsError, ValueError):
    """A ``--device`` / ``--amp`` / ``--compile`` choice this machine cannot honour (CUDA asked for
    where none is available, mixed precision on CPU, an unknown device name)."""


class DistributedError(NasbenchToolsError, RuntimeError):
    """Data-parallel ranks disagree (a sampler or batch order that differs between ranks) or the
    run cannot be split over them (micro-batches not a multiple of the world size)."""
