"""Named sets of architectures: sub-spaces a paper studies, selectable by name wherever a command
takes architectures (``nbt build-bench --archs mixpath-nb101``).

An :class:`ArchSet` belongs to one space and lists that space's architecture objects, so it also
serves spaces whose keys do not determine the architecture (an NB101 module hash names a cell
only together with its spec).

Sets:

* ``mixpath-nb101``: the distinct NB101 cells of MixPath's NAS-Bench-101 sub-space with 4
  candidate nodes (Chu et al.; method spec 2.2): every non-empty choice of ops
  (conv1x1, conv3x3, maxpool3x3) for the nodes gives the cell
  ``input -> active nodes -> conv1x1 fusion -> output``, and the 255 choices collapse to 34
  graphs (their module hashes), since the nodes are interchangeable.
* ``mixpath-nb101-m3``: the same with 3 nodes, 19 graphs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidArchError
from ..registry import Registry
from .nb101 import CONV1X1, CONV3X3, INPUT, MAXPOOL3X3, OUTPUT, ModelSpec

__all__ = [
    "ARCH_SETS",
    "MIXPATH_ALTERNATIVES",
    "ArchSet",
    "get_arch_set",
    "list_arch_sets",
    "mixpath_spec",
    "mixpath_specs",
    "register_arch_set",
]

#: The ops of a MixPath candidate node, in MixPath's order.
MIXPATH_ALTERNATIVES: tuple[str, ...] = (CONV1X1, CONV3X3, MAXPOOL3X3)


def mixpath_spec(node_ops: Sequence[str | None]) -> ModelSpec:
    """The NB101 cell of one MixPath choice: ``node_ops[i]`` is node ``i``'s op (one of
    :data:`MIXPATH_ALTERNATIVES`) or ``None`` where the node is off.

    Vertices: input, the nodes, the 1x1 fusion, output; edges input -> active node -> fusion ->
    output (inactive nodes are pruned by :class:`ModelSpec`).
    """
    node_ops = list(node_ops)
    if not any(op is not None for op in node_ops):
        raise InvalidArchError("a MixPath choice needs at least one active node")
    bad = [op for op in node_ops if op is not None and op not in MIXPATH_ALTERNATIVES]
    if bad:
        raise InvalidArchError(
            f"MixPath node ops are {list(MIXPATH_ALTERNATIVES)} or None, got {bad[0]!r}"
        )
    n = len(node_ops) + 3
    matrix = np.zeros((n, n), dtype=np.int8)
    ops = [INPUT] + [op or CONV1X1 for op in node_ops] + [CONV1X1, OUTPUT]
    fusion = n - 2
    for i, op in enumerate(node_ops, 1):
        if op is not None:
            matrix[0, i] = matrix[i, fusion] = 1
    matrix[fusion, n - 1] = 1
    return ModelSpec(matrix, ops)


def mixpath_specs(num_nodes: int = 4) -> list[ModelSpec]:
    """One spec per distinct NB101 graph of the MixPath sub-space with ``num_nodes`` nodes,
    sorted by module hash (34 for 4 nodes, 19 for 3)."""
    choices = itertools.product((None, *MIXPATH_ALTERNATIVES), repeat=num_nodes)
    by_hash = {}
    for choice in choices:
        if any(op is not None for op in choice):
            spec = mixpath_spec(choice)
            by_hash.setdefault(spec.hash, spec)
    return [by_hash[h] for h in sorted(by_hash)]


@dataclass(frozen=True)
class ArchSet:
    """A named list of one space's architectures (``make()`` returns the objects)."""

    name: str
    space: str
    description: str
    make: Callable[[], list]

    def archs(self) -> list:
        return list(self.make())


#: name -> ArchSet; an unknown name raises listing the known ones.
ARCH_SETS: Registry[ArchSet] = Registry("architecture set", error=InvalidArchError)


def register_arch_set(arch_set: ArchSet) -> ArchSet:
    return ARCH_SETS.register(arch_set.name, arch_set)


def get_arch_set(name: str) -> ArchSet:
    return ARCH_SETS.get(name)


def list_arch_sets() -> list[str]:
    return ARCH_SETS.names()


register_arch_set(
    ArchSet(
        "mixpath-nb101", "nb101",
        "the 34 distinct NB101 graphs of MixPath's 4-node sub-space", lambda: mixpath_specs(4),
    )
)  # fmt: skip
register_arch_set(
    ArchSet(
        "mixpath-nb101-m3", "nb101",
        "the 19 distinct NB101 graphs of MixPath's 3-node sub-space", lambda: mixpath_specs(3),
    )
)  # fmt: skip
