"""ibcore.steepest: the steepest step of each norm (its two defining identities), the
max-margin LPs on hand-solvable sets and against an independent solver (cvxpy with
Clarabel), steepest descent against ibcore.train for the l2 norm and against a hand step
for l1, its margins on seeded data, non-unique maximizers, and one test per bad input."""

import cvxpy as cp
import numpy as np
import pytest

import ibcore
from ibcore import steepest
from ibcore.data import closed_form_2d, gaussian
from ibcore.errors import IbcoreTypeError, IbcoreValueError, NotSeparableError, ShapeError, SolverError
from ibcore.nets import FullyConnected
from ibcore.steepest import (
    NORMS,
    max_margin,
    max_margin_l1,
    max_margin_linf,
    norm_of,
    normalized_margin,
    steepest_descent,
    steepest_step,
)
from ibcore.train import gradient_descent

DUAL = {"l1": "linf", "l2": "l2", "linf": "l1"}
AXIS_X, AXIS_Y = np.array([[2.0, 0.0], [0.0, -0.5]]), np.array([1.0, -1.0])


@pytest.mark.parametrize("norm", NORMS)
def test_steepest_step_identities(norm):
    # Delta = ||g||_* d_hat with ||d_hat|| = 1 maximizing <g, d>: so <g, Delta> = ||g||_*^2 and ||Delta|| = ||g||_*
    g = np.random.default_rng(0).standard_normal((6, 5))
    delta = steepest_step(g, norm)
    dual = norm_of(g, DUAL[norm])
    np.testing.assert_allclose(np.sum(g * delta, axis=1), dual**2, rtol=1e-13)
    np.testing.assert_allclose(norm_of(delta, norm), dual, rtol=1e-13)
    np.testing.assert_allclose(steepest_step(g[0], norm), delta[0])


