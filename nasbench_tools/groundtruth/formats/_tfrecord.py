"""TFRecord framing, as NAS-Bench-101 files use it: masked CRC-32C, record walking and checks.

A TFRecord file is a sequence of records, with no file header. Each record is ``uint64 length |
uint32 masked_crc32c(length) | payload | uint32 masked_crc32c(payload)``, little-endian. CRC-32C
is the Castagnoli CRC and ``masked = rotr(crc, 15) + 0xa282ead8``. The payload CRCs are computed
in C (the ``crc32c`` package); the 8-byte header CRCs in numpy, many records at a time.

Every error names the file, the record (0-based) and the byte offset where the record starts
(:class:`_Where`), and says what was expected.
"""

from __future__ import annotations

import struct
from pathlib import Path

import crc32c
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...errors import CorruptFileError

_MASK_DELTA = 0xA282EAD8
_U64 = struct.Struct("<Q")

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


# ----------------------------------------------------------------------------------- records


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


def _find_split(fh, size: int) -> int | None:
    """The start of a record near the middle of the file, or ``None`` if none is found in 1 MB.

    A position counts as a record start when its header CRC and its payload CRC both check out.
    Whether it is on the chain of records from the file's start is checked when the first half has
    been read (:func:`.nb101_tfrecord._read_two`).
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
