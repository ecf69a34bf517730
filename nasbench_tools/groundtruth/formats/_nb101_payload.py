"""The NAS-Bench-101 record payload: its constants, cell codes and the reference decoder.

The payload is a UTF-8 JSON array ``[module_hash, epochs, raw_adjacency, raw_operations,
raw_metrics]``; ``raw_metrics`` is base64 of a serialized ``nasbench.ModelMetrics`` protobuf
(proto2). See :mod:`.nb101_tfrecord` for the fields.

:func:`_decode_slow` is the reference decoder: ``json``, ``binascii`` and a small protobuf
wire-format decoder. It takes any valid payload, and either decodes it or raises
:class:`~nasbench_tools.errors.CorruptFileError` saying what is wrong. The vectorised decoder
(:mod:`._nb101_fast`) gives identical results on the payloads it accepts.
"""

from __future__ import annotations

import binascii
import json
import struct

import numpy as np

from ...spaces import nb101
from ..columns import SpecArray
from ._tfrecord import _Where

#: The training budgets a NAS-Bench-101 file can hold.
EPOCHS: tuple[int, ...] = (4, 12, 36, 108)
#: The points of training the reader keeps, and their index in ``evaluation_data``.
POINTS = (("halfway", 1), ("final", 2))

# Per record, the reader keeps 9 numbers: (time, train, valid, test) at halfway, then at final, and
# the parameter count.
_NV = 9

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
