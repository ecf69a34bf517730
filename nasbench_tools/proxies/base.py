"""The proxy registry: every score a network can be given before (or instead of) training it.

A proxy is one registered :class:`Proxy` (``PROXIES.get("synflow")``). It declares what it
needs (``"nothing"``: a network at initialisation; ``"data"``: that and a batch of the user's
images; ``"supernet"``: a ``nbt train-supernet`` run folder), whether it is deterministic given
a seed, whether its stored value is the negation of its natural one, its unit and its *group*.

The compute contract
--------------------
``proxy.compute(request) -> dict[str, np.ndarray]``. The function receives a
:class:`ScoreRequest` naming the architectures (``request.keys``, keys of ``request.space``) and
the proxies wanted from it (``request.names``, all of the same ``group``), and returns one
float64 array per name, aligned with ``request.keys``, holding each proxy's **natural** value
(the one the paper defines, before any negation). :func:`compute_scores` (and everything above
it: ``nbt score``) applies ``negated``, so a stored score is always higher-is-better, and checks
the shape; a function never negates itself.

Groups are the fusion unit: every proxy of one group is served by the same function, which
computes all of ``request.names`` in one pass where the definitions allow (one forward/backward
for the gradient proxies; one checkpoint pair for the angle). Asking for the names one at a time
must give the same numbers as asking for them together; the tests check that for every group.
A proxy that shares nothing has a group of its own name.

``chunk`` says how many keys a function should be handed at once: ``1`` for proxies that build
one network per architecture (the scorer journals every architecture, so a killed run loses at
most one), ``0`` for proxies that score a whole space at once (the angle from two checkpoints).

``defaults`` are the proxy's settings (batch size, ...); ``request.options`` overrides them and
the scorer records the settings it used in the table's metadata. :func:`settings` merges them.

Non-finite values are returned as they are (NaN, inf): the scorer counts and reports them by
proxy name and keeps them in the table (NaN = not scored), never drops a row silently.

This module imports numpy only; proxies that need torch import it inside their functions'
modules, which the registry imports on first lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import NasbenchToolsError
from ..registry import Registry

__all__ = [
    "NEEDS",
    "NETWORK_OPTIONS",
    "PROXIES",
    "Proxy",
    "ProxyError",
    "ScoreRequest",
    "compute_scores",
    "get_proxy",
    "groups_of",
    "list_proxies",
    "register_proxy",
    "resolved_settings",
    "settings",
]

#: What a proxy may need beyond the architecture.
NEEDS = ("nothing", "data", "supernet")

#: Options passed to the network builder, accepted by every network-building proxy.
NETWORK_OPTIONS = frozenset(
    {"C", "N", "num_classes", "in_channels", "stem_channels", "num_stacks", "cells_per_stack"}
)


class ProxyError(NasbenchToolsError, ValueError):
    """A proxy was asked for something it cannot do: unknown option, missing data or run folder,
    a result of the wrong shape."""


@dataclass
class ScoreRequest:
    """What a proxy function is asked to score.

    Attributes
    ----------
    space : Space
        The registered search space (``nasbench_tools.spaces.get_space("nb201")``).
    keys : np.ndarray
        Architecture keys of ``space`` to score, in the order of the returned arrays.
    names : tuple of str
        The proxies wanted, all of one group.
    data : ImageData or None
        The images for data-dependent proxies (``nasbench_tools.datasets.load``).
    run : Path or None
        A ``nbt train-supernet`` run folder for supernet proxies.
    seed : int
        Seeds everything random (initialisation, the batch drawn from ``data``).
    batch_size : int or None
        Overrides the proxies' default batch size.
    device : str
        A torch device name.
    options : dict
        Overrides of the proxies' ``defaults`` (and network options such as ``C``, ``N``).
    """

    space: Any
    keys: np.ndarray
    names: tuple[str, ...]
    data: Any = None
    run: Path | None = None
    seed: int = 0
    batch_size: int | None = None
    device: str = "cpu"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Proxy:
    """One registered proxy (see the module docstring for the compute contract).

    Attributes
    ----------
    name : str
        Registry name, also the score table's column name.
    needs : {"nothing", "data", "supernet"}
    deterministic : bool
        Same seed, same value (on the same device and torch version).
    negated : bool
        The stored score is minus the natural value (so that higher is better).
    unit : str
        Unit of the natural value (``"count"``, ``"MFLOPs"``, ``"log"``, ``"rad"``, ...).
    description : str
        One line: what it measures, after which paper.
    group : str
        Proxies of one group share one function and one pass.
    compute : callable
        ``compute(ScoreRequest) -> {name: float64 array aligned with request.keys}``.
    defaults : mapping
        The proxy's settings and their defaults (batch size, ...).
    chunk : int
        Keys per call: 1 (one network per architecture) or 0 (all keys at once).
    resolve : callable, optional
        ``resolve(ScoreRequest) -> dict``: the settings a request actually runs with (defaults,
        options and what the data implies), for the table's metadata; :func:`settings` if absent.
    """

    name: str
    needs: str
    deterministic: bool
    negated: bool
    unit: str
    description: str
    group: str
    compute: Callable[[ScoreRequest], dict[str, np.ndarray]]
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    chunk: int = 1
    resolve: Callable[[ScoreRequest], dict] | None = None

    def __post_init__(self):
        if self.needs not in NEEDS:
            raise NasbenchToolsError(
                f"proxy {self.name!r}: needs must be one of {list(NEEDS)}, got {self.needs!r}"
            )
        if not callable(self.compute):
            raise NasbenchToolsError(f"proxy {self.name!r}: compute must be callable")
        if not isinstance(self.chunk, int) or self.chunk < 0:
            raise NasbenchToolsError(f"proxy {self.name!r}: chunk must be an int >= 0")
        # a read-only copy: the registry hands this object out, nobody may edit its settings
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    def stored(self, natural: np.ndarray) -> np.ndarray:
        """The stored (higher-is-better) score of natural values."""
        v = np.asarray(natural, dtype=np.float64)
        return -v if self.negated else v.copy()


#: Every registered proxy, by name. The modules listed register theirs when first looked up.
PROXIES: Registry[Proxy] = Registry(
    "proxy",
    error=ProxyError,
    discover="nasbench_tools.proxies",
)


def register_proxy(
    name: str,
    *,
    needs: str,
    deterministic: bool,
    negated: bool = False,
    unit: str,
    description: str,
    group: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    chunk: int = 1,
    resolve: Callable[[ScoreRequest], dict] | None = None,
) -> Callable:
    """Decorator registering ``compute`` as proxy ``name`` (the function is returned unchanged).

    Stack several decorators on one group function to register each proxy it serves.
    """

    def deco(fn: Callable) -> Callable:
        PROXIES.register(
            name,
            Proxy(
                name=name,
                needs=needs,
                deterministic=deterministic,
                negated=negated,
                unit=unit,
                description=description,
                group=group or name,
                compute=fn,
                defaults=dict(defaults or {}),
                chunk=chunk,
                resolve=resolve,
            ),
        )
        return fn

    return deco


def get_proxy(name: str) -> Proxy:
    return PROXIES.get(name)


def list_proxies(needs: str | None = None) -> list[str]:
    """Registered proxy names (those needing ``needs`` only, if given)."""
    if needs is None:
        return PROXIES.names()
    return PROXIES.filter(lambda p: p.needs == needs)


def groups_of(names: list[str] | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """``names`` split by group, groups and names in first-seen order (one call per group)."""
    out: dict[str, list[str]] = {}
    for n in names:
        out.setdefault(get_proxy(n).group, []).append(n)
    return {g: tuple(v) for g, v in out.items()}


def settings(request: ScoreRequest) -> dict[str, Any]:
    """The settings of ``request.names``: their defaults overridden by ``request.options``.

    Options no proxy of the request declares are refused (a typo must not be ignored), except
    the network options every builder takes (``C``, ``N``, ``num_classes``, ...), listed in
    ``NETWORK_OPTIONS``.
    """
    merged: dict[str, Any] = {}
    for n in request.names:
        merged.update(get_proxy(n).defaults)
    unknown = sorted(set(request.options) - set(merged) - NETWORK_OPTIONS)
    if unknown:
        raise ProxyError(
            f"proxies {', '.join(request.names)} take no option {', '.join(unknown)}; "
            f"known: {', '.join(sorted(set(merged) | NETWORK_OPTIONS)) or 'none'}"
        )
    merged.update(request.options)
    if request.batch_size is not None:
        merged["batch_size"] = int(request.batch_size)
    return merged


def resolved_settings(request: ScoreRequest) -> dict[str, Any]:
    """The settings ``request`` runs with, as its group's ``resolve`` reports them."""
    p = get_proxy(request.names[0])
    return dict(p.resolve(request)) if p.resolve is not None else settings(request)


