"""Architecture identity for NAS-Bench-101 and NAS-Bench-201 (numpy only, no torch)."""

from . import encodings, nb101, nb201
from .encodings import encode, encoding_columns, list_encodings
from .nb101 import ModelSpec
from .nb201 import Arch

__all__ = [
    "Arch",
    "ModelSpec",
    "encode",
    "encoding_columns",
    "encodings",
    "list_encodings",
    "nb101",
    "nb201",
]
