"""Every strategy: proposes only pool members for every space, reproducible from its seed, and
behaves as its reference describes."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_tools.analysis import expected_random_accuracy
from nasbench_tools.groundtruth import Column, ColumnSet, GroundTruth, Key
from nasbench_tools.search import (
    STRATEGIES,
    Budget,
    SearchError,
    list_strategies,
    make_strategy,
    run_search,
)
from nasbench_tools.spaces import list_spaces

from .conftest import SMALL, space_axis, synthetic_gt, synthetic_oracle


def test_every_registered_strategy_has_small_options_here():
    assert sorted(SMALL) == STRATEGIES.names()


@pytest.fixture(scope="module", params=list_spaces())
def space_oracle(request):
    return synthetic_oracle(synthetic_gt(request.param))


@pytest.mark.parametrize("strategy", list_strategies())
def test_strategies_propose_only_architectures_of_the_pool_for_every_space(space_oracle, strategy):
    o = space_oracle
    t = run_search(o, strategy, Budget(queries=40), seed=3, options=SMALL[strategy])
    sp = o.domain.space
    keys, _ = space_axis(sp.name)
    allowed = set(np.asarray(keys).tolist()) if sp.key_kind == "index" else set(map(str, keys))
    got = t.q_key.tolist() if sp.key_kind == "index" else [k.decode() for k in t.q_key]
    assert t.n_queries == min(40, t.n_queries) and t.n_queries > 0
    assert set(got) <= allowed
    if sp.key_kind == "index":  # and each is a valid architecture of the space
        for k in got[:10]:
            assert sp.key(sp.arch(k)) == k


@pytest.mark.parametrize("strategy", list_strategies())
def test_every_strategy_is_reproducible_from_its_seed(nb201_oracle, strategy):
    b = Budget(seconds=3000)
    a = run_search(nb201_oracle, strategy, b, seed=11, options=SMALL[strategy])
    c = run_search(nb201_oracle, strategy, b, seed=11, options=SMALL[strategy])
    d = run_search(nb201_oracle, strategy, b, seed=12, options=SMALL[strategy])
    np.testing.assert_array_equal(a.q_key, c.q_key)
    np.testing.assert_array_equal(a.q_signal, c.q_signal)
    assert not np.array_equal(a.q_key, d.q_key)


@pytest.mark.parametrize("strategy", list_strategies())
def test_strategies_need_a_generator(nb201_oracle, strategy):
    with pytest.raises(SearchError, match="Generator"):
        make_strategy(strategy, nb201_oracle.domain, 0)


def test_unknown_options_and_presets_are_refused(nb201_oracle):
    rng = np.random.default_rng(0)
    with pytest.raises(SearchError, match=r"unknown option\(s\) \['pop'\]; known: init_sampler"):
        make_strategy("rea", nb201_oracle.domain, rng, pop=5)
    with pytest.raises(SearchError, match="no preset 'fast'; presets: autodl, naslib"):
        make_strategy("rea", nb201_oracle.domain, rng, preset="fast")
    with pytest.raises(SearchError, match="known: local-search, random, rea"):
        make_strategy("bayesopt", nb201_oracle.domain, rng)


# --------------------------------------------------------------------------- random search
def _small_table(n=40, seed=0):
    """A pool of n NB201 archs whose signal equals the report metric (all distinct)."""
    gt = synthetic_gt("nb201", n=n, seed=seed)
    cols = {k: gt._column(k) for k in gt.columns}
    cols[Key("d", "ori-test", 200, "accuracy")] = cols[Key("d", "x-valid", 12, "accuracy")]
    return synthetic_oracle(GroundTruth.from_columnset(ColumnSet("nb201", gt.archs.keys, cols)))


@pytest.mark.parametrize("replace", [False, True])
def test_random_search_matches_the_analytic_best_of_n(replace):
    o = _small_table()
    v = np.sort(o.report)
    n, runs = 5, 1500
    if replace:  # max of n independent uniform draws: P(max = v_k) = (k/M)^n - ((k-1)/M)^n
        k = np.arange(1, v.size + 1)
        want = float(np.sum(v * ((k / v.size) ** n - ((k - 1) / v.size) ** n)))
    else:
        want = expected_random_accuracy(v, best_of=n)
    got = np.array(
        [
            run_search(
                o, "random", Budget(queries=n), seed=s, options={"replace": replace}
            ).answer_report()[0]
            for s in range(runs)
        ]
    )
    se = got.std(ddof=1) / np.sqrt(runs)
    assert abs(got.mean() - want) < 4 * se


def test_random_search_without_replacement_never_repeats_and_stops_when_done():
    o = _small_table(n=12)
    t = run_search(o, "random", Budget(queries=50), seed=0, options={"replace": False})
    assert t.n_queries == 12 and len(set(t.q_key.tolist())) == 12
    assert t.r_stop[0] == 1  # the strategy ran out, not the budget


def test_random_search_over_classes_draws_class_representatives(nb201_oracle):
    t = run_search(
        nb201_oracle, "random", Budget(queries=300), seed=0, options={"sampler": "classes"}
    )
    rows, _ = nb201_oracle.domain.sampler_rows("classes")
    assert set(t.q_key.tolist()) <= set(nb201_oracle.domain.keys[rows].tolist())


# --------------------------------------------------------------------------- regularized evolution
def _drive(strategy, oracle, n, rng_seed=0):
    """Run ``strategy`` by hand for ``n`` queries with the oracle's seed-mean signal."""
    asked = []
    while len(asked) < n:
        rows = list(strategy.ask())
        vals = [float(oracle.signal_mean[r]) for r in rows]
        strategy.tell(rows, vals)
        asked += rows
    return asked


