"""The oracle: exact budget accounting, declared signal/report/cost, seed policies, rewards."""

from __future__ import annotations

import bz2
import pickle

import numpy as np
import pytest

from nasbench_tools.groundtruth import Column, ColumnSet, GroundTruth, Key, load
from nasbench_tools.search import Budget, CostSpec, Measure, MnasNetReward, Oracle, SearchError

from ..conftest import NATS_TSS
from .conftest import SIGNAL, synthetic_gt, synthetic_oracle


@pytest.fixture(scope="module")
def small():
    return synthetic_oracle(synthetic_gt("nb201", n=200))


# --------------------------------------------------------------------------- accounting
def test_clock_is_the_sum_of_costs_charged_and_repeats_are_charged_again(small):
    s = small.session(Budget(queries=10), np.random.default_rng(0))
    rows = [3, 5, 3, 3, 7]
    for r in rows:
        s.query(r)
    assert s.n_queries == 5
    assert s.costs == [small.cost[r] for r in rows]  # a repeat costs again
    assert s.clock == pytest.approx(sum(small.cost[r] for r in rows), rel=1e-15)
    assert s.clocks[-1] == s.clock and np.all(np.diff(s.clocks) > 0)


def test_no_query_after_a_query_budget_is_spent(small):
    s = small.session(Budget(queries=3), np.random.default_rng(0))
    for r in range(3):
        s.query(r)
    assert s.exhausted and not s.late
    with pytest.raises(SearchError, match="exhausted after 3 queries"):
        s.query(4)
    assert s.n_queries == 3


def test_query_crossing_the_time_budget_is_charged_but_not_the_answer(small):
    order = np.argsort(small.signal_mean)  # worst first: the crossing query is the best
    budget = float(small.cost[order[:3]].sum()) + 0.5 * float(small.cost[order[3]])
    s = small.session(Budget(seconds=budget), np.random.default_rng(0))
    for r in order[:4]:
        s.query(int(r))
    assert s.exhausted and s.late
    assert s.clock == pytest.approx(small.cost[order[:4]].sum())  # charged
    assert s.answer() == 2  # the best of the three that finished in time
    with pytest.raises(SearchError, match="exhausted"):
        s.query(0)


def test_query_ending_exactly_at_the_time_budget_counts(small):
    budget = float(small.cost[0] + small.cost[1])
    s = small.session(Budget(seconds=budget), np.random.default_rng(0))
    s.query(0)
    s.query(1)
    assert s.exhausted and not s.late and s.answer() in (0, 1)


def test_rows_outside_the_pool_are_refused(small):
    s = small.session(Budget(queries=5), np.random.default_rng(0))
    with pytest.raises(SearchError, match="outside the pool"):
        s.query(len(small.domain))
    with pytest.raises(SearchError, match="outside the pool"):
        s.query(-1)


def test_session_needs_a_generator(small):
    with pytest.raises(SearchError, match="Generator"):
        small.session(Budget(queries=1), 0)


# --------------------------------------------------------------------------- budgets
@pytest.mark.parametrize(
    "text,q,s",
    [
        ("100", 100, None),
        ("100q", 100, None),
        ("100 queries", 100, None),
        ("12000s", None, 12000.0),
        ("12_000 seconds", None, 12000.0),
        (150, 150, None),
    ],
)
def test_budget_parses_queries_and_seconds(text, q, s):
    b = Budget.parse(text)
    assert (b.queries, b.seconds) == (q, s)


@pytest.mark.parametrize("text", ["", "abc", "-5", "0", "1.5q", "12000 hours", "0s"])
def test_budget_refuses_what_is_not_a_count_or_seconds(text):
    with pytest.raises(SearchError):
        Budget.parse(text)


def test_budget_is_exactly_one_of_queries_or_seconds():
    with pytest.raises(SearchError, match="exactly one"):
        Budget(queries=10, seconds=10.0)
    with pytest.raises(SearchError, match="exactly one"):
        Budget()


# --------------------------------------------------------------------------- the NB201 protocol
def test_cifar10_protocol_reads_each_measure_from_its_release(nb201_oracle):
    a, b = load("nb201"), load("nb201-v1_1")
    o = nb201_oracle
    keys = o.domain.keys
    np.testing.assert_array_equal(
        o.signal_mean, a.vector(dataset="cifar10-valid", split="x-valid", epochs=12)[keys]
    )
    np.testing.assert_array_equal(
        o.report, b.vector(dataset="cifar10", split="ori-test", epochs=200)[keys]
    )
    t200 = a.vector(dataset="cifar10-valid", split="train", epochs=200, metric="time")[keys]
    np.testing.assert_allclose(o.cost, t200 * 12 / 200, rtol=1e-15)
    d = o.declaration
    assert (d["signal"]["target"], d["report"]["target"], d["cost"]["target"]) == (
        "nb201",
        "nb201-v1_1",
        "nb201",
    )
    assert d["cost"]["scale"] == pytest.approx(0.06)
    assert "12/200 of the 200-epoch" in d["cost"]["description"]
    assert "not charged" in d["cost"]["description"]
    assert any("joins nb201" in n for n in d["notes"])
    assert any("disagree on 2,418 of 15,625" in n for n in d["notes"])


