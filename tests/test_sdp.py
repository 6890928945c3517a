"""ibcore.sdp: the representation-cost programs against their closed forms and each other,
the duality certificate against the solver, Fejér–Riesz factors, and failures."""

import cvxpy as cp
import numpy as np
import pytest

import ibcore
from ibcore import sdp
from ibcore.data import gaussian
from ibcore.errors import IbcoreTypeError, IbcoreValueError, NotSeparableError, ShapeError, SolverError
from ibcore.limits import hard_margin_svm, min_fourier_l1_margin
from ibcore.local import MultiChannelConvolutional
from ibcore.nets import Convolutional, Diagonal
from ibcore.train import gradient_descent

#: Clarabel stops at relative gap 1e-8; values of these well-scaled SDPs agree with
#: their closed forms to about 1e-9, and we allow 1e-6.
VALUE_TOL = 1e-6


def _fourier_group(beta, R):
    return np.sum(np.linalg.norm(np.fft.fft(beta.reshape(R, -1), norm="ortho", axis=1), axis=0))


@pytest.mark.parametrize("net", [Convolutional(8, 2, kernel_size=3), Convolutional(6, 2, kernel_size=6),
                                 MultiChannelConvolutional(6, 2, 3, in_channels=2)], ids=repr)
def test_operator_lift_and_adjoint(net):
    R = getattr(net, "in_channels", 1)
    D = net.dim // R
    w = net.init(1)
    A = sdp.conv_operator(D, net.kernel_size, R)
    Z = sdp.lift(net, w)
    np.testing.assert_allclose(A @ Z.ravel(), net.predictor(w), rtol=1e-12, atol=1e-14)
    z = np.random.default_rng(2).standard_normal(net.dim)
    np.testing.assert_allclose(sdp.adjoint(z, net.kernel_size, R).ravel(), A.T @ z, rtol=1e-13, atol=1e-15)


def test_dual_norm_closed_forms():
    rng = np.random.default_rng(0)
    z = rng.standard_normal(8)
    assert np.isclose(sdp.dual_norm(z, 8), np.max(np.abs(np.fft.fft(z, norm="ortho"))), rtol=1e-12)
    assert np.isclose(sdp.dual_norm(z, 1), np.linalg.norm(z) / np.sqrt(8), rtol=1e-12)
    z2 = rng.standard_normal(12)  # R = 2, D = 6
    spec = np.fft.fft(z2.reshape(2, 6), norm="ortho", axis=1)
    assert np.isclose(sdp.dual_norm(z2, 6, 2), np.max(np.linalg.norm(spec, axis=0)), rtol=1e-12)
    assert np.isclose(sdp.dual_norm(z2, 1, 2), np.linalg.norm(z2.reshape(2, 6).T, 2) / np.sqrt(6), rtol=1e-12)


def test_conv_norm_ends_and_monotone_in_kernel_size():
    beta = np.random.default_rng(1).standard_normal(8)
    values = [sdp.conv_norm(beta, K)[0] for K in range(1, 9)]
    assert abs(values[0] / (np.sqrt(8) * np.linalg.norm(beta)) - 1) <= VALUE_TOL
    assert abs(values[-1] / np.sum(np.abs(np.fft.fft(beta, norm="ortho"))) - 1) <= VALUE_TOL
    assert np.all(np.diff(values) <= VALUE_TOL * values[0])  # a larger kernel can only help


@pytest.mark.parametrize("K", [2, 3, 5])
def test_two_sdps_agree_and_one_channel_attains_them(K):
    beta = np.random.default_rng(K).standard_normal(8)
    nuclear, Z = sdp.conv_norm(beta, K)
    power, Q = sdp.filter_power_norm(beta, K)
    assert abs(nuclear / power - 1) <= VALUE_TOL
    w = sdp.single_channel_weights(beta, Q)
    net = Convolutional(8, 2, kernel_size=K)
    np.testing.assert_allclose(net.predictor(w), beta, atol=1e-10)
    assert abs((w @ w) / 2 / power - 1) <= VALUE_TOL


def test_multichannel_ends():
    beta = np.random.default_rng(5).standard_normal(12)  # R = 2, D = 6
    one, _ = sdp.conv_norm(beta, 1, 2)
    full, _ = sdp.conv_norm(beta, 6, 2)
    assert abs(one / (np.sqrt(6) * np.linalg.norm(beta.reshape(2, 6).T, "nuc")) - 1) <= VALUE_TOL
    assert abs(full / _fourier_group(beta, 2) - 1) <= VALUE_TOL


def test_spectral_factor_merges_channels():
    rng = np.random.default_rng(3)
    u = rng.standard_normal((3, 4))
    r = sum(np.correlate(v, v, mode="full")[3:] for v in u)  # three channels' summed autocorrelation
    f = sdp.spectral_factor(r)
    np.testing.assert_allclose(np.correlate(f, f, mode="full")[3:], r, rtol=1e-9, atol=1e-9 * r[0])
    np.testing.assert_allclose(sdp.autocorrelation(u.T @ u), r, rtol=1e-12)
    with pytest.raises(SolverError):
        sdp.spectral_factor([1.0, 0.9, 0.8])  # 1 + 1.8 cos t + 1.6 cos 2t = -0.6 at t = pi/2: not a power spectrum
    with pytest.raises(IbcoreValueError):
        sdp.spectral_factor([0.0, 1.0])


