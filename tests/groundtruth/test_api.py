"""load() and GroundTruth: explicit semantics, literal values from the real records, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

import nasbench_tools
from nasbench_tools.errors import QueryError, UnknownArchError
from nasbench_tools.groundtruth import GroundTruth, load
from nasbench_tools.spaces.nb201 import Arch

C10 = dict(dataset="cifar10-valid", split="x-valid", epochs=200)


@pytest.fixture(scope="module")
def gt() -> GroundTruth:
    return load("nb201")


def test_load_is_exposed_at_top_level(gt):
    assert nasbench_tools.load("nb201") is gt  # embedded data is parsed once per process


def test_arch_0_per_seed_literal_values(gt):
    """Real NATS-tss record of arch 0: cifar10-valid x-valid at epoch 199, seeds 777/888/999."""
    assert gt.query(0, seed=777, **C10) == pytest.approx(82.092, abs=1e-6)
    assert gt.query(0, seed=888, **C10) == pytest.approx(81.616, abs=1e-6)
    assert gt.query(0, seed=999, **C10) == pytest.approx(82.24, abs=1e-6)
    assert gt.query(0, **C10) == pytest.approx((82.092 + 81.616 + 82.24) / 3, abs=1e-6)
    assert gt.query(0, seed="all", **C10) == pytest.approx(
        {777: 82.092, 888: 81.616, 999: 82.24}, abs=1e-6
    )


def test_best_arch_and_dataset_maxima(gt):
    """Values quoted in the data's provenance notes: best c10 valid 6111, c100 max 9930, IN16 max 3888."""
    c10 = gt.vector(**C10)
    assert int(np.argmax(c10)) == 6111 and c10[6111] == pytest.approx(91.6067, abs=1e-4)
    c100 = gt.vector(dataset="cifar100", split="ori-test", epochs=200)
    assert int(np.argmax(c100)) == 9930 and c100[9930] == pytest.approx(73.503, abs=1e-3)
    in16 = gt.vector(dataset="ImageNet16-120", split="ori-test", epochs=200)
    assert int(np.argmax(in16)) == 3888 and in16[3888] == pytest.approx(46.883, abs=1e-3)


def test_two_seed_archs(gt):
    col = gt.vector(seed="all", **C10)
    two = np.isnan(col.values[:, 2])
    assert two.sum() == 7456 and not np.isnan(col.values[:, :2]).any()
    i = int(np.flatnonzero(two)[0])
    # the mean is over the seeds the arch has, never a substitute for the missing one
    assert gt.query(i, **C10) == pytest.approx(np.mean(col.values[i, :2]))
    assert set(gt.query(i, seed="all", **C10)) == {777, 888}
    with pytest.raises(QueryError, match="no value .*seed 999.*missing='nan'"):
        gt.query(i, seed=999, **C10)
    assert np.isnan(gt.query(i, seed=999, missing="nan", **C10))
    with pytest.raises(QueryError, match="7456 of 15625 archs have no value"):
        gt.vector(seed=999, **C10)
    assert np.isnan(gt.vector(seed=999, missing="nan", **C10)).sum() == 7456


def test_vector_is_aligned_and_read_only(gt):
    v = gt.vector(**C10)
    assert v.shape == (15625,) and len(gt.archs) == 15625
    assert gt.archs[6111] == Arch.from_index(6111)
    for i in (0, 11, 284, 6111):
        assert v[i] == gt.query(i, **C10)
    with pytest.raises(ValueError):
        v[0] = 0.0


def test_query_accepts_every_arch_form(gt):
    a = Arch.from_index(6111)
    assert (
        gt.query(6111, **C10)
        == gt.query(a, **C10)
        == gt.query(a.to_string(), **C10)
        == gt.query("6111", **C10)
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            dict(dataset="cifar10", split="x-valid", epochs=200),
            "no split 'x-valid'.*dataset='cifar10-valid', split='x-valid'",
        ),
        (
            dict(dataset="cifar10-valid", split="x-valid"),
            r"epochs \(the training budget\) is required.*\[12, 200\]",
        ),
        (dict(dataset="cifar10-valid", epochs=200), "split is required for metric 'accuracy'"),
        (dict(dataset="imagenet", split="x-valid", epochs=12), "did you mean 'ImageNet16-120'"),
        (
            dict(dataset="cifar100", split="x-valid", epochs=200),
            r"no 200-epoch budget; available: \[12\]",
        ),
        (
            dict(dataset="cifar10-valid", split="valid", epochs=200),
            "the benchmark calls it 'x-valid'",
        ),
        (
            dict(dataset="cifar10-valid", split="x-valid", epochs=200, metric="acc"),
            "no metric 'acc'",
        ),
        (
            dict(dataset="cifar10-valid", split="x-valid", epochs=200, seed=123),
            r"no seed 123.*\[777, 888, 999\]",
        ),
        (dict(dataset="cifar10-valid", split="x-valid", epochs=12, seed=777), "only seed means"),
        (
            dict(dataset="cifar10-valid", split="x-valid", epochs=200, missing="zero"),
            "missing must be",
        ),
    ],
)
def test_query_errors_name_the_problem(gt, query, message):
    with pytest.raises(QueryError, match=message):
        gt.vector(**query)


