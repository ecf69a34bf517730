"""NAS-Bench-101 ``nasbench_only108.tfrecord`` / ``nasbench_full.tfrecord``, read without TensorFlow.

The file (Google's ``nasbench`` release) is a sequence of TFRecord records, with no file header.
Each record is ``uint64 length | uint32 masked_crc32c(length) | payload | uint32
masked_crc32c(payload)``, little-endian. CRC-32C is the Castagnoli CRC and
``masked = rotr(crc, 15) + 0xa282ead8``. The payload is a UTF-8 JSON array
``[module_hash, epochs, raw_adjacency, raw_operations, raw_metrics]``:

* ``module_hash``: the cell's 32-hex-digit module hash;
* ``epochs``: the training budget, 4, 12, 36 or 108 (``nasbench_only108`` holds only 108);
* ``raw_adjacency``: the already pruned V x V adjacency, row-major, as a string of '0'/'1';
* ``raw_operations``: the V comma-joined vertex labels;
* ``raw_metrics``: base64 of a serialized ``nasbench.ModelMetrics`` protobuf (proto2):
  ``evaluation_data`` (1, repeated ``EvaluationData``: step 0, halfway, final), ``trainable_parameters``
  (2, int32) and ``total_time`` (3, double). ``EvaluationData`` holds the doubles ``current_epoch`` (1),
  ``training_time`` (2, seconds), ``train_accuracy`` (3), ``validation_accuracy`` (4),
  ``test_accuracy`` (5, fractions in 0..1) and the string ``checkpoint_path`` (6).

Each (module, epochs) pair has three records, one per training repeat.

How it reads. The file is read in 32 MB blocks, so memory stays at about 400 MB for the 500 MB
file. A short Python loop walks the framing and computes each payload's CRC-32C in C (the
``crc32c`` package). The header CRCs are computed in numpy, and every stored CRC is compared in
numpy. Payloads in the release's layout are decoded in numpy, 16,384 records at a time. That
layout is ``json.dumps`` separators, the protobuf fields in field-number order, and the halfway
and final entries holding their five doubles. Any other payload goes through a plain reference
decoder: ``json``, ``binascii`` and a small protobuf wire-format decoder. That decoder either
decodes the payload or raises :class:`~nasbench_tools.errors.CorruptFileError`. Both decoders give
identical results (tested). On Linux, for files of 64 MB or more, a forked process reads the
second half of the file while this one reads the first. The halves start at a record found near
the middle, and the first half must end exactly there (else this process reads on alone). Nothing
in the file is executed.

Every error names the file, the record (0-based) and the byte offset where the record starts, and
says what was expected.
"""

from __future__ import annotations

import binascii
import json
import multiprocessing
import os
import struct
import sys
from pathlib import Path

import crc32c
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...errors import CorruptFileError
from ...spaces import nb101
from ..columns import Column, ColumnSet, Key, SpecArray
from . import register_reader

__all__ = ["EPOCHS", "FORMAT", "N_REPEATS", "read", "sniff"]

FORMAT = "nb101-tfrecord"
BENCHMARK = "NAS-Bench-101"
#: The training budgets a NAS-Bench-101 file can hold.
EPOCHS: tuple[int, ...] = (4, 12, 36, 108)
#: Training repeats per (cell, budget) in the release.
N_REPEATS = 3
#: The splits and their ``EvaluationData`` fields, in the order the reader stores them.
SPLITS = (("train", "train_accuracy"), ("valid", "validation_accuracy"), ("test", "test_accuracy"))
POINTS = (("halfway", 1), ("final", 2))

_BLOCK = 32 << 20  # bytes read at a time
_BATCH = 16384  # records decoded together in numpy
_W = 1024  # longest payload the numpy decoder takes (the release's are at most about 420 bytes)
_MASK_DELTA = 0xA282EAD8

# Per record, the reader keeps 9 numbers: (time, train, valid, test) at halfway, then at final, and
# the parameter count.
_NV = 9

# ----------------------------------------------------------------------------------- errors


class _Where:
    """Names a record for error messages: file, record number (0-based), byte offset."""

    __slots__ = ("offset", "path", "recno")

    def __init__(self, path: Path, recno: int, offset: int):
        self.path, self.recno, self.offset = path, recno, offset

    def __call__(self, problem: str) -> CorruptFileError:
        err = CorruptFileError(
            f"{self.path}: record {self.recno} (0-based) at byte offset {self.offset}: {problem}"
        )
        err.record = (self.recno, self.offset, problem)  # lets a worker's error be renumbered
        return err


_DECOMPRESS = "a NAS-Bench-101 file is an uncompressed TFRecord file: decompress it first"
_CONTAINERS = (
    (b"\x1f\x8b", "a gzip file", _DECOMPRESS),
    (b"PK\x03\x04", "a zip archive", _DECOMPRESS),
    (b"BZh", "a bzip2 file", _DECOMPRESS),
    (b"\xfd7zXZ\x00", "an xz file", _DECOMPRESS),
    (b"\x28\xb5\x2f\xfd", "a zstd file", _DECOMPRESS),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file", "is it a store already? open it with load(path=...)"),
    (b"\x80", "a Python pickle", "NASLib's nasbench_only108.pkl is format 'naslib-nb101-pickle'"),
)


def _container_hint(head: bytes) -> str:
    for magic, what, advice in _CONTAINERS:
        if head.startswith(magic):
            return f" (the file starts like {what}; {advice})"
    return ""


# ----------------------------------------------------------------------------------- CRC-32C


def _mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def _mask_np(crc: np.ndarray) -> np.ndarray:
    crc = crc.astype(np.uint32)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_MASK_DELTA)


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table[i] = c
    return table


_CRC_TABLE = _crc_table()


