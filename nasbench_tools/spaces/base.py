"""The :class:`Space` contract: everything the rest of the toolkit may ask of a search space.

A search space is one registered :class:`Space` object (``get_space("nb201")``). Ground truth,
stores, score tables, reports, proxies, search strategies and benchmark building key on it and
ask it; none of them compares a space's name. What a space must provide:

identity
    :meth:`Space.parse` turns anything a user may pass (the space's own object, a string, a
    benchmark index, ...) into the space's architecture object; :meth:`Space.key` gives the
    architecture's *key* on the benchmark axis, :meth:`Space.arch` the architecture of a key,
    :meth:`Space.to_string` its canonical text, :meth:`Space.describe` a short description for
    error messages.
keys
    Either benchmark indices (``key_kind == "index"``: ints ``0 .. size-1`` in the benchmark's
    own order, stored as int64) or content hashes (``key_kind == "hash"``: 32 hex digits, stored
    as ``S32``). :attr:`Space.key_column` names the key in score tables and CSV files;
    :attr:`Space.alt_key_columns` names the other columns a table may be keyed by
    (:meth:`Space.key_from_column` reads them).
isomorphism
    :meth:`Space.class_ids` gives every key's isomorphism-class id (or ``None`` where each key is
    already its own class, as NB101's module hashes are).
enumeration and sampling
    :meth:`Space.all_keys` where the space is finite and enumerable (``None`` otherwise).
encodings
    :func:`nasbench_tools.spaces.encodings.encode` with ``space=`` the space's name.
operators
    :meth:`Space.operators`: the ``(edge, op)`` pairs that operator-level score tables are keyed
    by, where the space is a choice of one op per edge.
networks
    :attr:`Space.network` names the torch-side builder ``"module:function"`` (imported only when
    asked, so the core stays torch-free): ``build(arch, **options) -> torch.nn.Module``.

This module imports numpy only.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from ..errors import InvalidArchError, NasbenchToolsError
from ..registry import Registry

__all__ = ["SPACES", "Space", "get_space", "list_spaces", "register_space", "space_of"]

#: Every registered search space, by name (``nb201``, ``nb101``, ``nats-sss``, ...).
SPACES: Registry[Space] = Registry(
    "search space",
    modules=(
        "nasbench_tools.spaces.nb201",
        "nasbench_tools.spaces.nb101",
        "nasbench_tools.spaces.nats_sss",
    ),
)


class Space(ABC):
    """One search space. Subclasses set the class attributes and implement the abstract methods.

    Attributes
    ----------
    name : str
        The registry name (``"nb201"``).
    title : str
        What to call it in text (``"NAS-Bench-201 (NATS-Bench topology)"``).
    key_kind : {"index", "hash"}
        How architectures are keyed on a benchmark axis.
    key_column : str
        The key's column name in score tables and CSV files (``"index"``, ``"module_hash"``).
    alt_key_columns : tuple of str
        Other key columns a score table may use (``("arch_str",)``).
    size : int or None
        Number of architectures, where the space is finite and enumerable.
    arch_type : type
        The class of the space's architecture objects.
    network : str or None
        ``"module:function"`` of the torch-side builder, or ``None``.
    arch_from_key : bool
        Whether :meth:`arch` makes the architecture from a key alone (an NB101 module hash does
        not: the cell comes with a ground truth or a spec).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    key_kind: ClassVar[str]
    key_column: ClassVar[str]
    alt_key_columns: ClassVar[tuple[str, ...]] = ()
    size: ClassVar[int | None] = None
    arch_type: ClassVar[type]
    network: ClassVar[str | None] = None
    arch_from_key: ClassVar[bool] = True

    # ------------------------------------------------------------------ identity
    @abstractmethod
    def parse(self, value: Any) -> Any:
        """The architecture object for ``value`` (an architecture, a string, a key, ...).

        Raises :class:`~nasbench_tools.errors.InvalidArchError` naming the value.
        """

    @abstractmethod
    def key(self, arch: Any) -> int | str:
        """The benchmark key of ``arch`` (anything :meth:`parse` accepts)."""

    @abstractmethod
    def arch(self, key: int | str) -> Any:
        """The architecture object of a key."""

    def to_string(self, arch: Any) -> str:
        """Canonical text of an architecture (the benchmark's own notation)."""
        return str(self.parse(arch))

    def describe(self, arch: Any) -> str:
        """Short text naming an architecture in error messages."""
        return f"{self.title} architecture {self.to_string(arch)}"

    # ------------------------------------------------------------------ keys
    def strings(self, keys: Iterable) -> list[str]:
        """Canonical text of many keys (spaces with a fast table override this)."""
        return [self.to_string(self.arch(k)) for k in keys]

    def is_key(self, value: Any) -> bool:
        """Whether ``value`` is already a key (no parsing needed)."""
        if self.key_kind == "index":
            return (
                isinstance(value, int | np.integer)
                and not isinstance(value, bool)
                and 0 <= int(value) < (self.size or 0)
            )
        return isinstance(value, str) and len(value) == 32 and _is_hex(value)

    def as_key(self, value: Any) -> int | str:
        """``value`` if it is a key, else :meth:`key` of it."""
        if self.is_key(value):
            return int(value) if self.key_kind == "index" else value
        return self.key(value)

    def key_array(self, keys: Iterable) -> np.ndarray:
        """Keys as the axis holds them: int64 for indices, an object array of str for hashes."""
        if self.key_kind == "index":
            return np.asarray(list(keys) if not isinstance(keys, np.ndarray) else keys, np.int64)
        return np.asarray([str(k) for k in keys], dtype=object)

    def store_keys(self, keys: np.ndarray) -> np.ndarray:
        """Keys in their store form: int64, or ``S32`` bytes for hashes."""
        if self.key_kind == "index":
            return np.asarray(keys, dtype=np.int64)
        return np.asarray([str(k).encode() for k in keys], dtype="S32")

    def key_columns(self) -> tuple[str, ...]:
        """Every column name a score table may be keyed by."""
        return (self.key_column, *self.alt_key_columns)

    def key_from_column(self, column: str, value: Any) -> int | str:
        """The key of a score-table cell in key column ``column``."""
        if column == self.key_column:
            text = str(value).strip()
            if self.key_kind == "index":
                try:
                    return self.as_key(int(text))
                except ValueError:
                    raise InvalidArchError(
                        f"{self.name} key column {column!r}: {value!r} is not an integer index"
                    ) from None
            if not self.is_key(text):
                raise InvalidArchError(
                    f"{self.name} key column {column!r}: {value!r} is not a 32-hex-digit hash"
                )
            return text
        if column in self.alt_key_columns:
            return self.key(value)
        raise NasbenchToolsError(
            f"{self.name} tables are keyed by {', '.join(self.key_columns())}, not {column!r}"
        )

    # ------------------------------------------------------------------ isomorphism, enumeration
    def class_ids(self, keys: np.ndarray) -> np.ndarray | None:
        """Isomorphism-class id of every key, or ``None`` where each key is its own class."""
        return None

    @property
    def class_kind(self) -> str:
        """What :meth:`class_ids` groups by, in words."""
        return "every architecture is its own class"

    def all_keys(self) -> np.ndarray | None:
        """Every key of the space in benchmark order, or ``None`` if not enumerable."""
        if self.key_kind == "index" and self.size is not None:
            return np.arange(self.size, dtype=np.int64)
        return None

    # ------------------------------------------------------------------ operators
    def operators(self) -> tuple[tuple[str, str], ...] | None:
        """Every ``(edge, op)`` pair of the space's cell, edges written ``"src->dst"``, for
        operator-level scores (a differentiable supernet's weights, a per-op proxy); ``None``
        where the space has no edge/op choices."""
        return None

    # ------------------------------------------------------------------ torch side
    def network_options(
        self, *, C: int, N: int, num_classes: int, in_channels: int, image_size: int
    ) -> dict:
        """The builder's options for a network ``C`` wide (first stage) and ``N`` cells per
        stage deep on ``in_channels x image_size x image_size`` images (what a build protocol
        declares). The NB201 skeleton's own names by default."""
        return {
            "C": C, "N": N, "num_classes": num_classes, "in_channels": in_channels,
            "image_size": image_size,
        }  # fmt: skip

    def build_network(self, arch: Any, **options: Any) -> Any:
        """The stand-alone torch network of ``arch`` (imports torch)."""
        if self.network is None:
            raise NasbenchToolsError(f"space {self.name!r} has no network builder")
        mod, _, fn = self.network.partition(":")
        return getattr(importlib.import_module(mod), fn)(self.parse(arch), **options)

    def __repr__(self) -> str:
        return f"<Space {self.name}: {self.title}>"

    def __reduce__(self):  # pickles (multiprocessing) as the registered instance
        return (get_space, (self.name,))