def test_cost_metrics_need_no_split_or_budget(gt):
    p = gt.vector(dataset="cifar10-valid", metric="params")
    assert p[0] == pytest.approx(0.129306)
    t = gt.vector(dataset="cifar10-valid", metric="time", epochs=200)
    assert t[0] == pytest.approx(1444.2186)


def test_unknown_arch_names_its_canonical_form(gt):
    from nasbench_tools.groundtruth.columns import ColumnSet

    cs = ColumnSet("nb201", gt.archs.keys, {k: gt._column(k) for k in gt.columns})
    small = GroundTruth.from_columnset(cs.select([0, 11]))
    assert small.query(11, **C10) == gt.query(11, **C10)
    with pytest.raises(UnknownArchError, match=r"NB201 arch 284 \|.*unique_str"):
        small.query(284, **C10)


def test_sample_is_seeded_and_uniform_over_classes(gt):
    a = gt.sample(50, seed=3)
    assert a == gt.sample(50, seed=3)
    assert a != gt.sample(50, seed=4)
    assert len({x.unique_str() for x in a}) == 50
    assert len(gt.sample(6466, seed=0)) == 6466
    with pytest.raises(QueryError, match="only 6466 isomorphism classes"):
        gt.sample(6467, seed=0)
    assert len(set(gt.sample(7000, seed=0, unique=False))) == 7000
    with pytest.raises(TypeError):
        gt.sample(3)  # no random default: the seed is required
    with pytest.raises(QueryError, match="seed must be an int"):
        gt.sample(3, seed=None)


def test_sample_is_uniform_over_classes_not_over_indices(gt):
    """Classes have very different sizes; a class-uniform draw ignores them (chi-square on halves)."""
    from nasbench_tools.spaces import nb201

    ids = nb201.isomorphism_class_ids()
    sizes = np.bincount(ids)
    big = set(np.flatnonzero(sizes >= np.median(sizes)).tolist())
    draws = [x for s in range(20) for x in gt.sample(300, seed=s)]
    frac_big = np.mean([ids[x.index] in big for x in draws])
    expected = len(big) / len(sizes)
    assert abs(frac_big - expected) < 0.03


def test_table(gt):
    df = gt.table(columns=[C10, dict(dataset="cifar10-valid", metric="params")])
    assert list(df.columns) == [
        "arch_str",
        "cifar10-valid|x-valid|200|accuracy|final",
        "cifar10-valid||0|params|final",
    ]
    assert df.loc[6111, "arch_str"] == Arch.from_index(6111).to_string()
    per_seed = gt.table(columns=[C10], seed="all")
    assert per_seed.shape == (15625, 4)


def test_info(gt):
    info = gt.info()
    assert info["archs"] == 15625 and info["unique_classes"] == 6466
    assert info["seeds"] == [777, 888, 999] and info["budgets_epochs"] == [12, 200]
    assert info["provenance"]["benchmark"] == "NATS-tss-v1_0-3ffb9"
    assert len(info["provenance"]["source_sha256"]) == 64


def test_v1_1_release_is_kept_apart():
    v11 = load("nb201-v1_1")
    assert v11.query(6111, **C10) == pytest.approx(91.6067, abs=1e-4)
    assert v11.query(6111, dataset="cifar10", split="ori-test", epochs=200) == pytest.approx(
        94.3733, abs=1e-4
    )
    # index 9597: the v1_1 file reports a seed-averaged params value the NATS release does not
    assert v11.query(9597, dataset="cifar10-valid", metric="params") == pytest.approx(
        0.9644526666, abs=1e-9
    )
    assert load("nb201").query(9597, dataset="cifar10-valid", metric="params") == pytest.approx(
        0.802426
    )
    with pytest.raises(QueryError, match="only seed means"):
        v11.query(0, seed=777, **C10)


