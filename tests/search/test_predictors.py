"""Predictors and the predictor harness."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_tools.search import PREDICTORS, NumpyMLP, SearchError, make_predictor
from nasbench_tools.search.harness import predictor_curve

from .conftest import synthetic_gt, synthetic_oracle

#: The scikit-learn predictors are exercised on small data; mlp-paper's 4 x 1000 units are slow.
FAST = [n for n in PREDICTORS.names() if n != "mlp-paper"]


@pytest.mark.parametrize("name", FAST)
def test_every_predictor_learns_a_simple_function(name):
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    X = np.eye(5)[rng.integers(0, 5, size=(200, 6))].reshape(200, 30)
    w = rng.normal(size=30)
    y = X @ w
    model = make_predictor(name, 3).fit(X[:150], y[:150])
    pred = model.predict(X[150:])
    assert np.corrcoef(pred, y[150:])[0, 1] > 0.8


@pytest.mark.parametrize("name", FAST)
def test_every_predictor_is_reproducible_from_its_seed(name):
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 8)), rng.normal(size=60)
    a = make_predictor(name, 5).fit(X, y).predict(X)
    b = make_predictor(name, 5).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_the_paper_predictor_fits():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 30)), rng.normal(size=30)
    assert make_predictor("mlp-paper", 0).fit(X, y).predict(X).shape == (30,)


def test_numpy_mlp_training_lowers_the_loss_and_maps_targets_back():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 5))
    y = 70 + 5 * np.sin(X[:, 0]) + X[:, 1] ** 2
    untrained = NumpyMLP(32, 0, 0.02, seed=0).fit(X, y).predict(X)
    trained = NumpyMLP(32, 300, 0.02, seed=0).fit(X, y).predict(X)
    assert np.mean((trained - y) ** 2) < 0.2 * np.mean((untrained - y) ** 2)
    assert abs(trained.mean() - y.mean()) < 0.5  # standardised targets mapped back


def test_numpy_mlp_gradient_matches_finite_differences():
    """One Adam step moves every parameter by lr * sign(gradient): compare the signs with
    central finite differences of the loss."""
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(20, 4)), rng.normal(size=20)
    m0 = NumpyMLP(6, 0, 1e-3, seed=1).fit(X, y)
    m1 = NumpyMLP(6, 1, 1e-3, seed=1).fit(X, y)
    t = (y - m0.mu) / m0.sd

    def loss(W1, w2, b2):
        h = np.maximum(X @ W1[:-1] + W1[-1], 0)
        return np.mean((h @ w2 + b2[0] - t) ** 2)

    params0, params1 = (m0.W1, m0.w2, m0.b2), (m1.W1, m1.w2, m1.b2)
    for k in range(3):
        for idx in np.ndindex(params0[k].shape):
            eps = 1e-6
            plus = [p.copy() for p in params0]
            minus = [p.copy() for p in params0]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g = (loss(*plus) - loss(*minus)) / (2 * eps)
            step = params1[k][idx] - params0[k][idx]
            if abs(g) > 1e-6:
                assert np.sign(step) == -np.sign(g)
                assert abs(step) == pytest.approx(1e-3, rel=1e-3)


def test_numpy_mlp_refuses_mismatched_data():
    with pytest.raises(SearchError, match="do not match"):
        NumpyMLP(seed=0).fit(np.zeros((3, 2)), np.zeros(4))


def test_unknown_predictor_lists_the_known():
    with pytest.raises(SearchError, match="known: gbdt, gp, mlp"):
        make_predictor("xgboost", 0)


def test_predictor_curve_scores_on_the_rest_and_is_reproducible():
    o = synthetic_oracle(synthetic_gt("nb201", n=400))
    c = predictor_curve(o, "mlp-fast", [20, 100], repeats=3, seed=0, k=20, n_boot=50)
    assert c.values["kendall_tau"].shape == (3, 2)
    assert np.all(np.abs(c.values["kendall_tau"]) <= 1)
    assert np.all((c.values["p_at_top_k"] >= 0) & (c.values["p_at_top_k"] <= 1))
    assert c.mean["kendall_tau"][1] > c.mean["kendall_tau"][0]  # more data, better ranking
    d = predictor_curve(o, "mlp-fast", [20, 100], repeats=3, seed=0, k=20, n_boot=50)
    np.testing.assert_array_equal(c.values["kendall_tau"], d.values["kendall_tau"])


def test_predictor_curve_checks_its_arguments():
    o = synthetic_oracle(synthetic_gt("nb201", n=50))
    with pytest.raises(SearchError, match="n must lie in"):
        predictor_curve(o, "mlp-fast", [49], repeats=1, seed=0)
    with pytest.raises(SearchError, match="target must be"):
        predictor_curve(o, "mlp-fast", [10], repeats=1, seed=0, target="test")
