"""Performance predictors (for WeakNAS and the predictor harness), behind one registry.

A predictor is made by ``make_predictor(name, seed)`` and has ``fit(X, y)`` and ``predict(X)``
(scikit-learn's shape). Registered predictors (:data:`PREDICTORS`):

=============  ===============================================================================
``mlp-fast``   a small perceptron in numpy (:class:`NumpyMLP`: one hidden layer of 32 ReLU
               units, full-batch Adam, lr 0.02, 100 steps, He initialisation; targets
               standardised on the training set). WeakNAS's default here: the ~100 fits and
               predictions over all 15,625 NB201 cells of a 1,000-query run take seconds.
``mlp``        scikit-learn ``MLPRegressor`` (100 hidden units, its defaults otherwise)
``mlp-paper``  WeakNAS's predictor: ``MLPRegressor(hidden_layer_sizes=(1000,)*4, max_iter=100)``
``gbdt``       scikit-learn ``GradientBoostingRegressor`` (100 trees of depth 3)
``rf``         scikit-learn ``RandomForestRegressor`` (100 trees)
``gp``         scikit-learn ``GaussianProcessRegressor`` (constant x RBF + white noise kernel,
               ``normalize_y=True``)
=============  ===============================================================================

scikit-learn is imported only when a scikit-learn predictor is made (it is in the ``train`` and
``dev`` extras); its threads are limited to one while fitting and predicting (the machines these
run on are shared). ``MLPRegressor``'s ConvergenceWarning at a fixed ``max_iter`` is expected
and silenced (the iteration count is part of the declared configuration). Every predictor is
seeded by ``make_predictor``'s ``seed``: no global random state is used.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..registry import Registry
from ._common import SearchError, check_seed

__all__ = ["PREDICTORS", "NumpyMLP", "PredictorSpec", "make_predictor", "register_predictor"]


@dataclass(frozen=True)
class PredictorSpec:
    """A registered predictor: ``build(seed) -> estimator`` and a one-line configuration."""

    name: str
    build: Callable[[int], Any]
    config: str


#: Every predictor, by name.
PREDICTORS: Registry[PredictorSpec] = Registry("predictor", error=SearchError)


def register_predictor(name: str, config: str):
    def deco(fn):
        PREDICTORS.register(name, PredictorSpec(name, fn, config))
        return fn

    return deco


def make_predictor(name: str, seed: int) -> Any:
    """A fresh, unfitted predictor ``name`` seeded with ``seed``."""
    spec = PREDICTORS.get(name)
    return spec.build(check_seed(seed, "predictor seed"))


# =========================================================================== numpy MLP
class NumpyMLP:
    """A one-hidden-layer ReLU perceptron for regression, trained full-batch with Adam.

    Parameters
    ----------
    hidden : int
        Hidden units.
    steps : int
        Full-batch Adam steps on the mean squared error.
    lr : float
        Adam's learning rate (betas 0.9 / 0.999, eps 1e-8, bias-corrected).
    seed : int
        Seeds the He-normal initial weights (biases start at 0).

    Targets are standardised with the training set's mean and standard deviation (a constant
    target trains on zeros) and predictions mapped back. The parameters live in one flat vector
    so that a step is a dozen numpy calls: small fits are bound by the arithmetic, not by Python.
    """

    def __init__(self, hidden: int = 32, steps: int = 100, lr: float = 0.02, *, seed: int):
        self.hidden = int(hidden)
        self.steps = int(steps)
        self.lr = float(lr)
        self.seed = check_seed(seed)

    def fit(self, X, y) -> NumpyMLP:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim != 2 or len(X) != len(y) or len(y) == 0:
            raise SearchError(f"NumpyMLP.fit: X {X.shape} and y {y.shape} do not match")
        n, d = X.shape
        h = self.hidden
        rng = np.random.default_rng(self.seed)
        X1 = np.empty((n, d + 1))
        X1[:, :d] = X
        X1[:, d] = 1.0  # the hidden biases are the last row of W1
        P, (W1, w2, b2) = _flat((d + 1, h), (h,), (1,))
        W1[:d] = rng.standard_normal((d, h)) * np.sqrt(2.0 / d)
        w2[:] = rng.standard_normal(h) * np.sqrt(2.0 / h)
        self.mu = float(y.mean())
        sd = float(y.std())
        self.sd = sd if sd > 0 else 1.0
        t = (y - self.mu) / self.sd
        G, (gW1, gw2, gb2) = _flat((d + 1, h), (h,), (1,))
        m = np.zeros_like(P)
        v = np.zeros_like(P)
        for step in range(1, self.steps + 1):
            H = X1 @ W1
            np.maximum(H, 0.0, out=H)
            delta = H @ w2
            delta += b2[0] - t
            delta *= 2.0 / n  # d mean-squared-error / d output
            np.dot(delta, H, out=gw2)
            gb2[0] = delta.sum()
            dH = np.multiply.outer(delta, w2)
            dH *= H > 0
            np.dot(X1.T, dH, out=gW1)
            m *= 0.9
            m += 0.1 * G
            v *= 0.999
            v += 0.001 * G * G
            step_size = self.lr * np.sqrt(1 - 0.999**step) / (1 - 0.9**step)
            P -= step_size * m / (np.sqrt(v) + 1e-8)
        self.W1, self.w2, self.b2 = W1, w2, b2
        return self

    def predict(self, X) -> np.ndarray:
        H = np.asarray(X, dtype=np.float64) @ self.W1[:-1] + self.W1[-1]
        np.maximum(H, 0.0, out=H)
        return (H @ self.w2 + self.b2[0]) * self.sd + self.mu


def _flat(*shapes) -> tuple[np.ndarray, list[np.ndarray]]:
    """One zero vector and views of it with the given shapes."""
    sizes = [int(np.prod(s)) for s in shapes]
    flat = np.zeros(sum(sizes))
    views, at = [], 0
    for shape, size in zip(shapes, sizes):
        views.append(flat[at : at + size].reshape(shape))
        at += size
    return flat, views


@register_predictor(
    "mlp-fast", "numpy MLP, 1 hidden layer of 32 ReLU units, full-batch Adam lr 0.02, 100 steps"
)
def _mlp_fast(seed: int) -> NumpyMLP:
    return NumpyMLP(32, 100, 0.02, seed=seed)


# =========================================================================== scikit-learn
class _Sklearn:
    """A scikit-learn regressor run single-threaded, with a fixed-iteration warning silenced."""

    def __init__(self, make: Callable[[], Any]):
        self.model = make()

    def fit(self, X, y):
        with _quiet():
            self.model.fit(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64))
        return self

    def predict(self, X) -> np.ndarray:
        with _quiet():
            return np.asarray(self.model.predict(np.asarray(X, dtype=np.float64)), dtype=float)


@contextlib.contextmanager
def _quiet():
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise SearchError(
            "scikit-learn predictors need scikit-learn (pip install 'nasbench-tools[train]' "
            "or scikit-learn); 'mlp-fast' needs numpy only"
        ) from None


@register_predictor("mlp", "sklearn MLPRegressor(hidden_layer_sizes=(100,)), defaults otherwise")
def _mlp(seed: int):
    _sklearn()
    from sklearn.neural_network import MLPRegressor

    return _Sklearn(lambda: MLPRegressor(hidden_layer_sizes=(100,), random_state=seed))


@register_predictor(
    "mlp-paper", "sklearn MLPRegressor(hidden_layer_sizes=(1000, 1000, 1000, 1000), max_iter=100)"
)
def _mlp_paper(seed: int):
    _sklearn()
    from sklearn.neural_network import MLPRegressor

    return _Sklearn(
        lambda: MLPRegressor(
            hidden_layer_sizes=(1000, 1000, 1000, 1000), max_iter=100, random_state=seed
        )
    )


@register_predictor("gbdt", "sklearn GradientBoostingRegressor(n_estimators=100, max_depth=3)")
def _gbdt(seed: int):
    _sklearn()
    from sklearn.ensemble import GradientBoostingRegressor

    return _Sklearn(lambda: GradientBoostingRegressor(random_state=seed))


@register_predictor("rf", "sklearn RandomForestRegressor(n_estimators=100)")
def _rf(seed: int):
    _sklearn()
    from sklearn.ensemble import RandomForestRegressor

    return _Sklearn(lambda: RandomForestRegressor(n_estimators=100, random_state=seed))


@register_predictor(
    "gp", "sklearn GaussianProcessRegressor(ConstantKernel * RBF + WhiteKernel, normalize_y=True)"
)
def _gp(seed: int):
    _sklearn()
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    return _Sklearn(
        lambda: GaussianProcessRegressor(
            kernel=ConstantKernel() * RBF() + WhiteKernel(), normalize_y=True, random_state=seed
        )
    )
