"""ibcore.regression: the interpolants on a hand-solvable problem and against independent
solvers (normal equations, cvxpy), depth-1 GD from zero equals the pseudo-inverse solution,
the mirror-map identity of the signed diagonal net, divergence, and bad inputs."""

import cvxpy as cp
import numpy as np
import pytest

from ibcore.errors import DivergenceError, IbcoreTypeError, IbcoreValueError, ShapeError
from ibcore.nets import FullyConnected
from ibcore.regression import min_l1_interpolant, min_norm_interpolant, q_alpha_gradient, squared_gd
from ibcore.signed import SignedDiagonal


def test_hand_solvable():
    # one equation b1 + 2 b2 = 2: min-l2 is (2, 4)/5, min-l1 puts everything on the larger coefficient: (0, 1)
    X, t = np.array([[1.0, 2.0]]), np.array([2.0])
    np.testing.assert_allclose(min_norm_interpolant(X, t), [0.4, 0.8], atol=1e-14)
    np.testing.assert_allclose(min_l1_interpolant(X, t), [0.0, 1.0], atol=1e-10)


def test_against_independent_solvers():
    rng = np.random.default_rng(3)
    X, t = rng.standard_normal((4, 9)), rng.standard_normal(4)
    np.testing.assert_allclose(min_norm_interpolant(X, t), X.T @ np.linalg.solve(X @ X.T, t), atol=1e-12)
    b = cp.Variable(9)
    cp.Problem(cp.Minimize(cp.norm1(b)), [X @ b == t]).solve(solver=cp.CLARABEL)
    b1 = min_l1_interpolant(X, t)
    np.testing.assert_allclose(np.abs(b1).sum(), np.abs(b.value).sum(), rtol=1e-7)
    np.testing.assert_allclose(X @ b1, t, atol=1e-9)


def test_depth_one_from_zero_is_pseudo_inverse():
    rng = np.random.default_rng(0)
    X, t = rng.standard_normal((5, 12)), rng.standard_normal(5)
    run = squared_gd(FullyConnected(12, 1), X, t, init=np.zeros(12), steps=3000, lr=0.02)
    np.testing.assert_allclose(run.beta, min_norm_interpolant(X, t), atol=1e-12)
    assert run.loss < 1e-25


def test_signed_diagonal_small_alpha_is_sparse():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 12))
    bstar = np.zeros(12)
    bstar[[1, 4]] = [1.5, -1.0]
    t = X @ bstar
    net = SignedDiagonal(12, 2)
    run = squared_gd(net, X, t, init=net.uniform_init(np.array([1.0, 1e-10])), steps=20000, lr=0.01)
    b1 = min_l1_interpolant(X, t)
    dist = np.linalg.norm(run.beta - b1, axis=1) / np.linalg.norm(b1)
    assert dist[1] < 0.02
    assert dist[0] > 0.5
    # the mirror-map identity: arcsinh(beta / 2 alpha^2) stays (up to the discretisation) in the row space of X
    g = q_alpha_gradient(run.beta[0], 1.0)
    null = np.eye(12) - np.linalg.pinv(X) @ X
    assert np.linalg.norm(null @ g) < 0.15 * np.linalg.norm(g)


def test_divergence_and_bad_inputs():
    X, t = np.array([[1.0, 2.0]]), np.array([2.0])
    net = FullyConnected(2, 1)
    with pytest.raises(DivergenceError, match=r"iteration \d+ with step lr=10"):
        squared_gd(net, X, t, init=np.zeros(2), steps=100, lr=10.0)
    with pytest.raises(ShapeError, match="targets"):
        min_norm_interpolant(X, np.array([1.0, 2.0]))
    with pytest.raises(ShapeError, match="features"):
        squared_gd(FullyConnected(3, 1), X, t, init=np.zeros(3), steps=5, lr=0.1)
    with pytest.raises(ShapeError, match="init"):
        squared_gd(net, X, t, init=np.zeros(3), steps=5, lr=0.1)
    with pytest.raises(IbcoreValueError, match="NaN"):
        min_l1_interpolant(X, np.array([np.nan]))
    with pytest.raises(IbcoreValueError, match="interpolates"):
        min_norm_interpolant(np.array([[1.0, 0.0], [2.0, 0.0]]), np.array([1.0, 1.0]))
    with pytest.raises(IbcoreTypeError, match="net"):
        squared_gd(None, X, t, init=np.zeros(2), steps=5, lr=0.1)
    with pytest.raises(IbcoreValueError, match="alpha"):
        q_alpha_gradient(np.ones(2), 0.0)
