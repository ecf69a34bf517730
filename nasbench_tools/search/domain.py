"""The architectures a search may propose: a :class:`Domain` over the rows of a ground truth.

A search on a tabular benchmark can only evaluate architectures the table holds, so every strategy
proposes *rows* of a :class:`Domain`: the pool of keys where the oracle has a search signal, a
report metric and a cost. Nothing outside the pool can be proposed, so no strategy can propose an
invalid or out-of-space architecture.

Every architecture is described by the space's ``categorical`` encoding
(:mod:`nasbench_tools.spaces.encodings`): one categorical variable per choice (NB201: the op of
each of the 6 edges; NATS-sss: the width of each of the 5 layers; NB101: the 21 adjacency bits of
the pruned cell padded to 7 vertices and the op of each of the 5 interior vertices, -1 for
padding). Each variable's *levels* are the values it takes in the pool.

Product pools
    Where the pool is every combination of the levels (NB201 and NATS-sss with their full
    tables), it is a *product*: a one-variable change of a pool member is again a pool member,
    a row is found from its code by mixed-radix arithmetic, and the operators are exact:
    :meth:`Domain.mutate` changes one uniformly chosen variable to a uniformly chosen other level
    (AutoDL's ``mutate_arch``: one edge to a different op), :meth:`Domain.neighbours` lists every
    one-variable change (NASLib's ``get_nbhd``).
Other pools
    (a sample such as the embedded 30 NB101 cells, a partial built benchmark): the neighbours of
    a row are the pool members at the smallest positive Hamming distance between codes (one
    variable where such members exist), and :meth:`Domain.mutate` draws one of them uniformly.

Samplers (:data:`SAMPLERS`, registered per space or for all) say where random architectures come
from: ``uniform`` (each pool row equally likely), ``classes`` (each isomorphism class of
:meth:`~nasbench_tools.spaces.Space.class_ids` equally likely, represented by its member with the
smallest key), ``naslib`` (NB201: uniform over the cells NASLib's ``sample_random_architecture``
accepts; it rejects the cells whose three input edges, or whose three output edges, are all
``none``).

numpy only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..registry import Registry
from ..spaces import get_space
from ..spaces.encodings import encode, encoding_columns
from ._common import SearchError, check_int

__all__ = ["SAMPLERS", "Domain", "Sampler", "get_sampler", "register_sampler"]


@dataclass(frozen=True)
class Sampler:
    """A registered way to draw random architectures.

    ``allowed(domain) -> (rows, description)``: the pool rows it draws from uniformly and one line
    saying so. ``space`` is the space it applies to, or ``""`` for every space.
    """

    name: str
    space: str
    allowed: Callable[[Domain], tuple[np.ndarray, str]]


#: Samplers by name (``uniform``, ``classes``, ``naslib``).
SAMPLERS: Registry[Sampler] = Registry("random-architecture sampler", error=SearchError)


def register_sampler(name: str, space: str = ""):
    """Decorator registering ``allowed(domain)`` as sampler ``name`` (for ``space`` only if given)."""

    def deco(fn):
        SAMPLERS.register(name, Sampler(name, space, fn))
        return fn

    return deco


def get_sampler(name: str, domain: Domain) -> Sampler:
    """The sampler ``name``, checked to apply to ``domain``'s space."""
    s = SAMPLERS.get(name)
    if s.space and s.space != domain.space.name:
        raise SearchError(
            f"sampler {name!r} applies to space {s.space!r} only, not {domain.space.name!r}"
        )
    return s