def test_published_rank_correlations_of_the_embedded_data(gt):
    """Numbers from the data's provenance notes, recomputed with scipy over the embedded table."""
    v200 = gt.vector(**C10)
    v12 = gt.vector(dataset="cifar10-valid", split="x-valid", epochs=12)
    assert kendalltau(v12, v200)[0] == pytest.approx(0.648, abs=1e-3)
    s7, s8 = (gt.vector(seed=s, **C10) for s in (777, 888))
    assert kendalltau(s7, s8)[0] == pytest.approx(0.910, abs=1e-3)


def test_unknown_benchmark_name():
    with pytest.raises(QueryError, match="unknown benchmark 'nb301'"):
        load("nb301")


def test_nb101_embedded_sample():
    gt = load("nb101")
    assert len(gt) == 30 and "SAMPLE" in repr(gt)
    key = "ff92c322c5d9d3d587d9c146a63d0807"
    q = dict(dataset="cifar10", split="valid", epochs=108)
    assert gt.query(key, seed=0, **q) == pytest.approx(92.55809187889099, abs=1e-9)
    assert gt.query(key, seed=0, dataset="cifar10", split="test", epochs=108) == pytest.approx(
        92.31770634651184, abs=1e-9
    )
    assert gt.query(key, dataset="cifar10", metric="params") == 6315018
    spec = gt.archs[gt.archs.position(key)]
    assert spec.hash == key
    assert gt.query(spec, seed=0, **q) == gt.query(key, seed=0, **q)
    with pytest.raises(UnknownArchError, match="module hash 0{32}"):
        gt.query("0" * 32, **q)
    with pytest.raises(QueryError, match=r"no seed 3.*\[0, 1, 2\]"):
        gt.query(key, seed=3, **q)


# ------------------------------------------------------------------ results cannot be mutated
def test_mutating_a_vector_of_one_seed_does_not_change_later_queries():
    """The bug: `v = load("nb201").vector(..., seed=777); v[0] = -1` changed every later query in
    the process, a fresh load("nb201") included."""
    v = load("nb201").vector(seed=777, **C10)
    with pytest.raises(ValueError, match="read-only"):
        v[0] = -1
    mine = v.copy()  # a copy is the caller's to change
    mine[0] = -1
    assert load("nb201").query(0, seed=777, **C10) == pytest.approx(82.092, abs=1e-6)
    assert load("nb201").vector(seed=777, **C10)[0] == pytest.approx(82.092, abs=1e-6)


def test_seed_all_does_not_hand_out_the_internal_column(gt):
    col = gt.vector(seed="all", **C10)
    with pytest.raises(ValueError, match="read-only"):
        col.values[0, 0] = -1
    col.values = np.zeros_like(col.values)  # rebinding the returned object's field is harmless
    col.seeds = (1, 2, 3)
    again = gt.vector(seed="all", **C10)
    assert again.values[0, 0] == pytest.approx(82.092, abs=1e-6) and again.seeds == (777, 888, 999)


def _every_returned_array(g: GroundTruth):
    q = dict(dataset="cifar10", split="valid", epochs=108) if g.space == "nb101" else C10
    seed = 0 if g.space == "nb101" else 777
    yield "vector mean", g.vector(**q)
    yield "vector seed", g.vector(seed=seed, **q)
    yield "vector all", g.vector(seed="all", **q).values
    yield "archs.keys", g.archs.keys
    if g.space == "nb101":
        yield "specs.matrices", g.archs.specs.matrices
        yield "specs.labels", g.archs.specs.labels
        yield "specs.num_vertices", g.archs.specs.num_vertices


@pytest.mark.parametrize("source", ["embedded", "store"])
@pytest.mark.parametrize("name", ["nb201", "nb101"])
def test_every_array_ground_truth_returns_is_read_only(name, source, tmp_path):
    from nasbench_tools.groundtruth.columns import ColumnSet
    from nasbench_tools.groundtruth.store import write_store

    g = load(name)
    if source == "store":
        cs = ColumnSet(
            g.space, g.archs.keys, {k: g._column(k) for k in g.columns}, g.archs.specs, {}
        )
        g = GroundTruth.from_store(write_store(cs, tmp_path / "s.h5"))
    for what, a in _every_returned_array(g):
        assert not a.flags.writeable, what
        first = (0,) * a.ndim
        with pytest.raises(ValueError):
            a[first] = a[first]


def test_tables_and_provenance_are_copies(gt):
    df = gt.table(columns=[C10])
    df.iloc[0, 1] = -1.0
    assert gt.query(0, **C10) > 80
    prov = gt.provenance
    prov["benchmark"] = "changed"
    assert gt.provenance["benchmark"] == "NATS-tss-v1_0-3ffb9"


