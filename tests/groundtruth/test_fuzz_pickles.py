"""Seeded fuzz of the real small pickle-based files: byte flips and truncations.

Each mutant is read in-process by the real reader (``read_any``, or the NATS per-arch reader). The
outcome must be the original values or one of our errors (a :class:`NasbenchToolsError`), never a
raw exception, a hang (pytest-timeout) or a value outside ``VALUE_RANGES``. Where the container
has a checksum (bz2 and zip CRC-32) a mutant of the file itself must give the original values or
an error. Where it has none (the legacy ``.pth`` stream, NASLib's pickles, and a pickle changed
before it is compressed) a byte flip may still change a value silently, but only by landing inside
a number's or a string's own bytes (no format can tell 82.092 from 82.093 without a checksum): a
flip of an opcode or a length, and every truncation, must be refused.

Before the hardening, 102 of 558 mutants of NASLib's NB101 pickle loaded with different values
(an accuracy of -5.5e218 %, a changed hash key) and 138 of the legacy ``.pth``'s (a train time of
2.46e39 s); flips also escaped as raw ``ValueError``/``TypeError``/``KeyError``.
"""

from __future__ import annotations

import bz2
import pickle
import pickletools
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from nasbench_tools.errors import NasbenchToolsError
from nasbench_tools.groundtruth.columns import VALUE_RANGES
from nasbench_tools.groundtruth.formats import read_any

from ..conftest import NATS_TSS

FIX = Path(__file__).resolve().parents[1] / "fixtures"
NB201 = FIX / "groundtruth" / "nb201"
SEED = 20_260_608
#: Mutants per target in the fast suite, and in the slow one.
FAST_N, SLOW_N = 20, 300

#: An outcome: column name -> (metric, seeds, values); "_keys" -> the axis.
Outcome = dict


def payload_bytes(data: bytes) -> set[int]:
    """Positions inside a number's or a string's own bytes (not opcodes, not lengths), over the
    pickles stored back to back in ``data``."""
    out: set[int] = set()
    start = 0
    widths = {"SHORT_BINUNICODE": 1, "SHORT_BINSTRING": 1, "SHORT_BINBYTES": 1, "LONG1": 1}
    widths |= {"BINUNICODE8": 8, "BINBYTES8": 8}
    while start < len(data):
        ops = list(pickletools.genops(data[start:]))
        ends = [pos for _op, _arg, pos in ops[1:]] + [ops[-1][2] + 1]
        for (op, _arg, pos), end in zip(ops, ends):
            if op.name in ("BINFLOAT", "BININT", "BININT1", "BININT2"):
                out.update(range(start + pos + 1, start + end))
            elif op.name in ("LONG1", "LONG4") or op.name.endswith(("UNICODE", "UNICODE8")):
                out.update(range(start + pos + 1 + widths.get(op.name, 4), start + end))
            elif op.name.endswith(("STRING", "BYTES", "BYTES8")):
                out.update(range(start + pos + 1 + widths.get(op.name, 4), start + end))
        start += ends[-1]
    return out


def _from_columnset(cs) -> Outcome:
    out = {k.to_str(): (k.metric, c.seeds, c.values) for k, c in cs.columns.items()}
    return out | {"_keys": cs.keys.tolist()}


def same(a: Outcome, b: Outcome) -> bool:
    if a.keys() != b.keys() or a["_keys"] != b["_keys"]:
        return False
    return all(
        a[k][1] == b[k][1] and np.array_equal(a[k][2], b[k][2], equal_nan=True)
        for k in a
        if k != "_keys"
    )


def assert_in_range(out: Outcome, what: str) -> None:
    for name, (metric, _seeds, values) in ((k, v) for k, v in out.items() if k != "_keys"):
        lo, hi = VALUE_RANGES.get(metric, (-np.inf, np.inf))
        vals = values[~np.isnan(values)]
        assert np.isfinite(vals).all() and (vals >= lo).all() and (vals <= hi).all(), (
            f"{what}: {name} holds {vals[(vals < lo) | (vals > hi) | ~np.isfinite(vals)][:3]}"
        )


@dataclass
class Target:
    """A real file (or the pickle inside it), how to write a mutant of it and how to read it."""

    name: str
    data: bytes
    write: Callable[[bytes, Path], Path]
    read: Callable[[Path], Outcome]
    checksummed: bool  # a flip anywhere must be caught (bz2 or zip CRC)
    payload: set[int] = field(default_factory=set)


def _write_as(name: str) -> Callable[[bytes, Path], Path]:
    def write(data: bytes, tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data)
        return path

    return write


def _read_with(fmt: str) -> Callable[[Path], Outcome]:
    return lambda path: _from_columnset(read_any(path, format=fmt, progress=False))


def _write_arch(data: bytes, tmp: Path) -> Path:
    """A -simple folder: a small meta file (the first 285 real arch strings) and arch 284."""
    folder = tmp / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir(exist_ok=True)
    meta = folder / "meta.pickle.pbz2"
    if not meta.exists():
        with bz2.BZ2File(NATS_TSS / "meta.pickle.pbz2") as fh:
            archs = pickle.load(fh)["meta_archs"][:285]  # trusted fixture
        meta.write_bytes(bz2.compress(pickle.dumps({"meta_archs": archs}, protocol=4)))
    (folder / "000284.pickle.pbz2").write_bytes(data)
    return folder


