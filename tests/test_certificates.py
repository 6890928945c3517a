"""Tests of ibcore.certificates: KKT certificates in predictor and parameter space, and polish.

The tests pass on certificates, and check that certificates can fail: a point
rotated by one degree is not certified, a random parameter vector is not a KKT
point.  Reference points come from ibcore.references and, where it matters that
nothing is circular, from independent solvers (Lawson-Hanson NNLS for the SVM,
HiGHS for the LP).  Exact parameter-space KKT points are built by hand from
predictor-space solutions (balanced square and cube roots).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.optimize import linprog, nnls

from ibcore import angle
from ibcore import polish as polish_module
from ibcore.errors import IbcoreTypeError, IbcoreValueError, ShapeError, SolverError
from ibcore.fourier import dft, dft_matrix
from ibcore.limits import (
    Certificate,
    KKTCertificate,
    KKTPolished,
    Polished,
    bridge_certificate,
    hard_margin_svm,
    kkt_certificate,
    min_fourier_l1_margin,
    min_l1_margin,
    polish,
)
from ibcore.nets import Convolutional, Diagonal, FullyConnected

SEEDS = [0, 1, 2]
CASES = [  # (reference, p, domain)
    (hard_margin_svm, 2.0, "time"),
    (min_l1_margin, 1.0, "time"),
    (min_fourier_l1_margin, 1.0, "fourier"),
]
# References are polished to round-off (residuals ~1e-15), so 1e-10 leaves five
# orders of magnitude for the conditioning of the active columns.
TIGHT = 1e-10


def gaussian_set(seed: int, n_samples: int = 5, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """N < D Gaussian points with random labels: separable with probability one."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, dim))
    y = np.where(rng.standard_normal(n_samples) > 0, 1.0, -1.0)
    return X, y


def rotate(beta: np.ndarray, degrees: float, seed: int) -> np.ndarray:
    """beta turned by exactly ``degrees`` towards a random orthogonal direction."""
    u = beta / np.linalg.norm(beta)
    r = np.random.default_rng(seed).standard_normal(beta.size)
    r -= (r @ u) * u
    r /= np.linalg.norm(r)
    t = np.radians(degrees)
    return np.linalg.norm(beta) * (np.cos(t) * u + np.sin(t) * r)


