"""nasbench_tools: NAS-Bench-101/201 ground truth, supernets, proxies and ranking analysis.

Importing the package pulls in only the torch-free core (architecture identity); the training and
proxy layers import torch when they are used.
"""

from ._version import __version__
from .errors import (
    AnalysisError,
    CorruptFileError,
    DatasetNotFoundError,
    InvalidArchError,
    InvalidChoiceError,
    InvalidSpecError,
    NasbenchToolsError,
    QueryError,
    StoreVersionError,
    TrainConfigError,
    TrainingDivergedError,
    UnknownArchError,
    UnsafePickleError,
)
from .groundtruth import GroundTruth, load
from .spaces import Arch, ModelSpec, encode

__all__ = [
    "AnalysisError",
    "Arch",
    "CorruptFileError",
    "DatasetNotFoundError",
    "GroundTruth",
    "InvalidArchError",
    "InvalidChoiceError",
    "InvalidSpecError",
    "ModelSpec",
    "NasbenchToolsError",
    "QueryError",
    "StoreVersionError",
    "TrainConfigError",
    "TrainingDivergedError",
    "UnknownArchError",
    "UnsafePickleError",
    "__version__",
    "encode",
    "load",
]
