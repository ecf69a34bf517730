"""The restricted unpickler: exactly the benchmark files' globals load; anything else is refused
before it can run, with the file, the global and its byte position in the message."""

from __future__ import annotations

import bz2
import io
import os
import pickle
import pickletools
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

from nasbench_tools.errors import CorruptFileError, UnsafePickleError
from nasbench_tools.groundtruth.safe_pickle import ALLOWED_GLOBALS, safe_load, safe_loads

from ..conftest import NATS_TSS

EXPECTED_ALLOW_LIST = {
    ("collections", "OrderedDict"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("builtins", "set"),
    ("_codecs", "encode"),
    ("builtins", "bytes"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
}


class _System:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def _global_position(data: bytes) -> int:
    """Position of the first GLOBAL / STACK_GLOBAL opcode, found independently of the reader."""
    for op, _arg, pos in pickletools.genops(data):
        if op.name in ("GLOBAL", "STACK_GLOBAL"):
            return pos
    raise AssertionError("no global in the pickle")


def test_allow_list_is_exactly_what_the_files_need():
    assert set(ALLOWED_GLOBALS) == EXPECTED_ALLOW_LIST
    assert all(len(why) > 20 for why in ALLOWED_GLOBALS.values())  # each entry is justified


def test_real_nats_record_loads_as_plain_pickle_does():
    raw = bz2.decompress((NATS_TSS / "000000.pickle.pbz2").read_bytes())
    ours = safe_loads(raw, source="000000.pickle.pbz2")
    assert ours == pickle.loads(raw)
    assert isinstance(ours, OrderedDict)
    rec = ours["200"]["all_results"][("cifar10-valid", 777)]
    assert rec["eval_acc1es"]["x-valid@199"] == pytest.approx(82.092, abs=1e-6)
    assert isinstance(rec["params"], np.float64)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_os_system_is_refused_and_not_executed(tmp_path, monkeypatch, protocol):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    data = pickle.dumps({"a": [1, _System(f"touch {marker}")]}, protocol=protocol)
    with pytest.raises(UnsafePickleError) as info:
        safe_loads(data, source="evil.pkl")
    msg = str(info.value)
    assert msg.startswith("evil.pkl: ")
    assert f"'{os.system.__module__}.system'" in msg
    assert f"at byte {_global_position(data)}" in msg
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
        ("numpy.testing", "assert_equal"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("copyreg", "_reconstructor"),
        ("collections", "namedtuple"),
    ],
)
def test_other_globals_are_refused(module, name):
    data = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\nq\x00)R."
    with pytest.raises(
        UnsafePickleError, match=rf"'{module.replace('__builtin__', 'builtins')}\.{name}' at byte 2"
    ):
        safe_loads(data, source="f.pkl")


def test_refusal_imports_nothing():
    # 'this' prints the Zen of Python when imported; a refused global must not import its module
    code = (
        "import sys\n"
        "from nasbench_tools.groundtruth.safe_pickle import safe_loads\n"
        "from nasbench_tools.errors import UnsafePickleError\n"
        "data = b'\\x80\\x02cthis\\ns\\nq\\x00.'\n"
        "try:\n"
        "    safe_loads(data, source='x')\n"
        "except UnsafePickleError:\n"
        "    pass\n"
        "assert 'this' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "ok\n"


def test_persistent_ids_are_refused():
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=2)
    p.persistent_id = lambda obj: ("storage", "FloatStorage", "0", "cpu", 4) if obj == "T" else None
    p.dump({"w": "T"})
    with pytest.raises(UnsafePickleError, match="persistent id"):
        safe_loads(buf.getvalue(), source="weights.pth")


def test_codecs_encode_only_latin1():
    ok = pickle.dumps({"b": b"\x00\xffab", "s": {1, 2}, "x": np.float64(2.5)}, protocol=2)
    assert safe_loads(ok, source="p2") == {"b": b"\x00\xffab", "s": {1, 2}, "x": 2.5}
    rot13 = b"\x80\x02c_codecs\nencode\nq\x00X\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R."
    with pytest.raises(UnsafePickleError, match="only \\(str, 'latin1'\\)"):
        safe_loads(rot13, source="p")


def test_numpy_1_and_2_names_both_load():
    arr = np.arange(6.0).reshape(2, 3)
    p2 = pickle.dumps({"a": arr, "s": np.float32(1.5)}, protocol=2)  # no framing: safe to edit
    p1 = p2.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert p1 != p2
    for data in (p1, p2):
        out = safe_loads(data, source="n")
        np.testing.assert_array_equal(out["a"], arr)
        assert out["s"] == np.float32(1.5)


def test_damaged_streams_name_the_position():
    raw = bz2.decompress((NATS_TSS / "000011.pickle.pbz2").read_bytes())
    with pytest.raises(
        CorruptFileError,
        match=r"x\.pkl: damaged pickle \(decompressed\): the stream breaks at byte 5000",
    ):
        safe_loads(raw[:5000], source="x.pkl", where="decompressed")
    with pytest.raises(CorruptFileError, match=r"t\.txt: damaged pickle"):
        safe_loads(b"just some text\n", source="t.txt")
    with pytest.raises(
        CorruptFileError, match="4 unexpected bytes after the pickle's end at byte 5"
    ):
        safe_loads(pickle.dumps(1, protocol=2) + b"junk", source="j")


def test_base_offset_and_stream_loading():
    evil = pickle.dumps(_System("true"), protocol=2)
    prefix = pickle.dumps(123, protocol=2)
    data = prefix + evil
    fh = io.BytesIO(data)
    assert safe_load(fh, source="s") == 123
    start = fh.tell()
    assert start == len(prefix)  # left just after the first pickle's STOP
    with pytest.raises(
        UnsafePickleError, match=f"at byte {start + _global_position(evil)} of the legacy"
    ):
        safe_load(fh, source="s", base_offset=start, where="legacy stream")