def test_margin_references_at_the_ends():
    X, y = gaussian(5, 8, seed=2)
    one = sdp.min_conv_norm_margin(X, y, 1)
    full = sdp.min_conv_norm_margin(X, y, 8)
    # interior-point predictors are accurate to ~1e-3 degrees here; the references are polished
    assert ibcore.angle(one.beta, hard_margin_svm(X, y).beta) <= 0.01
    assert ibcore.angle(full.beta, min_fourier_l1_margin(X, y).beta) <= 0.01
    for ref in (one, full):
        # the solver's point may violate a margin by ~1e-9, so its float64 gap may be slightly negative
        assert abs(np.sum(ref.alpha) / ref.value - 1) <= VALUE_TOL and -1e-7 <= ref.gap <= 1e-6
        assert np.min(y * (X @ ref.beta)) >= 1 - 1e-7


def test_multichannel_margin_references_match_closed_forms():
    X, y = gaussian(10, 16, seed=0)
    for K, closed in [(1, sdp.min_nuclear_margin), (8, sdp.min_fourier_group_margin)]:
        a, b = sdp.min_conv_norm_margin(X, y, K, in_channels=2), closed(X, y, in_channels=2)
        assert abs(a.value / b.value - 1) <= VALUE_TOL
        assert ibcore.angle(a.beta, b.beta) <= 0.01


def test_duality_certificate_of_gradient_descent():
    X, y = gaussian(5, 8, seed=2)
    net = Convolutional(8, 2, kernel_size=3)
    run = gradient_descent(net, X, y, steps=6000, lr=0.1, schedule="angular", T=100.0,
                           init=net.init(1, batch=2), progress=False)
    ref = sdp.min_conv_norm_margin(X, y, 3)
    for c in sdp.polish_and_certify(net, run.w, X, y):
        assert c.certified(1e-9) and abs(c.sigma_max - 1) <= 1e-9
        assert ibcore.angle(c.beta, ref.beta) <= 0.01
        assert abs(np.linalg.norm(sdp.lift(net, c.w), "nuc") / ref.value - 1) <= VALUE_TOL
    # weak duality: any alpha >= 0 bounds the optimum from below, the raw weights from above
    raw = sdp.duality_certificate(net, run.w[0], X, y, alpha=np.random.default_rng(0).random(5))
    assert raw.dual <= ref.value * (1 + VALUE_TOL) and ref.value <= raw.primal * (1 + VALUE_TOL) and raw.gap > 0


def test_bad_inputs():
    X, y = gaussian(5, 8, seed=2)
    with pytest.raises(IbcoreValueError):
        sdp.conv_operator(4, 5)
    with pytest.raises(ShapeError):
        sdp.adjoint(np.ones(7), 2, in_channels=2)
    with pytest.raises(ShapeError):
        sdp.conv_norm(np.ones(7), 1, in_channels=2)
    with pytest.raises(IbcoreTypeError):
        sdp.lift(Diagonal(8, 2), np.ones(16))
    # the full-width net is the case K = D of the same program
    w_full = Convolutional(8, 2).init(3)
    np.testing.assert_array_equal(sdp.lift(Convolutional(8, 2), w_full), np.outer(w_full[:8], w_full[8:]))
    with pytest.raises(IbcoreValueError):
        sdp.lift(Convolutional(8, 3, kernel_size=2), np.ones(12))
    with pytest.raises(IbcoreTypeError):
        sdp.duality_certificate(Diagonal(8, 2), np.ones(16), X, y)
    with pytest.raises(IbcoreValueError, match="depth-two"):
        sdp.duality_certificate(Convolutional(8, 3), np.ones(24), X, y)
    net = Convolutional(8, 2, kernel_size=2)
    w = gradient_descent(net, X, y, steps=200, lr=0.1, schedule="angular", progress=False).w
    with pytest.raises(IbcoreValueError, match="non-negative"):
        sdp.duality_certificate(net, w, X, y, alpha=-np.ones(5))
    with pytest.raises(ShapeError):
        sdp.duality_certificate(net, w, X, y, alpha=np.ones(4))
    with pytest.raises(NotSeparableError):
        sdp.min_conv_norm_margin(np.vstack([X, X[:1]]), np.concatenate([y, -y[:1]]), 2)


def test_solver_failures_raise_solver_error(monkeypatch):
    X, y = gaussian(5, 8, seed=2)

    def broken(self, *args, **kwargs):
        raise cp.error.SolverError("simulated")

    monkeypatch.setattr(cp.Problem, "solve", broken)
    with pytest.raises(SolverError, match="Clarabel failed"):
        sdp.min_conv_norm_margin(X, y, 3)
    monkeypatch.undo()

    def infeasible(self, *args, **kwargs):
        self._status = cp.INFEASIBLE

    monkeypatch.setattr(cp.Problem, "solve", infeasible)
    with pytest.raises(SolverError, match="status 'infeasible'"):
        sdp.conv_norm(np.ones(8), 3)


def test_frequency_norms_sum_to_the_group_objective():
    rng = np.random.default_rng(3)
    B = rng.standard_normal((3, 8))  # 3 channels of length 8
    norms = sdp.frequency_norms(B.ravel(), 3)
    by_hand = np.sqrt(sum(np.abs(np.fft.fft(b) / np.sqrt(8)) ** 2 for b in B))
    np.testing.assert_allclose(norms, by_hand, rtol=1e-12)
    # Parseval over frequencies and channels
    assert np.isclose(np.sum(norms**2), np.sum(B**2), rtol=1e-12)
    with pytest.raises(ShapeError, match="multiple of in_channels"):
        sdp.frequency_norms(np.ones(7), 3)
