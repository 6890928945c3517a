"""Tests of ibcore.references: the convex reference limits.

Three kinds (STYLE.md): the hand-solvable 2-D set; seeded Gaussian sets checked
against independent computations (the SVM's dual by Lawson-Hanson least-distance
programming with NNLS, no cvxpy; the ℓ1 LP by HiGHS; the Fourier SOCP in the real
cosine/sine basis); invariants (KKT and strong duality, circular shifts).
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pytest
from scipy.optimize import linprog, nnls

from ibcore import angle
from ibcore.errors import (
    IbcoreTypeError,
    IbcoreValueError,
    NotSeparableError,
    ShapeError,
    SolverError,
)
from ibcore.fourier import dft
from ibcore.limits import (
    Reference,
    hard_margin_svm,
    min_fourier_l1_margin,
    min_l1_margin,
)

SEEDS = [0, 1, 2]


def gaussian_set(seed: int, n_samples: int = 5, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """N < D Gaussian points with random labels: separable with probability one."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, dim))
    y = np.where(rng.standard_normal(n_samples) > 0, 1.0, -1.0)
    return X, y


def two_d_set() -> tuple[np.ndarray, np.ndarray]:
    """Soudry et al.'s closed-form set: SVM direction (1, 1)/sqrt(2), normalized margin sqrt(2)."""
    X = np.array([[0.5, 1.5], [1.5, 0.5], [-0.5, -1.5], [-1.5, -0.5]])
    return X, np.array([1.0, 1.0, -1.0, -1.0])


def margins(ref: Reference, X, y) -> np.ndarray:
    return y * (X @ ref.beta)


# ---------------------------------------------------------------- hand-solvable


def test_svm_two_d_closed_form():
    X, y = two_d_set()
    ref = hard_margin_svm(X, y)
    direction = ref.beta / np.linalg.norm(ref.beta)
    np.testing.assert_allclose(direction, np.array([1.0, 1.0]) / np.sqrt(2), atol=1e-9, rtol=0)
    normalized_margin = np.min(margins(ref, X, y)) / np.linalg.norm(ref.beta)
    assert abs(normalized_margin - np.sqrt(2)) <= 1e-9
    np.testing.assert_allclose(ref.beta, [0.5, 0.5], atol=1e-12)
    assert abs(ref.value - 0.25) <= 1e-12
    assert ref.polished and ref.name == "hard_margin_svm"


def test_l1_two_d_closed_form():
    X, y = two_d_set()
    ref = min_l1_margin(X, y)
    np.testing.assert_allclose(ref.beta, [0.5, 0.5], atol=1e-12)
    assert abs(ref.value - 1.0) <= 1e-12


def test_fourier_l1_two_d_closed_form():
    # D = 2: |F beta|_1 = (|b1 + b2| + |b1 - b2|)/sqrt(2) = sqrt(2) max(|b1|, |b2|), minimized at (1/2, 1/2).
    X, y = two_d_set()
    ref = min_fourier_l1_margin(X, y)
    np.testing.assert_allclose(ref.beta, [0.5, 0.5], atol=1e-12)
    assert abs(ref.value - 1 / np.sqrt(2)) <= 1e-12


# ---------------------------------------------------------------- independent computations


def svm_by_least_distance(X, y) -> tuple[np.ndarray, np.ndarray]:
    """min ||beta|| s.t. G beta >= 1 by Lawson & Hanson's LDP: one NNLS, no cvxpy.

    NNLS min ||E u - f||, u >= 0, with E = [G^T; 1^T], f = (0, ..., 0, 1); then
    r = E u - f gives beta = -r[:D]/r[D] and the SVM duals alpha = u/(-r[D]).
    """
    G = y[:, None] * X
    E = np.vstack([G.T, np.ones((1, X.shape[0]))])
    f = np.zeros(X.shape[1] + 1)
    f[-1] = 1.0
    u, _ = nnls(E, f)
    r = E @ u - f
    return -r[:-1] / r[-1], u / -r[-1]


@pytest.mark.parametrize("seed", SEEDS)
def test_svm_matches_dual_solved_without_cvxpy(seed):
    X, y = gaussian_set(seed)
    ref = hard_margin_svm(X, y)
    beta, alpha = svm_by_least_distance(X, y)
    np.testing.assert_allclose(ref.beta, beta, rtol=1e-9, atol=1e-12)
    # N < D Gaussian points are in general position: the duals are unique.
    np.testing.assert_allclose(ref.alpha, alpha, rtol=1e-8, atol=1e-10)
    # The dual objective sum(alpha) - 1/2 ||beta||^2 equals the primal 1/2 ||beta||^2.
    assert abs((alpha.sum() - 0.5 * beta @ beta) - ref.value) <= 1e-9 * ref.value


