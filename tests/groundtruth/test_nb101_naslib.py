"""NASLib's ``nasbench_only108.pkl`` reader, on NASLib's own 30 real NB101 records."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from nasbench_tools.errors import CorruptFileError, UnsafePickleError
from nasbench_tools.groundtruth.columns import Key, SpecArray
from nasbench_tools.groundtruth.formats import get_reader, read_any
from nasbench_tools.spaces.nb101 import ModelSpec

FIX = Path(__file__).resolve().parents[1] / "fixtures"
DUMMY = FIX / "nb101" / "naslib_nb101_dummy.pkl"
H = "ff92c322c5d9d3d587d9c146a63d0807"


@pytest.fixture(scope="module")
def cs():
    return read_any(DUMMY, progress=False)


def test_axis_specs_and_provenance(cs, nb101_dummy):
    assert cs.space == "nb101"
    assert len(cs) == 30
    assert cs.keys.tolist() == sorted(nb101_dummy)
    assert cs.meta["source_format"] == "naslib-nb101-pickle"
    assert cs.meta["benchmark"] == "NAS-Bench-101 nasbench_only108"
    ref = SpecArray.from_specs(
        [
            (nb101_dummy[h][0]["module_adjacency"], nb101_dummy[h][0]["module_operations"])
            for h in cs.keys
        ]
    )
    np.testing.assert_array_equal(cs.specs.matrices, ref.matrices)
    np.testing.assert_array_equal(cs.specs.labels, ref.labels)
    np.testing.assert_array_equal(cs.specs.num_vertices, ref.num_vertices)
    assert [cs.specs.spec(i).hash for i in range(len(cs))] == cs.keys.tolist()


def test_literal_values(cs):
    i = cs.keys.tolist().index(H)
    params = cs.columns[Key("cifar10", "", 0, "params")]
    assert (params.values[i], params.unit, params.seeds) == (6_315_018, "count", ())
    final_valid = cs.columns[Key("cifar10", "valid", 108, "accuracy", "final")]
    final_test = cs.columns[Key("cifar10", "test", 108, "accuracy", "final")]
    assert final_valid.seeds == (0, 1, 2) and final_valid.unit == "%"
    np.testing.assert_allclose(final_valid.values[i], [92.558092, 92.798477, 92.467946], atol=1e-6)
    np.testing.assert_allclose(final_test.values[i], [92.317706, 91.927081, 92.057294], atol=1e-6)
    half_valid = cs.columns[Key("cifar10", "valid", 108, "accuracy", "halfway")]
    np.testing.assert_allclose(half_valid.values[i], [76.382214, 67.548078, 75.661057], atol=1e-6)
    train_final = cs.columns[Key("cifar10", "train", 108, "accuracy", "final")]
    np.testing.assert_array_equal(train_final.values[i], [100.0, 100.0, 100.0])
    t = cs.columns[Key("cifar10", "train", 108, "time", "final")]
    assert t.unit == "s"
    np.testing.assert_array_equal(
        t.values[i], [1396.137939453125, 1395.739990234375, 1386.18310546875]
    )
    t_half = cs.columns[Key("cifar10", "train", 108, "time", "halfway")]
    np.testing.assert_array_equal(
        t_half.values[i], [697.9600219726562, 696.2119750976562, 692.89501953125]
    )


def test_every_value_matches_the_file(cs, nb101_dummy):
    names = {"train": "train_accuracy", "valid": "validation_accuracy", "test": "test_accuracy"}
    assert len(cs.columns) == 2 * 4 + 1
    for row, h in enumerate(cs.keys):
        fixed, computed = nb101_dummy[h]
        assert (
            cs.columns[Key("cifar10", "", 0, "params")].values[row] == fixed["trainable_parameters"]
        )
        for r, rep in enumerate(computed[108]):
            for p in ("halfway", "final"):
                for split, f in names.items():
                    got = cs.columns[Key("cifar10", split, 108, "accuracy", p)].values[row, r]
                    assert got == rep[f"{p}_{f}"] * 100
                got = cs.columns[Key("cifar10", "train", 108, "time", p)].values[row, r]
                assert got == rep[f"{p}_training_time"]


def test_same_columns_as_the_tfrecord_reader(cs):
    tf = read_any(
        FIX / "nb101" / "nb101_real30_only108.tfrecord", format="nb101-tfrecord", progress=False
    )
    assert tf.keys.tolist() == cs.keys.tolist()
    assert set(tf.columns) == set(cs.columns)
    for key, c in cs.columns.items():
        ref = tf.columns[key]
        assert (c.seeds, c.unit) == (ref.seeds, ref.unit), key
        np.testing.assert_array_equal(c.values, ref.values, err_msg=key.to_str())
    np.testing.assert_array_equal(tf.specs.matrices, cs.specs.matrices)
    np.testing.assert_array_equal(tf.specs.labels, cs.specs.labels)


def test_an_unpruned_cell_is_pruned(tmp_path, nb101_dummy):
    h6 = "ff958f8d8f556448ff2a5973f17ff22a"  # a 6-vertex cell: room for a dead-end vertex
    fixed, computed = nb101_dummy[h6]
    v = len(fixed["module_operations"])
    adj = np.zeros((v + 1, v + 1), dtype=int)
    adj[: v - 1, : v - 1] = fixed["module_adjacency"][:-1, :-1]
    adj[: v - 1, v] = fixed["module_adjacency"][:-1, -1]
    adj[0, v - 1] = 1  # a dead-end vertex: reachable from the input, no path to the output
    ops = [*fixed["module_operations"][:-1], "maxpool3x3", "output"]
    data = {h6: ({**fixed, "module_adjacency": adj, "module_operations": ops}, computed)}
    path = tmp_path / "nasbench_only108.pkl"
    path.write_bytes(pickle.dumps(data, protocol=4))
    got = read_any(path, progress=False)
    assert got.specs.spec(0).hash == h6
    assert int(got.specs.num_vertices[0]) == v


def test_hostile_and_damaged_files(tmp_path):
    data = DUMMY.read_bytes()
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(
        CorruptFileError, match=r"cut\.pkl: damaged pickle: the stream breaks at byte"
    ):
        get_reader("naslib-nb101-pickle").read(cut, progress=False)
    bad_key = tmp_path / "bad.pkl"
    bad_key.write_bytes(pickle.dumps({"not-a-hash": None}, protocol=4))
    with pytest.raises(CorruptFileError, match="is not a 32-hex module hash"):
        get_reader("naslib-nb101-pickle").read(bad_key, progress=False)
    with pytest.raises(UnsafePickleError, match="posix.system"):
        get_reader("naslib-nb101-pickle").read(
            FIX / "groundtruth" / "nb201" / "malicious_os_system.pickle", progress=False
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pkl", "cut.pkl"]


def test_missing_repeat_field(tmp_path, nb101_dummy):
    fixed, computed = nb101_dummy[H]
    reps = [dict(r) for r in computed[108]]
    del reps[2]["final_test_accuracy"]
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({H: (fixed, {108: reps})}, protocol=4))
    with pytest.raises(
        CorruptFileError, match=rf"{H}: repeat 2 at 108 epochs: lacks 'final_test_accuracy'"
    ):
        read_any(path, progress=False)


def test_module_hashes_match_modelspec(nb101_dummy):
    # the file's keys are the official module hashes of its (pruned) cells
    for h, (fixed, _) in nb101_dummy.items():
        assert ModelSpec(fixed["module_adjacency"], fixed["module_operations"]).hash == h


def _mutated(tmp_path, nb101_dummy, mutate) -> Path:
    data = {
        h: (dict(f), {b: [dict(r) for r in reps] for b, reps in c.items()})
        for h, (f, c) in nb101_dummy.items()
    }
    mutate(data[H])
    path = tmp_path / "nasbench_only108.pkl"
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path


@pytest.mark.parametrize(
    "mutate, pattern",
    [
        (
            lambda e: e[1].update({109: e[1][108]}),
            r"computed_stats key 109 is not an NB101 epoch budget",
        ),
        (lambda e: e[1].update({108: e[1][108] * 5}), r"is not a list of 1 to 10 repeats"),
        (
            lambda e: e[1][108][0].update(final_test_accuracy=np.complex128(1j)),
            r"final_test_accuracy is a complex128, not a number",
        ),
        (
            lambda e: e[1][108][0].update(final_test_accuracy=True),
            r"final_test_accuracy is a bool, not a number",
        ),
        (
            lambda e: e[1][108][0].update(final_test_accuracy="0.9"),
            r"final_test_accuracy is a str, not a number",
        ),
        (lambda e: e[1][108][0].update(final_test_accuracy=10**400), r"overflows a float"),
        (
            lambda e: e[1][108].__setitem__(0, [1, 2]),
            r"repeat 0 at 108 epochs: expected a dict, found list",
        ),
        (
            lambda e: e[0].update(module_adjacency="0101"),
            r"module_adjacency is a str, not a matrix",
        ),
        (
            lambda e: e[0].update(
                module_adjacency=[[None] * len(e[0]["module_operations"])]
                * len(e[0]["module_operations"])
            ),
            r"module_adjacency is .* object; expected",
        ),
    ],
)
def test_values_and_sizes_are_checked(tmp_path, nb101_dummy, mutate, pattern):
    with pytest.raises(CorruptFileError, match=pattern):
        read_any(
            _mutated(tmp_path, nb101_dummy, mutate), format="naslib-nb101-pickle", progress=False
        )
