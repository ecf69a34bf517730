"""The vectorised NAS-Bench-101 payload decoder: thousands of records at a time, in numpy.

It takes the payloads in the release's layout: ``json.dumps`` separators, the ``ModelMetrics``
fields in field-number order, and the halfway and final entries holding their five doubles. Every
byte of an accepted payload is checked against that layout, so an accepted payload is valid and
decodes to what the reference decoder (:func:`._nb101_payload._decode_slow`) gives; the rows it
does not accept are left to the reference decoder.
"""

from __future__ import annotations

import binascii

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._nb101_payload import _NV, _PAIR_BIT, EPOCHS, _cell_code, _parse_ops

_W = 1024  # longest payload the numpy decoder takes (the release's are at most about 420 bytes)

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