def test_rea_population_ages_out_the_oldest(nb201_oracle):
    s = make_strategy("rea", nb201_oracle.domain, np.random.default_rng(0), population=4)
    asked = _drive(s, nb201_oracle, 12)
    assert [r for r, _ in s.population] == [int(r) for r in asked[-4:]]


def test_rea_parent_is_the_tournament_winner(nb201_oracle):
    """With a huge tournament the best member is always sampled: every child is its mutant."""
    o = nb201_oracle
    s = make_strategy("rea", o.domain, np.random.default_rng(1), population=10, sample_size=2000)
    _drive(s, o, 10)
    for _ in range(30):
        top = max(v for _, v in s.population)
        best = [r for r, v in s.population if v == top]  # ties: equal signals happen
        (child,) = s.ask()
        assert min((o.domain.codes[child] != o.domain.codes[b]).sum() for b in best) == 1
        s.tell([child], [float(o.signal_mean[child])])


def test_rea_beats_random_search_under_the_nb201_protocol(nb201_oracle):
    """A behavioural check with an interval: 100 runs each, 12,000 s."""
    from nasbench_tools.search import difference, run_searches

    b = Budget(seconds=12_000)
    rea = run_searches(nb201_oracle, "rea", b, repeats=100, seed=0, progress=False)
    rs = run_searches(nb201_oracle, "random", b, repeats=100, seed=0, progress=False)
    d = difference(rea, rs, n_boot=500)
    assert d.low > 0


def test_rea_naslib_preset(nb201_oracle):
    s = make_strategy("rea", nb201_oracle.domain, np.random.default_rng(0), preset="naslib")
    assert (s.population_size, s.sample_size) == (30, 10)
    first = s.ask()
    rows, _ = nb201_oracle.domain.sampler_rows("naslib")
    assert len(first) == 30 and set(first) <= set(rows.tolist())