def test_optimum_is_computed_from_the_data(nb201_oracle):
    v = load("nb201-v1_1").vector(dataset="cifar10", split="ori-test", epochs=200)
    assert nb201_oracle.optimum == v.max()
    assert sorted(nb201_oracle.declaration["optimum"]["keys"]) == sorted(
        np.flatnonzero(v == v.max()).tolist()
    )


def _real_train_times(path, hp):
    with bz2.BZ2File(path) as fh:
        rec = pickle.load(fh)  # trusted real fixture
    out = {}
    for (ds, _seed), rc in rec[hp]["all_results"].items():
        out.setdefault(ds, []).append(sum(rc["train_times"].values()))
    return {ds: float(np.mean(v)) for ds, v in out.items()}, rec


@pytest.mark.parametrize("arch", [0, 11, 284])
def test_twelve_over_two_hundred_of_the_embedded_time_is_the_real_12_epoch_time(arch):
    """The cost note's claim, on the three real NATS-Bench records."""
    gt = load("nb201")
    real12, rec = _real_train_times(NATS_TSS / f"{arch:06d}.pickle.pbz2", "12")
    for ds in ("cifar10-valid", "cifar100", "ImageNet16-120"):
        scaled = gt.query(arch, dataset=ds, split="train", epochs=200, metric="time") * 12 / 200
        assert scaled == pytest.approx(real12[ds], rel=1e-9)
    # and the validation time the embedded data cannot charge is 2.7-3.9% of a query there
    rc = next(v for (d, _), v in rec["12"]["all_results"].items() if d == "cifar10-valid")
    valid = rc["eval_times"]["x-valid@11"]
    share = valid / (real12["cifar10-valid"] + valid)
    assert 0.0265 <= share < 0.0395  # 2.7%-3.9% to one decimal


# --------------------------------------------------------------------------- seed policies
def test_drawing_seeds_from_seed_means_is_refused_with_the_reason():
    with pytest.raises(SearchError, match="seed means only.*official files"):
        Oracle.build(
            Measure("nb201", "cifar10-valid", "x-valid", 12, seed="draw"),
            Measure("nb201-v1_1", "cifar10", "ori-test", 200),
        )


def test_drawn_seeds_are_the_archs_own_and_come_from_the_given_rng(weaknas_oracle):
    o = Oracle.build(
        Measure("nb201", "cifar10-valid", "x-valid", 200, seed="draw"),
        Measure("nb201-v1_1", "cifar10-valid", "ori-test", 200),
    )
    per_seed = load("nb201")._column(Key("cifar10-valid", "x-valid", 200, "accuracy")).values
    two = int(np.flatnonzero(np.isnan(per_seed).any(axis=1))[0])  # an arch with 2 seeds
    three = int(np.flatnonzero(~np.isnan(per_seed).any(axis=1))[0])
    for arch in (two, three):
        row = o.domain.row_of_key(arch)
        s = o.session(Budget(queries=600), np.random.default_rng(1))
        got = [s.query(row) for _ in range(600)]
        allowed = per_seed[arch][~np.isnan(per_seed[arch])]
        assert set(got) == set(allowed.tolist())
        counts = np.array([got.count(v) for v in allowed])
        assert np.all(np.abs(counts - 600 / len(allowed)) < 5 * np.sqrt(600 / len(allowed)))
    s1 = o.session(Budget(queries=50), np.random.default_rng(7))
    s2 = o.session(Budget(queries=50), np.random.default_rng(7))
    assert [s1.query(row) for _ in range(50)] == [s2.query(row) for _ in range(50)]


def test_draw_per_arch_keeps_one_seed_per_architecture_within_a_run(weaknas_oracle):
    o = weaknas_oracle
    row = int(np.flatnonzero(np.nanstd(o._seed_values, axis=1) > 0.5)[0])
    firsts = set()
    for k in range(20):
        s = o.session(Budget(queries=10), np.random.default_rng(k))
        vals = {s.query(row) for _ in range(5)}
        assert len(vals) == 1
        firsts |= vals
    assert len(firsts) > 1  # but different runs draw different seeds


def test_a_fixed_seed_reads_that_seed():
    o = Oracle.build(
        Measure("nb201", "cifar100", "ori-test", 200, seed=888),
        Measure("nb201", "cifar100", "ori-test", 200),
    )
    col = load("nb201")._column(Key("cifar100", "ori-test", 200, "accuracy"))
    j = col.seeds.index(888)
    np.testing.assert_array_equal(o.signal_mean, col.values[o.domain.keys, j])


def test_report_metric_must_be_a_seed_mean():
    with pytest.raises(SearchError, match="seed mean"):
        Oracle.build(
            Measure("nb201", "cifar10-valid", "x-valid", 12),
            Measure("nb201", "cifar100", "ori-test", 200, seed=777),
        )


def test_unknown_seed_policy_is_refused():
    with pytest.raises(SearchError, match="seed policy"):
        Measure("nb201", "cifar10-valid", "x-valid", 12, seed="random")


