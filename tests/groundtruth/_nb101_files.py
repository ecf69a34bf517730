"""Synthetic NAS-Bench-101 TFRecord files for tests, built from a real record of the fixture."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import crc32c
import numpy as np

REAL30 = (
    Path(__file__).resolve().parents[1] / "fixtures" / "nb101" / "nb101_real30_only108.tfrecord"
)


def masked_crc(data) -> int:
    c = crc32c.crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def big_tfrecord(path: Path, min_bytes: int) -> int:
    """Write at least ``min_bytes`` of valid TFRecord framing: record 0 of the real fixture
    repeated, three records per module, each module keyed by md5 of its number (so the keys are
    distinct, but not the hash of the cell). Returns the number of records."""
    data = REAL30.read_bytes()
    (length,) = struct.unpack_from("<Q", data, 0)
    payload = np.frombuffer(data[12 : 12 + length], dtype=np.uint8)
    assert bytes(payload[:2]) == b'["'
    n = -(-min_bytes // (length + 16))
    n += -n % 3
    head = data[:12]
    rows = np.empty((n, length + 16), dtype=np.uint8)
    rows[:, :12] = np.frombuffer(head, dtype=np.uint8)
    rows[:, 12 : 12 + length] = payload
    keys = [hashlib.md5(str(m).encode()).hexdigest().encode() for m in range(n // 3)]
    rows[:, 14:46] = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 32).repeat(3, 0)
    crcs = np.array([masked_crc(r) for r in rows[:, 12 : 12 + length]], dtype="<u4")
    rows[:, 12 + length :] = crcs.view(np.uint8).reshape(n, 4)
    path.write_bytes(rows.tobytes())
    return n


def random_cells(n: int, seed: int):
    """``n`` valid, already pruned 7-vertex NB101 cells with distinct module hashes, seeded.

    Each is the chain input -> 1 -> ... -> 5 -> output (every vertex on a path, so nothing is
    pruned) plus up to 3 random extra edges, with random interior ops. Returns ``(hashes,
    SpecArray)`` sorted by hash; the hashes come from ``ModelSpec``, the reference.
    """
    from nasbench_tools.groundtruth.columns import SpecArray
    from nasbench_tools.spaces.nb101 import OPS, ModelSpec

    rng = np.random.default_rng(seed)
    extra = [(i, j) for i in range(7) for j in range(i + 2, 7)]
    found = {}
    while len(found) < n:
        m = np.eye(7, k=1, dtype=np.int8)
        for k in rng.permutation(len(extra))[: rng.integers(0, 4)]:
            m[extra[k]] = 1
        ops = ["input", *(OPS[i] for i in rng.integers(0, 3, 5)), "output"]
        spec = ModelSpec(m, ops)
        found.setdefault(spec.hash, spec)
    hashes = sorted(found)
    return hashes, SpecArray.from_specs([found[h] for h in hashes])
