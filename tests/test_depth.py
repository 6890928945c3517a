"""ibcore.depth: depth sweeps polished and certified; counting stationary points by support and
penalty (with round-off off the support ignored); constant steps beside the angular schedule;
the real Fourier basis; the dual vector of a certificate.

Three kinds of test, as elsewhere: hand-solvable cases (the two-dimensional quasi-norm example
with three stationary points, D = 2 where the DFT is real), seeded runs checked against an
independent solver (depth-2 diagonal network vs the LP), and invariants (orthogonality, the
stationarity equation on the support).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import ibcore
from ibcore.data import gaussian
from ibcore.depth import (
    PENALTY_RTOL,
    constant_beside_angular,
    depth_sweep,
    distinct_stationary_points,
    dual_vector,
    real_fourier_basis,
    support_penalty,
)
from ibcore.errors import IbcoreTypeError, IbcoreValueError
from ibcore.experiments import SweepRun
from ibcore.fourier import dft, idft
from ibcore.limits import bridge_certificate, min_l1_margin, polish
from ibcore.nets import Convolutional, Diagonal

# One sample x = (2, 1), y = +1, p = 2/3: stationary points A = (1/2, 0), B = (0, 1), C = (1/10, 4/5).
X_TOY, Y_TOY = np.array([[2.0, 1.0]]), np.array([1.0])
TOY = {"A": (0.5, 0.0), "B": (0.0, 1.0), "C": (0.1, 0.8)}


@pytest.fixture(scope="module")
def data8():
    return gaussian(5, 8, seed=2)


@pytest.fixture(scope="module")
def diagonal_sweep(data8):
    X, y = data8
    return depth_sweep("diagonal", X, y, (2, 3), steps=3000, batch=6)


def toy_certificates():
    return {name: bridge_certificate(np.array(point), X_TOY, Y_TOY, 2 / 3, "time") for name, point in TOY.items()}


# --------------------------------------------------------------------------- support_penalty


def test_support_penalty_is_the_penalty_when_there_is_no_round_off():
    for name, c in toy_certificates().items():
        assert c.certified(tol=1e-12), name
        assert support_penalty(c) == pytest.approx(c.penalty, rel=1e-15)
    values = {name: support_penalty(c) for name, c in toy_certificates().items()}
    assert values["A"] == pytest.approx(0.5 ** (2 / 3)) and values["B"] == pytest.approx(1.0)
    assert values["C"] == pytest.approx(0.1 ** (2 / 3) + 0.8 ** (2 / 3))


def test_support_penalty_ignores_round_off_that_the_full_penalty_magnifies():
    """|1e-14|^(1/3) ~ 2e-5 off the support would move a full sum; both penalties sum over the support."""
    dim = 8
    spectrum = np.zeros(dim, complex)
    spectrum[[2, 6]] = [1.0 + 0.5j, 1.0 - 0.5j]
    spectrum[0] = 0.7
    beta = np.real(idft(spectrum))
    X = np.stack([beta, np.roll(beta, 3)])
    y = np.array([1.0, 1.0 if beta @ np.roll(beta, 3) > 0 else -1.0])
    clean = bridge_certificate(beta, X, y, 1 / 3, "fourier")
    noisy = bridge_certificate(beta + 1e-14 * np.random.default_rng(0).standard_normal(dim), X, y, 1 / 3, "fourier")
    assert np.array_equal(noisy.support, clean.support)
    full = lambda c: float(np.sum(np.abs(dft(c.beta)) ** c.p))  # noqa: E731  the sum over all frequencies
    assert abs(full(noisy) - full(clean)) > 1e-6 * full(clean)  # the artefact a full sum would show
    assert noisy.penalty == pytest.approx(clean.penalty, rel=1e-12)
    assert support_penalty(noisy) == pytest.approx(support_penalty(clean), rel=1e-12)
    assert support_penalty(noisy) == pytest.approx(noisy.penalty, rel=1e-15)


def test_support_penalty_rejects_non_certificates():
    with pytest.raises(IbcoreTypeError):
        support_penalty(np.ones(3))


# --------------------------------------------------------------------------- distinct_stationary_points


def test_distinct_points_of_the_two_dimensional_example():
    c = toy_certificates()
    points = distinct_stationary_points([c["C"], c["A"], None, c["B"], c["A"]])
    assert [p.count for p in points] == [2, 1, 1]
    assert [p.members for p in points] == [(1, 4), (3,), (0,)]  # sorted by penalty: A < B < C
    assert [int(p.support.sum()) for p in points] == [1, 1, 2]
    assert np.all(np.diff([p.penalty for p in points]) > 0)


def test_distinct_points_skip_uncertified_and_moved_points(data8):
    X, y = data8
    reference = min_l1_margin(X, y)
    exact = polish(reference.beta, X, y, 1.0, "time")
    assert exact.certified()
    far = dataclasses.replace(exact, moved_deg=2.0)             # certified equations, but moved too far
    broken = dataclasses.replace(exact, residual=1e-3)          # equations not solved
    points = distinct_stationary_points([far, broken, exact, exact])
    assert len(points) == 1 and points[0].members == (2, 3)
    assert distinct_stationary_points([far], max_moved_deg=5.0)[0].members == (0,)
    with pytest.raises(IbcoreTypeError):
        distinct_stationary_points([exact, "not a certificate"])


def test_distinct_points_group_by_penalty_within_rtol(data8):
    X, y = data8
    exact = polish(min_l1_margin(X, y).beta, X, y, 1.0, "time")
    shifted = dataclasses.replace(exact, beta=exact.beta * (1 + 10 * PENALTY_RTOL))  # same support, other value
    nudged = dataclasses.replace(exact, beta=exact.beta * (1 + 0.1 * PENALTY_RTOL))
    assert len(distinct_stationary_points([exact, nudged])) == 1
    assert len(distinct_stationary_points([exact, shifted])) == 2


# --------------------------------------------------------------------------- depth_sweep


def test_depth_sweep_depth_two_diagonal_is_the_l1_max_margin(diagonal_sweep, data8):
    X, y = data8
    reference = min_l1_margin(X, y)
    s = diagonal_sweep[2]
    assert isinstance(s, SweepRun) and (s.p, s.domain, s.depth) == (1.0, "time", 2)
    assert s.run.beta.shape == (6, 8) and len(s.polished) == 6
    assert s.certified().all()
    assert all(q.off_support <= 1 + 1e-6 for q in s.polished)
    assert max(ibcore.angle(q.beta, reference.beta) for q in s.polished) <= 1e-6
    assert len(distinct_stationary_points(s.polished)) == 1


def test_depth_sweep_depth_three_diagonal_limits_are_certified_stationary_points(diagonal_sweep, data8):
    X, y = data8
    s = diagonal_sweep[3]
    assert s.p == pytest.approx(2 / 3) and s.domain == "time"
    certified = [q for q in s.polished if q is not None and q.certified()]
    assert len(certified) >= 5
    for q in certified:  # the stationarity equation on the support, independently of the certificate's residual
        z = dual_vector(q, X, y)
        v = q.beta[q.support]
        np.testing.assert_allclose(z[q.support], np.abs(v) ** (q.p - 2) * v, rtol=1e-8)
    points = distinct_stationary_points(s.polished)
    members = sorted(i for p in points for i in p.members)
    assert members == [i for i, q in enumerate(s.polished) if q is not None and q.certified()]


def test_depth_sweep_conv_depth_three_reaches_several_certified_points(data8):
    X, y = data8
    s = depth_sweep("convolutional", X, y, (3,), steps=3000, batch=8)[3]
    assert s.domain == "fourier" and s.certified().sum() >= 7
    points = distinct_stationary_points(s.polished)
    assert len(points) >= 2  # on these data: the pair k = 2, 6 and the triple k = 0, 2, 6
    assert points[1].penalty > (1 + 1e-3) * points[0].penalty


def test_depth_sweep_records_a_failed_polish_as_none(data8):
    """Two steps from a random start: the directions do not separate the data, polish refuses."""
    X, y = data8
    s = depth_sweep("convolutional", X, y, (4,), steps=2, batch=3)[4]
    assert any(q is None for q in s.polished)
    assert not s.certified()[[q is None for q in s.polished]].any()


def test_depth_sweep_validates_its_arguments(data8):
    X, y = data8
    with pytest.raises(IbcoreValueError):
        depth_sweep("recurrent", X, y)
    with pytest.raises(IbcoreValueError):
        depth_sweep("diagonal", X, y, ())
    with pytest.raises(IbcoreValueError):
        depth_sweep("diagonal", X, y, (0,))


# --------------------------------------------------------------------------- constant_beside_angular


def test_constant_steps_follow_the_angular_path_up_to_order_eta(data8):
    """The gap at equal loss is the O(eta) error of constant steps: halving eta about halves it."""
    X, y = data8
    net = Convolutional(8, 2)
    gaps = []
    for eta, steps in [(0.02, 1500), (0.01, 3000)]:
        c = constant_beside_angular(net, X, y, net.init(3), constant_steps=steps, constant_lr=eta,
                                    angular_steps=600, angular_lr=0.005)
        assert c.log_loss.size >= 50
        assert c.constant.schedule == "constant" and c.angular.schedule == "angular"
        assert np.all(np.diff(c.angular.history["iteration"]) == 1)  # recorded at every step
        gaps.append(c.angles.max())
    assert gaps[1] <= 0.5 and gaps[1] <= 0.7 * gaps[0]


def test_constant_beside_angular_validates(data8):
    X, y = data8
    with pytest.raises(IbcoreTypeError):
        constant_beside_angular("net", X, y, np.ones(16))


# --------------------------------------------------------------------------- real_fourier_basis


@pytest.mark.parametrize("dim", [1, 2, 3, 4, 7, 8, 9])
def test_real_fourier_basis_is_orthogonal_and_reads_off_the_dft(dim):
    Q, labels = real_fourier_basis(dim)
    assert Q.shape == (dim, dim) and len(labels) == dim and len(set(labels)) == dim
    np.testing.assert_allclose(Q @ Q.T, np.eye(dim), atol=1e-14)
    z = np.random.default_rng(dim).standard_normal(dim)
    coords, spec = dict(zip(labels, Q @ z)), dft(z)
    assert coords["0"] == pytest.approx(spec[0].real)
    for k in range(1, (dim + 1) // 2):
        assert coords[f"c{k}"] == pytest.approx(np.sqrt(2) * spec[k].real)
        assert coords[f"s{k}"] == pytest.approx(np.sqrt(2) * spec[k].imag)
        assert np.hypot(coords[f"c{k}"], coords[f"s{k}"]) / np.sqrt(2) == pytest.approx(abs(spec[dim - k]))
    if dim % 2 == 0 and dim > 1:
        assert coords[str(dim // 2)] == pytest.approx(spec[dim // 2].real)


def test_for_dim_two_the_conv_net_is_the_diagonal_net_on_transformed_data():
    """The DFT is real for D = 2: P_conv(w) = Q^T P_diag(Q w_1, ..., Q w_L) exactly."""
    Q, _ = real_fourier_basis(2)
    np.testing.assert_allclose(Q, np.real(np.fft.fft(np.eye(2), norm="ortho")), atol=1e-15)
    conv, diag = Convolutional(2, 3), Diagonal(2, 3)
    w = conv.init(5, batch=4)
    v = diag.flatten([layer @ Q.T for layer in conv.unflatten(w)])
    np.testing.assert_allclose(conv.predictor(w), diag.predictor(v) @ Q, atol=1e-15)


def test_for_dim_eight_the_real_diagonal_net_is_not_the_conv_net():
    Q, _ = real_fourier_basis(8)
    conv, diag = Convolutional(8, 2), Diagonal(8, 2)
    w = conv.init(5)
    v = diag.flatten([Q @ layer for layer in conv.unflatten(w)])
    assert ibcore.angle(conv.predictor(w), Q.T @ diag.predictor(v)) > 1.0


# --------------------------------------------------------------------------- dual_vector


def test_dual_vector_on_the_support_and_its_validation(data8):
    X, y = data8
    from ibcore.limits import min_fourier_l1_margin

    ref = min_fourier_l1_margin(X, y)
    c = bridge_certificate(ref.beta, X, y, 1.0, "fourier")
    z = dual_vector(c, X, y)
    assert np.iscomplexobj(z)
    np.testing.assert_allclose(np.abs(z[c.support]), 1.0, atol=1e-8)
    assert np.max(np.abs(z[~c.support])) <= 1 + 1e-6
    with pytest.raises(IbcoreValueError):
        dual_vector(c, X[:, :4], y)
    with pytest.raises(IbcoreTypeError):
        dual_vector("certificate", X, y)
