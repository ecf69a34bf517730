"""Search spaces: one registered :class:`Space` per space, and each space's architecture identity.

``get_space("nb201")`` / ``list_spaces()`` give the registered spaces (:mod:`.base` states the
contract); :mod:`.nb201` (:class:`Arch`) and :mod:`.nb101` (:class:`ModelSpec`) hold the identity
objects. numpy only, no torch.
"""

from . import archsets, encodings, nb101, nb201
from .base import Space, get_space, list_spaces, register_space, space_of
from .encodings import encode, encoding_columns, list_encodings
from .nb101 import ModelSpec
from .nb201 import Arch

__all__ = [
    "Arch",
    "ModelSpec",
    "Space",
    "archsets",
    "encode",
    "encoding_columns",
    "encodings",
    "get_space",
    "list_encodings",
    "list_spaces",
    "nb101",
    "nb201",
    "register_space",
    "space_of",
]
