"""Tests for ibcore.data: the closed-form set by hand, separability against an
independent LP (Gordan's alternative), the generators' promises, and bad input."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.optimize import linprog, minimize, nnls

import ibcore.data as data
from ibcore.errors import IbcoreTypeError, IbcoreValueError, NotSeparableError, ShapeError, SolverError

SQRT2 = np.sqrt(2.0)


def gordan_says_separable(X: np.ndarray, y: np.ndarray) -> bool:
    """Independent verdict by Gordan's theorem of the alternative.

    Exactly one holds: some beta has y_n <x_n, beta> > 0 for all n, or some alpha >= 0,
    sum(alpha) = 1, has sum_n alpha_n y_n x_n = 0.  So the data are separable iff this
    feasibility LP (a different LP from the one in check_separable) is infeasible.
    """
    Z = (y[:, None] * X / np.linalg.norm(X, axis=1, keepdims=True)).T
    A_eq = np.vstack([Z, np.ones((1, X.shape[0]))])
    b_eq = np.concatenate([np.zeros(X.shape[1]), [1.0]])
    res = linprog(np.zeros(X.shape[0]), A_eq=A_eq, b_eq=b_eq, bounds=[(0, None)] * X.shape[0], method="highs")
    assert res.status in (0, 2), res.message  # 0 feasible, 2 infeasible
    return res.status == 2


def svm_margin_slsqp(X: np.ndarray, y: np.ndarray) -> float:
    """Normalized hard-margin SVM margin 1/||beta|| from min ||beta||^2 s.t. y X beta >= 1 (SLSQP)."""
    start = np.linalg.lstsq(X, y, rcond=None)[0]
    start /= np.min(y * (X @ start))
    res = minimize(
        lambda b: b @ b,
        start,
        jac=lambda b: 2 * b,
        constraints=[{"type": "ineq", "fun": lambda b: y * (X @ b) - 1.0, "jac": lambda b: y[:, None] * X}],
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 500},
    )
    assert res.success, res.message
    return 1.0 / np.linalg.norm(res.x)


# ---------------------------------------------------------------- hand-solvable


def test_closed_form_2d_points_and_labels():
    X, y = data.closed_form_2d()
    np.testing.assert_array_equal(X, [[0.5, 1.5], [1.5, 0.5], [-0.5, -1.5], [-1.5, -0.5]])
    np.testing.assert_array_equal(y, [1, 1, -1, -1])
    assert X.dtype == np.float64 and y.dtype == np.float64


def test_closed_form_2d_svm_direction_and_margin():
    X, y = data.closed_form_2d()
    u = np.array([1.0, 1.0]) / SQRT2
    np.testing.assert_allclose(y * (X @ u), SQRT2, rtol=0, atol=1e-12)  # every point is a support vector
    # margin-1 SVM beta = (0.5, 0.5) = sum_n alpha_n y_n x_n with alpha >= 0: the KKT certificate
    beta = np.array([0.5, 0.5])
    np.testing.assert_allclose(y * (X @ beta), 1.0, atol=1e-15)
    alpha, residual = nnls((y[:, None] * X).T, beta)
    assert residual < 1e-12 and np.all(alpha >= 0)
    # no unit direction does better (max over angles of the min margin is at 45 degrees)
    theta = np.linspace(0, 2 * np.pi, 3601)
    directions = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    worst = np.min(y[:, None] * (X @ directions.T), axis=0)
    assert np.max(worst) <= SQRT2 + 1e-12
    assert abs(np.degrees(theta[np.argmax(worst)]) - 45.0) < 0.1 + 1e-9


def test_check_separable_on_closed_form_returns_svm_margin():
    # the LP optimum here is beta = (1, 1), i.e. the SVM direction, so the certificate is sqrt(2)
    X, y = data.closed_form_2d()
    assert data.check_separable(X, y) == pytest.approx(SQRT2, abs=1e-9)


def test_opposite_points_with_same_label_are_not_separable():
    X = np.array([[1.0, 2.0], [-1.0, -2.0]])
    with pytest.raises(NotSeparableError, match="not linearly separable"):
        data.check_separable(X, np.array([1.0, 1.0]))


# ---------------------------------------------------------------- seeded random vs independent


def test_check_separable_agrees_with_gordan_alternative():
    # N = 2D random labels: separable with probability 1/2 (Cover), so both verdicts occur
    verdicts = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((12, 6))
        y = rng.choice([-1.0, 1.0], size=12)
        try:
            data.check_separable(X, y)
            ours = True
        except NotSeparableError:
            ours = False
        assert ours == gordan_says_separable(X, y), f"seed {seed}"
        verdicts.append(ours)
    assert any(verdicts) and not all(verdicts)


def test_mirrored_random_points_are_never_separable():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((10, 5))
    y = rng.choice([-1.0, 1.0], size=10)
    X2, y2 = np.vstack([X, -X]), np.concatenate([y, y])
    assert not gordan_says_separable(X2, y2)
    with pytest.raises(NotSeparableError):
        data.check_separable(X2, y2)


def test_certificate_is_a_lower_bound_on_the_svm_margin():
    X, y = data.gaussian(30, 3, seed=4)
    certified = data.check_separable(X, y)
    assert 0 < certified <= svm_margin_slsqp(X, y) + 1e-7


@pytest.mark.parametrize("scale", [1e-150, 1.0, 1e150])
def test_check_separable_is_scale_invariant_in_its_verdict(scale):
    X, y = data.gaussian(6, 4, seed=5)
    assert data.check_separable(scale * X, y) == pytest.approx(scale * data.check_separable(X, y), rel=1e-9)


# ---------------------------------------------------------------- generators


def test_gaussian_shapes_labels_and_reproducibility():
    X, y = data.gaussian(8, 16, seed=0)
    assert X.shape == (8, 16) and y.shape == (8,)
    assert set(np.unique(y)) <= {-1.0, 1.0}
    X2, y2 = data.gaussian(8, 16, seed=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = data.gaussian(8, 16, seed=1)
    assert not np.array_equal(X, X3)


def test_generators_accept_a_generator_and_continue_its_stream():
    rng = np.random.default_rng(7)
    X1, _ = data.gaussian(5, 10, rng)
    X2, _ = data.gaussian(5, 10, rng)
    assert not np.array_equal(X1, X2)
    X3, _ = data.gaussian(5, 10, np.random.default_rng(7))
    np.testing.assert_array_equal(X1, X3)


def test_gaussian_with_many_samples_uses_a_teacher_and_is_separable():
    X, y = data.gaussian(200, 5, seed=2)  # labels="auto" -> teacher
    assert data.check_separable(X, y) > 0
    assert gordan_says_separable(X, y)


@pytest.mark.parametrize("n_active", [1, 3, 16])
def test_sparse_time_teacher_support_labels_and_margin(n_active):
    X, y, beta_star = data.sparse_time_teacher(100, 16, n_active, seed=1, margin=0.3, return_teacher=True)
    assert X.shape == (100, 16)
    assert np.count_nonzero(beta_star) == n_active
    assert np.linalg.norm(beta_star) == pytest.approx(1.0)
    np.testing.assert_array_equal(y, np.sign(X @ beta_star))
    assert np.min(np.abs(X @ beta_star)) > 0.3


@pytest.mark.parametrize(("dim", "n_active"), [(16, 1), (16, 2), (16, 9), (7, 4)])
def test_sparse_frequency_teacher_counts_active_bins(dim, n_active):
    X, y, beta_star = data.sparse_frequency_teacher(50, dim, n_active, seed=3, return_teacher=True)
    assert beta_star.dtype == np.float64 and np.linalg.norm(beta_star) == pytest.approx(1.0)
    spectrum = np.abs(np.fft.rfft(beta_star))  # independent of ibcore.fourier
    assert np.count_nonzero(spectrum > 1e-12) == n_active
    full = np.abs(np.fft.fft(beta_star, norm="ortho"))
    assert n_active <= np.count_nonzero(full > 1e-12) <= 2 * n_active
    np.testing.assert_array_equal(y, np.sign(X @ beta_star))


def test_teacher_generators_return_pairs_by_default():
    assert len(data.sparse_time_teacher(10, 4, 2, seed=0)) == 2
    assert len(data.sparse_frequency_teacher(10, 4, 2, seed=0)) == 2


# ---------------------------------------------------------------- bad input


def test_not_separable_error_is_a_value_error():
    assert issubclass(NotSeparableError, ValueError)


def test_check_separable_rejects_one_dimensional_X():
    with pytest.raises(ShapeError, match="X"):
        data.check_separable(np.ones(3), np.ones(3))


def test_check_separable_rejects_mismatched_lengths():
    with pytest.raises(ShapeError, match="rows"):
        data.check_separable(np.ones((3, 2)), np.ones(2))


@pytest.mark.parametrize("bad", [0.0, 2.0, 0.5])
def test_check_separable_rejects_labels_not_plus_minus_one(bad):
    with pytest.raises(IbcoreValueError, match="y must contain only labels"):
        data.check_separable(np.eye(2), np.array([1.0, bad]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_check_separable_rejects_nan_and_inf(bad):
    X = np.eye(2)
    X[0, 1] = bad
    with pytest.raises(IbcoreValueError, match="NaN or infinite"):
        data.check_separable(X, np.array([1.0, -1.0]))


def test_check_separable_rejects_a_zero_row():
    with pytest.raises(NotSeparableError, match=r"X\[1\] is the zero vector"):
        data.check_separable(np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([1.0, 1.0]))


def test_check_separable_reports_solver_failure(monkeypatch):
    failed = SimpleNamespace(status=4, x=None, message="numerical difficulties")
    monkeypatch.setattr(data, "linprog", lambda *args, **kwargs: failed)
    with pytest.raises(SolverError, match="numerical difficulties"):
        data.check_separable(np.eye(2), np.ones(2))


def test_random_labels_with_many_samples_are_rejected():
    with pytest.raises(NotSeparableError):
        data.gaussian(60, 3, seed=0, labels="random")


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: data.gaussian(0, 4), IbcoreValueError, "n_samples"),
        (lambda: data.gaussian(4, 2.5), IbcoreTypeError, "dim"),
        (lambda: data.gaussian(4, 8, seed=-1), IbcoreValueError, "seed"),
        (lambda: data.gaussian(4, 8, seed="0"), IbcoreTypeError, "seed"),
        (lambda: data.gaussian(4, 8, labels="teachers"), IbcoreValueError, "labels"),
        (lambda: data.sparse_time_teacher(4, 8, 0), IbcoreValueError, "n_active"),
        (lambda: data.sparse_time_teacher(4, 8, 9), IbcoreValueError, "n_active"),
        (lambda: data.sparse_time_teacher(4, 8, 2, margin=-0.1), IbcoreValueError, "margin"),
        (lambda: data.sparse_time_teacher(4, 8, 2, margin=np.nan), IbcoreValueError, "margin"),
        (lambda: data.sparse_time_teacher(4, 8, 2, margin=4.0), IbcoreValueError, "margin"),
        (lambda: data.sparse_frequency_teacher(4, 8, 6), IbcoreValueError, "n_active"),
        (lambda: data.sparse_frequency_teacher(4, 8, 1.0), IbcoreTypeError, "n_active"),
    ],
)
def test_generators_reject_bad_arguments_by_name(call, error, name):
    with pytest.raises(error, match=name):
        call()
