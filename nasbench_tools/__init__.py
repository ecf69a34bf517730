"""nasbench_tools: NAS-Bench-101/201 ground truth, supernets, proxies and ranking analysis.

Importing the package pulls in only the torch-free core (architecture identity); the training and
proxy layers import torch when they are used.
"""

from ._version import __version__
from .errors import (
    CorruptFileError,
    InvalidArchError,
    InvalidSpecError,
    NasbenchToolsError,
    QueryError,
    StoreVersionError,
    UnknownArchError,
    UnsafePickleError,
)
from .groundtruth import GroundTruth, load
from .spaces import Arch, ModelSpec, encode

__all__ = [
    "Arch",
    "CorruptFileError",
    "GroundTruth",
    "InvalidArchError",
    "InvalidSpecError",
    "ModelSpec",
    "NasbenchToolsError",
    "QueryError",
    "StoreVersionError",
    "UnknownArchError",
    "UnsafePickleError",
    "__version__",
    "encode",
    "load",
]
