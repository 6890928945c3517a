"""ibcore.signed: the signed diagonal network (its closed form and the conserved quantities
of its gradient flow; the contract of every net is in test_contract.py), the
loss-clock path against the engine of ibcore.train, its two limits on seeded data, the
path-reading helpers on hand-made arrays, and one test per bad input."""

import numpy as np
import pytest

import ibcore
from ibcore.data import gaussian
from ibcore.errors import DivergenceError, IbcoreTypeError, IbcoreValueError, NotSeparableError, ShapeError
from ibcore.limits import hard_margin_svm, min_l1_margin, polish
from ibcore.nets import Diagonal
from ibcore.signed import SignedDiagonal, descent_path, settling_loss, transition_loss, unbatch
from ibcore.train import gradient_descent

NETS = [SignedDiagonal(5, 1), SignedDiagonal(5, 2), SignedDiagonal(6, 3), SignedDiagonal(4, 5)]


@pytest.mark.parametrize("net", NETS, ids=repr)
def test_predictor_is_u_power_minus_v_power(net):
    # vjp, batches, homogeneity and Euler: tests/test_contract.py
    W = net.init(4, batch=5)
    u, v = net.unflatten(W)
    np.testing.assert_allclose(net.predictor(W), u**net.depth - v**net.depth, rtol=1e-13, atol=1e-15)
    assert net.n_params == 2 * net.dim and net.layer_shapes == [(net.dim,), (net.dim,)]


def test_uniform_init_starts_at_beta_zero():
    net = SignedDiagonal(4, 3)
    w = net.uniform_init(0.5)
    assert w.shape == (8,) and np.all(w == 0.5) and np.all(net.predictor(w) == 0)
    W = net.uniform_init([1e-3, 2.0, 100.0])
    assert W.shape == (3, 8) and np.all(net.predictor(W) == 0)
    np.testing.assert_allclose(np.linalg.norm(W, axis=1), np.array([1e-3, 2.0, 100.0]) * np.sqrt(8))
    # the tangent kernel at u = v = alpha 1 is 2 L^2 alpha^(2L-2) I: isotropic, a linear kernel
    alpha = 1.3
    J = np.stack([net.vjp(net.uniform_init(alpha), e) for e in np.eye(4)])  # rows: gradients of beta_d
    np.testing.assert_allclose(J @ J.T, 2 * 9 * alpha**4 * np.eye(4), rtol=1e-12)


@pytest.mark.parametrize("bad", [0.0, -1.0, [1.0, 0.0], np.nan, [[1.0]], "a", []])
def test_uniform_init_rejects_bad_alpha(bad):
    with pytest.raises((IbcoreValueError, IbcoreTypeError)):
        SignedDiagonal(3, 2).uniform_init(bad)


def test_constant_schedule_is_the_engine_of_ibcore_train():
    # an independent computation: ibcore.train.gradient_descent on the same net and start (beta(0) != 0)
    X, y = gaussian(4, 5, seed=1)
    net = SignedDiagonal(5, 2)
    w0 = net.init(3)
    a = descent_path(net, X, y, init=w0, steps=300, lr=0.05, schedule="constant", record=10)
    b = gradient_descent(net, X, y, steps=300, lr=0.05, init=w0, record=10, progress=False)
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.log_loss, b.log_loss, rtol=1e-10)
    np.testing.assert_array_equal(a.history["iteration"], b.history["iteration"])


@pytest.mark.parametrize("depth", [2, 3])
def test_gradient_flow_invariants_from_uniform_init(depth):
    # Gradient flow conserves log u + log v (L = 2) and u^(2-L) + v^(2-L) (L >= 3) per coordinate, since
    # u' = L u^(L-1) r, v' = -L v^(L-1) r.  Constant steps drift by O(eta^2 t r^2): for L = 2 exactly
    # u v <- u v (1 - 4 eta^2 r^2) per step, about 2e-4 here (3e-3 was seen at eta = 1e-3).
    X, y = gaussian(5, 6, seed=4)
    net = SignedDiagonal(6, depth)
    alpha = 0.7
    run = descent_path(net, X, y, init=net.uniform_init(alpha), steps=2000, lr=2.5e-4, schedule="constant", record=5)
    u, v = net.unflatten(np.exp(run.log_norm_w) * run.w)
    if depth == 2:
        np.testing.assert_allclose(u * v, alpha**2, rtol=1e-3)
    else:
        np.testing.assert_allclose(u ** (2 - depth) + v ** (2 - depth), 2 * alpha ** (2 - depth), rtol=1e-3)
    assert run.history["iteration"][0] == 1  # beta(0) = 0 has no direction and is not recorded
    assert np.all(np.diff(run.history["log_loss"]) < 0)


def test_depth_two_reaches_the_l1_max_margin_and_large_alpha_passes_the_svm():
    X, y = gaussian(5, 8, seed=2)  # the data of chapter 14
    net = SignedDiagonal(8, 2)
    run = descent_path(net, X, y, init=net.uniform_init([0.1, 30.0]), steps=5000, lr=0.02, rate=0.02, T=1000.0,
                       record=np.arange(0, 5001, 5))
    l1, svm = min_l1_margin(X, y), hard_margin_svm(X, y)
    for b in range(2):
        q = polish(run.beta[b], X, y, 1.0, "time", active_tol=1e-2)
        assert q.certified() and q.off_support <= 1 + 1e-6
        assert ibcore.angle(q.beta, l1.beta) <= 1e-6
    # the kernel end: alpha = 30 passes within a degree of the SVM on the way (alpha = 0.1 does not)
    to_svm = ibcore.angle(run.history["beta"], svm.beta)
    assert to_svm[:, 1].min() <= 1.0 and to_svm[:, 0].min() > 5.0
    assert -run.log_loss[1] > 1e10  # far below 1e-100: the loss itself is never formed