def compute_scores(request: ScoreRequest) -> dict[str, np.ndarray]:
    """Stored (higher-is-better) scores of ``request.names`` for ``request.keys``, one call per
    group, checked for shape. Non-finite values are kept."""
    out: dict[str, np.ndarray] = {}
    n = len(request.keys)
    for group, names in groups_of(request.names).items():
        proxies = [get_proxy(x) for x in names]
        _check_needs(proxies, request)
        sub = ScoreRequest(**{**request.__dict__, "names": names})
        got = proxies[0].compute(sub)
        for p in proxies:
            if p.name not in got:
                raise ProxyError(f"proxy group {group!r} returned no {p.name!r}")
            v = np.asarray(got[p.name], dtype=np.float64)
            if v.shape != (n,):
                raise ProxyError(f"proxy {p.name!r} returned shape {v.shape}, expected ({n},)")
            out[p.name] = p.stored(v)
    return out


def _check_needs(proxies: list[Proxy], request: ScoreRequest) -> None:
    for p in proxies:
        if p.needs == "data" and request.data is None:
            raise ProxyError(f"proxy {p.name!r} needs images: pass a dataset")
        if p.needs == "supernet" and request.run is None:
            raise ProxyError(
                f"proxy {p.name!r} needs a supernet: pass a `nbt train-supernet` run folder"
            )
