"""Identity checks of NAS-Bench-101 ground truth: every key must be the module hash of its cell.

A NAS-Bench-101 file keys each cell by its module hash, and :mod:`~nasbench_tools.groundtruth.api`
finds a :class:`~nasbench_tools.spaces.nb101.ModelSpec` by that hash; a record whose key is not
the hash of its own cell would silently answer for another architecture. Recomputing a hash costs
about 0.2-0.3 ms (an MD5-based Weisfeiler-Lehman refinement in Python), about 100 s for the
423,624 cells of the full release against a conversion of 4-5 s, so by default a seeded sample
is checked:

* ``"sample"`` (default): :data:`HASH_SAMPLE` cells (all of them when there are fewer), drawn
  with ``numpy.random.default_rng(HASH_SAMPLE_SEED)``; the same cells of the same file every time.
  This catches a damaged or mislabelled file; a file crafted to pass it can only be caught by
* ``"all"``: every cell (``nbt convert --verify-hashes``);
* ``"none"``: no check (what was done is recorded either way).

:func:`~nasbench_tools.groundtruth.formats.read_any` runs the check on every NB101 reader's
output and records it in the provenance (``meta["hash_check"]``: mode, cells checked, of how
many, seed).
"""

from __future__ import annotations

import numpy as np

from ..errors import CorruptFileError, NasbenchToolsError
from ..spaces import get_space
from .columns import ColumnSet

__all__ = ["HASH_MODES", "HASH_SAMPLE", "HASH_SAMPLE_SEED", "verify_module_hashes"]

#: Cells whose hash the default check recomputes.
HASH_SAMPLE = 1000
#: Seed of the default sample (fixed, so a conversion is reproducible; recorded in provenance).
HASH_SAMPLE_SEED = 0
HASH_MODES = ("sample", "all", "none")


def hash_mode(verify_hashes) -> str:
    """``"sample"``, ``"all"`` or ``"none"`` (``True`` means ``"all"``, ``False`` ``"none"``)."""
    if verify_hashes is True:
        return "all"
    if verify_hashes is False:
        return "none"
    if isinstance(verify_hashes, str) and verify_hashes in HASH_MODES:
        return verify_hashes
    raise NasbenchToolsError(
        f"verify_hashes must be one of {list(HASH_MODES)} (or True/False), got {verify_hashes!r}"
    )


def sample_rows(n: int, mode: str) -> np.ndarray:
    """The rows (sorted) a check in ``mode`` recomputes, out of ``n`` cells."""
    if mode == "none":
        return np.zeros(0, dtype=np.int64)
    if mode == "all" or n <= HASH_SAMPLE:
        return np.arange(n)
    rng = np.random.default_rng(HASH_SAMPLE_SEED)
    return np.sort(rng.choice(n, size=HASH_SAMPLE, replace=False))


def verify_module_hashes(
    cs: ColumnSet, source: str, verify_hashes="sample", *, progress: bool = False
) -> dict:
    """Check that each NB101 key of ``cs`` is the module hash of its cell; returns what was done.

    Raises :class:`CorruptFileError` naming ``source``, the key and the hash its cell has. A
    ColumnSet of another space, or without cell specs, is left alone (``checked: 0``).
    """
    from ..spaces.nb101 import OPS, module_hash

    mode = hash_mode(verify_hashes)
    n = len(cs)
    info: dict = {"mode": mode, "checked": 0, "of": n}
    if mode == "sample":
        info |= {"sample": HASH_SAMPLE, "seed": HASH_SAMPLE_SEED}
    if get_space(cs.space).key_kind != "hash" or cs.specs is None:
        if get_space(cs.space).key_kind == "hash":
            info["note"] = "no cell specs in the source: nothing to recompute"
        return info
    rows = sample_rows(n, mode)
    specs, keys = cs.specs, cs.keys
    names = {-1: "input", -2: "output"} | dict(enumerate(OPS))
    bar = None
    if progress and len(rows) > 10 * HASH_SAMPLE:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(rows), unit="cell", desc="verifying module hashes", leave=False)
    try:
        for at, r in enumerate(rows.tolist()):
            v = int(specs.num_vertices[r])
            labels = [int(x) for x in specs.labels[r, :v]]
            matrix = specs.matrices[r, :v, :v]
            computed = module_hash(matrix, labels)
            if computed != keys[r]:
                adjacency = "".join(str(int(x)) for x in matrix.ravel())
                ops = ",".join(names.get(x, str(x)) for x in labels)
                raise CorruptFileError(
                    f"{source}: module {keys[r]} holds a cell whose module hash is {computed} "
                    f"(raw_adjacency {adjacency!r}, raw_operations {ops!r}); a NAS-Bench-101 key "
                    "must be the hash of its own cell, so the file is damaged or mislabelled"
                )
            if bar is not None and at % 1000 == 999:
                bar.update(1000)
    finally:
        if bar is not None:
            bar.close()
    info["checked"] = len(rows)
    return info
