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

import multiprocessing
import os
import struct
import sys
from pathlib import Path

import crc32c
import numpy as np

from ...errors import CorruptFileError
from ..columns import Column, ColumnSet, Key
from . import register_reader
from ._common import die_with_parent as _die_with_parent
from ._nb101_fast import _PAD, _decode_fast, _OpsCache
from ._nb101_payload import _NV, EPOCHS, POINTS, _decode_cells, _decode_slow
from ._tfrecord import _U64, _bad_header, _check_block, _find_split, _mask, _walk, _Where

__all__ = ["EPOCHS", "FORMAT", "N_REPEATS", "read", "sniff"]

FORMAT = "nb101-tfrecord"
BENCHMARK = "NAS-Bench-101"
#: Training repeats per (cell, budget) in the release.
N_REPEATS = 3
#: The splits and their ``EvaluationData`` fields, in the order the reader stores them.
SPLITS = (("train", "train_accuracy"), ("valid", "validation_accuracy"), ("test", "test_accuracy"))

_BLOCK = 32 << 20  # bytes read at a time
_BATCH = 16384  # records decoded together in numpy


# ----------------------------------------------------------------------------------- reader
#
# This module reads the file block by block (in one process or two) and assembles the columns. The
# TFRecord framing and CRC checks are in ``_tfrecord``; the payload decoders in ``_nb101_payload``
# (the reference decoder, cell codes) and ``_nb101_fast`` (the vectorised decoder).


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
    child = ctx.Process(
        target=_child,
        args=(send, receive, os.getpid(), path, split, size, fast, done),
        daemon=True,
    )
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


def _child(send, receive, parent: int, path: Path, start: int, size: int, fast: bool, done) -> None:
    """Read ``[start, end)`` of ``path``; send the records, or the error, to the parent.

    The forked child closes its copy of the pipe's read end (else, its parent killed, it would
    block forever writing into a pipe only it can read) and dies with its parent.
    """
    receive.close()
    _die_with_parent(parent)
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


def _scaled(x: np.ndarray, scale: float) -> np.ndarray:
    """``x * scale``; a damaged value such as 1e308 becomes inf, which read_any refuses by name."""
    with np.errstate(over="ignore"):
        return x * scale


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
                    values = _scaled(number[rows], scale).reshape(n_archs, N_REPEATS)
                else:
                    values = np.full((n_archs, N_REPEATS), np.nan)
                    values.reshape(-1)[slot] = _scaled(number[rows], scale)
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
