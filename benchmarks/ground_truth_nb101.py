"""NB101 ground truth: loading a full-size ``nasbench_only108.tfrecord``, the plain way versus ``nbt convert``.

Builds one full-size file in the real ``nasbench_only108.tfrecord`` format in a temporary directory:
423,624 modules x 3 repeats = 1,270,872 records, about 520 MB. Each record has the real framing
(masked CRC-32C), the JSON payload and a base64 ``ModelMetrics`` protobuf, with the release's field
layout and payload sizes. The cells are valid, pruned NB101 cells, nearly all with 7 vertices, drawn
from a pool of 5,000 distinct ones. The module hashes are **synthetic**: md5 of the module's
number. They are distinct, random-looking 32-hex strings, but not the cells' true hashes (423,624
distinct cells cannot be drawn quickly), so the default module-hash check of ``read_any`` and
``nbt convert`` (a seeded sample of 1,000 cells) would refuse the file: every conversion measured
here runs with ``--verify-hashes none`` (``verify_hashes="none"``). What the default check costs is
measured on its own: ``verify_module_hashes`` over 1,000 of the pool's cells keyed by their true
hashes. The metrics are random, in realistic ranges.

Then it measures, each step in a fresh subprocess:

baseline
  TensorFlow is not assumed. The official API (``nasbench.api.NASBench``) needs TF1, so the baseline
  is the official loading loop written plainly. The ``tfrecord`` package's ``tfrecord_iterator``
  (which, unlike TensorFlow, does not verify the CRCs; its optional torch import is blocked so that
  torch's memory is not counted) is followed by ``json.loads``, base64 and ``google.protobuf``
  decoding of ``ModelMetrics``. The message class is built at run time from a
  ``FileDescriptorProto``. The result is the dict-of-dicts the official API builds
  (``fixed_statistics`` / ``computed_statistics``), with its wall time and peak RSS. Where
  TensorFlow is importable, the same loop also runs over ``tf.compat.v1.io.tf_record_iterator``.
nasbench_tools
  the reader alone (``read_any``, in process); ``nbt convert FILE -o STORE.h5`` (the whole CLI
  process: time and peak RSS); opening the store with ``nasbench_tools.load("nb101", path=STORE)``;
  and the whole-space vector ``gt.vector(dataset="cifar10", split="valid", epochs=108)``.

Run: ``python benchmarks/ground_truth_nb101.py`` (about 2 minutes on 2 cores; ``--archs 20000`` for
a quick check; ``--workdir DIR --keep`` to reuse the built file). Temporary files are removed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import json
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _measure import (
    acceptance_line,
    child_command,
    child_result,
    fmt_mb,
    fmt_s,
    maxrss_mb,
    run_measured,
    table_header,
    table_row,
    timeit,
)

N_ARCHS = 423_624
FILE_NAME = "nasbench_only108.tfrecord"
QUERY = {"dataset": "cifar10", "split": "valid", "epochs": 108}
ACCEPT = {"convert_s": 20.0, "convert_bytes": 1e9, "open_s": 0.100}
#: Column widths of the printed table: step, nasbench_tools, baseline, ratio.
WIDTHS = (48, 15, 11, 8)


# =========================================================================== building the file
def _masked_crc(data: bytes) -> int:
    import crc32c

    c = crc32c.crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


_EVAL = struct.Struct("<BBBdBdBdBdBd")  # 0a 2d | 09 d 11 d 19 d 21 d 29 d


def _evaluation(epoch: float, time_s: float, train: float, valid: float, test: float) -> bytes:
    return _EVAL.pack(0x0A, 45, 0x09, epoch, 0x11, time_s, 0x19, train, 0x21, valid, 0x29, test)


def _cell_pool(n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """``n`` distinct valid pruned cells as (raw_adjacency, raw_operations).

    About 90% have 7 vertices (each interior vertex gets a predecessor and a successor, so none is
    pruned, plus random extra edges up to 9), the rest are random graphs of 6 to 9 edges that
    prune to fewer vertices; all pass ``ModelSpec.is_valid``.
    """
    from nasbench_tools.spaces.nb101 import OPS, ModelSpec

    seen: set[tuple[str, str]] = set()
    out = []
    pairs = [(i, j) for i in range(7) for j in range(i + 1, 7)]
    while len(out) < n:
        m = np.zeros((7, 7), dtype=np.int8)
        if rng.random() < 0.8:
            for v in range(1, 6):
                m[rng.integers(0, v), v] = 1
                m[v, rng.integers(v + 1, 7)] = 1
            extra = int(rng.integers(0, 4))
        else:
            extra = int(rng.integers(6, 10))
        for k in rng.permutation(len(pairs))[:extra]:
            if m.sum() < 9:
                m[pairs[k]] = 1
        ops = ["input", *(OPS[i] for i in rng.integers(0, 3, 5)), "output"]
        spec = ModelSpec(m, ops)
        if not spec.is_valid:
            continue
        cell = ("".join(map(str, spec.matrix.ravel().tolist())), ",".join(spec.ops))
        if cell not in seen:
            seen.add(cell)
            out.append(cell)
    return out


def build_file(path: Path, n_archs: int, epochs: int = 108, seed: int = 0) -> dict:
    """Write ``n_archs`` modules x 3 repeats in the ``nasbench_only108.tfrecord`` format."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    cells = _cell_pool(min(5_000, n_archs), rng)
    half = epochs / 2
    n_records = 0
    with open(path, "wb") as fh:
        for lo in range(0, n_archs, 10_000):
            hi = min(n_archs, lo + 10_000)
            k = hi - lo
            params = rng.integers(227_274, 49_979_274, k)
            acc = 0.80 + 0.14 * rng.random((k, 3, 7))
            times = 400 + 5000 * rng.random((k, 3))
            chunk = []
            for a in range(k):
                i = lo + a
                module = hashlib.md5(str(i).encode()).hexdigest()
                adj, ops = cells[i % len(cells)]
                prefix = f'["{module}", {epochs}, "{adj}", "{ops}", "'.encode()
                tail = b"\x10" + _varint(int(params[a])) + b"\x19"
                for r in range(3):
                    t, x = float(times[a, r]), acc[a, r].tolist()
                    proto = (
                        _evaluation(0.0, 0.0, x[6] - 0.7, x[6] - 0.7, x[6] - 0.7)
                        + _evaluation(half, t / 2, x[0], x[1], x[2])
                        + _evaluation(float(epochs), t, x[3], x[4], x[5])
                        + tail
                        + struct.pack("<d", t + 3.5)
                    )
                    payload = prefix + base64.b64encode(proto) + b'"]'
                    head = struct.pack("<Q", len(payload))
                    chunk += [
                        head,
                        struct.pack("<I", _masked_crc(head)),
                        payload,
                        struct.pack("<I", _masked_crc(payload)),
                    ]
                    n_records += 1
            fh.write(b"".join(chunk))
    return {
        "records": n_records,
        "file_bytes": path.stat().st_size,
        "distinct_cells": len(cells),
        "build_s": time.perf_counter() - t0,
    }