def test_from_columnset_leaves_the_callers_arrays_writable():
    from nasbench_tools.groundtruth.columns import Column, ColumnSet, Key

    values = np.array([50.0, 60.0])
    cs = ColumnSet("nb201", [0, 1], {Key("cifar10", "ori-test", 200, "accuracy"): Column(values)})
    assert cs.keys.flags.writeable
    g = GroundTruth.from_columnset(cs)
    assert not g.vector(dataset="cifar10", split="ori-test", epochs=200).flags.writeable
    assert not g.archs.keys.flags.writeable
    values[0] = 51.0  # the caller's own arrays are still theirs
    assert cs.columns[Key("cifar10", "ori-test", 200, "accuracy")].values.flags.writeable
    assert cs.keys.flags.writeable


# ------------------------------------------------------------------ query messages
@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        (dict(split="x-valid"), "the benchmark calls it 'valid'"),
        (dict(split="validation"), "the benchmark calls it 'valid'"),
        (dict(split="ori-test"), "the benchmark calls it 'test'"),
        (dict(dataset="imagenet", split="valid"), "available: ['cifar10']"),
    ],
)
def test_nb201_hint_is_not_shown_on_nb101_queries(query, fragment):
    q = dict(dataset="cifar10", epochs=108) | query
    with pytest.raises(QueryError) as info:
        load("nb101").vector(**q)
    msg = str(info.value)
    assert fragment in msg
    for nb201_only in ("cifar10-valid", "x-valid'", "ImageNet16-120", "train+valid"):
        assert nb201_only not in msg.replace("split 'x-valid'", "")


@pytest.mark.parametrize("epochs", ["200", 200.0, True, [200]])
def test_epochs_that_is_not_an_int_is_refused_naming_its_type(gt, epochs):
    with pytest.raises(QueryError, match=r"epochs must be an int .*got .*\(\w+\)"):
        gt.vector(dataset="cifar10-valid", split="x-valid", epochs=epochs)
    assert gt.vector(dataset="cifar10-valid", split="x-valid", epochs=np.int64(200))[0] > 0


def test_missing_zero_is_refused_by_every_method(gt):
    calls = [
        lambda: gt.query(0, missing="zero", **C10),  # was accepted when the value exists
        lambda: gt.query(0, seed="all", missing="zero", **C10),  # was accepted
        lambda: gt.vector(seed="all", missing="zero", **C10),
        lambda: gt.vector(seed=777, missing="zero", **C10),
        lambda: gt.table(columns=[C10], missing="zero"),
        lambda: gt.table(columns=[C10], seed="all", missing="zero"),
    ]
    for call in calls:
        with pytest.raises(QueryError, match="missing must be 'raise' or 'nan', got 'zero'"):
            call()


def test_column_dict_without_dataset_is_a_query_error_not_a_key_error(gt):
    with pytest.raises(QueryError, match=r"columns\[1\] lacks 'dataset'"):
        gt.table(columns=[C10, dict(split="x-valid", epochs=200)])


@pytest.mark.parametrize(
    ("columns", "fragment"),
    [
        ([C10 | {"seeds": 777}], r"columns\[0\]: unknown key\(s\) \['seeds'\]"),
        ([C10 | {"epoch": 200}], r"unknown key\(s\) \['epoch'\]"),
        ([C10 | {"missing": "nan"}], "seed and missing are arguments of table"),
        (C10, "wrap a single dict in a list"),
        (["cifar10-valid"], r"columns\[0\] must be a dict"),
    ],
)
def test_unknown_keys_in_a_column_dict_are_refused(gt, columns, fragment):
    with pytest.raises(QueryError, match=fragment):
        gt.table(columns=columns)


def test_cifar10_ori_test_at_200_epochs_points_to_nb201_v1_1(gt):
    q = dict(dataset="cifar10", split="ori-test", epochs=200)
    with pytest.raises(QueryError, match=r"no 200-epoch budget.*load\('nb201-v1_1'\) has it"):
        gt.vector(**q)
    assert load("nb201-v1_1").query(6111, **q) == pytest.approx(94.3733, abs=1e-4)
    # and the other way round: v1_1 has no per-dataset CIFAR-100 200-epoch column, nb201 has
    with pytest.raises(QueryError, match=r"load\('nb201'\) has it"):
        load("nb201-v1_1").vector(dataset="cifar100", split="ori-test", epochs=200)
    with pytest.raises(QueryError) as info:  # a query nothing answers gets no pointer
        gt.vector(dataset="cifar10", split="ori-test", epochs=300)
    assert "load(" not in str(info.value)