class Domain:
    """The pool of architectures a search proposes from, with their categorical codes.

    Parameters
    ----------
    space : str
        A registered space.
    keys : array-like
        The pool's keys (benchmark indices, or module hashes), in the order rows are numbered.
    archs : sequence, optional
        The architecture objects of ``keys`` (needed for spaces whose keys do not name an
        architecture by themselves, such as NB101's module hashes; a ground truth's
        ``archs[...]`` gives them).

    Attributes
    ----------
    space : Space
    keys : ndarray (read-only)
    codes : ndarray of int, shape (n, d)
        Level index of every variable (0..levels-1), read-only.
    levels : tuple of ndarray
        The encoding values each variable takes in the pool.
    variables : tuple of str
        The variables' names (the ``categorical`` encoding's columns).
    is_product : bool
        Whether the pool is every combination of the levels.
    """

    def __init__(self, space, keys, archs=None):
        self.space = get_space(space)
        keys = self.space.key_array(keys)
        if len(keys) == 0:
            raise SearchError(
                f"a {self.space.title} search needs a non-empty pool of architectures"
            )
        if archs is None:
            archs = [self.space.arch(k) for k in keys]
        self._archs = list(archs)
        self._encoded: dict[str, np.ndarray] = {}
        raw = np.asarray(encode(self._archs, "categorical", space=self.space.name), dtype=np.int64)
        self.keys = _readonly(keys)
        self.variables = tuple(encoding_columns("categorical", self.space.name))
        self.levels = tuple(np.unique(raw[:, j]) for j in range(raw.shape[1]))
        codes = np.empty_like(raw)
        for j, lv in enumerate(self.levels):
            codes[:, j] = np.searchsorted(lv, raw[:, j])
        self.codes = _readonly(codes)
        self.cards = np.array([len(lv) for lv in self.levels], dtype=np.int64)
        # mixed radix: the last variable varies fastest
        self._radix = np.concatenate([np.cumprod(self.cards[::-1])[::-1][1:], [1]]).astype(np.int64)
        flat = codes @ self._radix
        total = int(np.prod(self.cards.astype(float)))
        self.is_product = total == len(keys) and len(np.unique(flat)) == len(keys)
        if self.is_product:
            self._row_of = np.full(total, -1, dtype=np.int64)
            self._row_of[flat] = np.arange(len(keys))
        else:
            self._row_of = None
            self._by_code = {c.tobytes(): i for i, c in enumerate(codes)}
        self._class_ids = None
        self._key_row = None

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        kind = "product" if self.is_product else "sample"
        return f"<Domain {self.space.name}: {len(self)} archs, {len(self.variables)} variables, {kind}>"

    @property
    def n_variables(self) -> int:
        return len(self.variables)

    def row_of_key(self, key) -> int:
        """The row of a key (raises :class:`SearchError` for a key outside the pool)."""
        if self._key_row is None:
            self._key_row = {k: i for i, k in enumerate(self.keys.tolist())}
        k = int(key) if self.space.key_kind == "index" else str(key)
        try:
            return self._key_row[k]
        except KeyError:
            raise SearchError(
                f"architecture {k} is not in this search's pool of {len(self)} architectures"
            ) from None

    def class_ids(self) -> np.ndarray:
        """Isomorphism-class id of every row (each row its own class where the space says so)."""
        if self._class_ids is None:
            ids = self.space.class_ids(self.keys)
            self._class_ids = _readonly(
                np.arange(len(self)) if ids is None else np.asarray(ids, dtype=np.int64)
            )
        return self._class_ids

    def encode(self, kind: str = "onehot") -> np.ndarray:
        """Every row's encoding ``kind`` (:mod:`nasbench_tools.spaces.encodings`), as float64,
        read-only and cached."""
        if kind not in self._encoded:
            x = np.asarray(encode(self._archs, kind, space=self.space.name), dtype=np.float64)
            self._encoded[kind] = _readonly(x)
        return self._encoded[kind]

    def row_of_codes(self, codes: np.ndarray) -> int:
        """The row with these level codes, or -1 if the pool has none."""
        if self._row_of is not None:
            return int(self._row_of[int(np.asarray(codes) @ self._radix)])
        return self._by_code.get(np.asarray(codes, dtype=np.int64).tobytes(), -1)

    # ------------------------------------------------------------------ operators
    def mutate(self, row: int, rng: np.random.Generator) -> int:
        """A random one-edit mutant of ``row`` (see the module text); ``row`` itself if the pool
        has no other member."""
        if self._row_of is not None:
            movable = np.flatnonzero(self.cards > 1)
            if movable.size == 0:
                return int(row)
            j = int(movable[rng.integers(movable.size)])
            cur = int(self.codes[row, j])
            new = int(rng.integers(self.cards[j] - 1))
            new += new >= cur
            return int(self._row_of[self._flat(row) + (new - cur) * self._radix[j]])
        nb = self.neighbours(row)
        return int(row) if nb.size == 0 else int(nb[rng.integers(nb.size)])

    def neighbours(self, row: int) -> np.ndarray:
        """Rows one edit away from ``row`` (product pools: every one-variable change, in variable
        then level order; other pools: the nearest members by Hamming distance)."""
        row = int(row)
        if self._row_of is not None:
            base = self._flat(row)
            out = []
            for j in range(self.n_variables):
                cur = int(self.codes[row, j])
                others = np.delete(np.arange(self.cards[j]), cur)
                out.append(base + (others - cur) * self._radix[j])
            return self._row_of[np.concatenate(out)] if out else np.zeros(0, np.int64)
        code = self.codes[row]
        found = []
        for j in range(self.n_variables):
            for v in range(self.cards[j]):
                if v != code[j]:
                    c = code.copy()
                    c[j] = v
                    r = self._by_code.get(c.tobytes(), -1)
                    if r >= 0:
                        found.append(r)
        if found:
            return np.array(found, dtype=np.int64)
        dist = (self.codes != code).sum(axis=1)
        dist[row] = 0
        positive = dist[dist > 0]
        if positive.size == 0:
            return np.zeros(0, np.int64)
        return np.flatnonzero(dist == positive.min())

    def _flat(self, row: int) -> int:
        return int(self.codes[row] @ self._radix)

    # ------------------------------------------------------------------ random architectures
    def sampler_rows(self, sampler: str) -> tuple[np.ndarray, str]:
        """The rows sampler ``sampler`` draws from uniformly, and what that means in words."""
        rows, text = get_sampler(sampler, self).allowed(self)
        if len(rows) == 0:
            raise SearchError(f"sampler {sampler!r} allows no architecture of this pool")
        return rows, text