def _write_zip_member(data: bytes, tmp: Path) -> Path:
    path = tmp / "NAS-Bench-201-fixture-zip.pth"
    with zipfile.ZipFile(path, "w") as zf:  # stored, with the mutant's own CRC
        zf.writestr("NAS-Bench-201-fixture-zip/data.pkl", data)
        zf.writestr("NAS-Bench-201-fixture-zip/version", "3\n")
    return path


def _targets() -> list[Target]:
    arch = (NATS_TSS / "000284.pickle.pbz2").read_bytes()
    arch_pickle = bz2.decompress(arch)
    legacy = (NB201 / "NAS-Bench-201-fixture-legacy.pth").read_bytes()
    zipped = (NB201 / "NAS-Bench-201-fixture-zip.pth").read_bytes()
    with zipfile.ZipFile(NB201 / "NAS-Bench-201-fixture-zip.pth") as zf:
        member = zf.read("NAS-Bench-201-fixture-zip/data.pkl")
    n201 = (NB201 / "nb201_cifar10_full_training.pickle").read_bytes()
    n101 = (FIX / "nb101" / "naslib_nb101_dummy.pkl").read_bytes()
    folder = _read_with("nats-tss-folder")
    return [
        Target(
            "nats-arch-pickle",
            arch_pickle,
            lambda d, tmp: _write_arch(bz2.compress(d, 1), tmp),
            folder,
            False,
            payload_bytes(arch_pickle),
        ),
        Target("nats-arch-bz2", arch, _write_arch, folder, True),
        Target(
            "pth-legacy",
            legacy,
            _write_as("NAS-Bench-201-fixture-legacy.pth"),
            _read_with("nb201-pth"),
            False,
            payload_bytes(legacy),
        ),
        Target(
            "pth-zip-member",
            member,
            _write_zip_member,
            _read_with("nb201-pth"),
            False,
            payload_bytes(member),
        ),
        Target("pth-zip", zipped, _write_as("z.pth"), _read_with("nb201-pth"), True),
        Target(
            "naslib-nb201",
            n201,
            _write_as("nb201_cifar10_full_training.pickle"),
            _read_with("naslib-nb201-pickle"),
            False,
            payload_bytes(n201),
        ),
        Target(
            "naslib-nb101",
            n101,
            _write_as("nasbench_only108.pkl"),
            _read_with("naslib-nb101-pickle"),
            False,
            payload_bytes(n101),
        ),
    ]


TARGETS = {t.name: t for t in _targets()}


def mutants(data: bytes, n: int, seed: int):
    """``n`` seeded mutants: 4 in 5 flip one byte (xor 1..255), 1 in 5 truncates."""
    rng = random.Random(seed)
    for _ in range(n):
        if rng.random() < 0.8:
            pos = rng.randrange(len(data))
            mutant = bytearray(data)
            mutant[pos] ^= rng.randrange(1, 256)
            yield f"flip at byte {pos}", pos, bytes(mutant)
        else:
            cut = rng.randrange(len(data))
            yield f"truncated to {cut} bytes", None, data[:cut]


def fuzz(target: Target, n: int, tmp: Path) -> dict[str, int]:
    original = target.read(target.write(target.data, tmp))
    assert_in_range(original, f"{target.name} original")
    tally = {"same": 0, "error": 0, "changed (number or string bytes)": 0}
    seed = SEED + sum(map(ord, target.name))
    for what, pos, data in mutants(target.data, n, seed):
        label = f"{target.name}, seed {seed}, {what}"
        try:
            out = target.read(target.write(data, tmp))
        except NasbenchToolsError:
            tally["error"] += 1
            continue
        except Exception as exc:
            pytest.fail(f"{label}: raw {type(exc).__name__}: {exc}")
        assert_in_range(out, label)
        if same(out, original):
            tally["same"] += 1
            continue
        assert pos is not None, f"{label}: a truncated file loaded with changed values"
        assert not target.checksummed, f"{label}: changed values slipped past the CRC"
        assert pos in target.payload, f"{label}: a structural byte changed values silently"
        tally["changed (number or string bytes)"] += 1
    return tally


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", list(TARGETS))
def test_fuzzed_real_file(tmp_path, name):
    tally = fuzz(TARGETS[name], FAST_N, tmp_path)
    assert sum(tally.values()) == FAST_N


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("name", list(TARGETS))
def test_fuzzed_real_file_at_length(tmp_path, name):
    tally = fuzz(TARGETS[name], SLOW_N, tmp_path)
    print(name, tally)
    assert tally["error"] > 0


def test_payload_positions_are_the_argument_bytes():
    data = b"\x80\x02G" + bytes(8) + b"X\x03\x00\x00\x00abcK\x07." + b"\x80\x02N."
    # BINFLOAT's 8 bytes, the string's 3 bytes (not its 4-byte length), BININT1's byte
    assert payload_bytes(data) == {*range(3, 11), 16, 17, 18, 20}