@pytest.mark.parametrize("seed", SEEDS)
def test_l1_matches_highs_lp(seed):
    # min 1^T (u + v) s.t. G (u - v) >= 1, u, v >= 0: the LP by the simplex method.
    X, y = gaussian_set(seed)
    G = y[:, None] * X
    D = X.shape[1]
    res = linprog(np.ones(2 * D), A_ub=-np.hstack([G, -G]), b_ub=-np.ones(len(y)), bounds=(0, None), method="highs")
    assert res.status == 0
    ref = min_l1_margin(X, y)
    assert abs(ref.value - res.fun) <= 1e-9 * res.fun
    np.testing.assert_allclose(ref.beta, res.x[:D] - res.x[D:], atol=1e-9)


def fourier_l1_in_real_basis(X, y) -> tuple[np.ndarray, float]:
    """The same SOCP written with real cosine and sine rows and explicit cones.

    |beta_hat_k| = ||(C_k . beta, S_k . beta)||_2 with C[k, j] = cos(2 pi k j / D)/sqrt(D)
    and S[k, j] = sin(2 pi k j / D)/sqrt(D); no complex numbers, no DFT helper.
    """
    D = X.shape[1]
    kj = np.outer(np.arange(D), np.arange(D)) * 2 * np.pi / D
    C, S = np.cos(kj) / np.sqrt(D), np.sin(kj) / np.sqrt(D)
    beta, t = cp.Variable(D), cp.Variable(D)
    cones = [cp.SOC(t[k], cp.hstack([C[k] @ beta, S[k] @ beta])) for k in range(D)]
    problem = cp.Problem(cp.Minimize(cp.sum(t)), cones + [cp.multiply(y, X @ beta) >= 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        problem.solve(solver=cp.CLARABEL)
    assert problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
    return beta.value, problem.value


@pytest.mark.parametrize("seed", SEEDS)
def test_fourier_l1_matches_real_basis_socp(seed):
    X, y = gaussian_set(seed)
    ref = min_fourier_l1_margin(X, y)
    beta, value = fourier_l1_in_real_basis(X, y)
    # Interior-point accuracy: ~1e-8 in value; the minimizer itself is flatter
    # (a poorly determined small frequency), hence the looser angle.
    assert abs(ref.value - value) <= 1e-7 * value
    assert angle(ref.beta, beta) <= 1e-2
    # The polished reference is at least as good as the independent solve, to round-off.
    assert ref.value <= value + 1e-12


# ---------------------------------------------------------------- KKT, duality, invariants


@pytest.mark.parametrize("seed", SEEDS)
def test_svm_kkt(seed):
    X, y = gaussian_set(seed)
    ref = hard_margin_svm(X, y)
    m = margins(ref, X, y)
    assert ref.polished
    assert np.min(m) >= 1 - 1e-12 and np.min(ref.alpha) >= 0
    np.testing.assert_allclose(X.T @ (ref.alpha * y), ref.beta, atol=1e-12 * np.max(np.abs(ref.beta)) + 1e-14)
    assert np.max(ref.alpha * (m - 1)) <= 1e-12 * ref.alpha.sum()
    assert abs(ref.value - 0.5 * ref.alpha.sum()) <= 1e-12 * ref.value  # primal = dual


@pytest.mark.parametrize("seed", SEEDS)
def test_l1_kkt(seed):
    X, y = gaussian_set(seed)
    ref = min_l1_margin(X, y)
    m = margins(ref, X, y)
    z = X.T @ (ref.alpha * y)
    support = np.abs(ref.beta) > 1e-9 * np.max(np.abs(ref.beta))
    assert ref.polished and np.min(m) >= 1 - 1e-12 and np.min(ref.alpha) >= 0
    np.testing.assert_allclose(z[support], np.sign(ref.beta[support]), atol=1e-12)
    assert np.max(np.abs(z[~support])) <= 1 + 1e-12
    assert np.all(ref.beta[~support] == 0)
    assert abs(ref.value - ref.alpha.sum()) <= 1e-12 * ref.value  # LP strong duality


@pytest.mark.parametrize("seed", SEEDS)
def test_fourier_l1_kkt(seed):
    X, y = gaussian_set(seed)
    ref = min_fourier_l1_margin(X, y)
    m = margins(ref, X, y)
    zhat = dft(X.T @ (ref.alpha * y))
    bhat = dft(ref.beta)
    support = np.abs(bhat) > 1e-9 * np.max(np.abs(bhat))
    assert ref.polished and np.min(m) >= 1 - 1e-12 and np.min(ref.alpha) >= 0
    np.testing.assert_allclose(zhat[support], bhat[support] / np.abs(bhat[support]), atol=1e-12)
    assert np.max(np.abs(zhat[~support])) <= 1 + 1e-12
    assert abs(ref.value - ref.alpha.sum()) <= 1e-12 * ref.value  # SOCP strong duality


def test_fourier_l1_commutes_with_circular_shifts():
    # |F beta| is invariant under circular shifts, so shifting every x_n shifts the minimizer.
    X, y = gaussian_set(4)
    ref = min_fourier_l1_margin(X, y)
    shifted = min_fourier_l1_margin(np.roll(X, 3, axis=1), y)
    np.testing.assert_allclose(shifted.beta, np.roll(ref.beta, 3), atol=1e-10)


def test_references_scale_inversely_with_the_data():
    X, y = gaussian_set(5)
    for solve in (hard_margin_svm, min_l1_margin, min_fourier_l1_margin):
        np.testing.assert_allclose(solve(4.0 * X, y).beta, solve(X, y).beta / 4.0, atol=1e-10)


# ---------------------------------------------------------------- bad input


def test_not_separable_raises():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])  # x and -x with the same label
    with pytest.raises(NotSeparableError, match="not linearly separable"):
        hard_margin_svm(X, np.array([1.0, 1.0, -1.0]))