# --------------------------------------------------------------------------- samplers
@register_sampler("uniform")
def _uniform(domain: Domain) -> tuple[np.ndarray, str]:
    n = len(domain)
    of = domain.space.size
    where = f"all {n:,} architectures" if of == n else f"the {n:,} architectures of the pool"
    return np.arange(n), f"uniform over {where} (with replacement)"


@register_sampler("classes")
def _classes(domain: Domain) -> tuple[np.ndarray, str]:
    ids = domain.class_ids()
    order = np.lexsort((domain.keys, ids)) if domain.space.key_kind == "index" else np.argsort(ids)
    _, first = np.unique(ids[order], return_index=True)
    rows = np.sort(order[first])
    return rows, (
        f"uniform over the {len(rows):,} isomorphism classes of the pool "
        f"({domain.space.class_kind}), each represented by its member with the smallest key"
    )


@register_sampler("naslib", "nb201")
def _naslib_nb201(domain: Domain) -> tuple[np.ndarray, str]:
    names = domain.variables  # "src->dst" per edge
    none = {j: np.flatnonzero(domain.levels[j] == 0) for j in range(len(names))}  # op 0 = none

    def all_none(edges):
        cols = [names.index(e) for e in edges]
        ok = np.ones(len(domain), dtype=bool)
        for j in cols:
            if none[j].size == 0:
                return np.zeros(len(domain), dtype=bool)
            ok &= domain.codes[:, j] == none[j][0]
        return ok

    bad = all_none(("0->1", "0->2", "0->3")) | all_none(("0->3", "1->3", "2->3"))
    rows = np.flatnonzero(~bad)
    return rows, (
        f"uniform over the {len(rows):,} cells NASLib's sampler accepts (it rejects the "
        f"{int(bad.sum()):,} cells whose input edges or whose output edges are all 'none')"
    )


def draw_rows(rows: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` rows drawn uniformly with replacement from ``rows``."""
    n = check_int(n, "n", low=0)
    return rows[rng.integers(len(rows), size=n)]


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.setflags(write=False)
    return v