# --------------------------------------------------------------------------- REINFORCE
def test_reinforce_update_is_the_reference_torch_update(nb201_oracle):
    """Our numpy REINFORCE step against AutoDL's (torch Categorical + Adam + EMA baseline)."""
    torch = pytest.importorskip("torch")
    o = nb201_oracle
    s = make_strategy("reinforce", o.domain, np.random.default_rng(0), lr=0.05)
    theta = torch.nn.Parameter(torch.tensor(s.theta.copy(), dtype=torch.float64))
    opt = torch.optim.Adam([theta], lr=0.05)
    num = den = 0.0
    for _ in range(25):
        (row,) = s.ask()
        action = torch.tensor(o.domain.codes[row], dtype=torch.long)
        reward = float(o.signal_mean[row])
        s.tell([row], [reward])
        # the reference: baseline.update(reward) before the loss; loss = -log_prob * (R - b)
        num = 0.9 * num + 0.1 * reward
        den = 0.9 * den + 0.1
        dist = torch.distributions.Categorical(torch.softmax(theta, dim=-1))
        loss = (-dist.log_prob(action) * (reward - num / den)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        np.testing.assert_allclose(s.theta, theta.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_reinforce_concentrates_on_a_rewarded_op():
    """Reward = number of edges with op 3: the policy should come to prefer op 3 everywhere."""
    gt = synthetic_gt("nb201")
    ops = gt.archs.keys  # keys are indices 0..15624
    from nasbench_tools.spaces.nb201 import op_index_matrix

    score = (op_index_matrix()[ops] == 3).sum(axis=1).astype(float)
    cols = {k: gt._column(k) for k in gt.columns}
    cols[Key("d", "x-valid", 12, "accuracy")] = Column(50 + 5 * score, (), "%")
    o = synthetic_oracle(GroundTruth.from_columnset(ColumnSet("nb201", gt.archs.keys, cols)))
    s = make_strategy("reinforce", o.domain, np.random.default_rng(0), lr=0.1)
    _drive(s, o, 300)
    p = s.probabilities()
    assert np.all(p[:, 3] > 0.6)


def test_reinforce_on_a_sample_pool_samples_only_pool_members():
    o = synthetic_oracle(synthetic_gt("nb201", n=50))
    assert not o.domain.is_product
    s = make_strategy("reinforce", o.domain, np.random.default_rng(0))
    rows = _drive(s, o, 100)
    assert set(rows) <= set(range(50))


# --------------------------------------------------------------------------- local search
def test_local_search_climbs_to_the_optimum_of_a_unimodal_table():
    gt = synthetic_gt("nb201")
    from nasbench_tools.spaces.nb201 import op_index_matrix

    target = np.array([3, 2, 1, 3, 2, 1])
    score = -(op_index_matrix() != target).sum(axis=1).astype(float)  # 0 at the target only
    cols = {k: gt._column(k) for k in gt.columns}
    cols[Key("d", "x-valid", 12, "accuracy")] = Column(60 + score, (), "%")
    cols[Key("d", "ori-test", 200, "accuracy")] = Column(60 + score, (), "%")
    o = synthetic_oracle(GroundTruth.from_columnset(ColumnSet("nb201", gt.archs.keys, cols)))
    t = run_search(o, "local-search", Budget(queries=200), seed=0, options={"num_init": 1})
    assert t.answer_report()[0] == 60.0  # the target reached within the budget
    # best improvement: each move goes one edit closer (6 at most, 24 neighbours each), so the
    # target is queried within 1 + 6 * 24 queries whatever the start
    for seed in range(5):
        s = make_strategy("local-search", o.domain, np.random.default_rng(seed), num_init=1)
        _drive(s, o, 1 + 6 * 24)
        assert max(s.known.values()) == 60.0


def test_local_search_restarts_at_local_optima_and_revisits_only_when_asked(nb201_oracle):
    o = nb201_oracle
    s = make_strategy("local-search", o.domain, np.random.default_rng(0), num_init=1)
    restarts = []
    draw = s._random
    s._random = lambda n: restarts.append(n) or draw(n)
    asked = _drive(s, o, 400)
    assert restarts[0] == 1 and len(restarts) >= 3  # the first start, then restarts
    again = make_strategy(
        "local-search", o.domain, np.random.default_rng(0), num_init=1, revisit=True
    )
    asked_again = _drive(again, o, 400)
    # after a move the old current is a neighbour of the new one: revisit=True queries it again
    assert len(asked) - len(set(asked)) < len(asked_again) - len(set(asked_again))


# --------------------------------------------------------------------------- WeakNAS
def test_weaknas_draws_from_the_predicted_top_k_and_never_repeats(nb201_oracle):
    s = make_strategy(
        "weaknas",
        nb201_oracle.domain,
        np.random.default_rng(0),
        init_samples=10,
        per_iteration=10,
        top_k=30,
    )
    asked = []
    for _ in range(6):
        rows = list(s.ask())
        preds = [v for name, _, v in s.pop_records() if name == "predictions"]
        if preds:
            free = np.ones(len(nb201_oracle.domain), bool)
            free[asked] = False
            order = np.flatnonzero(free)[np.argsort(-preds[0][free], kind="stable")]
            assert set(rows) <= set(order[:30].tolist())
        s.tell(rows, [float(nb201_oracle.signal_mean[r]) for r in rows])
        asked += [int(r) for r in rows]
    assert len(asked) == len(set(asked)) == 60


def test_weaknas_ei_takes_the_highest_expected_improvement(nb201_oracle):
    s = make_strategy(
        "weaknas",
        nb201_oracle.domain,
        np.random.default_rng(0),
        acquisition="ei",
        ensemble=3,
        init_samples=10,
        per_iteration=5,
    )
    rows = list(s.ask())
    s.tell(rows, [float(nb201_oracle.signal_mean[r]) for r in rows])
    nxt = s.ask()
    assert len(nxt) == 5 and not set(nxt) & set(rows)


def test_weaknas_records_its_top1_and_predictions(nb201_oracle):
    t = run_search(nb201_oracle, "weaknas", Budget(queries=40), seed=0, options=SMALL["weaknas"])
    _, at, val = t.records["recommended_report"]
    assert at.tolist() == [5, 10, 15, 20, 25, 30, 35]
    assert set(val.tolist()) <= set(nb201_oracle.report.tolist())
    assert "predictor_tau_unqueried" in t.records


def test_weaknas_ei_needs_an_ensemble(nb201_oracle):
    with pytest.raises(SearchError, match="ensemble >= 2"):
        make_strategy(
            "weaknas", nb201_oracle.domain, np.random.default_rng(0), acquisition="ei", ensemble=1
        )
    with pytest.raises(SearchError, match="unknown predictor"):
        make_strategy("weaknas", nb201_oracle.domain, np.random.default_rng(0), predictor="xgboost")


def test_weaknas_paper_preset_is_the_readme_configuration():
    from nasbench_tools.search import resolve_options

    o = resolve_options("weaknas", "paper", {})
    assert (o["predictor"], o["init_samples"], o["per_iteration"], o["top_k"]) == (
        "mlp-paper",
        10,
        10,
        100,
    )


@pytest.mark.parametrize("k", [0, 1, 7, 50, 199, 200, 500])
def test_best_first_is_the_prefix_of_a_stable_descending_sort_with_ties(k):
    from nasbench_tools.search._common import best_first

    v = np.random.default_rng(k).integers(0, 12, size=200).astype(float)  # many ties
    np.testing.assert_array_equal(best_first(v, k), np.argsort(-v, kind="stable")[:k])