def test_labels_must_be_plus_minus_one():
    X, _ = gaussian_set(0)
    with pytest.raises(IbcoreValueError, match="y must contain only labels"):
        min_l1_margin(X, np.array([0.0, 1.0, 1.0, 0.0, 1.0]))


def test_mismatched_shapes_raise():
    X, y = gaussian_set(0)
    with pytest.raises(ShapeError, match="rows but y has"):
        min_fourier_l1_margin(X, y[:-1])


def test_nan_data_raise():
    X, y = gaussian_set(0)
    X[0, 0] = np.nan
    with pytest.raises(IbcoreValueError, match="NaN"):
        hard_margin_svm(X, y)


def test_complex_data_raise():
    X, y = gaussian_set(0)
    with pytest.raises(IbcoreTypeError, match="real"):
        hard_margin_svm(X + 0j, y)


def test_solver_status_other_than_optimal_raises(monkeypatch):
    def stalled(self, *args, **kwargs):
        self._status = cp.USER_LIMIT

    monkeypatch.setattr(cp.Problem, "solve", stalled)
    X, y = gaussian_set(0)
    with pytest.raises(SolverError, match="min_l1_margin: solver status 'user_limit'"):
        min_l1_margin(X, y)


def test_inaccurate_status_is_accepted_when_the_polish_certifies(monkeypatch):
    X, y = gaussian_set(1)
    expected = min_fourier_l1_margin(X, y).beta
    solve = cp.Problem.solve

    def almost(self, *args, **kwargs):
        out = solve(self, *args, **kwargs)
        self._status = cp.OPTIMAL_INACCURATE
        return out

    monkeypatch.setattr(cp.Problem, "solve", almost)
    ref = min_fourier_l1_margin(X, y)
    assert ref.polished
    np.testing.assert_allclose(ref.beta, expected, atol=1e-12)


def test_failed_polish_keeps_an_optimal_solver_answer(monkeypatch):
    from ibcore import references

    def failing(*args, **kwargs):
        raise SolverError("polish left the separators")

    monkeypatch.setattr(references, "polish", failing)
    X, y = gaussian_set(2)
    ref = hard_margin_svm(X, y)
    beta, _ = svm_by_least_distance(X, y)
    assert not ref.polished
    assert angle(ref.beta, beta) <= 1e-2  # the solver's own accuracy
    assert np.min(ref.alpha) >= 0


def test_failed_polish_of_an_inaccurate_answer_raises(monkeypatch):
    from ibcore import references

    solve = cp.Problem.solve

    def almost(self, *args, **kwargs):
        out = solve(self, *args, **kwargs)
        self._status = cp.OPTIMAL_INACCURATE
        return out

    def failing(*args, **kwargs):
        raise SolverError("polish left the separators")

    monkeypatch.setattr(cp.Problem, "solve", almost)
    monkeypatch.setattr(references, "polish", failing)
    X, y = gaussian_set(2)
    with pytest.raises(SolverError, match="min_l1_margin: solver status 'optimal_inaccurate'"):
        min_l1_margin(X, y)