def test_loss_clock_first_step_is_small_even_at_large_alpha():
    X, y = gaussian(5, 8, seed=2)
    net = SignedDiagonal(8, 2)
    run = descent_path(net, X, y, init=net.uniform_init(100.0), steps=3, lr=0.02, rate=0.02, record=np.arange(4))
    q = -run.history["log_loss"]
    # log(1/L) starts at -log N; a loss-clock step changes it by at most about rate * max(log(1/L), 1)
    assert abs(q[0] + np.log(5)) <= 0.05


def test_unbatch_rows_equal_single_runs():
    X, y = gaussian(4, 5, seed=1)
    net = SignedDiagonal(5, 2)
    batch = descent_path(net, X, y, init=net.uniform_init([0.5, 2.0]), steps=200, lr=0.02, record=10)
    rows = unbatch(batch)
    for b, alpha in enumerate([0.5, 2.0]):
        single = descent_path(net, X, y, init=net.uniform_init(alpha), steps=200, lr=0.02, record=10)
        np.testing.assert_allclose(rows[b].history["beta"], single.history["beta"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(rows[b].log_loss, single.log_loss, rtol=1e-12)
    assert unbatch(rows[0]) == [rows[0]]


def test_transition_and_settling_on_hand_made_arrays():
    q = np.array([-1.0, 1.0, 10.0, 100.0, 1000.0])
    to_kernel = np.array([1.0, 1.0, 3.0, 20.0, 30.0])
    to_rich = np.array([30.0, 29.0, 3.0, 1.0, 0.5])
    # the difference to_kernel - to_rich is -28, 0 at q = 10: the crossing is exactly at 10
    assert transition_loss(q, to_kernel, to_rich) == pytest.approx(10.0)
    # halfway (in log q) between 10 and 100 when the difference goes from -2 to +2
    assert transition_loss(q, to_kernel, [30.0, 29.0, 5.0, 18.0, 0.5]) == pytest.approx(np.sqrt(1000.0))
    both = transition_loss(np.stack([q, q], 1), np.stack([to_kernel, 40 + 0 * q], 1), np.stack([to_rich, 0 * q], 1))
    assert both[0] == pytest.approx(10.0) and np.isnan(both[1])  # the second starts rich
    assert transition_loss(q, 0 * q, 1 + 0 * q) == np.inf
    assert settling_loss(q, to_rich, 1.0) == 100.0  # 1.0 is not above the threshold
    assert settling_loss(q, [0.1, 2.0, 0.5, 0.5, 0.5], 1.0) == 10.0
    assert settling_loss(q, to_rich, 0.1) == np.inf
    assert settling_loss(q, 0 * q, 1.0) == -1.0


def test_bad_inputs_raise_clear_errors():
    X, y = gaussian(4, 5, seed=1)
    net = SignedDiagonal(5, 2)
    w = net.uniform_init(1.0)
    with pytest.raises(IbcoreValueError, match="schedule"):
        descent_path(net, X, y, init=w, steps=10, lr=0.1, schedule="angular")
    with pytest.raises(ShapeError):
        descent_path(net, X, y, init=w[:-1], steps=10, lr=0.1)
    with pytest.raises(ShapeError):
        descent_path(SignedDiagonal(6, 2), X, y, init=SignedDiagonal(6, 2).uniform_init(1.0), steps=10, lr=0.1)
    with pytest.raises(IbcoreTypeError):
        descent_path("net", X, y, init=w, steps=10, lr=0.1)
    with pytest.raises(IbcoreValueError):
        descent_path(net, X, y, init=w, steps=10, lr=-0.1)
    with pytest.raises(IbcoreValueError):
        descent_path(net, X, y, init=w, steps=10, lr=0.1, rate=0.0)
    with pytest.raises(NotSeparableError):
        descent_path(net, np.vstack([X[0], X[0]]), np.array([1.0, -1.0]), init=w, steps=10, lr=0.1)
    with pytest.raises(DivergenceError):
        descent_path(net, X, y, init=net.init(0, scale=3.0), steps=50, lr=10.0, schedule="constant")
    with pytest.raises(IbcoreValueError, match="zero"):  # w = 0 has no direction
        descent_path(net, X, y, init=np.zeros(10), steps=10, lr=0.1)
    with pytest.raises(IbcoreValueError, match="stayed exactly zero"):  # steps too small to move u off v
        descent_path(net, X, y, init=w, steps=1, lr=1e-300, schedule="constant")
    with pytest.raises(IbcoreTypeError):
        unbatch("run")
    with pytest.raises(ShapeError):
        transition_loss(np.ones(3), np.ones(4), np.ones(3))
    with pytest.raises(ShapeError):
        settling_loss(np.ones(3), np.ones(4), 1.0)
    with pytest.raises(IbcoreValueError):
        settling_loss(np.ones(3), np.ones(3), 0.0)
    assert isinstance(Diagonal(5, 2), ibcore.nets.Parameterization)  # the contract SignedDiagonal shares