# --------------------------------------------------------------------------- pool and costs
def test_pool_leaves_out_archs_without_a_value_and_says_how_many():
    gt = synthetic_gt("nb201", n=100)
    cols = {k: gt._column(k) for k in gt.columns}
    sig = cols[SIGNAL].values.copy()
    sig[[3, 50]] = np.nan
    cols[SIGNAL] = Column(sig, (), "%")
    gt2 = GroundTruth.from_columnset(ColumnSet("nb201", gt.archs.keys, cols))
    o = synthetic_oracle(gt2)
    assert len(o.domain) == 98
    assert o.declaration["pool"]["excluded_no_value"] == 2
    assert gt.archs.keys[3] not in o.domain.keys


def test_cost_at_the_signals_own_epochs_is_not_scaled():
    gt = synthetic_gt("nb201", n=50)
    cols = {k: gt._column(k) for k in gt.columns}
    cols[Key("d", "train", 12, "time")] = Column(np.full(50, 7.0), (), "s")
    o = synthetic_oracle(GroundTruth.from_columnset(ColumnSet("nb201", gt.archs.keys, cols)))
    assert np.all(o.cost == 7.0)
    assert o.declaration["cost"]["scale"] == 1.0


def test_unit_cost_counts_queries():
    gt = synthetic_gt("nb201", n=50)
    o = Oracle.build(
        Measure("syn", "d", "x-valid", 12),
        Measure("syn", "d", "ori-test", 200),
        CostSpec(unit=True),
        ground_truths={"syn": gt},
    )
    assert np.all(o.cost == 1.0)


def test_oracle_refuses_ground_truths_of_two_spaces():
    with pytest.raises(SearchError, match="one space"):
        Oracle.build(
            Measure("a", "d", "x-valid", 12),
            Measure("b", "d", "ori-test", 200),
            CostSpec("a", "d", 12),
            ground_truths={"a": synthetic_gt("nb201", n=20), "b": synthetic_gt("nats-sss", n=20)},
        )


def test_unknown_column_names_the_target():
    with pytest.raises(SearchError, match="syn: .*no split 'x-test'"):
        Oracle.build(
            Measure("syn", "d", "x-test", 12),
            Measure("syn", "d", "ori-test", 200),
            ground_truths={"syn": synthetic_gt("nb201", n=20)},
        )


# --------------------------------------------------------------------------- MnasNet reward
def test_mnasnet_reward_is_acc_times_cost_ratio_to_the_w():
    r = MnasNetReward(Measure("syn", "d", None, None, "params"), target=2.0)
    np.testing.assert_allclose(
        r.factor(np.array([1.0, 2.0, 4.0])), [0.5**-0.07, 1.0, 2.0**-0.07], rtol=1e-15
    )
    hard = MnasNetReward(Measure("syn", "d", None, None, "params"), 2.0, alpha=0.0, beta=-1.0)
    np.testing.assert_allclose(hard.factor(np.array([1.0, 2.0, 4.0])), [1.0, 1.0, 0.5])


def test_mnasnet_reward_becomes_the_signal_and_is_declared():
    base = load("nb201")
    obj = MnasNetReward(Measure("nb201", "cifar10-valid", None, None, "params"), target=0.5)
    o = Oracle.build(
        Measure("nb201", "cifar10-valid", "x-valid", 12),
        Measure("nb201-v1_1", "cifar10", "ori-test", 200),
        objective=obj,
    )
    acc = base.vector(dataset="cifar10-valid", split="x-valid", epochs=12)
    params = base.vector(dataset="cifar10-valid", metric="params")
    w = np.where(params <= 0.5, -0.07, -0.07)
    want = acc * (params / 0.5) ** w
    np.testing.assert_allclose(o.signal_mean, want[o.domain.keys], rtol=1e-12)
    assert (
        o.declaration["objective"]["T"] == 0.5 and o.declaration["objective"]["kind"] == "mnasnet"
    )


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_mnasnet_reward_needs_a_positive_target(bad):
    with pytest.raises(SearchError, match="target T"):
        MnasNetReward(Measure("syn", "d", None, None, "params"), bad)


def test_measure_parse_and_its_errors():
    m = Measure.parse("nb201,cifar10-valid,x-valid,12")
    assert (m.target, m.dataset, m.split, m.epochs, m.metric) == (
        "nb201",
        "cifar10-valid",
        "x-valid",
        12,
        "accuracy",
    )
    assert Measure.parse("nb201,cifar10-valid,,,params").split is None
    for bad in ("nb201,cifar10", "nb201,c,x,twelve", ",c,x,12"):
        with pytest.raises(SearchError):
            Measure.parse(bad)


def test_declaration_is_a_copy(small):
    d = small.declaration
    d["signal"]["dataset"] = "changed"
    assert small.declaration["signal"]["dataset"] == "d"


def test_arrays_handed_out_are_read_only(small):
    for a in (small.report, small.signal_mean, small.cost, small.domain.codes, small.domain.keys):
        with pytest.raises(ValueError):
            a[0] = 0
