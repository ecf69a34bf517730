"""Trajectory analysis against hand-computed values: curves, final results, RI, survival."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy.stats import norm

from nasbench_tools.analysis import relative_improvement
from nasbench_tools.search import (
    SearchError,
    Trajectories,
    best_so_far,
    difference,
    final_result,
    queries_to_optimum,
    record_curve,
    ri_over_random,
)
from nasbench_tools.search.analysis import _answer_reports

OPT = 95.0
ORACLE = {
    "space": "nb201",
    "pool": {"size": 100},
    "signal": {"dataset": "d"},
    "report": {"dataset": "d"},
    "cost": {"description": "c"},
    "objective": {"kind": "accuracy"},
    "optimum": {"report_max": OPT, "keys": [7]},
    "notes": [],
}


def make(runs, *, strategy="rea", budget=None, records=None) -> Trajectories:
    """``runs``: list of (signals, reports, costs, late_last)."""
    q_run, sig, rep, cost, clock, late, answer = [], [], [], [], [], [], []
    for i, (s, r, c, lt) in enumerate(runs):
        q_run += [i] * len(s)
        sig += list(s)
        rep += list(r)
        cost += list(c)
        clock += list(np.cumsum(c))
        lt_flags = [False] * len(s)
        if lt:
            lt_flags[-1] = True
        late += lt_flags
        ok = np.asarray(s[: len(s) - (1 if lt else 0)], float)
        answer.append(int(np.argmax(ok)) if ok.size else -1)
    header = {
        "strategy": {"name": strategy, "preset": None, "label": None},
        "budget": budget or {"queries": 10, "seconds": None, "description": "10 queries"},
        "oracle": copy.deepcopy(ORACLE),
    }
    n = len(runs)
    return Trajectories(
        header,
        np.array(q_run, np.int32),
        np.arange(len(sig)),
        np.array(sig, float),
        np.array(cost, float),
        np.array(clock, float),
        np.array(rep, float),
        np.array(late, bool),
        np.arange(n),
        np.array(answer),
        np.zeros(n, np.uint8),
        records or {},
    )


def test_answer_is_the_first_best_signal_so_far():
    got = _answer_reports(np.array([1.0, 3, 3, 2, 5]), np.array([10.0, 20, 30, 40, 50]))
    assert got.tolist() == [10, 20, 20, 20, 50]


def test_best_so_far_against_queries_by_hand():
    t = make(
        [
            ([1, 3, 2, 4], [90, 93, 94, 91], [1, 1, 1, 1], False),
            ([5, 1], [92, 95], [1, 1], False),
        ]
    )
    c = best_so_far(t, n_boot=0)
    assert c.x.tolist() == [1, 2, 3, 4]
    np.testing.assert_array_equal(c.values, [[90, 93, 93, 91], [92, 92, 92, 92]])
    np.testing.assert_allclose(c.mean, [91, 92.5, 92.5, 91.5])
    assert c.n_active.tolist() == [2, 2, 1, 1]
    r = best_so_far(t, y="regret", n_boot=0)
    np.testing.assert_allclose(r.values, OPT - c.values)


def test_best_so_far_against_simulated_time_by_hand():
    t = make(
        [
            ([1, 3, 2], [90, 93, 94], [10, 10, 10], False),
            ([2, 1], [91, 95], [25, 1], False),
        ]
    )
    c = best_so_far(t, x="seconds", grid=[5, 10, 19.9, 20, 26, 100], n_boot=0)
    want = [[np.nan, 90, 90, 93, 93, 93], [np.nan, np.nan, np.nan, np.nan, 91, 91]]
    np.testing.assert_array_equal(c.values, want)
    assert c.n_with_value.tolist() == [0, 1, 1, 1, 2, 2]


def test_a_late_query_is_never_the_answer_nor_on_a_curve():
    t = make(
        [([1, 2, 99], [90, 91, 95], [1, 1, 5], True)],
        budget={"queries": None, "seconds": 4.0, "description": "4 s"},
    )
    assert best_so_far(t, n_boot=0).values.tolist() == [[90, 91]]
    assert final_result(t, n_boot=0).mean == 91
    assert queries_to_optimum(t).fraction_reached == 0.0


def test_the_interval_covers_the_mean_and_shrinks_with_runs():
    rng = np.random.default_rng(0)
    small = make([([1], [rng.normal(90, 1)], [1], False) for _ in range(10)])
    big = make([([1], [rng.normal(90, 1)], [1], False) for _ in range(400)])
    fs, fb = final_result(small, seed=1), final_result(big, seed=1)
    assert fs.low < fs.mean < fs.high and fb.low < fb.mean < fb.high
    assert (fb.high - fb.low) < (fs.high - fs.low)
    # the bootstrap interval of a mean is close to the normal one for many runs
    se = fb.std / np.sqrt(400)
    assert fb.high - fb.low == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_final_result_numbers_by_hand():
    t = make([([1, 2], [93, 95], [1, 1], False), ([2, 1], [94, 90], [1, 1], False)])
    f = final_result(t, n_boot=0)
    assert (f.mean, f.std) == (94.5, pytest.approx(np.std([95, 94], ddof=1)))
    assert f.regret_mean == 0.5 and f.frac_optimal == 0.5 and f.queries_mean == 2
    assert final_result(t, at=1, n_boot=0).values.tolist() == [93, 94]


def test_weaknas_counting_credits_the_unqueried_top1_and_the_best_report():
    rec = {
        "recommended_report": (
            np.array([0, 0], np.int32),
            np.array([2, 3], np.int32),
            np.array([95.0, 89.0]),
        )
    }
    t = make([([5, 1, 2, 3], [90, 93, 80, 91], [1] * 4, False)], strategy="weaknas", records=rec)
    c = best_so_far(t, counting="weaknas", n_boot=0)
    # at 2 queries: max(best report queried 93, top-1 95); at 3 and 4: max(93, 89)
    np.testing.assert_array_equal(c.values, [[np.nan, 95, 93, 93]])
    assert best_so_far(t, n_boot=0).values.tolist() == [[90, 90, 90, 90]]
    with pytest.raises(SearchError, match="only WeakNAS runs"):
        best_so_far(make([([1], [90], [1], False)]), counting="weaknas")


def test_ri_over_random_is_yangs_formula_on_the_final_answers():
    a = make([([1], [v], [1], False) for v in (94, 95, 93)])
    r = make([([1], [v], [1], False) for v in (90, 91, 92)], strategy="random")
    got = ri_over_random(a, r, n_boot=200, seed=3)
    want = relative_improvement([94, 95, 93], [90, 91, 92], n_boot=200, seed=3)
    assert got.ri == pytest.approx(100 * (94 - 91) / 91) == pytest.approx(want.ri)
    assert (got.low, got.high) == (want.low, want.high)


def test_comparisons_refuse_different_oracles_budgets_and_baselines():
    a = make([([1], [94], [1], False)] * 2)
    other = make([([1], [90], [1], False)] * 2, strategy="random")
    other.header["oracle"]["report"] = {"dataset": "e"}
    with pytest.raises(SearchError, match="different oracles \\(report differs\\)"):
        ri_over_random(a, other)
    longer = make(
        [([1], [90], [1], False)] * 2,
        strategy="random",
        budget={"queries": 20, "seconds": None, "description": "20 queries"},
    )
    with pytest.raises(SearchError, match="different budgets"):
        ri_over_random(a, longer)
    with pytest.raises(SearchError, match="must be random search"):
        ri_over_random(a, a)
    a2 = make([([1], [v], [1], False) for v in (94, 95)])
    r2 = make([([1], [v], [1], False) for v in (90, 92)], strategy="random")
    d = difference(a2, r2, n_boot=100)
    assert d.diff == 3.5 and d.low <= 3.5 <= d.high


def test_kaplan_meier_and_greenwood_by_hand():
    opt = OPT
    runs = [
        ([1, 2], [90, opt], [1, 1], False),  # reached at 2
        ([1, 2, 3], [90, 91, opt], [1] * 3, False),  # at 3
        ([1, 2, 3], [90, 91, opt], [1] * 3, False),  # at 3
        ([1, 2, 3, 4, 5], [90] * 5, [1] * 5, False),  # censored at 5
    ]
    s = queries_to_optimum(make(runs))
    assert s.times.tolist() == [2, 3, 3, 5] and s.observed.tolist() == [True, True, True, False]
    np.testing.assert_allclose(s.survival, [1, 0.75, 0.25, 0.25, 0.25])
    assert s.fraction_reached == pytest.approx(0.75) and s.median == 3
    z = norm.ppf(0.975)
    var = 1 / (4 * 3)  # d / (n (n - d)) at n = 2
    se = np.sqrt(var) / abs(np.log(0.75))
    assert s.low[1] == pytest.approx(0.75 ** np.exp(z * se))
    assert s.high[1] == pytest.approx(0.75 ** np.exp(-z * se))
    var += 2 / (3 * 1)
    se = np.sqrt(var) / abs(np.log(0.25))
    assert s.low[2] == pytest.approx(0.25 ** np.exp(z * se))


def test_answer_event_needs_the_answer_to_be_optimal():
    # the optimum is queried at 2 but its signal is not the best: the answer never has it
    t = make([([5, 1, 6], [90, OPT, 91], [1] * 3, False)])
    assert queries_to_optimum(t, event="queried").times.tolist() == [2]
    s = queries_to_optimum(t, event="answer")
    assert s.observed.tolist() == [False] and s.fraction_reached == 0


def test_record_curve_means_over_runs_at_each_iteration():
    rec = {
        "predictor_tau_unqueried": (
            np.array([0, 0, 1], np.int32),
            np.array([10, 20, 10], np.int32),
            np.array([0.2, 0.4, 0.6]),
        )
    }
    t = make([([1], [90], [1], False), ([1], [91], [1], False)], strategy="weaknas", records=rec)
    c = record_curve(t, "predictor_tau_unqueried", n_boot=0)
    assert c.x.tolist() == [10, 20]
    np.testing.assert_allclose(c.mean, [0.4, 0.4])
    with pytest.raises(SearchError, match="no record"):
        record_curve(t, "nope")


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"x": "time"}, "x must"),
        ({"y": "acc"}, "y must"),
        ({"counting": "free"}, "counting must"),
        ({"counting": "weaknas", "x": "seconds"}, "queries only"),
    ],
)
def test_bad_curve_arguments_are_named(kw, match):
    with pytest.raises(SearchError, match=match):
        best_so_far(make([([1], [90], [1], False)]), **kw)