# =========================================================================== measured steps (children)
def model_metrics_class():
    """``nasbench.ModelMetrics`` built at run time from a FileDescriptorProto (no generated code)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="nasbench/lib/model_metrics.proto", package="nasbench", syntax="proto2"
    )
    ev = fdp.message_type.add(name="EvaluationData")
    for number, name in enumerate(
        (
            "current_epoch",
            "training_time",
            "train_accuracy",
            "validation_accuracy",
            "test_accuracy",
        ),
        start=1,
    ):
        ev.field.add(name=name, number=number, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    ev.field.add(name="checkpoint_path", number=6, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    mm = fdp.message_type.add(name="ModelMetrics")
    mm.field.add(
        name="evaluation_data",
        number=1,
        type=F.TYPE_MESSAGE,
        label=F.LABEL_REPEATED,
        type_name=".nasbench.EvaluationData",
    )
    mm.field.add(name="trainable_parameters", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    mm.field.add(name="total_time", number=3, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("nasbench.ModelMetrics"))


def _record_iterator(source: str):
    """The record reader, imported before the clock starts."""
    if source == "tensorflow":
        import tensorflow as tf

        return tf.compat.v1.io.tf_record_iterator
    # The tfrecord package imports torch when it can (500 MB): keep that out of the measurement.
    sys.modules.setdefault("torch", None)
    from tfrecord.reader import tfrecord_iterator

    return tfrecord_iterator


def child_baseline(path: str, source: str, out: str) -> dict:
    """The official API's loading loop, over ``source`` records; then the valid-accuracy vector."""
    ModelMetrics = model_metrics_class()
    records = _record_iterator(source)
    t0 = time.perf_counter()
    fixed: dict = {}
    computed: dict = {}
    for row in records(path):
        module_hash, epochs, raw_adjacency, raw_operations, raw_metrics = json.loads(
            bytes(row).decode("utf-8")
        )
        dim = int(np.sqrt(len(raw_adjacency)))
        adjacency = np.array([int(e) for e in raw_adjacency], dtype=np.int8).reshape(dim, dim)
        operations = raw_operations.split(",")
        metrics = ModelMetrics.FromString(base64.b64decode(raw_metrics))
        if module_hash not in fixed:
            fixed[module_hash] = {
                "module_adjacency": adjacency,
                "module_operations": operations,
                "trainable_parameters": metrics.trainable_parameters,
            }
            computed[module_hash] = {}
        computed[module_hash].setdefault(epochs, [])
        half, final = metrics.evaluation_data[1], metrics.evaluation_data[2]
        computed[module_hash][epochs].append(
            {
                "halfway_training_time": half.training_time,
                "halfway_train_accuracy": half.train_accuracy,
                "halfway_validation_accuracy": half.validation_accuracy,
                "halfway_test_accuracy": half.test_accuracy,
                "final_training_time": final.training_time,
                "final_train_accuracy": final.train_accuracy,
                "final_validation_accuracy": final.validation_accuracy,
                "final_test_accuracy": final.test_accuracy,
            }
        )
    load_s = time.perf_counter() - t0
    peak = maxrss_mb()
    t0 = time.perf_counter()
    vec = np.array(
        [
            np.mean([d["final_validation_accuracy"] for d in computed[h][108]]) * 100
            for h in sorted(fixed)
        ]
    )
    vector_s = time.perf_counter() - t0
    np.save(out, vec)
    return {"load_s": load_s, "vector_s": vector_s, "peak_mb": peak, "archs": len(fixed)}