def test_steepest_step_forms():
    g = np.array([0.5, -2.0, 2.0, 1.0])
    np.testing.assert_array_equal(steepest_step(g, "l1"), [0.0, -2.0, 0.0, 0.0])  # ties: the smallest index
    np.testing.assert_array_equal(steepest_step(g, "linf"), 5.5 * np.array([1.0, -1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(steepest_step(g, "l2"), g)


def test_hand_solvable_max_margins():
    X, y = closed_form_2d()  # gamma_1 = 1 at (1/2, 1/2), gamma_2 = sqrt 2, gamma_inf = 2 at (1, 1)
    for norm, gamma, beta in [("l1", 1.0, [0.5, 0.5]), ("l2", np.sqrt(2.0), [2**-0.5, 2**-0.5]), ("linf", 2.0, [1.0, 1.0])]:
        mm = max_margin(X, y, norm)
        assert mm.margin == pytest.approx(gamma, abs=1e-12) and abs(mm.gap) <= 1e-12
        np.testing.assert_allclose(mm.beta, beta, atol=1e-9)
        assert mm.dual.min() >= 0 and mm.dual.sum() == pytest.approx(1.0)
    # axis pair: l1 optimum 2 b1 = b2 / 2 with b1 + b2 = 1, i.e. (0.2, 0.8), margin 0.4 (unique);
    # l_inf optimum margin 0.5 on the face b2 = 1, 0.25 <= b1 <= 1 (not unique)
    l1 = max_margin_l1(AXIS_X, AXIS_Y)
    assert l1.margin == pytest.approx(0.4, abs=1e-12)
    np.testing.assert_allclose(l1.beta, [0.2, 0.8], atol=1e-9)
    linf = max_margin_linf(AXIS_X, AXIS_Y)
    assert linf.margin == pytest.approx(0.5, abs=1e-12)
    assert linf.beta[1] == pytest.approx(1.0) and 0.25 - 1e-9 <= linf.beta[0] <= 1.0 + 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lp_margins_against_cvxpy(seed):
    X, y = gaussian(6, 10, seed=seed)
    for norm, mm in [("l1", max_margin_l1(X, y)), ("linf", max_margin_linf(X, y))]:
        beta, t = cp.Variable(X.shape[1]), cp.Variable()
        ball = cp.norm1(beta) <= 1 if norm == "l1" else cp.norm_inf(beta) <= 1
        cp.Problem(cp.Maximize(t), [cp.multiply(y, X @ beta) >= t, ball]).solve(solver=cp.CLARABEL)
        assert mm.margin == pytest.approx(t.value, rel=1e-7)
        assert abs(mm.gap) <= 1e-9 * max(1.0, mm.margin)
        assert norm_of(mm.beta, norm) == pytest.approx(1.0)
        assert normalized_margin(mm.beta, X, y, norm) == pytest.approx(mm.margin, rel=1e-12)
    # the l2 entry is the SVM: margin 1 / ||beta_svm||
    svm = ibcore.limits.hard_margin_svm(X, y)
    assert max_margin(X, y, "l2").margin == pytest.approx(1 / np.linalg.norm(svm.beta), rel=1e-9)


def test_l2_steepest_descent_is_gradient_descent():
    X, y = gaussian(5, 4, seed=3)
    w0 = np.array([0.3, -0.2, 0.1, 0.4])
    a = steepest_descent(X, y, norm="l2", steps=400, lr=0.05, init=w0, record=10)
    b = gradient_descent(FullyConnected(4, 1), X, y, steps=400, lr=0.05, init=w0, record=10, progress=False)
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(a.log_loss, b.log_loss, rtol=1e-11)
    np.testing.assert_allclose(a.log_norm_w, b.log_norm_w, rtol=1e-11)


def test_one_coordinate_step_by_hand():
    X, y = gaussian(4, 3, seed=5)
    w0 = np.array([0.2, -0.1, 0.3])
    eta = 0.1
    grad = -((np.exp(-y * (X @ w0)) * y) @ X)  # the gradient of sum_n exp(-y_n <x_n, w>)
    i = np.argmax(np.abs(grad))
    expected = w0.copy()
    expected[i] -= eta * grad[i]
    run = steepest_descent(X, y, norm="l1", steps=1, lr=eta, init=w0, record=np.array([0, 1]))
    np.testing.assert_allclose(np.exp(run.log_norm_w) * run.w, expected, rtol=1e-13)
    sign = steepest_descent(X, y, norm="linf", steps=1, lr=eta, init=w0, record=np.array([0, 1]))
    np.testing.assert_allclose(np.exp(sign.log_norm_w) * sign.w, w0 - eta * np.abs(grad).sum() * np.sign(grad), rtol=1e-13)


@pytest.mark.parametrize("norm", NORMS)
def test_normalized_steepest_descent_reaches_the_max_margin(norm):
    X, y = gaussian(5, 8, seed=2)
    B2 = np.max(norm_of(X, DUAL[norm])) ** 2
    run = steepest_descent(X, y, norm=norm, steps=6000, lr=1 / B2, schedule="normalized", record=10)
    gamma = max_margin(X, y, norm).margin
    gaps = (gamma - normalized_margin(run.history["beta"], X, y, norm)) / gamma
    assert gaps.min() >= -1e-12  # no direction beats the LP optimum (weak duality)
    assert gaps[-1] <= 3e-3  # measured 1.5e-3 (l1), 7e-4 (l2), 1.1e-3 (linf) after 6000 steps
    assert gaps[-1] < 0.2 * gaps[len(gaps) // 2]


def test_hand_solvable_descents():
    X, y = closed_form_2d()
    cd = steepest_descent(X, y, norm="l1", steps=3000, lr=0.1, schedule="normalized")
    sd = steepest_descent(X, y, norm="linf", steps=3000, lr=0.05, schedule="normalized")
    assert normalized_margin(cd.beta, X, y, "l1") == pytest.approx(1.0, abs=2e-3)
    assert normalized_margin(sd.beta, X, y, "linf") == pytest.approx(2.0, abs=1e-12)  # sign(g) = (1, 1) at every step


def test_non_unique_l1_maximizer():
    # One point (1, 1): every beta >= 0 with b1 + b2 = 1 has the l1 margin 1.  Coordinate descent (ties to
    # the smallest index) puts everything on the first coordinate; the margin is the same, the direction is not.
    X, y = np.array([[1.0, 1.0]]), np.array([1.0])
    cd = steepest_descent(X, y, norm="l1", steps=50, lr=0.1, schedule="normalized")
    np.testing.assert_allclose(cd.beta, [1.0, 0.0])
    assert normalized_margin(cd.beta, X, y, "l1") == pytest.approx(max_margin_l1(X, y).margin) == pytest.approx(1.0)
    sd = steepest_descent(X, y, norm="l2", steps=50, lr=0.1, schedule="normalized")
    assert normalized_margin(sd.beta, X, y, "l1") == pytest.approx(1.0)
    assert ibcore.angle(cd.beta, sd.beta) == pytest.approx(45.0)


def test_batch_equals_loop():
    X, y = gaussian(5, 4, seed=3)
    W0 = np.random.default_rng(1).standard_normal((3, 4))
    for norm in NORMS:
        batch = steepest_descent(X, y, norm=norm, steps=200, lr=0.05, schedule="normalized", init=W0, record=5)
        for b in range(3):
            one = steepest_descent(X, y, norm=norm, steps=200, lr=0.05, schedule="normalized", init=W0[b], record=5)
            np.testing.assert_allclose(batch.beta[b], one.beta, rtol=1e-11, atol=1e-13)


def test_bad_inputs_raise_clear_errors(monkeypatch):
    X, y = gaussian(4, 3, seed=5)
    with pytest.raises(IbcoreValueError, match="norm"):
        steepest_descent(X, y, norm="l3", steps=10, lr=0.1)
    with pytest.raises(IbcoreValueError, match="schedule"):
        steepest_descent(X, y, norm="l1", steps=10, lr=0.1, schedule="angular")
    with pytest.raises(IbcoreValueError):
        steepest_descent(X, y, norm="l1", steps=10, lr=0.0)
    with pytest.raises(ShapeError):
        steepest_descent(X, y, norm="l1", steps=10, lr=0.1, init=np.zeros(4))
    with pytest.raises(NotSeparableError):
        steepest_descent(np.vstack([X[0], X[0]]), np.array([1.0, -1.0]), norm="l1", steps=10, lr=0.1)
    with pytest.raises(NotSeparableError):
        max_margin_l1(np.vstack([X[0], X[0]]), np.array([1.0, -1.0]))
    with pytest.raises(NotSeparableError):
        max_margin_linf(np.vstack([X[0], X[0]]), np.array([1.0, -1.0]))
    with pytest.raises(IbcoreValueError, match="norm"):
        max_margin(X, y, "l0")
    with pytest.raises(IbcoreValueError, match="zero"):
        normalized_margin(np.zeros(3), X, y, "l1")
    with pytest.raises(ShapeError):
        normalized_margin(np.ones(4), X, y, "l1")
    with pytest.raises(IbcoreTypeError):
        steepest_descent(X, y, norm="l1", steps=10, lr=0.1, init="zeros")

    class Failed:
        status, message, x = 4, "numerical difficulties", None

    monkeypatch.setattr(steepest, "linprog", lambda *a, **k: Failed())
    with pytest.raises(SolverError, match="HiGHS status 4"):
        max_margin_l1(X, y)
    with pytest.raises(SolverError, match="HiGHS status 4"):
        max_margin_linf(X, y)


def test_a_wrong_dual_is_caught(monkeypatch):
    # The certificate recomputes both bounds; multipliers that are not optimal leave a gap and raise.
    X, y = gaussian(5, 6, seed=1)
    real = steepest.linprog

    def bad_duals(*args, **kwargs):
        res = real(*args, **kwargs)
        res.ineqlin.marginals[: X.shape[0]] = -1.0  # uniform p: a valid upper bound, but not a tight one
        return res

    monkeypatch.setattr(steepest, "linprog", bad_duals)
    with pytest.raises(SolverError, match="differ"):
        max_margin_l1(X, y)


@pytest.mark.parametrize("norm", NORMS)
def test_dual_radius_bounds_the_curvature(norm):
    # v' Hess(L) v = sum_n ell_n <y_n x_n, v>^2 <= B^2 L ||v||^2 with B = max_n ||x_n||_* (Hoelder)
    X, y = gaussian(6, 5, seed=4)
    B = steepest.dual_radius(X, norm)
    assert B == pytest.approx(np.max(norm_of(X, DUAL[norm])))
    rng = np.random.default_rng(0)
    for _ in range(20):
        beta, v = rng.standard_normal(5), rng.standard_normal(5)
        ell = np.exp(-y * (X @ beta))
        quad = np.sum(ell * (y * (X @ v)) ** 2)
        assert quad <= B**2 * ell.sum() * norm_of(v, norm) ** 2 * (1 + 1e-12)
    # attained along the direction that maximizes <x_n, v> for the row of largest dual norm
    n = int(np.argmax(norm_of(X, DUAL[norm])))
    v = steepest_step(X[n], norm)  # <x_n, v> = ||x_n||_*^2 and ||v|| = ||x_n||_*
    assert abs(X[n] @ v) == pytest.approx(B * norm_of(v, norm))
    with pytest.raises(IbcoreValueError):
        steepest.dual_radius(X, "l7")
