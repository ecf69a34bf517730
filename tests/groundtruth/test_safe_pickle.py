"""The safe unpickler: exactly what numpy and pickle write loads, to the same values; anything else
is refused before the unpickler runs it, with the file, the global or opcode and its byte.

Oracles: ``pickle.loads`` of the same bytes for everything that must load (type-strict), and
``pickletools.genops`` for byte positions.
"""

from __future__ import annotations

import bz2
import io
import os
import pickle
import pickletools
import re
import struct
import subprocess
import sys
import tracemalloc
from collections import OrderedDict

import numpy as np
import pytest

from nasbench_tools.errors import CorruptFileError, ResourceLimitError, UnsafePickleError
from nasbench_tools.groundtruth import safe_pickle as sp
from nasbench_tools.groundtruth.safe_pickle import (
    ALLOWED_GLOBALS,
    COSTS,
    MAX_ARGUMENT,
    MAX_FRAME,
    PickleLimits,
    PickleStream,
    safe_load,
    safe_loads,
)

from ..conftest import NATS_TSS
from .crafted import FALSE, NONE, REDUCE, TRUE, b_, g, i, s, t

EXPECTED_ALLOW_LIST = {
    ("collections", "OrderedDict"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("builtins", "set"),
    ("builtins", "bytes"),
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}
P2 = b"\x80\x02"
MC = "numpy._core.multiarray"


class _System:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def deep_equal(a, b) -> bool:
    """Equal values of exactly the same types (numpy arrays: dtype, shape, layout, values)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and a.flags.c_contiguous == b.flags.c_contiguous
            and a.flags.f_contiguous == b.flags.f_contiguous
            and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    if isinstance(a, dict):
        return list(a) == list(b) and all(deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return a == b


def op_positions(data: bytes, name: str) -> list[int]:
    return [pos for op, _arg, pos in pickletools.genops(data) if op.name == name]


def load(data: bytes, **kw):
    return safe_loads(data, source="f.pkl", **kw)


# =========================================================================== what must load
OBJECTS = {
    "containers": {
        "a": [1, -2, 3.5, None, True, False, "x" * 70, "é", b"", b"\x00\xff"],
        "t": (1, (2, (3,)), ()),
        "s": {1, "a", (2, 3)},
        "od": OrderedDict([("b", 1), ("a", [])]),
        (1, "k"): {"nested": {"deep": [[], {}]}},
        "ints": [0, 255, 256, 65535, 65536, -1, 2**31 - 1, -(2**31), 2**63, -(2**100), 10**30],
        "floats": [0.0, -0.0, 1e308, float("inf"), -float("inf"), float("nan")],
        "text": ["", "a", "\u0100", "\U0001f600", "x" * 300, "\x00"],
    },
    "shared": (lambda x: [x, x, {"again": x}])([1, 2]),
    "numpy scalars": [
        np.float64(1.5),
        np.float32(2.25),
        np.float16(-1),
        np.int8(-1),
        np.int16(-300),
        np.int32(7),
        np.int64(-3),
        np.uint8(7),
        np.uint16(60000),
        np.uint32(4e9),
        np.uint64(2**64 - 1),
        np.bool_(True),
        np.bool_(False),
        np.complex64(1 + 2j),
        np.complex128(-1j),
        np.str_("ab"),
        np.bytes_(b"xy"),
    ],
    "numpy arrays": [
        np.arange(6.0).reshape(2, 3),
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.array([True, False]),
        np.arange(4, dtype=">i4"),
        np.arange(4, dtype="<u2"),
        np.array(["ab", "c"]),
        np.array([b"ab"]),
        np.zeros((0, 3)),
        np.array(5.0),
        np.arange(10)[::2],
        np.arange(24, dtype=np.int8).reshape(2, 3, 4),
        np.array([1 + 2j], dtype=">c8"),
    ],
    "arrays in containers": {
        "adj": np.eye(3, dtype=np.int64),
        "pair": (np.arange(2), np.arange(3.0)),
        "same twice": [np.arange(2)] * 2,
    },
}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("name", list(OBJECTS))
def test_loads_what_pickle_writes_to_identical_values(name, protocol):
    data = pickle.dumps(OBJECTS[name], protocol=protocol)
    ours = load(data)
    assert deep_equal(ours, pickle.loads(data))


def test_shared_references_stay_shared():
    shared = [1]
    arr = np.arange(3)
    ours = load(pickle.dumps({"a": shared, "b": shared, "x": [arr, arr, (arr,)]}, protocol=4))
    assert ours["a"] is ours["b"]
    assert ours["x"][0] is ours["x"][1] is ours["x"][2][0]
    assert type(ours["x"][0]) is np.ndarray


def test_array_as_the_whole_pickle_and_a_tuple_of_tuples():
    arr = np.arange(3)
    assert deep_equal(load(pickle.dumps(arr, protocol=2)), arr)
    nested = ((arr, 1), [((arr,),)])
    ours = load(pickle.dumps(nested, protocol=4))
    assert deep_equal(ours, pickle.loads(pickle.dumps(nested, protocol=4)))


def test_numpy_1_and_2_module_paths_both_load():
    arr = np.arange(6.0).reshape(2, 3)
    p2 = pickle.dumps({"a": arr, "s": np.float32(1.5)}, protocol=2)  # no frames: safe to edit
    p1 = p2.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert p1 != p2
    for data in (p1, p2):
        out = load(data)
        assert deep_equal(out["a"], arr) and out["s"] == np.float32(1.5)


@pytest.mark.parametrize(
    "path",
    sorted(NATS_TSS.iterdir()),
    ids=lambda p: p.name,
)
def test_real_nats_files_load_as_plain_pickle_does(path):
    raw = bz2.decompress(path.read_bytes())
    assert deep_equal(load(raw), pickle.loads(raw))


def test_real_nats_record_values():
    raw = bz2.decompress((NATS_TSS / "000000.pickle.pbz2").read_bytes())
    ours = load(raw)
    assert isinstance(ours, OrderedDict)
    rec = ours["200"]["all_results"][("cifar10-valid", 777)]
    assert rec["eval_acc1es"]["x-valid@199"] == pytest.approx(82.092, abs=1e-6)
    assert type(rec["params"]) is np.float64


def test_arrays_come_back_native_as_numpy_does():
    # ndarray.__setstate__ byteswaps to native order; _frombuffer (protocol 5) keeps the order
    big = np.arange(3, dtype=">f8")
    assert load(pickle.dumps(big, protocol=4)).dtype == np.dtype("<f8")
    assert load(pickle.dumps(big, protocol=5)).dtype == np.dtype(">f8")


def test_allow_list_is_exactly_what_the_files_need():
    assert set(ALLOWED_GLOBALS) == EXPECTED_ALLOW_LIST
    assert all(len(why) > 20 for why in ALLOWED_GLOBALS.values())  # each entry is justified


# =========================================================================== globals and opcodes
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_os_system_is_refused_and_not_executed(tmp_path, monkeypatch, protocol):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    data = pickle.dumps({"a": [1, _System(f"touch {marker}")]}, protocol=protocol)
    with pytest.raises(UnsafePickleError) as info:
        load(data)
    msg = str(info.value)
    assert msg.startswith("f.pkl: refusing to load: the pickle names the global ")
    assert f"'{os.system.__module__}.system'" in msg
    glob = op_positions(data, "STACK_GLOBAL" if protocol >= 4 else "GLOBAL")[0]
    assert f"at byte {glob}," in msg
    assert "nothing was executed" in msg
    assert not marker.exists()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "module, name",
    [
        ("builtins", "eval"),
        ("__builtin__", "eval"),  # the protocol-2 alias opens no hole
        ("builtins", "getattr"),
        ("subprocess", "Popen"),
        ("numpy", "load"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("copyreg", "_reconstructor"),
        ("collections", "namedtuple"),
        ("numpy.core.multiarray", "fromstring"),
    ],
)
def test_other_globals_are_refused(module, name):
    data = P2 + g(module, name) + b"q\x00)R."
    alias = module.replace("__builtin__", "builtins")
    with pytest.raises(UnsafePickleError, match=rf"'{alias}\.{name}' at byte 2, which is not"):
        load(data)


def test_stack_global_names_may_come_from_the_memo():
    # NASLib's file names 'numpy' a second time with BINGET of the memoised string
    first = pickle.dumps([np.float64(1.0), np.dtype("f8").type(2.0)], protocol=4)
    assert b"h" in first or b"j" in first
    assert load(first) == [1.0, 2.0]
    evil = b"\x80\x04\x8c\x05posix\x94\x8c\x06system\x94\x93."
    via_memo = b"\x80\x04\x8c\x05posix\x94N0h\x00\x8c\x06system\x93."
    for data in (evil, via_memo):
        pos = op_positions(data, "STACK_GLOBAL")[0]
        with pytest.raises(UnsafePickleError, match=rf"'posix\.system' at byte {pos},"):
            load(data)


@pytest.mark.parametrize(
    "op, name",
    [
        (b"\x81", "NEWOBJ"),
        (b"\x92", "NEWOBJ_EX"),
        (b"o", "OBJ"),
        (b"\x82\x01", "EXT1"),
        (b"\x83\x01\x00", "EXT2"),
        (b"\x84\x01\x00\x00\x00", "EXT4"),
        (b"Q", "BINPERSID"),
        (b"P0\n", "PERSID"),
        (b"\x97", "NEXT_BUFFER"),
        (b"\x98", "READONLY_BUFFER"),
    ],
)
def test_opcodes_that_build_arbitrary_objects_are_refused(op, name):
    data = P2 + b"NN" + op + b"."
    with pytest.raises(
        UnsafePickleError, match=rf"refusing to load: the opcode {name} .* at byte 4;"
    ):
        load(data)


def test_inst_is_refused_naming_its_global():
    with pytest.raises(UnsafePickleError, match=r"the opcode INST 'os\.system' .* at byte 3"):
        load(P2 + b"(ios\nsystem\n.")


def test_newobj_of_ndarray_returns_no_uninitialised_memory():
    data = P2 + g("numpy", "ndarray") + t(i(3)) + b"\x81."
    pos = op_positions(data, "NEWOBJ")[0]
    with pytest.raises(UnsafePickleError, match=rf"the opcode NEWOBJ .* at byte {pos};"):
        load(data)


def test_persistent_ids_are_refused():
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=2)
    p.persistent_id = lambda obj: ("storage", "FloatStorage", "0", "cpu", 4) if obj == "T" else None
    p.dump({"w": "T"})
    with pytest.raises(UnsafePickleError, match="BINPERSID"):
        load(buf.getvalue())


def test_refusal_imports_nothing():
    # 'this' prints the Zen of Python when imported; a refused global must not import its module
    code = (
        "import sys\n"
        "from nasbench_tools.groundtruth.safe_pickle import safe_loads\n"
        "from nasbench_tools.errors import UnsafePickleError\n"
        "try:\n"
        "    safe_loads(b'\\x80\\x02cthis\\ns\\nq\\x00.', source='x')\n"
        "except UnsafePickleError:\n"
        "    pass\n"
        "assert 'this' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "ok\n"


@pytest.mark.parametrize(
    "body, error, pattern",
    [
        (
            NONE + t() + REDUCE,
            UnsafePickleError,
            "REDUCE calls a plain value, not an allowed global",
        ),
        (b"]" + t() + REDUCE, UnsafePickleError, "REDUCE calls a list, not an allowed global"),
        (
            g("numpy", "ndarray") + t() + REDUCE,
            UnsafePickleError,
            r"REDUCE calls numpy\.ndarray \(it is only an argument of _reconstruct\)",
        ),
        (
            g("numpy", "dtype") + NONE + REDUCE,
            CorruptFileError,
            "REDUCE whose arguments are not a tuple",
        ),
        (
            g("numpy", "dtype") + b"]" + REDUCE,
            CorruptFileError,
            "REDUCE whose arguments are not a tuple",
        ),
    ],
)
def test_reduce_calls_only_allowed_globals(body, error, pattern):
    data = P2 + body + b"."
    pos = op_positions(data, "REDUCE")[0]
    with pytest.raises(error, match=rf"{pattern} at byte {pos}"):
        load(data)


@pytest.mark.parametrize(
    "target, what",
    [
        (b"]", "a list"),
        (b"}", "a dict"),
        (b"\x8f", "a set"),
        (NONE, "a plain value"),
        (s("x"), "a plain value"),
        (g("collections", "OrderedDict"), r"the global collections\.OrderedDict"),
        (g("_codecs", "encode"), r"the global _codecs\.encode"),
        (g("collections", "OrderedDict") + t() + REDUCE, "an OrderedDict"),
    ],
)
def test_build_only_on_a_pending_dtype_or_array(target, what):
    data = P2 + target + b"}" + b"b."
    pos = op_positions(data, "BUILD")[0]
    with pytest.raises(UnsafePickleError, match=rf"BUILD \(setting an object's state\) on {what}"):
        load(data)
    with pytest.raises(UnsafePickleError, match=rf"at byte {pos}"):
        load(data)


def test_build_on_codecs_encode_sets_nothing():
    # the review's route: BUILD on the global sets attributes of a process-global function
    data = (
        P2
        + g("_codecs", "encode")
        + t(NONE, b"}" + s("__kwdefaults__") + b"}" + s("errors") + s("ignore") + b"ss")
        + b"b0N."
    )
    with pytest.raises(UnsafePickleError, match=r"BUILD .* on the global _codecs\.encode"):
        load(data)
    ok = pickle.dumps(b"\x00\xff", protocol=2)
    assert load(ok) == b"\x00\xff"


# =========================================================================== structure
@pytest.mark.parametrize(
    "body, pattern",
    [
        (b"0", r"POP needs 1 item\(s\) on the stack, finds fewer at byte 2"),
        (b"N\x86", r"TUPLE2 needs 2 item\(s\) on the stack, finds fewer at byte 3"),
        (b"N(\x85", r"TUPLE1 needs 1 item\(s\) on the stack, finds fewer at byte 4"),
        (b"NNs", r"SETITEM with no container below its items at byte 4"),
        (b"]NNs", r"SETITEM into a list, not a dict or an OrderedDict at byte 5"),
        (b"}Na", r"APPEND into a dict, not a list at byte 4"),
        (b"N(Ne", r"APPENDS into a plain value, not a list at byte 5"),
        (b"](Ne", None),
        (b"](N\x90", r"ADDITEMS into a list, not a set at byte 5"),
        (b"}(Nu", r"SETITEMS with an odd number of items at byte 5"),
        (b"(Nd", r"DICT with an odd number of items at byte 4"),
        (b"t", r"TUPLE without a MARK before it at byte 2"),
        (b"l", r"LIST without a MARK before it at byte 2"),
        (b"d", r"DICT without a MARK before it at byte 2"),
        (b"e", r"APPENDS without a MARK before it at byte 2"),
        (b"u", r"SETITEMS without a MARK before it at byte 2"),
        (b"\x90", r"ADDITEMS without a MARK before it at byte 2"),
        (b"\x91", r"FROZENSET without a MARK before it at byte 2"),
        (b"1", r"POP_MARK without a MARK before it at byte 2"),
        (b"(u", r"SETITEMS with no container below its items at byte 3"),
        (b"2", r"DUP with nothing on the stack at byte 2"),
        (b"\x94", r"MEMOIZE with nothing on the stack at byte 2"),
        (b"N(\x94", r"MEMOIZE with nothing on the stack at byte 4"),
        (b"q\x00", r"BINPUT with nothing on the stack at byte 2"),
        (b"h\x00", r"GET of memo index 0, which was never stored at byte 2"),
        (b"Nq\x01h\x00", r"GET of memo index 0, which was never stored at byte 5"),
        (b"j\x05\x00\x00\x00", r"GET of memo index 5, which was never stored at byte 2"),
        (b"g3\n", r"GET of memo index 3, which was never stored at byte 2"),
        (b"(", r"STOP with nothing on the stack at byte 3"),
        (b"N(", r"STOP with nothing on the stack at byte 4"),
        (b"b", r"BUILD needs 1 item\(s\) on the stack, finds fewer at byte 2"),
        (b"Nb", r"BUILD with nothing to build at byte 3"),
        (b"(Nb", r"BUILD with nothing to build at byte 4"),
        (b"NN\x93", r"STACK_GLOBAL without two short strings naming the global at byte 4"),
        (b"\x8c\x01a" + b"X\x41\x00\x00\x00" + b"a" * 65 + b"\x93", "without two short strings"),
        (b"\xff", r"0xff is not a pickle opcode at byte 2"),
        (b"\x80\x06", r"unsupported pickle protocol 6 at byte 2"),
        (b"}]Ns", r"SETITEM uses a list as a key or set element at byte 5"),
        (b"(]\x91", r"FROZENSET uses a list as a key or set element at byte 4"),
        (b"\x8f(}\x90", r"ADDITEMS uses a dict as a key or set element at byte 5"),
        (b"(}Nd", r"DICT uses a dict as a key or set element at byte 5"),
        (b"}(]Nu", r"SETITEMS uses a list as a key or set element at byte 6"),
    ],
)
def test_damaged_structure_names_the_opcode_and_byte(body, pattern):
    data = P2 + body + b"."
    if pattern is None:  # what C's unpickler accepts, we accept: an empty APPENDS-like op
        assert load(P2 + b"](e.") == []
        return
    with pytest.raises(CorruptFileError, match=pattern) as info:
        load(data)
    assert str(info.value).startswith("f.pkl: damaged pickle: ")


def test_pop_removes_a_mark_like_the_c_unpickler():
    assert load(P2 + b"N(0.") is None
    assert load(P2 + b"(N0N\x85.") == (None,)


def test_empty_container_ops_accept_nothing_to_add():
    assert load(P2 + b"](e.") == []
    assert load(P2 + b"}(u.") == {}
    assert load(b"\x80\x04\x8f(\x90.") == set()


@pytest.mark.parametrize(
    "data, pattern",
    [
        (
            P2 + b"G" + b"\x00" * 4,
            r"the stream breaks at byte 7: it ends inside the BINFLOAT opcode that starts at byte 2",
        ),
        (
            P2 + b"X\x05\x00\x00\x00ab",
            r"breaks at byte 9: it ends inside the BINUNICODE opcode that starts at byte 2",
        ),
        (P2 + b"\x8c\x05ab", r"ends inside the SHORT_BINUNICODE opcode that starts at byte 2"),
        (P2 + b"\x8c", r"ends inside the SHORT_BINUNICODE opcode"),
        (P2 + b"K", r"ends inside the BININT1 opcode"),
        (P2 + b"M\x01", r"ends inside the BININT2 opcode"),
        (P2 + b"J\x01", r"ends inside the BININT opcode"),
        (P2 + b"h", r"ends inside the BINGET opcode"),
        (P2 + b"Nj\x00", r"ends inside the LONG_BINGET opcode"),
        (P2 + b"Nq", r"ends inside the BINPUT opcode"),
        (P2 + b"Nr\x00", r"ends inside the LONG_BINPUT opcode"),
        (P2 + b"B\x09\x00\x00\x00abc", r"ends inside the BINBYTES opcode"),
        (P2 + b"\x8a\x02\x01", r"ends inside the LONG1 opcode"),
        (P2 + b"cnumpy\ndty", r"ends inside the GLOBAL opcode"),
        (P2 + b"I12", r"ends inside the INT opcode"),
        (b"\x80", r"breaks at byte 1: it ends inside the PROTO opcode that starts at byte 0"),
        (b"\x80\x04\x95\x01\x00", r"ends inside the FRAME opcode"),
        (P2 + b"N", r"the stream breaks at byte 3: it ends before the pickle's STOP opcode"),
        (b"", r"the stream breaks at byte 0: it ends before the pickle's STOP opcode"),
    ],
)
def test_truncation_names_the_byte_and_the_opcode(data, pattern):
    with pytest.raises(CorruptFileError, match=pattern):
        load(data)


def test_truncated_real_record_breaks_at_its_length():
    raw = bz2.decompress((NATS_TSS / "000011.pickle.pbz2").read_bytes())
    with pytest.raises(
        CorruptFileError,
        match=r"x\.pkl: damaged pickle \(decompressed\): the stream breaks at byte 5000: it ends inside",
    ):
        safe_loads(raw[:5000], source="x.pkl", where="decompressed")


@pytest.mark.parametrize(
    "data, pattern",
    [
        (
            P2 + b"\x8c\x02\xff\xfe.",
            r"the string of the SHORT_BINUNICODE opcode is not UTF-8 .* at byte 2",
        ),
        (
            P2 + b"NX\x01\x00\x00\x00\xc3.",
            r"the string of the BINUNICODE opcode is not UTF-8 .* at byte 3",
        ),
        (
            b"\x80\x04\x8d\x01" + bytes(7) + b"\xc3.",
            r"the string of the BINUNICODE8 opcode is not UTF-8",
        ),
        (P2 + b"c\xffa\nb\n.", r"GLOBAL names that are not UTF-8 at byte 2"),
        (P2 + b"T\xff\xff\xff\xff.", r"BINSTRING with a negative length -1 at byte 2"),
        (P2 + b"\x8b\xfe\xff\xff\xff.", r"LONG4 with a negative length -2 at byte 2"),
        (P2 + b"Iabc\n.", r"INT with an unreadable argument"),
        (P2 + b"L12x\n.", r"LONG with an unreadable argument"),
        (P2 + b"Fnope\n.", r"FLOAT with an unreadable argument"),
        (P2 + b"Sabc\n.", r"STRING with an unreadable argument"),
        (P2 + b"S'abc\"\n.", r"STRING with an unreadable argument"),
        (P2 + b"Vab\\u12\n.", r"UNICODE with an unreadable argument"),
        (P2 + b"Pabc\n.", r"the opcode PERSID"),
        (P2 + b"gx\n.", r"GET with an unreadable argument"),
    ],
)
def test_unreadable_arguments(data, pattern):
    with pytest.raises((CorruptFileError, UnsafePickleError), match=pattern):
        load(data)


def test_protocol_0_text_opcodes_load():
    data = b"(I01\nI00\nI-12\nL99L\nL0x10\nF1.5\nS'a\\nb'\nVcaf\\xe9\np0\ng0\nN2lp1\n."
    assert load(data) == pickle.loads(data)


@pytest.mark.parametrize("protocol", [0, 1, 2, 4])
def test_protocol_0_and_1_pickles_of_everything_load(protocol):
    obj = {"a": [1, 2.5, "x", b"y", None, True], "t": (1,), "s": {3}, "o": OrderedDict(z=1)}
    data = pickle.dumps(obj, protocol=protocol)
    assert deep_equal(load(data), pickle.loads(data))


# =========================================================================== bounds
def _nested_tuples(depth: int, op: bytes = b"\x85") -> bytes:
    return P2 + b"}" + NONE + op * depth + NONE + b"s."


def test_tuples_nest_up_to_max_depth():
    assert load(_nested_tuples(100))  # hashing 100 deep is fine
    with pytest.raises(
        ResourceLimitError,
        match=r"TUPLE1 nests tuples/frozensets 101 deep, more than the 100 allowed .* at byte 104",
    ):
        load(_nested_tuples(101))


def test_nesting_counts_through_every_tuple_and_frozenset_op():
    limits = PickleLimits(max_depth=3)
    ok = P2 + b"N\x85N\x86\x85."  # (((None,), None),): depth 3
    assert load(ok, limits=limits) == (((None,), None),)
    for deeper, name in [
        (P2 + b"N\x85\x85\x85\x85.", "TUPLE1"),
        (P2 + b"N\x85\x85NN\x87\x85.", "TUPLE1"),
        (P2 + b"N\x85\x85N\x86\x85.", "TUPLE1"),
        (P2 + b"N\x85\x85\x85N\x86.", "TUPLE2"),
        (P2 + b"NNN\x85\x85\x85\x87.", "TUPLE3"),
        (P2 + b"(N\x85\x85\x85t.", "TUPLE"),
        (b"\x80\x04(N\x85\x85\x85\x91.", "FROZENSET"),
        (P2 + b"N\x85\x85\x85\x94" + b"0h\x00\x85.", "TUPLE1"),  # through the memo
    ]:
        pos = len(deeper) - 2
        with pytest.raises(
            ResourceLimitError,
            match=rf"{name} nests tuples/frozensets 4 deep, more than the 3 allowed .* at byte {pos}",
        ):
            load(deeper, limits=limits)
    # a list in between does not count: hashing stops at it
    assert load(P2 + b"N\x85\x85](N\x85\x85\x85e\x85.", limits=limits)


def test_deep_tuple_key_no_longer_crashes_in_a_subprocess():
    code = (
        "from nasbench_tools.groundtruth.safe_pickle import safe_loads\n"
        "from nasbench_tools.errors import ResourceLimitError\n"
        "data = b'\\x80\\x02}N' + b'\\x85' * 1_000_000 + b'Ns.'\n"
        "try:\n"
        "    safe_loads(data, source='x')\n"
        "except ResourceLimitError:\n"
        "    print('refused')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (out.returncode, out.stdout) == (0, "refused\n"), out.stderr[-2000:]


@pytest.mark.parametrize("op", [b"r", b"q"])
def test_memo_index_beyond_the_stream_is_refused(op):
    big = P2 + b"N" + b"r" + struct.pack("<I", 80_000_000) + b"."
    with pytest.raises(
        ResourceLimitError,
        match=r"LONG_BINPUT stores memo index 80,000,000, more than the stream has bytes before it at byte 3",
    ):
        load(big)
    # an index up to the stream's length so far is what a writer can produce
    at_limit = (
        P2
        + b"NNNN"
        + op
        + (b"\x06" if op == b"q" else struct.pack("<I", 6))
        + b"h\x06".replace(b"h", b"h")
        + b"."
    )
    assert load(at_limit) is None
    over = P2 + b"NNNN" + b"r" + struct.pack("<I", 7) + b"."
    with pytest.raises(ResourceLimitError, match="memo index 7"):
        load(over)
    with pytest.raises(ResourceLimitError, match="PUT stores memo index 99"):
        load(b"Np99\n.")


def test_sparse_memo_then_memoize_uses_the_count_of_stored_entries():
    # C's MEMOIZE stores at the number of entries stored so far, not at the highest index + 1
    data = b"\x80\x04NNNNN" + b"q\x04" + b"K\x07\x94" + b"h\x01" + b"."
    assert load(data) == 7
    with pytest.raises(CorruptFileError, match="GET of memo index 2"):
        load(b"\x80\x04NNNNNq\x04K\x07\x94h\x02.")


def test_frame_larger_than_allowed_is_refused():
    body = b"N" + b"0N" * ((MAX_FRAME - 2) // 2) + b"."
    assert len(body) == MAX_FRAME
    assert load(b"\x80\x04\x95" + struct.pack("<Q", MAX_FRAME) + body) is None
    big = b"\x80\x04\x95" + struct.pack("<Q", MAX_FRAME + 1) + body + b"N"
    with pytest.raises(
        ResourceLimitError,
        match=rf"FRAME declares {MAX_FRAME + 1:,} bytes, more than the {MAX_FRAME:,} allowed at byte 2",
    ):
        load(big)


def test_argument_longer_than_allowed_is_refused_even_when_present(monkeypatch):
    monkeypatch.setattr(sp, "MAX_ARGUMENT", 10)
    assert load(P2 + b"B\x0a\x00\x00\x00" + b"x" * 10 + b".") == b"x" * 10
    with pytest.raises(
        ResourceLimitError,
        match=r"BINBYTES has a 11-byte argument, more than the 10 allowed at byte 2",
    ):
        load(P2 + b"B\x0b\x00\x00\x00" + b"x" * 11 + b".")
    with pytest.raises(ResourceLimitError, match=r"FLOAT has a text line longer than 10 bytes"):
        load(P2 + b"F" + b"1" * 20 + b"\n.")
    assert load(P2 + b"F" + b"1" * 10 + b"\n.") == 1111111111.0


def test_claimed_length_beyond_the_cap_is_refused_before_reading():
    data = P2 + b"\x8e" + struct.pack("<Q", 2**60) + b"."
    with pytest.raises(
        ResourceLimitError,
        match=rf"BINBYTES8 has a {2**60:,}-byte argument, more than the {MAX_ARGUMENT:,} allowed",
    ):
        load(data)


def test_empty_set_spam_is_refused_by_the_allocation_bound():
    limits = PickleLimits(object_floor=1 << 20, object_ratio=16)
    spam = P2 + b"(" + b"\x8f" * 100_000 + b"l."
    with pytest.raises(
        ResourceLimitError,
        match=r"would allocate more than .* \(1,048,576 \+ 16 per byte\); refused",
    ):
        load(spam, limits=limits)
    # as many bytes of cheap opcodes stay within the bound
    assert load(P2 + b"N0" * 50_000 + b"N.", limits=limits) is None


def test_allocation_bound_is_floor_plus_ratio_per_byte():
    assert PickleLimits(object_floor=7, object_ratio=3).allowance(10) == 37
    assert sp.DEFAULT_LIMITS.allowance(0) == 64 << 20


def test_real_files_stay_far_below_the_bound():
    for path in sorted(NATS_TSS.iterdir()):
        raw = bz2.decompress(path.read_bytes())
        ld = sp._Load("x", "", 0, sp.DEFAULT_LIMITS)
        assert ld.verifier.feed(raw, True) == len(raw)
        # charged 2-9 per byte; the bound allows 32 per byte (the objects need 3-6)
        assert ld.verifier.cost < sp.DEFAULT_LIMITS.object_ratio / 3 * len(raw), path.name


def _measured(data: bytes) -> int:
    """Peak bytes tracemalloc sees while the C unpickler (not our code) loads ``data``."""
    pickle.loads(data)  # warm caches (interned names, numpy type objects)
    tracemalloc.start()
    obj = pickle.loads(data)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del obj
    return peak


@pytest.mark.parametrize(
    "name, item",
    [
        ("floats", b"G" + struct.pack(">d", 1.5)),
        ("ints", b"J\x01\x02\x03\x04"),
        ("short strings", b"\x8c\x05abcde\x94"),
        ("long strings", b"X\x00\x01\x00\x00" + b"x" * 256 + b"\x94"),
        ("bytes", b"C\x05abcde"),
        ("empty lists", b"]"),
        ("empty dicts", b"}"),
        ("empty sets", b"\x8f"),
        ("pairs", b"NN\x86"),
        ("frozensets", b"(K\x01K\x02\x91"),
        ("memoised", b"N\x94"),
    ],
)
def test_charged_costs_bound_what_the_unpickler_allocates(name, item):
    n = 2000
    data = b"\x80\x04(" + item * n + b"l."
    ld = sp._Load("x", "", 0, sp.DEFAULT_LIMITS)
    ld.verifier.feed(data, True)
    charged = ld.verifier.cost
    measured = _measured(data)
    assert charged >= measured, f"{name}: charged {charged} < measured {measured}"
    assert charged <= 4 * measured + 128 * n, f"{name}: charged {charged}, measured {measured}"


# =========================================================================== stand-ins
def dtype(code: str, state: bytes | None = None, args: bytes | None = None) -> bytes:
    args = t(s(code), FALSE, TRUE) if args is None else args
    out = g("numpy", "dtype") + args + REDUCE
    return out + (state + b"b" if state is not None else b"")


def state(endian="<", elsize=-1, align=-1, flags=0, version=3, names=NONE, fields=NONE) -> bytes:
    return t(i(version), s(endian), NONE, names, fields, i(elsize), i(align), i(flags))


def scalar(dt: bytes, payload: bytes) -> bytes:
    return P2 + g(MC, "scalar") + t(dt, payload) + REDUCE + b"."


@pytest.mark.parametrize(
    "code, endian, elsize, align, flags, value",
    [
        ("f8", "<", -1, -1, 0, 1.5),
        ("f8", ">", -1, -1, 0, 1.5),
        ("f4", "<", -1, -1, 0, 1.5),
        ("f2", "<", -1, -1, 0, 1.5),
        ("i8", "<", -1, -1, 0, -7),
        ("u2", ">", -1, -1, 0, 9),
        ("i1", "|", -1, -1, 0, -1),
        ("u1", "|", -1, -1, 0, 200),
        ("b1", "|", -1, -1, 0, True),
        ("c16", "<", -1, -1, 0, 1 + 2j),
        ("S3", "|", 3, 1, 0, b"ab"),
        ("U2", "<", 8, 4, 8, "hi"),
        ("U2", ">", 8, 4, 8, "hi"),
    ],
)
def test_every_closed_set_dtype_loads_as_numpy_writes_it(code, endian, elsize, align, flags, value):
    dt = np.dtype(code if endian == "|" else endian + code)
    raw = np.array([value], dtype=dt).tobytes()
    data = scalar(dtype(code, state(endian, elsize, align, flags)), b_(raw))
    ours = load(data)
    assert deep_equal(ours, np.array([value], dtype=dt)[0])
    assert dt.__reduce__()[2] == (3, endian, None, None, None, elsize, align, flags)


@pytest.mark.parametrize(
    "code",
    ["O8", "O", "V8", "M8", "m8[s]", "f16", "g", "U0", "S0", "U300000", "i16", "", "f8 "],
)
def test_dtypes_outside_the_closed_set_are_refused(code):
    data = scalar(dtype(code, state()), b_(bytes(8)))
    pos = op_positions(data, "REDUCE")[0]
    with pytest.raises(
        UnsafePickleError,
        match=rf"REDUCE numpy\.dtype\({re.escape(repr(code))}, False, True\) at byte {pos}: only bool, integer, float",
    ):
        load(data)


@pytest.mark.parametrize(
    "args",
    [
        t(s("f8"), i(0), i(1)),
        t(s("f8"), FALSE, TRUE),
    ],
)
def test_dtype_arguments_numpy_1_and_2_write(args):
    assert load(scalar(dtype("f8", state(), args), b_(struct.pack("<d", 2.0)))) == 2.0


@pytest.mark.parametrize(
    "args",
    [
        t(s("f8"), TRUE, TRUE),
        t(s("f8"), FALSE, FALSE),
        t(s("f8"), i(1), i(1)),
        t(s("f8"), FALSE, i(2)),
        t(s("f8"), FALSE),
        t(s("f8"), FALSE, TRUE, NONE),
        t(i(8), FALSE, TRUE),
    ],
)
def test_other_dtype_arguments_are_refused(args):
    data = scalar(dtype("f8", state(), args), b_(bytes(8)))
    pos = op_positions(data, "REDUCE")[0]
    with pytest.raises(UnsafePickleError, match=rf"REDUCE numpy\.dtype\(.*\) at byte {pos}: "):
        load(data)


@pytest.mark.parametrize(
    "bad",
    [
        state(flags=1),  # forged flags
        state(flags=63),
        state(version=4),
        state(endian="="),
        state(endian="|"),
        state(elsize=8),
        state(align=8),
        state(names=t(s("a"))),
        state(fields=b"}"),
        t(i(3), s("<"), NONE, NONE, NONE, i(-1), i(-1)),  # 7 fields
        t(i(3), s("<"), NONE, NONE, NONE, i(-1), i(-1), i(0), NONE),  # 9 (version 4 layout)
        t(i(3), s("<"), NONE, NONE, NONE, i(-1), i(-1), FALSE),  # False is not 0 here
        b"]",
        NONE,
    ],
)
def test_dtype_state_must_be_exactly_what_numpy_writes(bad):
    with pytest.raises(
        UnsafePickleError,
        match=r"BUILD of numpy\.dtype\('f8'\) at byte \d+: the state .* is not what numpy writes for 'f8'",
    ):
        load(scalar(dtype("f8", bad), b_(bytes(8))))


def test_dtype_state_positions_and_second_build():
    data = scalar(dtype("f8", state() + b"b" + state()[:0] + NONE), b_(bytes(8)))
    build = op_positions(data, "BUILD")
    with pytest.raises(
        UnsafePickleError,
        match=rf"BUILD of numpy\.dtype\('f8'\) at byte {build[1]}: the dtype already has its state",
    ):
        load(data)


def test_dtype_used_before_its_state_is_refused():
    data = scalar(dtype("f8"), b_(bytes(8)))
    pos = op_positions(data, "REDUCE")[1]
    with pytest.raises(
        UnsafePickleError,
        match=rf"REDUCE numpy\._core\.multiarray\.scalar\(numpy\.dtype\('f8'\), b'.*'\) at byte {pos}: the dtype was used before its state",
    ):
        load(data)


def test_the_forged_flags_route_never_reaches_numpy():
    # dtype('O8') + BUILD with flags 0 + scalar(dtype, b'AAAAAAAA') made numpy dereference
    # 0x4141414141414141; the object dtype is refused when it is named, before any BUILD
    data = scalar(dtype("O8", state("|", flags=0)), b_(b"A" * 8))
    pos = op_positions(data, "REDUCE")[0]
    with pytest.raises(
        UnsafePickleError, match=rf"numpy\.dtype\('O8', False, True\) at byte {pos}:"
    ):
        load(data)


@pytest.mark.parametrize(
    "payload, pattern",
    [
        (b_(bytes(7)), r"the payload has 7 bytes; a float64 scalar has 8"),
        (b_(bytes(9)), r"the payload has 9 bytes"),
        (NONE, r"the payload is a NoneType, not bytes"),
        (s("\u0100" * 4), r"the payload string has characters beyond latin-1"),
    ],
)
def test_scalar_payload_must_match_the_dtype(payload, pattern):
    with pytest.raises(UnsafePickleError, match=pattern):
        load(scalar(dtype("f8", state()), payload))


def test_scalar_from_a_python_2_latin_1_string_payload():
    raw = struct.pack("<d", 3.25)
    assert load(scalar(dtype("f8", state()), s(raw.decode("latin-1")))) == 3.25


def test_bool_payload_bytes_other_than_0_and_1_are_refused():
    assert load(scalar(dtype("b1", state("|")), b_(b"\x01"))) is np.True_
    with pytest.raises(UnsafePickleError, match="a bool payload holds bytes other than 0 and 1"):
        load(scalar(dtype("b1", state("|")), b_(b"\x02")))


@pytest.mark.parametrize(
    "args",
    [
        t(dtype("f8", state())),
        t(dtype("f8", state()), b_(bytes(8)), NONE),
        t(NONE, b_(bytes(8))),
        t(b"]", b_(bytes(8))),
    ],
)
def test_scalar_takes_exactly_a_dtype_of_this_file_and_a_payload(args):
    data = P2 + g(MC, "scalar") + args + REDUCE + b"."
    pos = op_positions(data, "REDUCE")[-1]
    with pytest.raises(
        UnsafePickleError,
        match=rf"REDUCE numpy\._core\.multiarray\.scalar\(.*\) at byte {pos}: (the dtype is|numpy writes scalar)",
    ):
        load(data)


def reconstruct(args: bytes | None = None) -> bytes:
    args = t(g("numpy", "ndarray"), t(i(0)), b_(b"b")) if args is None else args
    return g(MC, "_reconstruct") + args + REDUCE


def array_state(shape=(2,), dt=None, fortran=FALSE, payload=None, version=1) -> bytes:
    dt = dtype("f8", state()) if dt is None else dt
    payload = b_(bytes(8 * int(np.prod(shape)))) if payload is None else payload
    return t(i(version), t(*(i(d) for d in shape)), dt, fortran, payload)


def test_reconstruct_and_build_load_an_array():
    data = P2 + reconstruct() + array_state((2,), payload=b_(struct.pack("<2d", 1, 2))) + b"b."
    out = load(data)
    assert type(out) is np.ndarray and out.tolist() == [1.0, 2.0]


def test_reconstruct_accepts_the_python_2_typecode():
    args = t(g("numpy", "ndarray"), t(i(0)), s("b"))
    assert load(P2 + reconstruct(args) + array_state((0,)) + b"b.").shape == (0,)


@pytest.mark.parametrize(
    "args",
    [
        t(g("numpy", "ndarray"), t(i(1)), b_(b"b")),
        t(g("numpy", "ndarray"), t(i(0)), b_(b"B")),
        t(g("numpy", "ndarray"), t(FALSE), b_(b"b")),
        t(g("numpy", "dtype"), t(i(0)), b_(b"b")),
        t(NONE, t(i(0)), b_(b"b")),
        t(g("numpy", "ndarray"), t(i(0))),
    ],
)
def test_reconstruct_takes_exactly_what_numpy_writes(args):
    with pytest.raises(
        UnsafePickleError, match=r"numpy writes _reconstruct\(numpy\.ndarray, \(0,\), b'b'\)"
    ):
        load(P2 + reconstruct(args) + b".")


@pytest.mark.parametrize(
    "st, pattern",
    [
        (array_state(version=2), r"array state version 2, not 1"),
        (
            array_state(version=1)[:-1] + b"t"[:0] + FALSE + b"t",
            r"numpy writes an array's state as",
        ),
        (t(i(1), t(i(2)), dtype("f8", state()), FALSE), r"numpy writes an array's state as"),
        (array_state(fortran=i(0)), r"is_fortran is 0, not a bool"),
        (array_state(payload=b"](K\x01K\x02e"), r"the payload is a list, not bytes"),
        (
            array_state((3,), payload=b_(bytes(16))),
            r"the payload has 16 bytes; shape \(3,\) of float64 needs 24",
        ),
        (t(i(1), b"]", dtype("f8", state()), FALSE, b_(b"")), r"the shape \[\] is not a tuple"),
        (
            t(i(1), t(i(-1)), dtype("f8", state()), FALSE, b_(b"")),
            r"the shape \(-1,\) is not a tuple",
        ),
        (t(i(1), t(TRUE), dtype("f8", state()), FALSE, b_(bytes(8))), r"the shape \(True,\)"),
        (
            t(i(1), t(*[i(1)] * 33), dtype("f8", state()), FALSE, b_(bytes(8))),
            r"the shape .* at most 32",
        ),
        (
            t(
                i(1),
                t(b"\x8a\x05" + (2**31).to_bytes(5, "little")),
                dtype("f8", state()),
                FALSE,
                b_(b""),
            ),
            r"the shape \(2147483648,\) is not a tuple of at most 32 non-negative ints",
        ),
        (array_state(dt=NONE), r"the dtype is None, not a numpy\.dtype of this file"),
        (array_state(dt=dtype("f8")), r"the dtype was used before its state"),
    ],
)
def test_array_state_must_be_exactly_what_numpy_writes(st, pattern):
    data = P2 + reconstruct() + st + b"b."
    build = op_positions(data, "BUILD")[-1]
    with pytest.raises(
        UnsafePickleError, match=rf"BUILD of a numpy array at byte {build}: {pattern}"
    ):
        load(data)


def test_object_array_routes_are_refused_where_the_dtype_is_named():
    for st in (
        array_state((100_000,), dt=dtype("O8", state("|", flags=63)), payload=b"](K\x01K\x02e"),
        array_state((200_000_000,), dt=dtype("O8", state("|", flags=63)), payload=b"]"),
    ):
        with pytest.raises(UnsafePickleError, match=r"numpy\.dtype\('O8', False, True\)"):
            load(P2 + reconstruct() + st + b"b.")


def test_second_build_of_an_array_and_an_array_without_state():
    one = P2 + reconstruct() + b"\x94" + array_state() + b"b0h\x00" + array_state() + b"b."
    with pytest.raises(UnsafePickleError, match="the array already has its state"):
        load(one)
    with pytest.raises(
        UnsafePickleError, match=r"a numpy array \(_reconstruct\) never got its state"
    ):
        load(P2 + reconstruct() + b".")


def test_zero_size_arrays_with_huge_dimensions_allocate_nothing():
    data = (
        P2
        + reconstruct()
        + t(i(1), t(i(2**31 - 1), i(0)), dtype("f8", state()), FALSE, b_(b""))
        + b"b."
    )
    out = load(data)
    assert out.shape == (2**31 - 1, 0) and out.dtype == np.float64


def test_fortran_order_is_kept():
    raw = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    data = (
        P2
        + reconstruct()
        + array_state((2, 3), fortran=TRUE, payload=b_(raw.tobytes(order="F")))
        + b"b."
    )
    out = load(data)
    assert out.flags.f_contiguous and out.tolist() == raw.tolist()


@pytest.mark.parametrize(
    "args, pattern",
    [
        (t(b_(bytes(8)), dtype("f8", state()), t(i(1)), s("C")), None),
        (t(b"\x96" + struct.pack("<Q", 8) + bytes(8), dtype("f8", state()), t(i(1)), s("F")), None),
        (t(NONE, dtype("f8", state()), t(i(1)), s("C")), r"the buffer is a NoneType, not bytes"),
        (t(b_(bytes(8)), dtype("f8", state()), t(i(1)), s("K")), r"order 'K' is not 'C' or 'F'"),
        (t(b_(bytes(8)), dtype("f8", state()), t(i(1)), b_(b"C")), r"order b'C' is not 'C' or 'F'"),
        (
            t(b_(bytes(8)), dtype("f8", state()), t(i(1))),
            r"numpy writes _frombuffer\(buffer, dtype, shape, order\)",
        ),
        (t(b_(bytes(8)), dtype("f8", state()), t(i(2)), s("C")), r"the payload has 8 bytes"),
    ],
)
def test_frombuffer_protocol_5(args, pattern):
    data = b"\x80\x05" + g("numpy._core.numeric", "_frombuffer") + args + REDUCE + b"."
    if pattern is None:
        assert load(data).tolist() == [0.0]
        return
    with pytest.raises(UnsafePickleError, match=pattern):
        load(data)


def test_frombuffer_array_cannot_be_built_again():
    data = b"\x80\x05" + g("numpy._core.numeric", "_frombuffer")
    data += t(b_(bytes(8)), dtype("f8", state()), t(i(1)), s("C")) + REDUCE + array_state() + b"b."
    with pytest.raises(UnsafePickleError, match="BUILD .* on a numpy array"):
        load(data)


@pytest.mark.parametrize(
    "args, result",
    [
        (t(s("ab\xff"), s("latin1")), b"ab\xff"),
        (t(s("ab"), s("latin-1")), b"ab"),
        (t(s("ab"), s("utf-8")), None),
        (t(s("ab"), s("rot13")), None),
        (t(b_(b"ab"), s("latin1")), None),
        (t(s("ab")), None),
        (t(s("\u0100"), s("latin1")), "beyond"),
        (t(s("ab"), b_(b"latin1")), None),
    ],
)
def test_codecs_encode_only_latin1(args, result):
    data = P2 + g("_codecs", "encode") + args + REDUCE + b"."
    if isinstance(result, bytes):
        assert load(data) == result
        return
    pattern = "the string has characters beyond latin-1" if result else r"only \(str, 'latin1'\)"
    pos = op_positions(data, "REDUCE")[0]
    with pytest.raises(
        UnsafePickleError, match=rf"REDUCE _codecs\.encode\(.*\) at byte {pos}: {pattern}"
    ):
        load(data)


def test_bytes_only_without_arguments():
    assert load(P2 + g("__builtin__", "bytes") + t() + REDUCE + b".") == b""
    with pytest.raises(UnsafePickleError, match=r"only bytes\(\) with no arguments"):
        load(P2 + g("builtins", "bytes") + t(i(5)) + REDUCE + b".")


@pytest.mark.parametrize(
    "args, ok",
    [
        (t(), OrderedDict()),
        (t(b"](" + t(s("a"), i(1)) + b"(" + s("b") + i(2) + b"le"), OrderedDict(a=1, b=2)),
        (t(NONE), None),
        (t(b"(" + t(s("a")) + b"l"), None),
        (t(b"(" + s("ab") + b"l"), None),
        (t(b"]", b"]"), None),
        (t(b"(" + t(b"]", i(1)) + b"l"), "unhashable"),
    ],
)
def test_ordered_dict_from_pairs_only(args, ok):
    data = P2 + g("collections", "OrderedDict") + args + REDUCE + b"."
    if ok is not None and ok != "unhashable":
        out = load(data)
        assert type(out) is OrderedDict and out == ok
        return
    pattern = "an unhashable key" if ok else "(pickles write OrderedDict|OrderedDict items must)"
    with pytest.raises(UnsafePickleError, match=rf"REDUCE collections\.OrderedDict\(.*: {pattern}"):
        load(data)


@pytest.mark.parametrize(
    "args, ok",
    [
        (t(), set()),
        (t(b"(K\x01K\x02l"), {1, 2}),
        (t(t(i(3))), {3}),
        (t(NONE), None),
        (t(b"]", b"]"), None),
        (t(b"(]l"), "unhashable"),
    ],
)
def test_set_from_a_list_or_tuple_only(args, ok):
    data = P2 + g("__builtin__", "set") + args + REDUCE + b"."
    if isinstance(ok, set):
        assert load(data) == ok
        return
    with pytest.raises(UnsafePickleError, match="unhashable element" if ok else r"set\(\) or set"):
        load(data)


def test_standins_are_not_types_and_not_shared_between_loads():
    a = sp._Load("a", "", 0, sp.DEFAULT_LIMITS)
    b = sp._Load("b", "", 0, sp.DEFAULT_LIMITS)
    key = ("collections", "OrderedDict")
    assert a.standins[key] is not b.standins[key]
    assert not any(isinstance(x, type) for x in a.standins.values())
    with pytest.raises(TypeError):
        hash(a.standins[key])
    with pytest.raises(TypeError):
        pickle.dumps(a.standins[key])


def test_build_on_a_standin_itself_is_refused_at_runtime_too():
    ld = sp._Load("f.pkl", "", 0, sp.DEFAULT_LIMITS)
    ld.verifier.events.append((17, "BUILD"))
    with pytest.raises(
        UnsafePickleError,
        match=r"f\.pkl: refusing to load: BUILD at byte 17: BUILD on the global _codecs\.encode itself",
    ):
        ld.standins[("_codecs", "encode")].__setstate__({"x": 1})
    with pytest.raises(UnsafePickleError, match="numpy.ndarray is only an argument"):
        ld.standins[("numpy", "ndarray")](3)


def test_ordered_dict_attributes_are_refused_after_the_load():
    ld = sp._Load("f.pkl", "", 0, sp.DEFAULT_LIMITS)
    od = ld.standins[("collections", "OrderedDict")]()
    od.x = 1
    with pytest.raises(UnsafePickleError, match=r"an OrderedDict was given attributes \['x'\]"):
        ld.finish([od])


def test_a_global_or_a_dtype_in_the_result_is_refused():
    for body, what in [
        (
            b"](" + g("collections", "OrderedDict") + b"e",
            r"the global collections\.OrderedDict itself",
        ),
        (g("numpy", "ndarray"), r"the global numpy\.ndarray itself"),
        (b"](" + dtype("f8", state()) + b"e", r"a bare numpy\.dtype\('f8'\)"),
        (
            b"("
            + dtype("f8", state())
            + b"\x94"
            + b"0"
            + g(MC, "scalar")
            + t(b"h\x00", b_(bytes(8)))
            + REDUCE
            + b"h\x00l",
            r"a bare numpy\.dtype",
        ),
    ]:
        with pytest.raises(UnsafePickleError, match=what):
            load(P2 + body + b".")
    shared = (
        b"("
        + dtype("f8", state())
        + b"\x94"
        + b"0"
        + g(MC, "scalar")
        + t(b"h\x00", b_(bytes(8)))
        + REDUCE
        + b"l."
    )
    assert load(P2 + shared) == [0.0]


def test_array_in_a_tuple_inside_a_cycle():
    # a list holding a tuple that holds the list: the list is updated after the tuple is rebuilt
    cyc = [None]
    cyc[0] = (np.arange(2), cyc)
    out = load(pickle.dumps(cyc, protocol=4))
    assert out[0][1] is out and type(out[0][0]) is np.ndarray
    # a tuple reachable from itself: the list inside it would keep the old tuple, so refuse
    inner: list = []
    root = (np.arange(2), inner)
    inner.append(root)
    with pytest.raises(
        UnsafePickleError, match="a numpy array inside a tuple that contains itself"
    ):
        load(pickle.dumps(root, protocol=4))
    plain = [None]
    plain[0] = (1, plain)
    out = load(pickle.dumps({"c": plain, "a": np.arange(1)}, protocol=4))
    assert out["c"][0][1] is out["c"] and type(out["a"]) is np.ndarray


def test_refusal_positions_follow_the_opcode_order():
    # the second scalar's dtype is refused: its REDUCE, not the first's, is named
    ok = g("numpy", "dtype") + t(s("f8"), FALSE, TRUE) + REDUCE + state() + b"b"
    bad = g("numpy", "dtype") + t(s("O8"), FALSE, TRUE) + REDUCE
    data = P2 + b"(" + g(MC, "scalar") + t(ok, b_(bytes(8))) + REDUCE + bad + b"l."
    second = op_positions(data, "REDUCE")[2]
    with pytest.raises(
        UnsafePickleError, match=rf"REDUCE numpy\.dtype\('O8', False, True\) at byte {second}:"
    ):
        load(data)


# =========================================================================== streams
def test_base_offset_and_stream_loading():
    evil = pickle.dumps(_System("true"), protocol=2)
    prefix = pickle.dumps(123, protocol=2)
    data = prefix + evil
    fh = io.BytesIO(data)
    assert safe_load(fh, source="s") == 123
    start = fh.tell()
    assert start == len(prefix)  # left just after the first pickle's STOP
    glob = start + op_positions(evil, "GLOBAL")[0]
    with pytest.raises(UnsafePickleError, match=f"at byte {glob} of the legacy stream,"):
        safe_load(fh, source="s", base_offset=start, where="legacy stream")


def test_pickle_stream_reads_pickles_back_to_back_across_chunks(monkeypatch):
    monkeypatch.setattr(sp, "CHUNK", 7)
    parts = [pickle.dumps(x, protocol=p) for x, p in [(1, 2), ("x" * 40, 4), ([1.5] * 9, 2)]]
    stream = PickleStream(io.BytesIO(b"".join(parts)).read, source="s", base_offset=100)
    assert stream.load() == 1
    assert stream.position == 100 + len(parts[0])
    assert stream.load() == "x" * 40
    assert not stream.at_end()
    assert stream.load() == [1.5] * 9
    assert stream.position == 100 + sum(map(len, parts))
    assert stream.at_end()


def test_trailing_bytes_are_an_error():
    with pytest.raises(
        CorruptFileError, match=r"j: 4 unexpected bytes after the pickle's end at byte 5$"
    ):
        safe_loads(pickle.dumps(1, protocol=2) + b"junk", source="j")
    with pytest.raises(CorruptFileError, match=r"at byte 105 of the w$"):
        safe_loads(pickle.dumps(1, protocol=2) + b"j", source="j", base_offset=100, where="w")


def test_errors_of_the_source_itself_propagate_unchanged():
    def read(n):
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        PickleStream(read, source="s").load()


def test_large_arguments_arrive_across_many_reads(monkeypatch):
    monkeypatch.setattr(sp, "CHUNK", 16)
    data = pickle.dumps(b"z" * 100_000, protocol=4)
    reads = []
    src = io.BytesIO(data)

    def read(n):
        reads.append(n)
        return src.read(min(n, 1000))

    assert PickleStream(read, source="s").load() == b"z" * 100_000
    assert max(reads) <= 4 * 16  # never one read of the whole claimed length


def test_short_repr_bounds_length_and_nesting():
    deep = []
    for _ in range(10_000):
        deep = [deep]
    assert len(sp.short_repr(deep)) <= 80
    assert len(sp.short_repr("x" * 500, 20)) <= 20
    assert sp.short_repr(3) == "3"


# =========================================================================== accounting
def verifier_cost(data: bytes, **kw) -> int:
    ld = sp._Load("x", "", 0, PickleLimits(**kw) if kw else sp.DEFAULT_LIMITS)
    ld.verifier.feed(data, True)
    return ld.verifier.cost


@pytest.mark.parametrize(
    "extra, charged",
    [
        # each extra opcode, appended before STOP, is charged per the documented COSTS table
        (b"N0", COSTS["slot"]),
        (b"G" + bytes(8) + b"0", COSTS["float"]),
        (b"J" + bytes(4) + b"0", COSTS["int"]),
        (b"\x8c\x03abc0", COSTS["str"] + 5 * COSTS["per_byte"]),
        (b"N\x940", COSTS["slot"] + COSTS["memo"]),
        (b"Nr\x05\x00\x00\x000", COSTS["slot"] + 6 * COSTS["memo"]),  # a sparse memo: 6 slots
        (b"Np3\n0", COSTS["slot"] + 4 * COSTS["memo"]),
        (b"Np3\ng3\n00", COSTS["slot"] + 4 * COSTS["memo"] + COSTS["slot"]),
        (b"F1.5\n0", COSTS["str"] + 3 * COSTS["per_byte"]),
        (b"}0", COSTS["dict"]),
        (b"]Na0", COSTS["list"] + COSTS["slot"] + COSTS["list_item"]),
        (b"NN\x860", 2 * COSTS["slot"] + COSTS["tuple"] + 2 * COSTS["item"]),
        (b"(NNl0", COSTS["slot"] + 2 * COSTS["slot"] + COSTS["list"] + 2 * COSTS["list_item"]),
        (b"\x8f(K\x01\x900", COSTS["set"] + COSTS["slot"] + COSTS["slot"] + COSTS["set_item"]),
    ],
)
def test_each_opcode_is_charged_as_documented(extra, charged):
    pad = b"\x80\x04N" + b"N0" * 8  # memo indices up to the stream position are allowed
    assert verifier_cost(pad + extra + b".") - verifier_cost(pad + b".") == charged


def test_sparse_memo_slots_are_charged_once():
    # idx 5 then idx 3: the second store falls in slots already charged
    pad = b"\x80\x04" + b"N" * 9
    stores = b"r\x05\x00\x00\x00r\x03\x00\x00\x00"
    assert verifier_cost(pad + stores + b".") - verifier_cost(pad + b".") == 6 * COSTS["memo"]


def _threshold_cases():
    arr = P2 + reconstruct() + array_state((100,)) + b"b."
    return {
        "encode": (
            P2 + g("_codecs", "encode") + t(s("x" * 1000), s("latin1")) + REDUCE + b".",
            COSTS["str"] + 1000,
        ),
        "odict": (
            P2
            + g("collections", "OrderedDict")
            + t(b"(" + t(i(1), i(2)) * 3 + b"l")
            + REDUCE
            + b".",
            COSTS["dict"] + 2 * COSTS["dict_item"] * 3,
        ),
        "set": (
            P2 + g("builtins", "set") + t(b"(" + i(1) + i(2) + i(3) + b"l") + REDUCE + b".",
            COSTS["set"] + COSTS["set_item"] * 3,
        ),
        "array": (arr, COSTS["str"] + 800),
    }


@pytest.mark.parametrize("name", ["encode", "odict", "set", "array"])
def test_what_a_standin_builds_is_charged_against_the_bound(name):
    data, runtime = _threshold_cases()[name]
    v = verifier_cost(data)
    exact = PickleLimits(object_floor=v + runtime, object_ratio=0)
    assert load(data, limits=exact) is not None  # exactly at the bound: loads
    over = PickleLimits(object_floor=v + runtime - 1, object_ratio=0)
    with pytest.raises(
        ResourceLimitError,
        match=r"building the object of the opcode at byte \d+ would take the load past its allocation bound",
    ):
        load(data, limits=over)


def test_the_verifier_refuses_exactly_past_the_bound():
    data = P2 + b"(" + b"\x8f" * 10 + b"l."
    v = verifier_cost(data)
    assert load(data, limits=PickleLimits(object_floor=v, object_ratio=0)) == [set()] * 10
    with pytest.raises(ResourceLimitError, match=rf"would allocate more than {v - 1:,} bytes"):
        load(data, limits=PickleLimits(object_floor=v - 1, object_ratio=0))


def test_the_bound_grows_with_the_stream_read_so_far(monkeypatch):
    # 64 bytes of ratio per byte pays for a set per 4 bytes; the floor alone would not
    monkeypatch.setattr(sp, "CHUNK", 64)
    data = P2 + b"(" + b"\x8fN0N0" * 300 + b"l."
    assert load(data, limits=PickleLimits(object_floor=2000, object_ratio=80)) == [set()] * 300
    with pytest.raises(ResourceLimitError):
        load(data, limits=PickleLimits(object_floor=2000, object_ratio=40))


# =========================================================================== edges found by mutation
def test_memoize_after_sparse_puts_counts_stored_entries():
    # two PUTs store 2 entries, so MEMOIZE stores at index 2
    assert load(b"\x80\x04" + b"N0" * 5 + b"Nq\x04Nq\x06K\x07\x94h\x02.") == 7
    with pytest.raises(CorruptFileError, match="GET of memo index 1, which was never stored"):
        load(b"\x80\x04" + b"N0" * 5 + b"Nq\x04Nq\x06K\x07\x94h\x01.")


def test_text_get_of_the_next_memo_index_is_damage():
    with pytest.raises(
        CorruptFileError, match=r"GET of memo index 1, which was never stored at byte 4"
    ):
        load(b"Np0\ng1\n.")


@pytest.mark.parametrize(
    "line, value",
    [(b"L1L\n", 1), (b"S''\n", ""), (b'S"ab"\n', "ab"), (b"S'\\\\\\\\'\n", "\\\\"), (b"Vx\n", "x")],
)
def test_protocol_0_text_arguments_at_their_edges(line, value):
    data = line + b"."
    assert load(data) == pickle.loads(data, encoding="latin1") == value


def test_stack_global_with_one_long_string_is_damage():
    data = b"\x80\x04\x8c\x05numpy" + b"X\x41\x00\x00\x00" + b"a" * 65 + b"\x93."
    with pytest.raises(CorruptFileError, match="STACK_GLOBAL without two short strings"):
        load(data)
    data = b"\x80\x04X\x41\x00\x00\x00" + b"a" * 65 + b"\x8c\x05dtype\x93."
    with pytest.raises(CorruptFileError, match="STACK_GLOBAL without two short strings"):
        load(data)


def test_a_discarded_dtype_is_still_refused():
    with pytest.raises(UnsafePickleError, match=r"a bare numpy\.dtype\('f8'\)"):
        load(P2 + dtype("f8", state()) + b"0N.")


def test_loaded_arrays_own_writable_memory():
    for data in (
        pickle.dumps(np.arange(4.0), protocol=2),
        pickle.dumps(np.arange(4.0), protocol=5),
        pickle.dumps(np.arange(4, dtype=">i2"), protocol=4),
    ):
        out = load(data)
        assert out.flags.owndata and out.flags.writeable
        out[0] = 7  # the file's bytes are not aliased
        assert out[0] == 7


@pytest.mark.parametrize("dt", ["i1", "u8", "?", "U3", ">f4", "c8"])
def test_zero_size_arrays_keep_their_dtype(dt):
    for protocol in (2, 5):
        data = pickle.dumps(np.zeros((0, 2), dtype=dt), protocol=protocol)
        assert deep_equal(load(data), pickle.loads(data))


def test_arrays_of_32_dimensions_load_and_33_do_not():
    assert load(pickle.dumps(np.zeros((1,) * 32), protocol=2)).shape == (1,) * 32
    with pytest.raises(UnsafePickleError, match="at most 32"):
        load(P2 + reconstruct() + array_state((1,) * 33) + b"b.")


def test_positions_stay_exact_across_chunks(monkeypatch):
    monkeypatch.setattr(sp, "CHUNK", 16)
    pad = b"N0" * 40
    bad = g("numpy", "dtype") + t(s("O8"), FALSE, TRUE) + REDUCE
    data = P2 + pad + bad + b"."
    pos = op_positions(data, "REDUCE")[0]
    with pytest.raises(UnsafePickleError, match=rf"at byte {pos}:"):
        load(data)
    build = P2 + pad + g("collections", "OrderedDict") + t() + REDUCE + b"}b."
    with pytest.raises(UnsafePickleError, match=rf"at byte {op_positions(build, 'BUILD')[0]};"):
        load(build)
    glob = P2 + pad + g("os", "system") + b"."
    with pytest.raises(UnsafePickleError, match=rf"at byte {op_positions(glob, 'GLOBAL')[0]},"):
        load(glob)


def test_short_repr_and_clip_bound_the_text_exactly():
    text = sp.short_repr("x" * 500, 20)
    assert len(text) <= 20
    long = sp.short_repr({i: "y" * 70 for i in range(5)})
    assert len(long) == 80 and long.endswith("...") and long.startswith("{0: 'yyy")
    assert sp.short_repr([[[["deep"]]]]) == "[[[[...]]]]"
    assert sp._clip("a" * 61) == "a" * 57 + "..."
    assert sp._clip("a" * 60) == "a" * 60
    assert sp._clip("a\nb\u0100") == "a\\nb\\u0100"


def test_a_standin_held_only_by_garbage_is_not_in_the_result():
    # a list that contains itself and the OrderedDict global, then dropped: cyclic garbage
    data = P2 + b"]\x94(" + g("collections", "OrderedDict") + b"h\x00e0N."
    assert load(data) is None


@pytest.mark.parametrize(
    "code, ok",
    [("U262144", True), ("U262145", False), ("S1048576", True), ("S1048577", False)],
)
def test_string_itemsize_bound(code, ok):
    n = int(code[1:])
    st = state("<", 4 * n, 4, 8) if code[0] == "U" else state("|", n, 1, 0)
    data = P2 + dtype(code, st) + b"0N."
    if ok:  # allowed code: refused only later, as a bare dtype
        with pytest.raises(UnsafePickleError, match="bare numpy.dtype"):
            load(data)
    else:
        with pytest.raises(UnsafePickleError, match="only bool, integer, float"):
            load(data)


def test_bool_payload_byte_x_is_refused():
    with pytest.raises(UnsafePickleError, match="a bool payload holds bytes other than 0 and 1"):
        load(scalar(dtype("b1", state("|")), b_(b"X")))


def test_arrays_after_a_shared_container_are_still_swapped():
    shared = [1]
    obj = [[np.arange(1)], shared, shared, [np.arange(2)]]
    out = load(pickle.dumps(obj, protocol=4))
    assert type(out[0][0]) is np.ndarray and type(out[3][0]) is np.ndarray
    assert out[1] is out[2]


def test_a_tuple_on_a_cycle_without_arrays_in_it_is_kept():
    inner: list = []
    root = (1, inner)
    inner.extend([root, np.arange(2)])
    out = load(pickle.dumps(root, protocol=4))
    assert out[1][0] is out and type(out[1][1]) is np.ndarray


def test_python_2_strings_decode_as_latin_1():
    data = b"S'caf\\xe9'\np0\n."
    assert load(data) == pickle.loads(data, encoding="latin1") == "caf\xe9"


def test_find_class_and_persistent_load_refuse_even_without_the_verifier():
    ld = sp._Load("f.pkl", "", 0, sp.DEFAULT_LIMITS)
    unpickler = sp.RestrictedUnpickler(io.BytesIO(b""), ld)
    with pytest.raises(UnsafePickleError, match=r"'os\.system'"):
        unpickler.find_class("os", "system")
    assert unpickler.find_class("__builtin__", "set") is ld.standins[("builtins", "set")]
    with pytest.raises(UnsafePickleError, match="persistent id"):
        unpickler.persistent_load("storage")


@pytest.mark.parametrize(
    "data, ends",
    [
        # an opcode that ends exactly where the data ends is whole: what is missing is STOP
        (b"\x80\x04", "before the pickle's STOP opcode"),
        (b"\x80\x04\x95" + bytes(8), "before the pickle's STOP opcode"),
        (b"\x80\x04Nq\x00", "before the pickle's STOP opcode"),
        (b"\x80\x04Nr" + bytes(4), "before the pickle's STOP opcode"),
        (b"\x80\x04C\x00", "before the pickle's STOP opcode"),
        (b"\x80\x04C\x02ab", "before the pickle's STOP opcode"),
        (b"\x80\x04T\x01\x00\x00\x00a", "before the pickle's STOP opcode"),
        (b"\x80\x04\x8d" + struct.pack("<Q", 1) + b"a", "before the pickle's STOP opcode"),
        (b"\x80\x04\x8a\x01\x05", "before the pickle's STOP opcode"),
        (b"\x80\x04G" + bytes(8), "before the pickle's STOP opcode"),
        (b"\x80\x04\x8c\x01a", "before the pickle's STOP opcode"),
        (b"\x80\x04X\x01\x00\x00\x00a", "before the pickle's STOP opcode"),
        (b"\x80\x04K\x01", "before the pickle's STOP opcode"),
        (b"\x80\x04M\x01\x02", "before the pickle's STOP opcode"),
        (b"\x80\x04J" + bytes(4), "before the pickle's STOP opcode"),
        (b"\x80\x04N\x94h\x00", "before the pickle's STOP opcode"),
        (b"\x80\x04N\x94j" + bytes(4), "before the pickle's STOP opcode"),
        (b"\x80\x04G" + bytes(7), "inside the BINFLOAT opcode"),
        (b"\x80\x04cnum", "inside the GLOBAL opcode"),
        (b"\x80\x04(inum", "inside the INST opcode"),
        (b"\x80\x04(ios\nsys", "inside the INST opcode"),
        # one byte short
        (b"\x80", "inside the PROTO opcode"),
        (b"\x80\x04\x95" + bytes(7), "inside the FRAME opcode"),
        (b"\x80\x04C", "inside the SHORT_BINBYTES opcode"),
        (b"\x80\x04C\x02a", "inside the SHORT_BINBYTES opcode"),
        (b"\x80\x04T\x01\x00\x00", "inside the BINSTRING opcode"),
        (b"\x80\x04\x8d" + struct.pack("<Q", 2) + b"a", "inside the BINUNICODE8 opcode"),
    ],
)
def test_an_opcode_that_ends_with_the_data_is_whole(data, ends):
    with pytest.raises(CorruptFileError, match=rf"it ends {re.escape(ends)}"):
        load(data)


def test_strings_with_lone_surrogates_load_as_pickle_writes_them():
    for data in (
        pickle.dumps("\ud800x", protocol=4),
        b"\x80\x04\x8d" + struct.pack("<Q", 4) + "\ud800x".encode("utf-8", "surrogatepass") + b".",
    ):
        assert load(data) == "\ud800x"


def test_stack_global_names_from_binunicode8_and_at_the_name_length_limit():
    def s8(text: str) -> bytes:
        return b"\x8d" + struct.pack("<Q", len(text)) + text.encode()

    assert load(b"\x80\x04" + s8("collections") + s8("OrderedDict") + b"\x93)R.") == OrderedDict()
    name64 = "x" * sp.NAME_MAX
    with pytest.raises(UnsafePickleError, match=rf"names the global 'os\.{name64[:57]}\.\.\.'"):
        load(b"\x80\x04" + s8("os") + s8(name64) + b"\x93.")
    with pytest.raises(UnsafePickleError, match=r"names the global 'os\.x{57}\.\.\.'"):
        load(b"\x80\x04\x8c\x02os\x8c\x40" + name64.encode() + b"\x93.")
    too_long = "x" * (sp.NAME_MAX + 1)
    with pytest.raises(CorruptFileError, match="without two short strings"):
        load(b"\x80\x04" + s8("os") + s8(too_long) + b"\x93.")


def test_names_are_kept_only_from_protocol_4():
    body = b"\x8c\x0bcollections\x8c\x0bOrderedDict\x93)R."
    assert load(b"\x80\x04" + body) == OrderedDict()
    with pytest.raises(CorruptFileError, match="STACK_GLOBAL without two short strings"):
        load(b"\x80\x03" + body)


def test_a_bytearray_is_not_a_key():
    data = b"\x80\x05}\x96" + struct.pack("<Q", 1) + b"xNs."
    with pytest.raises(CorruptFileError, match="SETITEM uses a bytearray as a key"):
        load(data)
    assert load(b"\x80\x05\x96" + struct.pack("<Q", 2) + b"xy.") == bytearray(b"xy")


def test_setitems_into_a_list_is_damage():
    with pytest.raises(
        CorruptFileError, match="SETITEMS into a list, not a dict or an OrderedDict"
    ):
        load(P2 + b"](NNu.")


@pytest.mark.parametrize(
    "extra, charged",
    [
        (b"}(NNNNu0", COSTS["dict"] + 4 * COSTS["slot"] + COSTS["slot"] + 2 * COSTS["dict_item"]),
        (b"(NNd0", COSTS["slot"] + 2 * COSTS["slot"] + COSTS["dict"] + COSTS["dict_item"]),
        (b"}NNs0", COSTS["dict"] + 2 * COSTS["slot"] + COSTS["dict_item"]),
        (b"\x8a\x02\x01\x020", COSTS["int"] + 4 * COSTS["per_byte"]),
        (b"C\x03abc0", COSTS["str"] + 5 * COSTS["per_byte"]),
        (b"T\x03\x00\x00\x00abc0", COSTS["str"] + 8 * COSTS["per_byte"]),
        (b"\x8d" + struct.pack("<Q", 2) + b"ab0", COSTS["str"] + 11 * COSTS["per_byte"]),
    ],
)
def test_more_opcodes_are_charged_as_documented(extra, charged):
    pad = b"\x80\x04N" + b"N0" * 8
    assert verifier_cost(pad + extra + b".") - verifier_cost(pad + b".") == charged


def test_later_chunks_count_what_the_standins_built(monkeypatch):
    monkeypatch.setattr(sp, "CHUNK", 64)
    encode = P2 + g("_codecs", "encode") + t(s("x" * 1000), s("latin1")) + REDUCE + b"0"
    data = encode + b"N0" * 200 + b"N."
    v_total, runtime = verifier_cost(data), COSTS["str"] + 1000
    assert load(data, limits=PickleLimits(object_floor=v_total + runtime, object_ratio=0)) is None
    with pytest.raises(ResourceLimitError, match="would allocate more than"):
        load(data, limits=PickleLimits(object_floor=v_total + runtime - 1, object_ratio=0))


def test_the_verifier_reads_only_a_bounded_way_ahead(monkeypatch):
    monkeypatch.setattr(sp, "CHUNK", 1024)
    data = P2 + g("os", "system") + b"N0" * 500_000 + b"."
    src = io.BytesIO(data)
    with pytest.raises(UnsafePickleError):
        PickleStream(src.read, source="s").load()
    assert src.tell() <= 4 * 1024 + 64  # not the whole megabyte


def test_positions_count_from_the_start_by_default():
    data = P2 + g("os", "system") + b"."
    with pytest.raises(UnsafePickleError, match="at byte 2,"):
        PickleStream(io.BytesIO(data).read, source="s").load()


@pytest.mark.parametrize(
    "extra, charged",
    [
        (b"\x8b\x02\x00\x00\x00\x01\x020", COSTS["int"] + 7 * COSTS["per_byte"]),
        (b"](NNe0", COSTS["list"] + 3 * COSTS["slot"] + 2 * COSTS["list_item"]),
        (b"(NN\x910", COSTS["slot"] + 2 * COSTS["slot"] + COSTS["set"] + 2 * COSTS["set_item"]),
        (b"N20", 2 * COSTS["slot"]),
        (b"NNNr\x03\x00\x00\x00r\x07\x00\x00\x000", 3 * COSTS["slot"] + 8 * COSTS["memo"]),
        (
            g("_codecs", "encode") + t(s("a"), s("latin1")) + REDUCE + b"0",
            2 * COSTS["slot"]  # the global and the MARK
            + 2 * COSTS["str"]
            + (6 + 11) * COSTS["per_byte"]  # BINUNICODE 'a' and 'latin1', with their headers
            + COSTS["tuple"]
            + 2 * COSTS["item"]
            + COSTS["call"],
        ),
    ],
)
def test_still_more_opcodes_are_charged_as_documented(extra, charged):
    pad = b"\x80\x02N" + b"N0" * 8
    assert verifier_cost(pad + extra + b".") - verifier_cost(pad + b".") == charged


def test_the_smallest_pickle_costs_one_slot():
    assert verifier_cost(b"\x80\x04N.") == COSTS["slot"]


def test_dup_duplicates_the_top_item():
    data = P2 + g("collections", "OrderedDict") + b"2)R0)R."
    assert load(data) == OrderedDict()


def test_an_open_mark_across_chunks_still_fences_the_stack(monkeypatch):
    monkeypatch.setattr(sp, "CHUNK", 16)
    assert load(P2 + b"N(" + b"N0" * 20 + b"0.") is None  # the last POP removes the mark
    with pytest.raises(CorruptFileError, match="MEMOIZE with nothing on the stack"):
        load(P2 + b"N(" + b"N0" * 20 + b"\x94.")


def test_string_escapes_are_checked():
    with pytest.raises(CorruptFileError, match="STRING with an unreadable argument"):
        load(b"S'\\x4'\n.")


def test_two_standin_charges_add_up():
    one = g("_codecs", "encode") + t(s("x" * 500), s("latin1")) + REDUCE + b"0"
    data = P2 + one + one + b"N."
    v, runtime = verifier_cost(data), 2 * (COSTS["str"] + 500)
    assert load(data, limits=PickleLimits(object_floor=v + runtime, object_ratio=0)) is None
    with pytest.raises(ResourceLimitError):
        load(data, limits=PickleLimits(object_floor=v + runtime - 1, object_ratio=0))


@pytest.mark.parametrize("fn", ["safe_loads", "stream"])
def test_trailing_bytes_that_arrive_in_a_later_read(monkeypatch, fn):
    data = pickle.dumps(1, protocol=2)
    monkeypatch.setattr(sp, "CHUNK", len(data))  # the pickle ends exactly at the first read
    if fn == "safe_loads":
        with pytest.raises(CorruptFileError, match="1 unexpected bytes after the pickle's end"):
            safe_loads(data + b"x", source="j")
        return
    stream = PickleStream(io.BytesIO(data + b"x").read, source="j")
    assert stream.load() == 1
    assert not stream.at_end()


def test_a_line_argument_at_the_length_limit(monkeypatch):
    monkeypatch.setattr(sp, "MAX_ARGUMENT", 10)
    with pytest.raises(ResourceLimitError, match="longer than 10 bytes"):
        load(P2 + b"F" + b"1" * 11 + b"\n.")
    # a line still arriving (no newline yet) within the limit is only truncated
    for pad in (b"", b"N0" * 20):
        with pytest.raises(CorruptFileError, match="ends inside the FLOAT opcode"):
            load(P2 + pad + b"F" + b"1" * 10)


def test_a_truncated_argument_of_exactly_the_limit_is_only_truncated(monkeypatch):
    monkeypatch.setattr(sp, "MAX_ARGUMENT", 10)
    with pytest.raises(CorruptFileError, match="ends inside the BINBYTES opcode"):
        load(P2 + b"B\x05\x00\x00\x00ab")  # the opcode needs exactly 10 bytes


def test_global_names_without_a_proto_opcode():
    # the C unpickler accepts STACK_GLOBAL without PROTO; names are kept unless PROTO < 4
    assert load(b"\x8c\x0bcollections\x8c\x0bOrderedDict\x93)R.") == OrderedDict()


class _Unseekable(io.RawIOBase):
    def __init__(self, data: bytes):
        self.src = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.src.read(len(b))
        b[: len(data)] = data
        return len(data)


def test_safe_load_of_an_unseekable_stream_and_with_limits():
    data = pickle.dumps([1, 2], protocol=2)
    assert safe_load(io.BufferedReader(_Unseekable(data)), source="pipe") == [1, 2]
    with pytest.raises(ResourceLimitError):
        safe_load(
            io.BytesIO(data), source="f", limits=PickleLimits(object_floor=10, object_ratio=0)
        )


def test_safe_load_leaves_the_file_after_the_pickle_for_any_base_offset():
    first, second = pickle.dumps(1, protocol=2), pickle.dumps(2, protocol=2)
    fh = io.BytesIO(b"xx" + first + second)
    fh.seek(2)
    assert safe_load(fh, source="f", base_offset=2) == 1
    assert fh.tell() == 2 + len(first)
    assert safe_load(fh, source="f", base_offset=2 + len(first)) == 2


def test_binunicode_longer_than_allowed_is_refused(monkeypatch):
    claimed = P2 + b"X\xff\xff\xff\x7f."
    with pytest.raises(ResourceLimitError, match=r"BINUNICODE has a 2,147,483,647-byte argument"):
        load(claimed)
    monkeypatch.setattr(sp, "MAX_ARGUMENT", 10)
    assert load(P2 + b"X\x0a\x00\x00\x00" + b"a" * 10 + b".") == "a" * 10
    with pytest.raises(
        ResourceLimitError, match=r"BINUNICODE has a 11-byte argument, .* at byte 2"
    ):
        load(P2 + b"X\x0b\x00\x00\x00" + b"a" * 11 + b".")


# =========================================================================== exact messages
# Each message names the file, the opcode and its byte, and quotes the offending value to a bound;
# the expected texts are written out by hand (reprlib shortens a long bytes object in its middle).
BLOB = b"a" * 100 + b"z" * 100
BLOB_116 = "b'" + "a" * 54 + "..." + "z" * 56 + "'"  # one argument, quoted to 116 characters
BLOB_PAIR_120 = "(b'" + "a" * 56 + "..." + "z" * 55 + "..."  # a tuple quoted to 120 characters


def test_safe_load_messages_name_the_source_and_the_byte_from_zero():
    data = P2 + g("os", "system") + t(s("true")) + REDUCE + b"."
    pos = op_positions(data, "GLOBAL")[0]
    allowed = ", ".join(sorted(f"{m}.{n}" for m, n in EXPECTED_ALLOW_LIST))
    expected = (
        f"f.pkl: refusing to load: the pickle names the global 'os.system' at byte {pos}, "
        f"which is not on the allow-list of benchmark files ({allowed}); nothing was executed"
    )
    with pytest.raises(UnsafePickleError) as exc:
        safe_load(io.BytesIO(data), source="f.pkl")
    assert str(exc.value) == expected


def test_a_refused_opcode_names_its_byte_and_the_stream():
    data = P2 + g("numpy", "ndarray") + t(i(3)) + b"\x81."
    pos = op_positions(data, "NEWOBJ")[0]
    with pytest.raises(UnsafePickleError) as exc:
        load(data, where="arch 0 record")
    assert str(exc.value) == (
        f"f.pkl: refusing to load: the opcode NEWOBJ (it calls a class's __new__) at byte {pos} "
        "of the arch 0 record; nothing was executed"
    )


def test_a_refused_call_quotes_one_argument_or_the_argument_tuple_to_a_bound():
    for args, quoted in [(t(b_(BLOB)), f"({BLOB_116})"), (t(b_(BLOB), b_(BLOB)), BLOB_PAIR_120)]:
        data = P2 + g("builtins", "bytes") + args + REDUCE + b"."
        pos = op_positions(data, "REDUCE")[0]
        with pytest.raises(UnsafePickleError) as exc:
            load(data)
        assert str(exc.value) == (
            f"f.pkl: refusing to load: REDUCE builtins.bytes{quoted} at byte {pos}: "
            "only bytes() with no arguments is allowed; nothing was executed"
        )


@pytest.mark.parametrize(
    "code, expected",
    [
        ("i4", "(3, '<', None, None, None, -1, -1, 0) or (3, '>', None, None, None, -1, -1, 0)"),
        ("S3", "(3, '|', None, None, None, 3, 1, 0)"),
        ("U2", "(3, '<', None, None, None, 8, 4, 8) or (3, '>', None, None, None, 8, 4, 8)"),
    ],
)
def test_a_refused_dtype_state_is_quoted_with_every_state_numpy_writes(code, expected):
    data = scalar(dtype(code, t(b_(BLOB))), b_(bytes(4)))
    pos = op_positions(data, "BUILD")[0]
    with pytest.raises(UnsafePickleError) as exc:
        load(data)
    assert str(exc.value) == (
        f"f.pkl: refusing to load: BUILD of numpy.dtype({code!r}) at byte {pos}: the state "
        f"{BLOB_PAIR_120} is not what numpy writes for {code!r} ({expected}); nothing was executed"
    )


def test_a_refused_array_state_and_buffer_are_quoted():
    data = P2 + reconstruct() + i(7) + b"b."
    pos = op_positions(data, "BUILD")[0]
    with pytest.raises(UnsafePickleError) as exc:
        load(data)
    assert str(exc.value) == (
        f"f.pkl: refusing to load: BUILD of a numpy array at byte {pos}: numpy writes an array's "
        "state as (1, shape, dtype, is_fortran, data); found 7; nothing was executed"
    )
    data = b"\x80\x05" + g("numpy._core.numeric", "_frombuffer")
    data += t(i(5), dtype("f8", state()), t(i(1)), s("C")) + REDUCE + b"."
    with pytest.raises(UnsafePickleError, match=r": the buffer is a int, not bytes; nothing"):
        load(data)


def test_short_repr_keeps_a_text_of_exactly_the_limit():
    assert sp.short_repr("x" * 78) == "'" + "x" * 78 + "'"  # 80 characters
    assert sp.short_repr("x" * 79) == "'" + "x" * 37 + "..." + "x" * 38 + "'"  # reprlib's cut


def test_every_memo_slot_a_sparse_put_adds_is_charged():
    pad = b"\x80\x04" + b"N" * 50
    stores = b"q\x0aq\x14q\x28"  # BINPUT 10, 20, 40: 41 slots in all
    assert verifier_cost(pad + stores + b".") - verifier_cost(pad + b".") == 41 * COSTS["memo"]


def test_refusals_without_the_verifier_name_no_byte():
    # the stand-ins and the unpickler refuse on their own too (defence in depth); with no
    # verifier there is no opcode position to name
    ld = sp._Load("f.pkl", "", 0, PickleLimits(object_floor=100, object_ratio=0))
    with pytest.raises(UnsafePickleError) as exc:
        sp.RestrictedUnpickler(io.BytesIO(b""), ld).find_class("os", "system")
    assert str(exc.value) == (
        "f.pkl: refusing to load: the pickle names the global 'os.system': "
        "it is not on the allow-list; nothing was executed"
    )
    with pytest.raises(UnsafePickleError, match=r"\(persistent id \('storage', 'cpu'\)\)"):
        sp.RestrictedUnpickler(io.BytesIO(b""), ld).persistent_load(("storage", "cpu"))
    with pytest.raises(ResourceLimitError) as exc:
        ld.standins[("builtins", "set")](list(range(100)))
    assert str(exc.value) == (
        "f.pkl: building the object of the opcode would take the load past its allocation "
        "bound of 100 bytes"
    )


def test_an_array_from_frombuffer_refuses_build_without_the_verifier_too():
    ld = sp._Load("f.pkl", "", 0, sp.DEFAULT_LIMITS)
    dt = ld.standins[("numpy", "dtype")]("f8", False, True)
    dt.__setstate__((3, "<", None, None, None, -1, -1, 0))
    arr = ld.standins[("numpy._core.numeric", "_frombuffer")](bytes(8), dt, (1,), "C")
    with pytest.raises(UnsafePickleError) as exc:
        arr.__setstate__((1, (1,), dt, False, bytes(8)))
    assert str(exc.value) == (
        "f.pkl: refusing to load: a call of a numpy array: the array already has its state "
        "(a second BUILD); nothing was executed"
    )


def test_a_scalar_with_something_else_as_its_dtype_quotes_it():
    data = P2 + g(MC, "scalar") + t(i(7), b_(bytes(8))) + REDUCE + b"."
    with pytest.raises(
        UnsafePickleError, match=r": the dtype is 7, not a numpy\.dtype of this file;"
    ):
        load(data)


F8 = dtype("f8", state())
FB = g("numpy._core.numeric", "_frombuffer")


@pytest.mark.parametrize(
    "data, reason",
    [
        (
            scalar(dtype("b1", state("|")), b_(b"\x02")),
            "a bool payload holds bytes other than 0 and 1",
        ),
        (
            scalar(dtype("f8", state() + b"b" + NONE), b_(bytes(8))),
            "the dtype already has its state (a second BUILD)",
        ),
        (scalar(F8, s("\u0100" * 8)), "the payload string has characters beyond latin-1"),
        (
            P2 + reconstruct() + b"\x94" + array_state() + b"b0h\x00" + array_state() + b"b.",
            "the array already has its state (a second BUILD)",
        ),
        (
            scalar(dtype("f8"), b_(bytes(8))),
            "the dtype was used before its state (BUILD) was given",
        ),
        (
            scalar(dtype("f8", state(), t(s("f8"), FALSE)), b_(bytes(8))),
            "numpy writes dtype(code, align, copy) with 3 arguments",
        ),
        (
            scalar(dtype("O8", state()), b_(bytes(8))),
            "only bool, integer, float, complex and fixed-width S/U string dtypes load "
            "(never object, structured, datetime or void)",
        ),
        (
            scalar(dtype("f8", state(), t(s("f8"), TRUE, TRUE)), b_(bytes(8))),
            "numpy writes align=False, copy=True",
        ),
        (
            b"\x80\x05" + FB + t(b_(bytes(8)), F8, t(i(1))) + REDUCE + b".",
            "numpy writes _frombuffer(buffer, dtype, shape, order)",
        ),
        (
            P2 + reconstruct(t(g("numpy", "ndarray"), t(i(1)), b_(b"b"))) + b".",
            "numpy writes _reconstruct(numpy.ndarray, (0,), b'b')",
        ),
        (
            P2 + g("builtins", "set") + t(i(1), i(2)) + REDUCE + b".",
            "protocol-2 pickles write set() or set([items])",
        ),
    ],
    ids=[
        "bool-payload",
        "dtype-second-build",
        "payload-beyond-latin-1",
        "array-second-build",
        "dtype-before-build",
        "dtype-two-args",
        "object-dtype",
        "dtype-align",
        "frombuffer-three-args",
        "reconstruct-shape",
        "set-two-args",
    ],
)
def test_each_refused_call_states_its_reason_whole(data, reason):
    with pytest.raises(UnsafePickleError) as exc:
        load(data)
    assert str(exc.value).endswith(f": {reason}; nothing was executed")


def test_the_remaining_refusals_state_their_reason_whole():
    with pytest.raises(CorruptFileError) as exc:
        load(b"S'abc\n.")
    assert str(exc.value) == (
        "f.pkl: damaged pickle: STRING with an unreadable argument (not quoted) at byte 0"
    )
    ld = sp._Load("f.pkl", "", 0, sp.DEFAULT_LIMITS)
    with pytest.raises(UnsafePickleError) as exc:
        ld.standins[("numpy", "ndarray")]()
    assert str(exc.value) == (
        "f.pkl: refusing to load: a call numpy.ndarray(): numpy.ndarray is only an argument of "
        "_reconstruct; nothing was executed"
    )
    with pytest.raises(TypeError, match=r"^numpy\.dtype stand-in cannot be pickled$"):
        pickle.dumps(ld.standins[("numpy", "dtype")])


def test_the_unpicklers_own_refusal_names_the_opcode_the_verifier_passed():
    # defence in depth: were the verifier to pass a global the stand-in table lacks, the
    # unpickler's refusal still names the byte of the GLOBAL opcode it is resolving
    ld = sp._Load("f.pkl", "", 0, sp.DEFAULT_LIMITS)
    ld.verifier.feed(P2 + g("numpy", "dtype"), final=False)
    with pytest.raises(UnsafePickleError) as exc:
        sp.RestrictedUnpickler(io.BytesIO(b""), ld).find_class("os", "system")
    assert str(exc.value) == (
        "f.pkl: refusing to load: the pickle names the global 'os.system' at byte 2: "
        "it is not on the allow-list; nothing was executed"
    )


def test_refusals_after_the_load_state_their_reason_whole():
    refuse = "f.pkl: refusing to load: "
    for data, where, reason in [
        (
            P2 + b"](" + dtype("f8", state()) + b"e.",
            "meta",
            "the pickle holds a bare numpy.dtype('f8'), not as the dtype of a scalar or array; "
            "benchmark files hold none",
        ),
        (
            P2 + g("numpy", "ndarray") + b".",
            "",
            "the pickle holds the global numpy.ndarray itself as a value; benchmark files hold none",
        ),
        (P2 + reconstruct() + b".", "", "a numpy array (_reconstruct) never got its state (BUILD)"),
    ]:
        with pytest.raises(UnsafePickleError) as exc:
            load(data, where=where)
        head = f"f.pkl: refusing to load the {where}: " if where else refuse
        assert str(exc.value) == head + reason
    ld = sp._Load("f.pkl", "", 0, sp.DEFAULT_LIMITS)
    od = ld.standins[("collections", "OrderedDict")]()
    od.x = 1
    with pytest.raises(UnsafePickleError) as exc:
        ld.finish([od])
    assert str(exc.value) == (
        refuse + "an OrderedDict was given attributes ['x'] by BUILD; pickle never writes that"
    )
    inner: list = []
    root = (np.arange(2), inner)
    inner.append(root)
    with pytest.raises(UnsafePickleError) as exc:
        load(pickle.dumps(root, protocol=4))
    assert str(exc.value) == refuse + "a numpy array inside a tuple that contains itself"


@pytest.mark.parametrize(
    "data, error, message",
    [
        (
            b"\x80\x04\x94.",
            CorruptFileError,
            "damaged pickle: MEMOIZE with nothing on the stack at byte 2",
        ),
        (P2 + b".", CorruptFileError, "damaged pickle: STOP with nothing on the stack at byte 2"),
        (P2 + b"2.", CorruptFileError, "damaged pickle: DUP with nothing on the stack at byte 2"),
        (P2 + b"Nb.", CorruptFileError, "damaged pickle: BUILD with nothing to build at byte 3"),
        (
            P2 + b"c\xff\nx\n.",
            CorruptFileError,
            "damaged pickle: GLOBAL names that are not UTF-8 at byte 2",
        ),
        (
            P2 + g("builtins", "set") + b"NR.",
            CorruptFileError,
            "damaged pickle: REDUCE whose arguments are not a tuple at byte 17",
        ),
        (
            P2 + g("numpy", "ndarray") + b")R.",
            UnsafePickleError,
            "refusing to load: REDUCE calls numpy.ndarray (it is only an argument of "
            "_reconstruct) at byte 18; nothing was executed",
        ),
        (
            P2 + b"]Nb.",
            UnsafePickleError,
            "refusing to load: BUILD (setting an object's state) on a list; numpy writes BUILD "
            "only right after numpy.dtype and _reconstruct at byte 4; nothing was executed",
        ),
    ],
    ids=[
        "memoize",
        "stop",
        "dup",
        "build-nothing",
        "global-utf8",
        "reduce-args",
        "reduce-ndarray",
        "build-list",
    ],
)
def test_each_verifier_refusal_states_its_reason_whole(data, error, message):
    with pytest.raises(error) as exc:
        load(data)
    assert str(exc.value) == f"f.pkl: {message}"


@pytest.mark.parametrize(
    "raised, error, text",
    [
        (
            MemoryError(),
            ResourceLimitError,
            "MemoryError while unpickling (after byte {pos}): this process cannot hold what the "
            "stream asks for",
        ),
        (
            RuntimeError("e" * 300),
            CorruptFileError,
            "RuntimeError: '" + "e" * 97 + "..." + "e" * 98 + "' (after byte {pos})",
        ),
    ],
    ids=["memory", "other"],
)
def test_an_error_inside_the_unpickler_becomes_ours_naming_the_byte(
    monkeypatch, raised, error, text
):
    def make_set(self, args):
        raise raised

    monkeypatch.setattr(sp._Load, "_make_set", make_set)
    data = P2 + g("builtins", "set") + b")R."
    with pytest.raises(error) as exc:
        load(data)
    pos = op_positions(data, "REDUCE")[0]
    assert str(exc.value) == "f.pkl: damaged pickle: " + text.format(pos=pos)