# ---------------------------------------------------------------- (a) references are certified


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reference, p, domain", CASES)
def test_references_are_certified(reference, p, domain, seed):
    X, y = gaussian_set(seed)
    ref = reference(X, y)
    cert = bridge_certificate(ref.beta, X, y, p, domain)
    assert isinstance(cert, Certificate)
    assert cert.certified(TIGHT) and cert.ok
    assert cert.residual <= TIGHT and cert.alpha_nonneg and cert.alpha_min >= 0
    np.testing.assert_allclose(cert.beta, ref.beta, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(cert.alpha, ref.alpha, rtol=1e-8, atol=1e-10)  # unique duals, N < D
    assert np.all(cert.alpha[~cert.active] == 0)
    assert abs(np.min(y * (X @ cert.beta)) - 1) <= 1e-14
    # Euler: sum(alpha) = <z, beta> = R_p(beta) at a KKT point, margin 1.
    assert abs(cert.alpha.sum() - cert.penalty) <= 1e-10 * cert.penalty
    if p == 1:
        assert cert.off_support is not None and cert.off_support < 1
    else:
        assert cert.off_support is None


def test_fourier_support_is_conjugate_symmetric():
    X, y = gaussian_set(0)
    cert = bridge_certificate(min_fourier_l1_margin(X, y).beta, X, y, 1, "fourier")
    np.testing.assert_array_equal(cert.support, np.roll(cert.support[::-1], 1))
    assert not cert.support.all()  # sparse in frequency


def test_independent_svm_is_certified():
    # Lawson-Hanson least-distance programming: one NNLS, no cvxpy, no polish.
    X, y = gaussian_set(3)
    G = y[:, None] * X
    E = np.vstack([G.T, np.ones((1, len(y)))])
    f = np.zeros(X.shape[1] + 1)
    f[-1] = 1
    u, _ = nnls(E, f)
    r = E @ u - f
    assert bridge_certificate(-r[:-1] / r[-1], X, y, 2, "time").certified(TIGHT)


def test_independent_l1_vertex_is_certified():
    # A simplex vertex from HiGHS, exact to round-off; p = 1 includes the off-support check.
    X, y = gaussian_set(4)
    G, D = y[:, None] * X, X.shape[1]
    res = linprog(np.ones(2 * D), A_ub=-np.hstack([G, -G]), b_ub=-np.ones(len(y)), bounds=(0, None), method="highs")
    cert = bridge_certificate(res.x[:D] - res.x[D:], X, y, 1, "time")
    assert cert.certified(TIGHT) and cert.off_support < 1


@pytest.mark.parametrize("scale", [1e-200, 1e200, -1.0])
def test_certificate_ignores_scale_but_not_sign(scale):
    X, y = gaussian_set(1)
    beta = min_fourier_l1_margin(X, y).beta
    if scale < 0:
        with pytest.raises(IbcoreValueError, match="does not separate"):
            bridge_certificate(scale * beta, X, y, 1, "fourier")
        return
    cert = bridge_certificate(scale * beta, X, y, 1, "fourier")
    assert cert.certified(TIGHT)
    np.testing.assert_allclose(cert.beta, beta, rtol=1e-12)


def test_batched_input_gives_one_certificate_each():
    X, y = gaussian_set(0)
    beta = hard_margin_svm(X, y).beta
    certs = bridge_certificate(np.stack([beta, 3 * beta]), X, y, 2, "time")
    assert len(certs) == 2 and all(c.certified(TIGHT) for c in certs)


def test_certificates_are_frozen():
    X, y = gaussian_set(0)
    cert = bridge_certificate(hard_margin_svm(X, y).beta, X, y, 2, "time")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cert.residual = 0.0


# ---------------------------------------------------------------- (b) perturbations


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reference, p, domain", CASES)
def test_one_degree_off_is_not_certified(reference, p, domain, seed):
    X, y = gaussian_set(seed)
    beta = rotate(reference(X, y).beta, 1.0, seed + 100)
    cert = bridge_certificate(beta, X, y, p, domain)
    assert not cert.certified() and cert.residual > 1e-3


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reference, p, domain", CASES)
def test_polish_returns_from_a_twentieth_of_a_degree(reference, p, domain, seed):
    X, y = gaussian_set(seed)
    ref = reference(X, y)
    start = rotate(ref.beta, 0.05, seed + 200)
    assert not bridge_certificate(start, X, y, p, domain).certified()
    out = polish(start, X, y, p, domain)
    assert isinstance(out, Polished)
    assert out.certified() and out.residual <= 1e-8
    assert abs(out.moved_deg - 0.05) <= 1e-6
    assert angle(out.beta, ref.beta) <= 1e-8
    np.testing.assert_allclose(out.alpha, ref.alpha, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["time", "fourier"])
def test_a_unitary_matrix_domain_is_the_named_one(name, seed):
    # the same equations in the basis T given as a matrix: the identity is "time", the unitary
    # DFT matrix is "fourier" (whose support rule pairs k with D-k; at these references both
    # rules give the same support, as |beta^| is conjugate symmetric)
    X, y = gaussian_set(seed)
    p = 1.0
    ref = (min_l1_margin if name == "time" else min_fourier_l1_margin)(X, y)
    T = np.eye(8) if name == "time" else dft_matrix(8)
    start = rotate(ref.beta, 0.05, seed + 300)
    for fn in (bridge_certificate, polish):
        named, matrix = fn(start, X, y, p, name), fn(start, X, y, p, T)
        assert matrix.domain == "matrix" and named.domain == name
        np.testing.assert_array_equal(matrix.support, named.support)
        np.testing.assert_array_equal(matrix.active, named.active)
        np.testing.assert_allclose(matrix.beta, named.beta, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(matrix.alpha, named.alpha, rtol=1e-7, atol=1e-9)
        assert matrix.certified() == named.certified() == (fn is polish)


def test_a_real_orthogonal_domain_certifies_sparsity_in_that_basis():
    # min ||Q beta||_1 s.t. margins >= 1 for a random rotation Q is min l1 of the rotated data
    X, y = gaussian_set(4)
    Q = np.linalg.qr(np.random.default_rng(9).standard_normal((8, 8)))[0]
    rotated = min_l1_margin(X @ Q.T, y)  # beta' = Q beta, features X Q^T
    beta = Q.T @ rotated.beta
    cert = polish(rotate(beta, 0.05, 1), X, y, 1.0, Q)
    assert cert.certified() and angle(cert.beta, beta) <= 1e-8
    assert not bridge_certificate(beta, X, y, 1.0, "time").certified()


def test_polish_of_an_exact_point_does_not_move():
    X, y = gaussian_set(1)
    ref = min_fourier_l1_margin(X, y)
    out = polish(ref.beta, X, y, 1, "fourier")
    assert out.certified(TIGHT) and out.moved_deg <= 1e-9 and out.active_swaps == 0


def test_polish_far_from_any_stationary_point_moves_and_is_not_certified():
    # From 10 degrees off, the kept support is wrong: the stationarity system has no solution there.
    X, y = gaussian_set(0)
    start = rotate(min_l1_margin(X, y).beta, 10.0, 7)
    out = polish(start, X, y, 1, "time")
    assert not out.certified(max_moved_deg=180) and out.residual > 1e-2


# ---------------------------------------------------------------- (c) a non-convex case, p = 2/3


def stationary_two_thirds(domain: str):
    """Polish the ℓ1 (time) or Fourier-ℓ1 solution for p = 2/3 on its support.

    Seeds chosen so that polishing succeeds.  In time (seed 2) the ℓ1 solution is an
    LP vertex (|support| = |active|): the margins pin beta on its support, so it is
    stationary for every p < 1 as soon as alpha >= 0, and polish does not move.  In
    Fourier (seed 3) the support has more real degrees of freedom than there are
    active samples, and polish moves several degrees to a genuinely new point.
    """
    X, y = gaussian_set(3 if domain == "fourier" else 2)
    reference = min_fourier_l1_margin if domain == "fourier" else min_l1_margin
    return X, y, polish(reference(X, y).beta, X, y, 2 / 3, domain)


@pytest.mark.parametrize("domain", ["time", "fourier"])
def test_two_thirds_stationary_point_satisfies_kkt_checked_by_hand(domain):
    p = 2 / 3
    X, y, out = stationary_two_thirds(domain)
    T = (lambda b: dft(b)) if domain == "fourier" else (lambda b: b.astype(complex))
    beta, alpha = out.beta, out.alpha
    m = y * (X @ beta)
    v, vz = T(beta), T(X.T @ (alpha * y))
    on = np.abs(v) > 1e-9 * np.max(np.abs(v))
    assert out.certified(TIGHT, max_moved_deg=90)
    assert np.min(m) >= 1 - 1e-12 and np.min(alpha) >= 0
    assert np.all(alpha[m > 1 + 1e-9] == 0)
    np.testing.assert_allclose(vz[on], np.abs(v[on]) ** (p - 2) * v[on], atol=1e-10)
    assert np.max(np.abs(v[~on]), initial=0) <= 1e-12 * np.max(np.abs(v))
    np.testing.assert_array_equal(on, out.support)
    assert abs(alpha.sum() - np.sum(np.abs(v) ** p)) <= 1e-10 * alpha.sum()  # Euler
    assert bridge_certificate(beta, X, y, p, domain).certified(TIGHT)


def test_two_thirds_stationarity_by_finite_differences():
    # Without alpha: along directions that keep the support and the active margins,
    # the derivative of R_p vanishes (central differences, no multipliers).
    p = 2 / 3
    X, y, out = stationary_two_thirds("fourier")
    assert out.moved_deg > 1  # a new point, not the ℓ1 solution
    D = X.shape[1]
    kj = np.outer(np.arange(D), np.arange(D)) * 2 * np.pi / D
    # Orthonormal basis of the real signals whose spectrum lives on the support.
    waves = np.vstack([np.cos(kj[out.support]), np.sin(kj[out.support])]).T
    Q = np.linalg.svd(waves, full_matrices=False)[0][:, : np.linalg.matrix_rank(waves)]
    A = (y[:, None] * X)[out.active] @ Q
    null = np.linalg.svd(A)[2][np.linalg.matrix_rank(A):]
    assert null.shape[0] >= 1
    # R_p summed over the support only: off it the spectrum is round-off, where
    # |.|^p has infinite slope and would swamp the differences with noise.
    penalty = lambda b: np.sum(np.abs(dft(b)[out.support]) ** p)
    h = 1e-5
    for c in null:
        d = Q @ c
        slope = (penalty(out.beta + h * d) - penalty(out.beta - h * d)) / (2 * h)
        assert abs(slope) <= 1e-7 * out.penalty
    # Moving along an active sample's direction instead changes R_p at first order.
    d = Q @ np.linalg.lstsq(A, np.eye(A.shape[0])[0], rcond=None)[0]
    slope = (penalty(out.beta + h * d) - penalty(out.beta - h * d)) / (2 * h)
    assert abs(slope) > 1e-3 * out.penalty


def test_l1_solution_is_not_two_thirds_stationary_in_general():
    X, y = gaussian_set(0)
    beta = min_fourier_l1_margin(X, y).beta
    assert bridge_certificate(beta, X, y, 1, "fourier").certified(TIGHT)
    assert not bridge_certificate(beta, X, y, 2 / 3, "fourier").certified()


# ---------------------------------------------------------------- (d) parameter space (Theorem 3)


def balanced_spectral_roots(beta: np.ndarray, depth: int) -> list[np.ndarray]:
    """Real filters w_1..w_L with w_hat_1 ... w_hat_L = beta_hat and equal moduli |w_hat_l| = |beta_hat|^{1/L}.

    Principal roots are conjugate symmetric except on the negative real axis; the
    self-conjugate frequencies (0, D/2) with beta_hat < 0 get real roots instead:
    -r for every layer when L is odd, and one layer -r, the rest +r, when L is even.
    """
    bhat = dft(beta)
    bhat[np.abs(bhat) <= 1e-12 * np.max(np.abs(bhat))] = 0  # round-off: its roots would not be small
    D = beta.size
    r = np.abs(bhat) ** (1 / depth)
    roots = np.tile(r * np.exp(1j * np.angle(bhat) / depth), (depth, 1))
    for k in {0, D // 2} if D % 2 == 0 else {0}:
        if bhat[k].real < 0:
            roots[:, k] = -r[k] if depth % 2 else r[k]
            if depth % 2 == 0:
                roots[-1, k] = -r[k]
    filters = np.fft.ifft(roots, axis=-1, norm="ortho")
    assert np.max(np.abs(filters.imag)) <= 1e-12 * np.max(np.abs(filters))
    return list(filters.real)


@pytest.mark.parametrize("seed", SEEDS)
def test_diagonal_depth_two_at_l1_solution_is_kkt(seed):
    X, y = gaussian_set(seed)
    ref = min_l1_margin(X, y)
    net = Diagonal(X.shape[1], 2)
    root = np.sqrt(np.abs(ref.beta))
    w = net.flatten([np.sign(ref.beta) * root, root])
    cert = kkt_certificate(net, w, X, y)
    assert isinstance(cert, KKTCertificate) and cert.certified(TIGHT) and cert.ok
    np.testing.assert_allclose(cert.alpha, ref.alpha, rtol=1e-8, atol=1e-10)  # same multipliers as the LP
    assert cert.euler_gap <= 1e-12
    assert abs(cert.sq_norm - 2 * ref.value) <= 1e-12 * ref.value  # ||w||^2 = L ||beta||_1


@pytest.mark.parametrize("seed", SEEDS)
def test_convolutional_depth_two_at_fourier_l1_solution_is_kkt(seed):
    X, y = gaussian_set(seed)
    ref = min_fourier_l1_margin(X, y)
    net = Convolutional(X.shape[1], 2)
    w = net.flatten(balanced_spectral_roots(ref.beta, 2))
    np.testing.assert_allclose(net.predictor(w), ref.beta, atol=1e-12)
    cert = kkt_certificate(net, w, X, y)
    assert cert.certified(TIGHT)
    np.testing.assert_allclose(cert.alpha, ref.alpha, rtol=1e-8, atol=1e-10)
    assert cert.euler_gap <= 1e-12


def test_convolutional_depth_three_at_a_two_thirds_stationary_point_is_kkt():
    # Theorem 2a meets Theorem 3: balanced cube roots of a p = 2/3 stationary point.
    X, y, out = stationary_two_thirds("fourier")
    net = Convolutional(X.shape[1], 3)
    w = net.flatten(balanced_spectral_roots(out.beta, 3))
    cert = kkt_certificate(net, w, X, y)
    assert cert.certified(TIGHT)
    np.testing.assert_allclose(cert.alpha, out.alpha, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
def test_fully_connected_depth_two_at_svm_is_kkt(seed):
    X, y = gaussian_set(seed)
    ref = hard_margin_svm(X, y)
    D, norm = X.shape[1], np.linalg.norm(ref.beta)
    net = FullyConnected(D, 2)
    e = np.zeros(D)
    e[2] = 1.0  # any unit vector: rank one, balanced
    w = net.flatten([np.outer(ref.beta / np.sqrt(norm), e), np.sqrt(norm) * e[:, None]])
    cert = kkt_certificate(net, w, X, y)
    assert cert.certified(TIGHT)
    np.testing.assert_allclose(cert.alpha, ref.alpha / norm, rtol=1e-8, atol=1e-10)
    assert cert.euler_gap <= 1e-12


def test_random_parameters_are_not_kkt():
    X, y = gaussian_set(0)
    net = Diagonal(X.shape[1], 2)
    rng = np.random.default_rng(5)
    for _ in range(20):  # first random w whose predictor separates the data
        w = rng.standard_normal(net.n_params)
        if np.min(y * (X @ net.predictor(w))) > 0:
            break
    else:
        pytest.skip("no separating random draw")
    cert = kkt_certificate(net, w, X, y)
    assert not cert.certified() and cert.residual > 1e-2


def test_kkt_certificate_ignores_scale():
    X, y = gaussian_set(1)
    ref = min_l1_margin(X, y)
    net = Diagonal(X.shape[1], 2)
    root = np.sqrt(np.abs(ref.beta))
    w = net.flatten([np.sign(ref.beta) * root, root])
    for scale in (1e-100, 1e100):
        cert = kkt_certificate(net, scale * w, X, y)
        assert cert.certified(TIGHT)
        np.testing.assert_allclose(cert.w, w, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("net_cls", [Diagonal, Convolutional, FullyConnected])
def test_parameter_polish_returns_to_a_kkt_point(net_cls):
    X, y = gaussian_set(2)
    D = X.shape[1]
    if net_cls is FullyConnected:
        ref = hard_margin_svm(X, y)
        norm, e = np.linalg.norm(ref.beta), np.eye(D)[0]
        net = FullyConnected(D, 2)
        w = net.flatten([np.outer(ref.beta / np.sqrt(norm), e), np.sqrt(norm) * e[:, None]])
    elif net_cls is Convolutional:
        ref = min_fourier_l1_margin(X, y)
        net = Convolutional(D, 2)
        w = net.flatten(balanced_spectral_roots(ref.beta, 2))
    else:
        ref = min_l1_margin(X, y)
        net = Diagonal(D, 2)
        root = np.sqrt(np.abs(ref.beta))
        w = net.flatten([np.sign(ref.beta) * root, root])
    start = rotate(w, 0.05, 11)
    assert not kkt_certificate(net, start, X, y).certified()
    out = polish(net, start, X, y)
    assert isinstance(out, KKTPolished)
    assert out.certified() and out.residual <= 1e-10 and out.moved_deg <= 0.1
    assert angle(net.predictor(out.w), ref.beta) <= 1e-6


# ---------------------------------------------------------------- (e) bad input


@pytest.fixture
def data():
    X, y = gaussian_set(0)
    return X, y, hard_margin_svm(X, y).beta


@pytest.mark.parametrize("p", [0.0, -1.0])
def test_non_positive_p_raises(data, p):
    X, y, beta = data
    with pytest.raises(IbcoreValueError, match="p must be a finite number > 0"):
        bridge_certificate(beta, X, y, p, "time")


def test_p_above_two_raises(data):
    X, y, beta = data
    with pytest.raises(IbcoreValueError, match=r"p must be in \(0, 2\]"):
        polish(beta, X, y, 3.0, "time")


def test_unknown_domain_raises(data):
    X, y, beta = data
    with pytest.raises(IbcoreValueError, match="domain must be one of"):
        bridge_certificate(beta, X, y, 1, "frequency")


def test_matrix_domain_must_be_square_unitary_and_finite(data):
    X, y, beta = data
    with pytest.raises(ShapeError, match=r"unitary \(8, 8\)"):
        bridge_certificate(beta, X, y, 1, np.eye(7))
    with pytest.raises(IbcoreValueError, match="unitary"):
        polish(beta, X, y, 1, 2 * np.eye(8))
    with pytest.raises(IbcoreValueError, match="NaN"):
        bridge_certificate(beta, X, y, 1, np.full((8, 8), np.nan))
    with pytest.raises(IbcoreTypeError, match="domain must be"):
        bridge_certificate(beta, X, y, 1, {"T": 1})


def test_wrong_beta_length_raises(data):
    X, y, beta = data
    with pytest.raises(ShapeError, match="beta must have length D = 8"):
        bridge_certificate(beta[:-1], X, y, 2, "time")


def test_non_separating_beta_raises(data):
    X, y, beta = data
    with pytest.raises(IbcoreValueError, match="does not separate"):
        polish(-beta, X, y, 2, "time")


def test_zero_beta_raises(data):
    X, y, beta = data
    with pytest.raises(IbcoreValueError, match="zero vector"):
        bridge_certificate(np.zeros_like(beta), X, y, 2, "time")


def test_support_tol_must_be_below_one(data):
    X, y, beta = data
    with pytest.raises(IbcoreValueError, match="support_tol"):
        bridge_certificate(beta, X, y, 1, "time", support_tol=1.5)


def test_non_positive_active_tol_raises(data):
    X, y, beta = data
    with pytest.raises(IbcoreValueError, match="active_tol"):
        polish(beta, X, y, 1, "time", active_tol=0.0)


def test_net_must_be_a_parameterization(data):
    X, y, _ = data
    with pytest.raises(IbcoreTypeError, match="net must be an ibcore.nets Parameterization"):
        kkt_certificate("diagonal", np.ones(16), X, y)


def test_wrong_parameter_count_raises(data):
    X, y, _ = data
    with pytest.raises(ShapeError, match="n_params = 16"):
        kkt_certificate(Diagonal(8, 2), np.ones(15), X, y)


def test_net_dimension_must_match_data(data):
    X, y, _ = data
    with pytest.raises(ShapeError, match="net.dim is 4"):
        polish(Diagonal(4, 2), np.ones(8), X, y)


def test_least_squares_that_cannot_run_raises_solver_error(data, monkeypatch):
    X, y, beta = data
    system = polish_module._polish_system

    def poisoned(*args):
        residual, jacobian = system(*args)
        return (lambda u: np.full_like(residual(u), np.nan)), jacobian

    monkeypatch.setattr(polish_module, "_polish_system", poisoned)
    with pytest.raises(SolverError, match="failed to run: residuals are not finite"):
        polish(beta, X, y, 2, "time")


def test_refinement_that_stops_separating_raises_solver_error(data, monkeypatch):
    X, y, beta = data
    monkeypatch.setattr(polish_module, "_least_squares", lambda residual, jacobian, u0, what: (-u0, 0.0))
    with pytest.raises(SolverError, match="left the separators"):
        polish(beta, X, y, 2, "time")