def _is_hex(s: str) -> bool:
    return all(c in "0123456789abcdef" for c in s)


def register_space(space: Space) -> Space:
    """Register a :class:`Space` instance under its ``name``."""
    return SPACES.register(space.name, space)


def get_space(space: str | Space) -> Space:
    """The registered space ``space`` (a name, or a Space, returned as is)."""
    if isinstance(space, Space):
        return space
    return SPACES.get(space)


def list_spaces() -> list[str]:
    return SPACES.names()


def space_of(archs: Sequence, space: str | Space | None = None) -> tuple[Space, list]:
    """The one space of ``archs`` and the items parsed into its architecture objects.

    With ``space`` given, every item is parsed by that space. Without it, objects of one
    space's architecture type are that space's; raw values (strings, indices) must parse in
    exactly one registered space, else the call is ambiguous and asks for ``space=`` (an index
    such as 5 exists in NB201 and in NATS-sss alike). Raises
    :class:`~nasbench_tools.errors.InvalidArchError` for an empty, mixed or unparsable sequence.
    """
    items = list(archs)
    if not items:
        raise InvalidArchError("expected at least one architecture")
    if space is not None:
        sp = get_space(space)
        return sp, [sp.parse(a) for a in items]
    for sp in SPACES.values():
        if all(isinstance(a, sp.arch_type) for a in items):
            return sp, items
    if any(any(isinstance(a, sp.arch_type) for sp in SPACES.values()) for a in items):
        kinds = sorted({type(a).__name__ for a in items})
        raise InvalidArchError(
            f"got architectures of several kinds ({', '.join(kinds)}); use one space at a time"
        )
    fits = []
    for sp in SPACES.values():
        try:
            fits.append((sp, [sp.parse(a) for a in items]))
        except NasbenchToolsError:
            continue
    if len(fits) == 1:
        return fits[0]
    if not fits:
        raise InvalidArchError(
            f"{_short(items)} are not architectures of any registered space "
            f"({', '.join(list_spaces())})"
        )
    raise InvalidArchError(
        f"{_short(items)} parse in several spaces ({', '.join(sp.name for sp, _ in fits)}); "
        "pass space="
    )


def _short(items: list) -> str:
    text = repr(items)
    return text if len(text) <= 60 else text[:57] + "..."
