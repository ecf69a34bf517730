"""One registry shape for every family of alternatives (spaces, readers, encodings, samplers, ...).

Modelled on timm's ``_registry``: a :class:`Registry` maps names to entries, refuses a second entry
under a name it already holds, answers an unknown name with an error that lists what it knows, and
lists its names sorted. Where the entries live in modules of one package (the ground-truth readers,
say), the registry can *discover* them: on first use it imports every module of that package, and
each module registers its entries as it is imported, so adding a reader means adding a file, never
editing a list.

Every registry of the package is built here, from this one class, so tests can be parametrised
over all of them (:func:`all_registries`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from .errors import NasbenchToolsError

__all__ = ["Registry", "all_registries", "get_registry"]

T = TypeVar("T")

_ALL: dict[str, Registry] = {}


class Registry(Generic[T]):
    """Names -> entries, with a duplicate check and a "known: ..." error.

    Parameters
    ----------
    kind : str
        What the entries are, for messages (``"search space"``, ``"reader"``).
    error : type of Exception
        Raised for an unknown name (a :class:`~nasbench_tools.errors.NasbenchToolsError`
        subclass, so the CLI reports it as a user error).
    discover : str, optional
        Dotted name of a package whose modules register entries when imported; they are imported
        on the first lookup. Modules whose name starts with ``_`` are skipped.
    modules : tuple of str, optional
        Dotted names of modules to import on the first lookup (for entries that live in modules
        scattered over the package, e.g. one space per ``spaces`` module).
    """

    def __init__(
        self,
        kind: str,
        *,
        error: type[Exception] = NasbenchToolsError,
        discover: str | None = None,
        modules: tuple[str, ...] = (),
    ):
        if kind in _ALL:
            raise NasbenchToolsError(f"a registry of {kind!r} already exists")
        self.kind = kind
        self.error = error
        self._discover = discover
        self._modules = modules
        self._loaded = not (discover or modules)
        self._entries: dict[str, T] = {}
        _ALL[kind] = self

    # ------------------------------------------------------------------ registration
    def register(self, name: str, entry: T | None = None) -> Any:
        """Register ``entry`` under ``name``; without ``entry``, a decorator that does so.

        A name registered twice raises :class:`~nasbench_tools.errors.NasbenchToolsError`.
        """
        if not isinstance(name, str) or not name:
            raise NasbenchToolsError(f"{self.kind} names must be non-empty strings, got {name!r}")

        def add(obj: T) -> T:
            if name in self._entries:
                raise NasbenchToolsError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        if entry is None:
            return add
        return add(entry)

    # ------------------------------------------------------------------ lookup
    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # before importing: the modules call register()
        names = list(self._modules)
        if self._discover:
            pkg = importlib.import_module(self._discover)
            names += [
                f"{self._discover}.{info.name}"
                for info in pkgutil.iter_modules(pkg.__path__)
                if not info.name.startswith("_")
            ]
        for mod in names:
            importlib.import_module(mod)

    def get(self, name: str) -> T:
        """The entry registered as ``name``; an unknown name raises ``error`` listing the known."""
        self._load()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise self.error(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}"
            ) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._load()
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        self._load()
        return sorted(self._entries.items())

    def values(self) -> list[T]:
        return [v for _, v in self.items()]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"

    def filter(self, pred: Callable[[T], bool]) -> list[str]:
        """Names whose entry satisfies ``pred``."""
        return [k for k, v in self.items() if pred(v)]


def all_registries() -> dict[str, Registry]:
    """Every registry built so far, by kind (import the modules that build them first)."""
    return dict(_ALL)


def get_registry(kind: str) -> Registry:
    try:
        return _ALL[kind]
    except KeyError:
        raise NasbenchToolsError(
            f"no registry of {kind!r}; known: {', '.join(sorted(_ALL))}"
        ) from None