def child_ours_read(path: str, out: str) -> dict:
    """``read_any`` alone, in process (it may fork one reading worker)."""
    from nasbench_tools.groundtruth.formats import read_any

    t0 = time.perf_counter()
    cs = read_any(path, progress=False, verify_hashes="none")  # synthetic keys: see the docstring
    return {"read_s": time.perf_counter() - t0, "peak_mb": maxrss_mb(), "archs": len(cs)}


def hash_check_s(n_cells: int = 1000) -> float:
    """Seconds the default module-hash check takes: 1,000 pool cells keyed by their true hashes."""
    from nasbench_tools.groundtruth.columns import ColumnSet, SpecArray
    from nasbench_tools.groundtruth.verify import HASH_SAMPLE, verify_module_hashes
    from nasbench_tools.spaces.nb101 import ModelSpec

    cells = _cell_pool(max(n_cells, HASH_SAMPLE), np.random.default_rng(1))
    specs = {s.hash: s for s in (ModelSpec.from_string(a, o) for a, o in cells)}
    keys = sorted(specs)[:HASH_SAMPLE]
    cs = ColumnSet("nb101", keys, {}, SpecArray.from_specs([specs[k] for k in keys]))
    t0 = time.perf_counter()
    info = verify_module_hashes(cs, "pool", "sample")
    assert info["checked"] == len(keys)
    return time.perf_counter() - t0