def _crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """CRC-32C of each row of a (n, k) uint8 array (k small: the 8-byte record headers)."""
    crc = np.full(rows.shape[0], 0xFFFFFFFF, dtype=np.uint32)
    for j in range(rows.shape[1]):
        crc = _CRC_TABLE[(crc ^ rows[:, j]) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    return crc ^ np.uint32(0xFFFFFFFF)


# ----------------------------------------------------------------------------------- cells
#
# A cell is kept as one integer: bits 0-2 the vertex count V, bits 3-23 the 21 entries above the
# diagonal of the zero-padded 7x7 adjacency (row-major over i < j), bits 24-33 the op index (0-2,
# in ``nb101.OPS``) of interior vertices 1..5.

_PAIRS = [(i, j) for i in range(7) for j in range(i + 1, 7)]
_PAIR_BIT = {p: k for k, p in enumerate(_PAIRS)}
_OP_INDEX = {op: i for i, op in enumerate(nb101.OPS)}


def _cell_code(v: int, upper_bits: int, interior: list[int]) -> int:
    code = v | (upper_bits << 3)
    for k, op in enumerate(interior):
        code |= op << (24 + 2 * k)
    return code


def _parse_ops(ops: str) -> tuple[int, list[int]] | str:
    """``(V, interior op indices)`` of a comma-joined op list, or the reason it is not valid."""
    names = ops.split(",")
    if not 2 <= len(names) <= nb101.MAX_VERTICES:
        return f"{len(names)} operations (a cell has 2 to {nb101.MAX_VERTICES} vertices)"
    if names[0] != nb101.INPUT or names[-1] != nb101.OUTPUT:
        return f"operations must start with {nb101.INPUT!r} and end with {nb101.OUTPUT!r}"
    interior = []
    for v, name in enumerate(names[1:-1], start=1):
        if name not in _OP_INDEX:
            return f"unknown operation {name!r} at vertex {v}; expected one of {list(nb101.OPS)}"
        interior.append(_OP_INDEX[name])
    return len(names), interior


def _decode_cells(codes: np.ndarray) -> SpecArray:
    """The :class:`SpecArray` of an array of cell codes."""
    codes = codes.astype(np.uint64)
    n = len(codes)
    nv = (codes & np.uint64(7)).astype(np.int8)
    mats = np.zeros((n, 7, 7), dtype=np.int8)
    for k, (i, j) in enumerate(_PAIRS):
        mats[:, i, j] = (codes >> np.uint64(3 + k)) & np.uint64(1)
    labels = np.full((n, 7), SpecArray.PAD, dtype=np.int8)
    rows = np.arange(n)
    labels[:, 0] = -1
    for k in range(5):
        op = ((codes >> np.uint64(24 + 2 * k)) & np.uint64(3)).astype(np.int8)
        inside = k + 1 < nv - 1
        labels[rows[inside], k + 1] = op[inside]
    labels[rows, nv.astype(np.int64) - 1] = -2
    return SpecArray(mats, labels, nv)


# ----------------------------------------------------------------------------------- reference decoder


def _varint(b: bytes, i: int, where: _Where) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(b):
            raise where("ModelMetrics protobuf is truncated inside a varint")
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if not c & 0x80:
            return result, i
        shift += 7
        if shift >= 70:
            raise where("ModelMetrics protobuf has a varint longer than 10 bytes")


def _fields(b: bytes, where: _Where, message: str):
    """``(field number, wire type, value)`` of each field of a serialized protobuf message."""
    i, n = 0, len(b)
    while i < n:
        key, i = _varint(b, i, where)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise where(f"{message} protobuf has a field number 0")
        if wire == 0:
            value, i = _varint(b, i, where)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if i + size > n:
                raise where(f"{message} protobuf is truncated inside field {number}")
            value, i = b[i : i + size], i + size
        elif wire == 2:
            size, i = _varint(b, i, where)
            if i + size > n:
                raise where(f"{message} protobuf is truncated inside field {number}")
            value, i = b[i : i + size], i + size
        else:
            raise where(
                f"{message} protobuf has field {number} with wire type {wire}; expected 0, 1, 2 or 5"
            )
        yield number, wire, value


_EVAL_FIELDS = {
    1: "current_epoch",
    2: "training_time",
    3: "train_accuracy",
    4: "validation_accuracy",
    5: "test_accuracy",
}
_NEEDED = ("training_time", "train_accuracy", "validation_accuracy", "test_accuracy")


def _decode_metrics(raw: bytes, where: _Where) -> list[float]:
    """The 9 numbers the reader keeps, from a serialized ``ModelMetrics``."""
    evals: list[bytes] = []
    params = None
    for number, wire, value in _fields(raw, where, "ModelMetrics"):
        expected = {1: 2, 2: 0, 3: 1}.get(number)
        if expected is None:
            continue  # an unknown field: skipped, as protobuf does
        if wire != expected:
            raise where(f"ModelMetrics field {number} has wire type {wire}; expected {expected}")
        if number == 1:
            evals.append(value)
        elif number == 2:
            params = value & 0xFFFFFFFF
            params -= (params >> 31) << 32  # int32
    if len(evals) != 3:
        raise where(
            f"ModelMetrics has {len(evals)} evaluation_data entries; expected 3 (step 0, halfway, final)"
        )
    if params is None:
        raise where("ModelMetrics lacks trainable_parameters")
    out: list[float] = []
    for point, idx in POINTS:
        got: dict[str, float] = {}
        for number, wire, value in _fields(evals[idx], where, "EvaluationData"):
            name = _EVAL_FIELDS.get(number)
            if name is None:
                if number == 6 and wire != 2:
                    raise where(f"EvaluationData field 6 has wire type {wire}; expected 2")
                continue
            if wire != 1:
                raise where(
                    f"EvaluationData field {number} ({name}) has wire type {wire}; expected 1"
                )
            got[name] = struct.unpack("<d", value)[0]
        for name in _NEEDED:
            if name not in got:
                raise where(f"evaluation_data[{idx}] ({point}) lacks {name}")
            out.append(got[name])
    out.append(float(params))
    return out


def _decode_slow(payload: bytes, where: _Where) -> tuple[str, int, int, list[float]]:
    """``(module hash, epochs, cell code, 9 numbers)`` of one payload, every field checked."""
    try:
        row = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise where(f"payload is not UTF-8 JSON ({exc})") from None
    if not isinstance(row, list) or len(row) != 5:
        raise where(
            "payload must be a JSON array [module_hash, epochs, raw_adjacency, raw_operations, "
            f"raw_metrics]; got {type(row).__name__}"
            + (f" of length {len(row)}" if isinstance(row, list) else "")
        )
    module_hash, epochs, adjacency, operations, metrics = row
    if not (
        isinstance(module_hash, str)
        and len(module_hash) == 32
        and all(c in "0123456789abcdef" for c in module_hash)
    ):
        raise where(f"module hash {module_hash!r} is not 32 lowercase hex digits")
    if type(epochs) is not int or epochs not in EPOCHS:
        raise where(f"epochs {epochs!r} is not one of {list(EPOCHS)}")
    for name, value in (
        ("raw_adjacency", adjacency),
        ("raw_operations", operations),
        ("raw_metrics", metrics),
    ):
        if not isinstance(value, str):
            raise where(f"{name} must be a string, got {type(value).__name__}")
    parsed = _parse_ops(operations)
    if isinstance(parsed, str):
        raise where(f"raw_operations {operations!r}: {parsed}")
    v, interior = parsed
    if len(adjacency) != v * v or set(adjacency) - {"0", "1"}:
        raise where(
            f"raw_adjacency {adjacency!r} is not a {v}x{v} matrix of '0'/'1' (length {v * v}) "
            f"matching the {v} operations"
        )
    bits = 0
    for i in range(v):
        for j in range(v):
            if adjacency[i * v + j] == "1":
                if j <= i:
                    raise where(
                        f"raw_adjacency {adjacency!r} is not strictly upper-triangular "
                        f"(entry [{i}, {j}] is set)"
                    )
                bits |= 1 << _PAIR_BIT[(i, j)]
    try:
        raw = binascii.a2b_base64(metrics.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise where(f"raw_metrics is not valid base64 ({exc})") from None
    return module_hash, epochs, _cell_code(v, bits, interior), _decode_metrics(raw, where)


# ----------------------------------------------------------------------------------- fast decoder

_HEX = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16)
_QUOTE, _COMMA, _SPACE = ord('"'), ord(","), ord(" ")
# The bytes between the hash's closing quote and the adjacency: ', 108, "' and so on.
_EPOCH_TEXT = [np.frombuffer(f', {e}, "'.encode(), dtype=np.uint8) for e in EPOCHS]
# Per V: positions in the V x V row-major string above the diagonal (with their cell-code bit), and
# on or below it.
_UPPER = {
    v: (
        np.array([i * v + j for i in range(v) for j in range(i + 1, v)]),
        np.array(
            [1 << (3 + _PAIR_BIT[(i, j)]) for i in range(v) for j in range(i + 1, v)], np.uint64
        ),
    )
    for v in range(2, 8)
}
_LOWER = {v: np.array([i * v + j for i in range(v) for j in range(i + 1)]) for v in range(2, 8)}
# The release's ModelMetrics layout is 3 x (0a 2d | 09 d 11 d 19 d 21 d 29 d), 10 varint, 19 d.
# An EvaluationData body as the release writes it: the five doubles in field order.
_EVAL_TAGS = ((0, 0x09), (9, 0x11), (18, 0x19), (27, 0x21), (36, 0x29))
_OPS_W = 112  # room for the op list (at most 92 bytes for 7 vertices)
_B64_MAX = 544  # longest raw_metrics the numpy decoder takes (the release's are 204 to 208)
_PAD = 512  # zero bytes kept after a block so that fixed-width windows never run off its end


class _OpsCache:
    """Op lists by their text, shared across blocks (a file has a few hundred distinct ones)."""

    def __init__(self):
        self.parsed: dict[bytes, tuple[int, int]] = {}

    def lookup(self, text: bytes) -> tuple[int, int]:
        """``(V, interior op bits of the cell code)``, or ``(0, 0)`` when not valid."""
        try:
            return self.parsed[text]
        except KeyError:
            pass
        try:
            parsed = _parse_ops(text.decode("ascii"))
        except UnicodeDecodeError:
            parsed = "not ASCII"
        value = (0, 0) if isinstance(parsed, str) else (parsed[0], _cell_code(0, 0, parsed[1]))
        self.parsed[text] = value
        return value


def _metrics_fast(raw: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode serialized ``ModelMetrics`` laid out as the release writes them, vectorised.

    ``raw`` is (m, w) uint8, row i valid up to ``size[i]``. Accepted layout: three
    ``evaluation_data`` entries of under 128 bytes, then ``trainable_parameters`` (a varint of 1 to 4
    bytes) and an optional ``total_time``. Entry 0 (step 0) is skipped, as the reference decoder
    skips it. Entries 1 and 2 hold the five doubles in field order, optionally followed by a short
    ``checkpoint_path``. Returns ``fine`` (m,) and the 9 numbers (m, 9) of the fine rows; other
    rows are left to the reference decoder.
    """
    m, w = raw.shape
    r = np.arange(m)

    def at(pos: np.ndarray) -> np.ndarray:  # the byte at a per-row position (0 past the row)
        return np.where(pos < w, raw[r, np.minimum(pos, w - 1)], 0).astype(np.int64)

    starts = np.zeros((m, 3), dtype=np.int64)  # where each entry's body starts
    lens = np.zeros((m, 3), dtype=np.int64)
    fine = np.ones(m, dtype=bool)
    pos = np.zeros(m, dtype=np.int64)
    for e in range(3):
        n = at(pos + 1)
        fine &= (at(pos) == 0x0A) & (n < 0x80) & ((n >= 45) | (e == 0))
        starts[:, e], lens[:, e] = pos + 2, n
        pos = pos + 2 + n
    fine &= at(pos) == 0x10  # trainable_parameters
    k = np.ones(m, dtype=np.int64)
    more = np.ones(m, dtype=bool)
    for j in range(1, 5):
        more &= at(pos + j) >= 0x80
        k += more
    fine &= k <= 4
    end = pos + 1 + k
    fine &= (size == end) | ((size == end + 9) & (at(end) == 0x19))  # optional total_time
    numbers = np.zeros((m, _NV), dtype=np.float64)
    # Rows with one layout share every offset: decode each layout with slices.
    # (entry 1 start, length, entry 2 start, length, params tag, varint bytes): each < 2**10
    layout = np.zeros(m, dtype=np.int64)
    for field in (starts[:, 1], lens[:, 1], starts[:, 2], lens[:, 2], pos, k):
        layout = (layout << 10) | np.minimum(field, 1023)
    good = np.flatnonzero(fine)
    kinds, inv = np.unique(layout[good], return_inverse=True)
    for kind, code in enumerate(kinds.tolist()):
        s1, n1, s2, n2, p, kk = ((code >> (10 * (5 - f))) & 1023 for f in range(6))
        rows = good[inv == kind]
        g = raw[rows]
        ok = np.ones(len(rows), dtype=bool)
        for start, n in ((s1, n1), (s2, n2)):
            for off, tag in _EVAL_TAGS:
                ok &= g[:, start + off] == tag
            if n > 45:  # then only a checkpoint_path string fills the rest of the entry
                ok &= (g[:, start + 45] == 0x32) & (g[:, start + 46] == n - 47)
        params = np.zeros(len(rows), dtype=np.int64)
        for j in range(kk):
            params |= (g[:, p + 1 + j].astype(np.int64) & 0x7F) << (7 * j)
        for col, start in ((0, s1), (4, s2)):  # (tag, double) x 4 after current_epoch
            d = g[:, start + 9 : start + 45].reshape(len(rows), 4, 9)[:, :, 1:]
            numbers[rows, col : col + 4] = np.ascontiguousarray(d).view("<f8").reshape(-1, 4)
        numbers[rows, 8] = params
        fine[rows] = ok
    return fine, numbers


def _decode_fast(buf: np.ndarray, s: np.ndarray, L: np.ndarray, ops_cache: _OpsCache):
    """Decode payloads written in the release's layout, vectorised.

    ``buf`` holds the block followed by at least ``_PAD`` bytes; ``s`` and ``L`` are the payloads'
    starts in it and lengths. The JSON must read ``["<32 hex>", <epochs>, "<'0'/'1' x V*V>",
    "<ops>", "<base64>"]`` with ``json.dumps``'s separators; the protobuf, see
    :func:`_metrics_fast`. Every byte of an accepted payload is checked against that layout, so an
    accepted payload is valid and decodes to what the reference decoder gives.

    Returns ``ok`` (n,) bool and, for the ok rows, ``hi``/``lo`` (the hash as two big-endian
    uint64), ``ecode`` (index in EPOCHS), ``code`` (the cell) and ``vals`` (n, 9). Rows not ok are
    left to the reference decoder, which decodes them or says what is wrong.
    """
    n = len(s)
    r = np.arange(n)
    ok = (L >= 64) & (L <= _W)
    # '["' hash '", ' epochs ', "'
    head = sliding_window_view(buf, 48)[s]
    ok &= (head[:, 0] == ord("[")) & (head[:, 1] == _QUOTE) & (head[:, 34] == _QUOTE)
    nib = _HEX[head[:, 2:34]]
    ok &= (nib < 16).all(axis=1)
    ecode = np.full(n, -1, dtype=np.int8)
    adj_at = np.zeros(n, dtype=np.int64)
    for k, text in enumerate(_EPOCH_TEXT):
        hit = (head[:, 35 : 35 + len(text)] == text).all(axis=1)
        ecode[hit] = k
        adj_at[hit] = 35 + len(text)
    ok &= ecode >= 0
    # adjacency: V*V chars '0'/'1', then '", "'
    adj = sliding_window_view(buf, 53)[s + adj_at]
    nv = np.zeros(n, dtype=np.int64)
    for v in range(7, 1, -1):
        nv[adj[:, v * v] == _QUOTE] = v
    ok &= nv > 0
    bits = adj[:, :49] - np.uint8(ord("0"))
    code = np.zeros(n, dtype=np.uint64)
    for v in range(2, 8):
        sel = np.flatnonzero(nv == v)
        if len(sel):
            a = bits[sel, : v * v]
            pos, weight = _UPPER[v]
            ok[sel] &= (a <= 1).all(axis=1) & ~a[:, _LOWER[v]].any(axis=1)
            code[sel] = (a[:, pos] * weight).sum(axis=1, dtype=np.uint64) | np.uint64(v)
    end = nv * nv
    for j, c in enumerate((_COMMA, _SPACE, _QUOTE), start=1):
        ok &= adj[r, end + j] == c
    # operations up to the next '"', then '", "'
    ops_at = s + adj_at + end + 4
    ops = sliding_window_view(buf, _OPS_W + 4)[ops_at]
    olen = np.argmax(ops[:, :_OPS_W] == _QUOTE, axis=1)
    for j, c in enumerate((_QUOTE, _COMMA, _SPACE, _QUOTE)):
        ok &= ops[r, olen + j] == c
    text = np.ascontiguousarray(ops[:, :_OPS_W])
    text[np.arange(_OPS_W) >= olen[:, None]] = 0
    # One 64-bit fingerprint per op list; each distinct list is parsed once (``_OpsCache``), and
    # every row is compared byte for byte with the row it was matched to.
    words = text.view(np.uint64)
    fp = words[:, 0].copy()
    for j in range(1, words.shape[1]):
        fp = (fp * np.uint64(0x100000001B3)) ^ words[:, j]
    okr = np.flatnonzero(ok)
    _, first, inv = np.unique(fp[okr], return_index=True, return_inverse=True)
    rep = okr[first]
    parsed = np.array(
        [ops_cache.lookup(text[i, : olen[i]].tobytes()) for i in rep.tolist()], dtype=np.int64
    ).reshape(-1, 2)
    same = (words[okr] == words[rep[inv]]).all(axis=1) & (olen[okr] == olen[rep[inv]])
    ok[okr] &= same & (parsed[inv, 0] == nv[okr])
    code[okr] |= parsed[inv, 1].astype(np.uint64)
    # base64 up to the closing '"]', then the ModelMetrics protobuf
    b64_at = ops_at + olen + 4
    blen = s + L - 2 - b64_at
    ok &= (buf[s + L - 2] == _QUOTE) & (buf[s + L - 1] == ord("]"))
    ok &= (blen >= 4) & (blen <= _B64_MAX) & (blen % 4 == 0)
    vals = np.zeros((n, _NV), dtype=np.float64)
    for bl in np.unique(blen[ok]).tolist():
        sel = np.flatnonzero(ok & (blen == bl))
        chars = sliding_window_view(buf, bl)[b64_at[sel]]
        eq = chars == ord("=")
        pad = eq[:, -1].astype(np.int64) + eq[:, -2]
        good = (eq.sum(axis=1) == pad) & (eq[:, -1] | ~eq[:, -2])  # '=' only as trailing padding
        chars[eq] = ord("A")  # padding decodes as zero bits, dropped below
        try:
            raw = binascii.a2b_base64(chars.tobytes(), strict_mode=True)
        except binascii.Error:  # a character outside the alphabet: the reference decoder explains
            ok[sel] = False
            continue
        raw = np.frombuffer(raw, dtype=np.uint8).reshape(len(sel), -1)
        fine, numbers = _metrics_fast(raw, raw.shape[1] - pad)
        fine &= good
        vals[sel] = numbers
        ok[sel] &= fine
    hl = np.ascontiguousarray((nib[:, 0::2] << 4) | nib[:, 1::2]).view(">u8").astype(np.uint64)
    return ok, hl[:, 0], hl[:, 1], ecode, code, vals


# ----------------------------------------------------------------------------------- reader


class _Records:
    """Per-record results of the whole file, accumulated block by block."""

    FIELDS = ("hi", "lo", "ecode", "code", "offset", *(f"v{j}" for j in range(_NV)))

    def __init__(self):
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in self.FIELDS}
        self.n = 0

    def add(self, vals: np.ndarray, **arrays) -> None:
        for k, a in arrays.items():
            self.parts[k].append(a)
        for j in range(_NV):  # one array per number, so that each is concatenated on its own
            self.parts[f"v{j}"].append(vals[:, j].copy())
        self.n += len(arrays["hi"])

    def extend(self, arrays: dict[str, np.ndarray], n: int) -> None:
        """Append records read elsewhere (one array per field), after the ones already here."""
        for k in self.FIELDS:
            self.parts[k].append(arrays[k])
        self.n += n

    def take(self, name: str) -> np.ndarray:
        """Concatenate one field, releasing its parts."""
        parts = self.parts.pop(name)
        out = np.concatenate(parts)
        parts.clear()
        return out


_U64 = struct.Struct("<Q")


def _walk(mv: memoryview, starts: list, limit: int) -> int:
    """Append the start of each complete record of ``mv`` that starts before ``limit``.

    Returns where the walk stopped: the start of the first incomplete record, or of the first
    record at or after ``limit``.
    """
    n = len(mv)
    unpack = _U64.unpack_from
    add = starts.append
    pos = 0
    while pos + 12 <= n and pos < limit:
        nxt = pos + 16 + unpack(mv, pos)[0]
        if nxt > n:
            break
        add(pos)
        pos = nxt
    return pos


def _bad_header(path: Path, mv: memoryview, pos: int, base: int, recno: int) -> None:
    """Raise if the record header at ``pos`` has a wrong masked CRC."""
    (length,) = _U64.unpack_from(mv, pos)
    (stored,) = struct.unpack_from("<I", mv, pos + 8)
    computed = _mask(crc32c.crc32c(mv[pos : pos + 8]))
    if stored == computed:
        return
    hint = _container_hint(bytes(mv[pos : pos + 8])) if base + pos == 0 else ""
    raise _Where(path, recno, base + pos)(
        f"length CRC-32C mismatch: the 12-byte header announces {length} payload bytes with "
        f"masked CRC 0x{stored:08x}, but the length bytes give 0x{computed:08x}; expected a "
        f"TFRecord record header{hint}"
    )


def _check_block(path: Path, buf: np.ndarray, starts: np.ndarray, base: int, recno0: int):
    """Verify the masked CRCs of the walked records' headers and payloads; return the lengths."""
    mv = memoryview(buf)
    head = sliding_window_view(buf, 12)[starts]
    length = np.ascontiguousarray(head[:, :8]).view("<u8").ravel().astype(np.int64)
    stored = np.ascontiguousarray(head[:, 8:]).view("<u4").ravel()
    bad = np.flatnonzero(_mask_np(_crc32c_rows(head[:, :8])) != stored)
    if len(bad):
        i = int(bad[0])
        _bad_header(path, mv, int(starts[i]), base, recno0 + i)
    crc = crc32c.crc32c
    computed = np.array(
        [crc(mv[a:b]) for a, b in zip((starts + 12).tolist(), (starts + 12 + length).tolist())],
        dtype=np.uint32,
    )
    ends = starts + 12 + length
    stored = np.ascontiguousarray(sliding_window_view(buf, 4)[ends]).view("<u4").ravel()
    bad = np.flatnonzero(_mask_np(computed) != stored)
    if len(bad):
        i = int(bad[0])
        raise _Where(path, recno0 + i, base + int(starts[i]))(
            f"payload CRC-32C mismatch: stored masked CRC 0x{int(stored[i]):08x} at byte offset "
            f"{base + int(ends[i])}, computed 0x{_mask(int(computed[i])):08x} over the "
            f"{int(length[i])} payload bytes; the record is damaged"
        )
    return length


def sniff(path: Path, head: bytes) -> bool:
    """A ``*.tfrecord`` file (or ``.tfrecords``, or ``.tfrecord.gz``, which :func:`read` refuses
    with the reason), or any file whose first record header checks out and holds a JSON array."""
    name = path.name.lower()
    if path.is_file() and name.endswith((".tfrecord", ".tfrecords", ".tfrecord.gz")):
        return True
    if len(head) < 14:
        return False
    (stored,) = struct.unpack_from("<I", head, 8)
    return _mask(crc32c.crc32c(head[:8])) == stored and head[12:14] == b'["'


@register_reader(
    FORMAT,
    "nb101",
    sniff=sniff,
    description="NAS-Bench-101 nasbench_only108 / nasbench_full TFRecord",
)
def read(
    path, *, progress: bool = True, workers: int | None = None, _fast: bool = True
) -> ColumnSet:
    """Read ``nasbench_only108.tfrecord`` or ``nasbench_full.tfrecord`` into a :class:`ColumnSet`.

    Parameters
    ----------
    path : str or Path
    progress : bool
        Show a tqdm progress bar over the file's bytes.
    workers : {1, 2}, optional
        1 reads in this process. 2 reads the second half of the file in a forked process at the
        same time. By default, 2 for files of 64 MB or more on Linux with at least 2 CPUs, else 1.

    Returns
    -------
    ColumnSet
        ``space="nb101"``. ``keys`` holds the module hashes, sorted. ``specs`` holds each cell as
        the file states it (already pruned). For each budget E in the file and each point P in
        ``halfway``/``final``, there are four columns: ``Key("cifar10", S, E, "accuracy", P)`` for
        S in ``train``/``valid``/``test``, in percent (the file's fraction x 100), and
        ``Key("cifar10", "train", E, "time", P)``, the training time in seconds. Each is
        ``(N, 3)``, with seeds ``(0, 1, 2)`` = repeat number in file order, and NaN where a
        repeat is absent (``meta["repeats_missing"]`` counts them per budget).
        ``Key("cifar10", "", 0, "params")`` (seed mean, ``(N,)``) holds ``trainable_parameters``.

    Raises
    ------
    CorruptFileError
        For any framing, CRC, JSON, base64 or protobuf problem, for a budget outside 4/12/36/108, a
        fourth repeat, or records of one module hash that disagree on the cell or the parameter
        count. The message names the file, the record (0-based) and its byte offset.
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise CorruptFileError(f"{path}: empty file; expected NAS-Bench-101 TFRecord records")
    if workers is None:
        workers = _default_workers(size)
    elif workers not in (1, 2):
        raise ValueError(f"workers must be 1 or 2, got {workers!r}")
    if "fork" not in multiprocessing.get_all_start_methods():
        workers = 1
    recs = _Records()
    ops_cache = _OpsCache()
    with open(path, "rb") as fh:
        split = _find_split(fh, size) if workers > 1 else None
        if split is None:
            with _Progress(path, size, progress) as bar:
                _read_range(path, fh, 0, None, size, recs, ops_cache, _fast, bar.advance)
        else:
            _read_two(path, fh, split, size, recs, ops_cache, _fast, progress)
    return _assemble(path, recs)


#: Files at least this large are read by two processes by default.
_PARALLEL_MIN = 64 << 20


def _default_workers(size: int) -> int:
    if size < _PARALLEL_MIN or sys.platform != "linux":
        return 1
    return 2 if len(os.sched_getaffinity(0)) >= 2 else 1


def _find_split(fh, size: int) -> int | None:
    """The start of a record near the middle of the file, or ``None`` if none is found in 1 MB.

    A position counts as a record start when its header CRC and its payload CRC both check out.
    Whether it is on the chain of records from the file's start is checked when the first half has
    been read (:func:`_read_two`).
    """
    mid = size // 2
    fh.seek(mid)
    data = fh.read(1 << 20)
    mv = memoryview(data)
    for p in range(max(0, len(data) - 16)):
        (length,) = _U64.unpack_from(data, p)
        end = p + 12 + length
        if end + 4 > len(data):
            continue
        if _mask(crc32c.crc32c(mv[p : p + 8])) != struct.unpack_from("<I", data, p + 8)[0]:
            continue
        if _mask(crc32c.crc32c(mv[p + 12 : end])) == struct.unpack_from("<I", data, end)[0]:
            return mid + p
    return None


def _read_range(
    path: Path,
    fh,
    start: int,
    stop_at: int | None,
    size: int,
    recs: _Records,
    ops_cache: _OpsCache,
    fast: bool,
    advance,
) -> int:
    """Read the records from byte ``start`` on, up to the first that starts at or after ``stop_at``
    (``None``: to the end of the file).

    Returns the offset where reading stopped: ``stop_at`` itself when a record starts there, past
    it when a record straddles it.
    """
    fh.seek(start)
    buf = np.zeros(_BLOCK + _PAD, dtype=np.uint8)
    base, rest, want = start, 0, _BLOCK  # file offset of buf[0]; bytes carried over; to read
    while True:
        if rest + want + _PAD > len(buf):
            grown = np.zeros(rest + want + _PAD, dtype=np.uint8)
            grown[:rest] = buf[:rest]
            buf = grown
        got = fh.readinto(memoryview(buf)[rest : rest + want])
        eof = got < want
        fill = rest + got
        buf[fill : fill + _PAD] = 0
        mv = memoryview(buf)[:fill]
        starts_l: list[int] = []
        stop = _walk(mv, starts_l, fill if stop_at is None else stop_at - base)
        if starts_l:
            _block(path, buf, starts_l, base, recs, ops_cache, fast)
        advance(stop)
        if stop_at is not None and base + stop >= stop_at:
            return base + stop
        rest = fill - stop
        want = _BLOCK
        if rest:
            where = _Where(path, recs.n, base + stop)
            if rest >= 12:
                _bad_header(path, mv, stop, base, recs.n)
                (length,) = _U64.unpack_from(mv, stop)
                need = 12 + length + 4
                if base + stop + need > size:
                    raise where(
                        f"truncated record: the header announces {length} payload bytes, so the "
                        f"record needs {need} bytes, but the file ends {size - base - stop} bytes "
                        "after the record's start"
                    )
                want = max(_BLOCK, need - rest)
            elif eof:
                raise where(
                    f"truncated record: the file ends {rest} bytes into the 12-byte record header"
                )
        del mv
        buf[:rest] = buf[stop:fill]
        base += stop
        if eof and not rest:
            return base


def _read_two(path, fh, split, size, recs, ops_cache, fast, progress) -> None:
    """Read ``[0, split)`` here and ``[split, end)`` in a forked process, then join the halves."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    done = ctx.Value("q", 0, lock=False)  # bytes the child has read, for the progress bar
    child = ctx.Process(target=_child, args=(send, path, split, size, fast, done), daemon=True)
    child.start()
    send.close()
    try:
        with _Progress(path, size, progress, others=lambda: done.value) as bar:
            end = _read_range(path, fh, 0, split, size, recs, ops_cache, fast, bar.advance)
            if end != split:  # not a boundary after all: the child's half is thrown away
                child.kill()
                _read_range(path, fh, end, None, size, recs, ops_cache, fast, bar.advance)
                return
            while not receive.poll(0.2):
                bar.advance(0)
                if not child.is_alive() and not receive.poll(0):
                    raise RuntimeError(f"{path}: the reading process stopped without a result")
            result = receive.recv()
            arrays = {}
            if result[0] == "ok":
                for k in _Records.FIELDS:
                    dtype, n = receive.recv()
                    arrays[k] = np.frombuffer(receive.recv_bytes(), dtype=dtype, count=n)
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    if result[0] == "corrupt":  # renumber the child's record from the start of the file
        recno, offset, problem = result[1]
        raise _Where(path, recs.n + recno, offset)(problem)
    if result[0] == "error":
        raise result[1]
    recs.extend(arrays, result[1])


def _child(send, path: Path, start: int, size: int, fast: bool, done) -> None:
    """Read ``[start, end)`` of ``path``; send the records, or the error, to the parent."""
    try:
        recs = _Records()

        def advance(n: int) -> None:
            done.value += n

        with open(path, "rb") as fh:
            _read_range(path, fh, start, None, size, recs, _OpsCache(), fast, advance)
        arrays = [recs.take(k) for k in _Records.FIELDS]
    except CorruptFileError as exc:
        send.send(("corrupt", exc.record) if hasattr(exc, "record") else ("error", exc))
        send.close()
        return
    except BaseException as exc:  # a bug or a resource error: the parent raises it
        try:
            send.send(("error", exc))
        except Exception:
            send.send(("error", RuntimeError(repr(exc))))
        send.close()
        return
    send.send(("ok", recs.n))
    for a in arrays:  # raw bytes, one array at a time: no pickled copy
        send.send((a.dtype.str, len(a)))
        send.send_bytes(a)
    send.close()


class _Progress:
    """A tqdm bar over the file's bytes (or nothing); ``others()`` adds bytes read elsewhere."""

    def __init__(self, path: Path, size: int, show: bool, others=None):
        self.bar = None
        self.own = 0
        self.others = others or (lambda: 0)
        if show:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=size, unit="B", unit_scale=True, desc=f"reading {path.name}", leave=False
            )

    def advance(self, n: int) -> None:
        self.own += n
        if self.bar is not None:
            self.bar.n = self.own + self.others()
            self.bar.refresh()

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def _block(
    path: Path,
    buf: np.ndarray,
    starts_l: list,
    base: int,
    recs: _Records,
    ops_cache: _OpsCache,
    fast: bool,
) -> None:
    """Check and decode the complete records of one block (``buf`` is followed by ``_PAD`` bytes)."""
    starts = np.array(starts_l, dtype=np.int64)
    recno0 = recs.n
    length = _check_block(path, buf, starts, base, recno0)
    for at in range(0, len(starts), _BATCH):
        s = starts[at : at + _BATCH] + 12
        L = length[at : at + _BATCH]
        n = len(s)
        if fast:
            ok, hi, lo, ecode, code, vals = _decode_fast(buf, s, L, ops_cache)
        else:
            ok = np.zeros(n, dtype=bool)
            hi, lo, code = (np.zeros(n, dtype=np.uint64) for _ in range(3))
            ecode = np.zeros(n, dtype=np.int8)
            vals = np.zeros((n, _NV), dtype=np.float64)
        for i in np.flatnonzero(~ok).tolist():
            where = _Where(path, recno0 + at + i, base + int(s[i]) - 12)
            payload = buf[int(s[i]) : int(s[i]) + int(L[i])].tobytes()
            h, epochs, cell, numbers = _decode_slow(payload, where)
            hi[i] = int(h[:16], 16)
            lo[i] = int(h[16:], 16)
            ecode[i] = EPOCHS.index(epochs)
            code[i] = cell
            vals[i] = numbers
        recs.add(hi=hi, lo=lo, ecode=ecode, code=code, offset=base + s - 12, vals=vals)


def _hex_keys(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """The 32-hex-digit strings of hashes held as two big-endian uint64 (an object array of str)."""
    raw = np.stack([hi, lo], axis=1).astype(">u8").view(np.uint8).reshape(-1, 16)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = np.empty((len(hi), 32), dtype=np.uint8)
    chars[:, 0::2] = digits[raw >> 4]
    chars[:, 1::2] = digits[raw & 15]
    text = chars.tobytes().decode("ascii")
    out = np.empty(len(hi), dtype=object)
    out[:] = [text[i : i + 32] for i in range(0, len(text), 32)]
    return out


class _SortedWhere:
    """``_Where`` of the record at a sorted position."""

    def __init__(self, path: Path, order: np.ndarray, offset: np.ndarray):
        self.path, self.order, self.offset = path, order, offset

    def __call__(self, j: int) -> _Where:
        i = int(self.order[j])
        return _Where(self.path, i, int(self.offset[i]))


def _assemble(path: Path, recs: _Records) -> ColumnSet:
    """Group the records by module hash and budget, number the repeats, build the columns."""
    n = recs.n
    hi, lo, ecode = recs.take("hi"), recs.take("lo"), recs.take("ecode")
    order = np.lexsort((ecode, lo, hi))  # lexsort is stable: file order within (hash, budget)
    hi, lo, ecode = hi[order], lo[order], ecode[order]
    new_arch = np.ones(n, dtype=bool)
    new_arch[1:] = (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])
    arch = np.cumsum(new_arch) - 1
    first = np.flatnonzero(new_arch)  # sorted position of each module's first record
    keys = _hex_keys(hi[first], lo[first])
    del hi, lo
    new_arch[1:] |= ecode[1:] != ecode[:-1]  # now: starts a (module, budget) group
    pos = np.arange(n)
    rank = pos - np.maximum.accumulate(np.where(new_arch, pos, 0))
    del pos, new_arch
    offset = recs.take("offset")
    where = _SortedWhere(path, order, offset)
    extra = np.flatnonzero(rank >= N_REPEATS)
    if len(extra):
        j = int(extra[np.argmin(order[extra])])
        earlier = ", ".join(str(int(r)) for r in order[j - int(rank[j]) : j])
        raise where(j)(
            f"repeat {int(rank[j]) + 1} of module {keys[arch[j]]} at {EPOCHS[ecode[j]]} epochs "
            f"(earlier repeats: records {earlier}); expected at most {N_REPEATS} repeats per "
            "module and budget"
        )
    code = recs.take("code")[order]
    params = recs.take("v8")[order]
    for what, arr in (
        ("cell (raw_adjacency, raw_operations)", code),
        ("trainable_parameters", params),
    ):
        bad = np.flatnonzero(arr != arr[first[arch]])
        if len(bad):
            j = int(bad[np.argmin(order[bad])])
            ref = int(first[arch[j]])
            raise where(j)(
                f"module {keys[arch[j]]} has a different {what} than record {int(order[ref])} "
                f"(byte offset {int(offset[order[ref]])}); expected one {what} per module hash"
            )
    del offset, where
    specs = _decode_cells(code[first])
    del code
    n_archs = len(first)
    # Where each record goes, per budget: flat index (module, repeat) and record number.
    budgets = []
    for k, epochs in enumerate(EPOCHS):
        sel = np.flatnonzero(ecode == k)
        if len(sel):
            budgets.append((epochs, arch[sel] * N_REPEATS + rank[sel], order[sel]))
    del arch, rank, order, ecode
    source = f"{path.name} ({BENCHMARK})"
    seeds = tuple(range(N_REPEATS))
    fields = [("train", "time", "training_time", "s", 1.0)] + [
        (split, "accuracy", field, "%", 100.0) for split, field in SPLITS
    ]
    columns: dict[Key, Column] = {}
    for point, idx in POINTS:
        for j, (split, metric, field, unit, scale) in enumerate(fields):
            number = recs.take(f"v{4 * (idx - 1) + j}")
            note = " x 100" if scale != 1.0 else ""
            for epochs, slot, rows in budgets:
                if len(slot) == n_archs * N_REPEATS:  # no repeat missing: slot is 0, 1, 2, ...
                    values = (number[rows] * scale).reshape(n_archs, N_REPEATS)
                else:
                    values = np.full((n_archs, N_REPEATS), np.nan)
                    values.reshape(-1)[slot] = number[rows] * scale
                columns[Key("cifar10", split, epochs, metric, point)] = Column(
                    values, seeds, unit, f"{source}: evaluation_data[{idx}].{field}{note}"
                )
            del number
    columns[Key("cifar10", "", 0, "params")] = Column(
        params[first], (), "count", f"{source}: trainable_parameters"
    )
    meta = {
        "source_name": path.name,
        "source_format": FORMAT,
        "benchmark": BENCHMARK,
        "n_records": int(n),
        "epochs": [int(e) for e, _, _ in budgets],
        "repeats_missing": {str(e): int(n_archs * N_REPEATS - len(slot)) for e, slot, _ in budgets},
    }
    return ColumnSet("nb101", keys, dict(sorted(columns.items())), specs, meta)
