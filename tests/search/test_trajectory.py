"""The trajectory file: round trip, and what a damaged or hostile file gets."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from nasbench_tools.search import (
    Budget,
    SearchError,
    read_trajectories,
    run_searches,
    write_trajectories,
)

from .conftest import synthetic_gt, synthetic_oracle


@pytest.fixture(scope="module")
def traj():
    o = synthetic_oracle(synthetic_gt("nb201", n=300))
    return run_searches(
        o,
        "weaknas",
        Budget(seconds=3000),
        repeats=3,
        seed=0,
        progress=False,
        options={"init_samples": 5, "per_iteration": 5, "top_k": 20},
    )


@pytest.fixture(scope="module")
def nb101_traj():
    o = synthetic_oracle(synthetic_gt("nb101"))
    return run_searches(
        o, "rea", Budget(queries=15), repeats=2, seed=0, progress=False, options={"population": 4}
    )


def _same(a, b):
    assert a.header == b.header
    for name in (
        "q_run",
        "q_key",
        "q_signal",
        "q_cost",
        "q_clock",
        "q_report",
        "q_late",
        "r_seed",
        "r_answer",
        "r_stop",
    ):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype or name == "q_run", name
        np.testing.assert_array_equal(x, y)
    assert a.records.keys() == b.records.keys()
    for k in a.records:
        for x, y in zip(a.records[k], b.records[k]):
            np.testing.assert_array_equal(x, y)


def test_trajectory_file_round_trips(traj, nb101_traj, tmp_path):
    for t, name in ((traj, "a.npz"), (nb101_traj, "b.npz")):
        p = write_trajectories(t, tmp_path / name)
        back = read_trajectories(p)
        _same(t, back)
        assert back.q_late.any() or t.budget.get("queries")
        p2 = write_trajectories(back, tmp_path / ("again-" + name))
        assert p2.read_bytes() == p.read_bytes()  # identical runs give identical bytes
    assert read_trajectories(tmp_path / "b.npz").q_key.dtype == np.dtype("S32")


def test_selecting_runs_keeps_their_queries_and_records(traj):
    sub = traj.select([2, 0])
    assert sub.n_runs == 2
    np.testing.assert_array_equal(sub.q_key[sub.run_slice(0)], traj.q_key[traj.run_slice(2)])
    rr, _, _ = sub.records["recommended_report"]
    assert set(rr.tolist()) == {0, 1}


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    change(members)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            z.writestr(n, b)


def _npy(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=False)
    return buf.getvalue()


def _header(h):
    return _npy(np.frombuffer(json.dumps(h).encode(), np.uint8))


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda m: m.pop("q_cost.npy"), "missing array 'q_cost'"),
        (lambda m: m.__setitem__("q_cost.npy", _npy(np.zeros(3, "f4"))), "q_cost has shape|dtype"),
        (
            lambda m: m.__setitem__("r_answer.npy", _npy(np.full(3, 10_000, "i8"))),
            "r_answer points outside",
        ),
        (lambda m: m.__setitem__("q_run.npy", _npy(np.zeros(1, "i4"))), "q_key has shape"),
        (
            lambda m: m.__setitem__("header.npy", _npy(np.frombuffer(b"\xff\xfe", np.uint8))),
            "not UTF-8 JSON",
        ),
        (lambda m: m.__setitem__("header.npy", _header({"format": "other"})), "format is not"),
        (
            lambda m: m.__setitem__(
                "header.npy",
                _header({"format": "nasbench_tools.search.trajectories", "version": 9}),
            ),
            "version 9",
        ),
        (lambda m: m.__setitem__("evil/../x.npy", b""), "unexpected member"),
        (lambda m: m.__setitem__("extra.npy", _npy(np.zeros(1))), "unexpected array"),
        (lambda m: m.__setitem__("x_foo_run.npy", _npy(np.zeros(1, "i4"))), "record 'foo' needs"),
    ],
)
def test_damaged_files_are_refused_naming_the_problem(traj, tmp_path, change, match):
    src = write_trajectories(traj, tmp_path / "ok.npz")
    bad = tmp_path / "bad.npz"
    _rewrite(src, bad, change)
    with pytest.raises(SearchError, match=match):
        read_trajectories(bad)


def test_object_arrays_are_refused(traj, tmp_path):
    src = write_trajectories(traj, tmp_path / "ok.npz")
    bad = tmp_path / "bad.npz"
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([None, 1], dtype=object), allow_pickle=True)
    _rewrite(src, bad, lambda m: m.__setitem__("q_cost.npy", buf.getvalue()))
    with pytest.raises(SearchError, match="Python objects"):
        read_trajectories(bad)


def test_a_shape_larger_than_the_data_is_refused_before_allocating(traj, tmp_path):
    src = write_trajectories(traj, tmp_path / "ok.npz")
    bad = tmp_path / "bad.npz"
    head = "{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000,), }"
    blob = (
        b"\x93NUMPY\x01\x00"
        + len(head.ljust(118) + "\n").to_bytes(2, "little")
        + (head.ljust(118) + "\n").encode()
    )
    _rewrite(src, bad, lambda m: m.__setitem__("q_cost.npy", blob + b"\x00" * 16))
    with pytest.raises(SearchError, match="claims 80,000,000,000 bytes"):
        read_trajectories(bad)


def test_a_decompression_bomb_is_refused(tmp_path):
    bad = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("header.npy", b"\x00" * (40 * 2**20))
    with pytest.raises(SearchError, match="would decompress"):
        read_trajectories(bad)


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_not_a_zip_is_refused(tmp_path, content):
    p = tmp_path / "x.npz"
    p.write_bytes(content)
    with pytest.raises(SearchError, match="not a trajectory file"):
        read_trajectories(p)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SearchError, match="no such trajectory file"):
        read_trajectories(tmp_path / "nope.npz")


def test_arrays_are_read_only(traj):
    with pytest.raises(ValueError):
        traj.q_report[0] = 0