def child_ours_open(store: str, out: str) -> dict:
    t0 = time.perf_counter()
    import nasbench_tools

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    gt = nasbench_tools.load("nb101", path=store)
    open_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    nasbench_tools.load("nb101", path=store)
    reopen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    vec = gt.vector(**QUERY)
    vector_cold_s = time.perf_counter() - t0
    vector_s = timeit(lambda: gt.vector(**QUERY), 7, 20)
    np.save(out, np.asarray(vec))
    return {
        "import_s": import_s,
        "open_s": open_s,
        "reopen_s": reopen_s,
        "vector_cold_s": vector_cold_s,
        "vector_s": vector_s,
        "peak_mb": maxrss_mb(),
    }


CHILDREN = {
    "baseline": lambda path, out: child_baseline(path, "tfrecord", out),
    "baseline_tf": lambda path, out: child_baseline(path, "tensorflow", out),
    "ours_read": child_ours_read,
    "ours_open": child_ours_open,
}


def _run_child(task: str, path: Path, out: Path) -> dict:
    m = run_measured(child_command(__file__, task, path, out))
    r = child_result(m.pop("stdout"))
    r["process"] = m
    return r


# =========================================================================== main
def report(r: dict) -> str:
    b, o = r["baseline"], r["ours"]
    conv, rd, op = o["convert"], o["read"], o["open"]
    f = r["file"]

    def peak(proc):  # summed RSS of the process tree (sampled), never below the largest process
        return max(proc["tree_peak_mb"], proc["max_process_mb"])

    lines = [
        f"NB101 ground truth: {r['archs']:,} modules x 3 repeats = {f['records']:,} records, "
        f"{f['file_bytes'] / 1e6:.0f} MB ({FILE_NAME} format, synthetic module hashes, so "
        "converted with --verify-hashes none; "
        + (f"built in {fmt_s(f['build_s'])})" if f["build_s"] is not None else "reused)"),
        "TensorFlow: "
        + (
            "importable; the loop also ran over tf.compat.v1.io.tf_record_iterator"
            if r["tensorflow"]
            else "not installed, so the official API cannot run. Baseline = its loading loop over "
            "the tfrecord package's reader (which checks no CRC) + json + base64 + protobuf"
        ),
        f"machine: {r['cpus']} CPUs; load average {r['load_before']:.1f} before, "
        f"{r['load_after']:.1f} after (other work on the machine slows every timing)",
        table_header(WIDTHS, "baseline"),
    ]

    def row(name, ours, theirs, fmt=fmt_s):
        lines.append(table_row(WIDTHS, name, ours, theirs, fmt))

    row("nbt convert, whole process / loop, whole process", conv["wall_s"], b["process"]["wall_s"])
    row("  peak RSS, all processes", peak(conv), peak(b["process"]), fmt_mb)
    row("reader alone (read_any) / loop alone, in process", rd["read_s"], b["load_s"])
    row("  peak RSS, all processes", peak(rd["process"]), peak(b["process"]), fmt_mb)
    row("open the store (fresh process)", op["open_s"], None)
    row("open again (same process)", op["reopen_s"], None)
    row("whole-space valid-acc vector, first call", op["vector_cold_s"], b["vector_s"])
    row("whole-space valid-acc vector, warm", op["vector_s"], b["vector_s"])
    if "baseline_tf" in r:
        t = r["baseline_tf"]
        row("nbt convert / loop over tf_record_iterator", conv["wall_s"], t["process"]["wall_s"])
        row("  peak RSS", peak(conv), peak(t["process"]), fmt_mb)
    lines += [
        f"nbt convert: largest single process {fmt_mb(conv['max_process_mb'])}, process tree "
        f"{fmt_mb(conv['tree_peak_mb'])} (sampled every 10 ms); store {conv['store_bytes'] / 1e6:.1f} MB; "
        f"it said: {conv['output']}",
        "baseline vector = mean of the 3 repeats' final_validation_accuracy x 100, a dict loop in "
        "sorted-hash order",
        f"max |ours - baseline| over the vector: {r['max_abs_diff']:.3g} (percentage points)",
        f"default module-hash check (seeded sample of 1,000 cells, not included above): "
        f"{fmt_s(r['hash_check_s'])}, measured on 1,000 pool cells keyed by their true hashes",
        "command: python benchmarks/ground_truth_nb101.py",
    ]
    lines.append(acceptance_line(r["acceptance"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--archs", type=int, default=N_ARCHS, help="modules in the built file")
    p.add_argument("--workdir", type=Path, help="build here (default: a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep --workdir's file and store")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        task, path, out = args.child
        print(json.dumps(CHILDREN[task](path, out)))
        return {}

    tmp = None
    work = args.workdir
    if work is None:
        tmp = tempfile.TemporaryDirectory(prefix="nbt-bench-nb101-")
        work = Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    src, store = work / FILE_NAME, work / "nb101.h5"
    base_vec, ours_vec, scratch = (
        work / "baseline_vector.npy",
        work / "ours_vector.npy",
        work / "x.npy",
    )
    try:
        r: dict = {"archs": args.archs, "cpus": len(os.sched_getaffinity(0))}
        r["tensorflow"] = importlib.util.find_spec("tensorflow") is not None
        if src.exists() and args.keep:
            r["file"] = {
                "records": 3 * args.archs,
                "file_bytes": src.stat().st_size,
                "build_s": None,
            }
        else:
            print(f"building {src} ...", file=sys.stderr, flush=True)
            r["file"] = build_file(src, args.archs)
        store.unlink(missing_ok=True)
        print("measuring ...", file=sys.stderr, flush=True)
        r["load_before"] = os.getloadavg()[0]
        r["baseline"] = _run_child("baseline", src, base_vec)
        if r["tensorflow"]:
            r["baseline_tf"] = _run_child("baseline_tf", src, scratch)
        cmd = [sys.executable, "-m", "nasbench_tools.cli", "convert", str(src), "-o", str(store)]
        conv = run_measured([*cmd, "--no-progress", "--verify-hashes", "none"])
        conv["output"] = conv.pop("stdout").strip()
        conv["store_bytes"] = store.stat().st_size
        r["ours"] = {
            "read": _run_child("ours_read", src, scratch),
            "convert": conv,
            "open": _run_child("ours_open", store, ours_vec),
        }
        r["load_after"] = os.getloadavg()[0]
        r["hash_check_s"] = hash_check_s()
        a, b = np.load(base_vec), np.load(ours_vec)
        r["max_abs_diff"] = float(np.max(np.abs(a - b)))
        base = r["baseline"]
        conv_peak = max(conv["tree_peak_mb"], conv["max_process_mb"])
        r["acceptance"] = {
            "convert<=20s": conv["wall_s"] <= ACCEPT["convert_s"],
            "convert_rss<=1GB": conv_peak * 2**20 <= ACCEPT["convert_bytes"],
            "convert faster than the loop": conv["wall_s"] < base["load_s"],
            "convert_rss below the loop": conv_peak < base["process"]["max_process_mb"],
            "open<=100ms": r["ours"]["open"]["open_s"] <= ACCEPT["open_s"],
        }
        print(report(r))
        if args.json:
            args.json.write_text(json.dumps(r, indent=2))
        return r
    finally:
        if tmp is not None:
            tmp.cleanup()
        elif not args.keep:
            for f in (src, store, base_vec, ours_vec, scratch):
                f.unlink(missing_ok=True)
        else:
            scratch.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
