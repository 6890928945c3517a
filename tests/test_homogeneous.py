"""ibcore.homogeneous: the tensor map keeps the contract of ibcore.nets (vjp against finite
differences, batches, homogeneity and Euler, exact SymPy twin); parameter-space KKT points
map to predictor-space stationarity with the stated multipliers (checked at exact KKT points
built from the convex references, and at polished gradient-descent limits); degenerate
initializations stay degenerate; and a strict local minimum with loss above l(0) = 1."""

import numpy as np
import pytest
import sympy as sp

import ibcore
from ibcore import symbolic
from ibcore.alignment import balanced_factorization
from ibcore.data import gaussian
from ibcore.errors import IbcoreTypeError, IbcoreValueError, ShapeError
from ibcore.fourier import dft, idft
from ibcore.homogeneous import (
    TensorMap,
    frozen_coordinate_init,
    induced_penalty,
    loss_landscape,
    predictor_multipliers,
    predictor_stationarity,
    restricted_l1_margin,
    tensor_map_sympy,
    zero_layers_init,
)
from ibcore.limits import (
    bridge_certificate,
    hard_margin_svm,
    kkt_certificate,
    min_fourier_l1_margin,
    min_l1_margin,
    polish,
)
from ibcore.nets import Convolutional, Diagonal, FullyConnected
from ibcore.train import gradient_descent


@pytest.fixture(scope="module")
def data8():
    return gaussian(5, 8, seed=2)


# --------------------------------------------------------------------------- TensorMap: the nets contract


# vjp, batches, homogeneity and Euler of TensorMap: tests/test_contract.py


def test_tensor_map_symmetrization_keeps_the_polynomial():
    rng = np.random.default_rng(0)
    raw = rng.standard_normal((4, 3, 3, 3))
    net = TensorMap(4, 3, 3, tensor=raw)
    w = rng.standard_normal(3)
    direct = np.einsum("dijk,i,j,k->d", raw, w, w, w)  # the unsymmetrized sum
    np.testing.assert_allclose(net.predictor(w), direct, rtol=1e-12)
    np.testing.assert_allclose(net.tensor, np.transpose(net.tensor, (0, 2, 1, 3)), atol=1e-15)
    assert net.degree == 3 and net.layer_shapes == [(3,)]
    np.testing.assert_array_equal(net.unflatten(w)[0], w)


def test_tensor_map_validates():
    with pytest.raises(ShapeError):
        TensorMap(4, 3, 3, tensor=np.zeros((4, 3, 3)))
    with pytest.raises(IbcoreValueError):
        TensorMap(0, 3)
    with pytest.raises(ShapeError):
        TensorMap(4, 3).predictor(np.zeros(4))


def test_tensor_map_sympy_is_exact_twin():
    net = TensorMap(3, 3, 3, seed=5)
    beta, w = tensor_map_sympy(net)
    assert symbolic.is_homogeneous(beta, w, 3) and symbolic.euler_identity_holds(beta, w, 3)
    assert not symbolic.is_homogeneous(beta, w, 2)
    point = [sp.Rational(1, 3), sp.Rational(-2, 5), sp.Rational(3, 7)]
    exact = np.array([float(e) for e in beta.subs(dict(zip(w, point)))])
    g = np.array([0.5, -1.0, 2.0])
    grad = np.array([float(sp.diff((beta.T * sp.Matrix(g.tolist()))[0], s).subs(dict(zip(w, point)))) for s in w])
    wf = np.array([float(v) for v in point])
    np.testing.assert_allclose(net.predictor(wf), exact, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(net.vjp(wf, g), grad, rtol=1e-12, atol=1e-14)
    with pytest.raises(IbcoreTypeError):
        tensor_map_sympy(Diagonal(3, 2))
    with pytest.raises(ShapeError):
        tensor_map_sympy(net, sp.symbols("a b"))


def test_tensor_map_runs_through_training_and_certificates(data8):
    X, y = data8
    net = TensorMap(8, 4, 3, seed=0)
    run = gradient_descent(net, X, y, steps=3000, lr=0.1, schedule="angular", T=100.0, init=net.init(1), record=5,
                           progress=False)
    assert run.margin > 0
    q = polish(net, run.w, X, y, active_tol=1e-2)
    assert q.certified() and q.euler_gap <= 1e-10
    # the raw direction is close but not exact: the certificate tells the two apart
    assert not kkt_certificate(net, run.w, X, y, active_tol=1e-2).certified()


# --------------------------------------------------------------------------- parameter space -> predictor space


def test_induced_penalty():
    assert induced_penalty(FullyConnected(4, 3)) == (2.0, "time")
    assert induced_penalty(Diagonal(4, 1)) == (2.0, "time")
    assert induced_penalty(Convolutional(4, 1)) == (2.0, "time")
    assert induced_penalty(Diagonal(4, 3)) == (2.0 / 3, "time")
    assert induced_penalty(Convolutional(4, 4)) == (0.5, "fourier")
    with pytest.raises(IbcoreTypeError):
        induced_penalty(TensorMap(4, 2))


def _balanced_diagonal(beta, depth):
    mag = np.abs(beta) ** (1.0 / depth)
    layers = [mag.copy() for _ in range(depth)]
    layers[0] = np.sign(beta) * mag
    return np.concatenate(layers)


def _balanced_conv2(beta):
    """Real filters w1, w2 with hat w1 * hat w2 = hat beta and |hat w1| = |hat w2| (ch03's exercise)."""
    spec = dft(beta)
    root = np.sqrt(np.abs(spec)) * np.exp(0.5j * np.angle(spec))
    dim = beta.size
    w1, w2 = root.copy(), root.copy()
    for k in {0, dim // 2} if dim % 2 == 0 else {0}:
        if spec[k].real < 0:  # self-conjugate frequency with a negative value: split the sign
            w1[k], w2[k] = np.sqrt(-spec[k].real), -np.sqrt(-spec[k].real)
    half = range(1, (dim + 1) // 2)
    for k in half:  # conjugate symmetry makes the filters real
        w1[dim - k], w2[dim - k] = np.conj(w1[k]), np.conj(w2[k])
    return np.concatenate([np.real(idft(w1)), np.real(idft(w2))])


def test_exact_kkt_points_map_to_the_references_multipliers(data8):
    X, y = data8
    cases = [
        (Diagonal(8, 2), min_l1_margin(X, y), lambda net, b: _balanced_diagonal(b, 2), 1.0, "time"),
        (Convolutional(8, 2), min_fourier_l1_margin(X, y), lambda net, b: _balanced_conv2(b), 1.0, "fourier"),
        (FullyConnected(8, 3, [3, 2]), hard_margin_svm(X, y), balanced_factorization, 2.0, "time"),
    ]
    for net, ref, build, p, domain in cases:
        w = build(net, ref.beta)
        np.testing.assert_allclose(net.predictor(w), ref.beta, atol=1e-12)
        cert = kkt_certificate(net, w, X, y)
        assert cert.certified(), net
        alpha = predictor_multipliers(net, cert)
        np.testing.assert_allclose(alpha, ref.alpha, rtol=1e-6, atol=1e-8 * ref.alpha.max())
        st = predictor_stationarity(cert.beta, alpha, X, y, p, domain)
        assert st.residual <= 1e-9 and st.off_support <= 1 + 1e-6, (net, st)
        # Euler and the induced regularizer: ||w||^2 = L sum(alpha) = R_P(beta) at margin 1
        assert abs(cert.sq_norm - net.depth * cert.alpha.sum()) <= 1e-9 * cert.sq_norm


def test_polished_diagonal_depth_three_is_bridge_stationary_with_the_same_multipliers(data8):
    X, y = data8
    net = Diagonal(8, 3)
    run = gradient_descent(net, X, y, steps=3000, lr=0.1, schedule="angular", T=100.0, init=net.init(0), record=5,
                           progress=False)
    q = polish(net, run.w, X, y, active_tol=1e-2)
    assert q.certified()
    alpha = predictor_multipliers(net, q)
    st = predictor_stationarity(q.beta, alpha, X, y, 2 / 3, "time")
    assert st.residual <= 1e-9
    bridge = bridge_certificate(q.beta, X, y, 2 / 3, "time")
    np.testing.assert_allclose(alpha, bridge.alpha, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(q.sq_norm, 3 * bridge.penalty, rtol=1e-9)  # ||w||^2 = R_P(beta)


def test_predictor_multipliers_validates(data8):
    X, y = data8
    net = Diagonal(8, 2)
    cert = kkt_certificate(net, _balanced_diagonal(min_l1_margin(X, y).beta, 2), X, y)
    with pytest.raises(ShapeError):
        predictor_multipliers(Diagonal(8, 3), cert)
    with pytest.raises(IbcoreTypeError):
        predictor_multipliers(net, bridge_certificate(cert.beta, X, y, 1.0, "time"))


def test_predictor_stationarity_sees_a_wrong_multiplier_and_a_violated_off_support(data8):
    X, y = data8
    ref = min_l1_margin(X, y)
    good = predictor_stationarity(ref.beta, ref.alpha, X, y, 1.0)
    assert good.residual <= 1e-9 and good.off_support <= 1 + 1e-6
    assert predictor_stationarity(ref.beta, 1.1 * ref.alpha, X, y, 1.0).residual >= 0.05
    restricted = restricted_l1_margin(X, y, 0)
    cert = bridge_certificate(restricted.beta, X, y, 1.0, "time")
    st = predictor_stationarity(restricted.beta, cert.alpha, X, y, 1.0)
    assert st.residual <= 1e-8 and st.off_support > 1.1
    with pytest.raises(ShapeError):
        predictor_stationarity(ref.beta[:4], ref.alpha, X, y, 1.0)


# --------------------------------------------------------------------------- degenerate initializations


def test_restricted_l1_margin(data8):
    X, y = data8
    full = min_l1_margin(X, y)
    on = int(np.argmax(np.abs(full.beta)))
    off = int(np.argmin(np.abs(full.beta)))
    r_on, r_off = restricted_l1_margin(X, y, on), restricted_l1_margin(X, y, off)
    assert r_on.beta[on] == 0 and np.min(y * (X @ r_on.beta)) >= 1 - 1e-9
    assert r_on.value > full.value * 1.01
    assert ibcore.angle(r_off.beta, full.beta) <= 1e-6  # an unused coordinate changes nothing
    with pytest.raises(IbcoreValueError):
        restricted_l1_margin(X, y, 8)


def test_frozen_coordinate_stays_zero_and_goes_to_the_restricted_optimum(data8):
    X, y = data8
    net = Diagonal(8, 2)
    w0 = frozen_coordinate_init(net, 0, 0)
    layers = net.unflatten(w0)
    assert layers[0][0] == 0 and layers[1][0] == 0
    np.testing.assert_array_equal(np.delete(w0, [0, 8]), np.delete(net.init(0), [0, 8]))
    run = gradient_descent(net, X, y, steps=3000, lr=0.1, schedule="angular", T=100.0, init=w0, record=10,
                           progress=False)
    assert np.all(run.history["beta"][:, 0] == 0.0)
    assert ibcore.angle(run.beta, restricted_l1_margin(X, y, 0).beta) <= 0.5
    # one zero layer is not a frozen coordinate
    one = frozen_coordinate_init(net, 0, 0, layers=[1])
    moved = gradient_descent(net, X, y, steps=50, lr=0.1, init=one, record=2, progress=False)
    assert moved.beta[0] != 0.0
    batch = frozen_coordinate_init(net, 0, [0, 3], batch=4)
    assert batch.shape == (4, 16) and np.all(batch[:, [0, 3, 8, 11]] == 0)
    with pytest.raises(IbcoreTypeError):
        frozen_coordinate_init(Convolutional(8, 2), 0, 0)
    with pytest.raises(IbcoreValueError):
        frozen_coordinate_init(net, 0, 9)
    with pytest.raises(IbcoreValueError):
        frozen_coordinate_init(net, 0, 0, layers=[3])


@pytest.mark.parametrize("net", [FullyConnected(8, 3, [4, 4]), Diagonal(8, 3), Convolutional(8, 3)], ids=repr)
def test_two_zero_layers_are_a_saddle_and_one_is_not(net, data8):
    X, y = data8
    w0 = zero_layers_init(net, 0, [1, 3])
    assert np.all(net.unflatten(w0)[0] == 0) and np.any(net.unflatten(w0)[1] != 0)
    assert np.all(net.vjp(w0, np.ones(8)) == 0)
    with np.errstate(invalid="ignore"):  # P(w) = 0: the engine records no direction (NaN)
        run = gradient_descent(net, X, y, steps=200, lr=0.1, init=w0, record=3, progress=False)
    np.testing.assert_allclose(run.params(), w0, rtol=0, atol=1e-15)  # round-off of w = |w| (w/|w|)
    np.testing.assert_allclose(run.log_loss, np.log(5), rtol=1e-15)
    w1 = zero_layers_init(net, 0, 2)
    assert np.any(net.vjp(w1, X[0]) != 0)
    with pytest.raises(IbcoreTypeError):
        zero_layers_init(TensorMap(8, 3), 0, 1)


# --------------------------------------------------------------------------- loss landscape


def test_tensor_map_has_a_strict_local_minimum_above_one(data8):
    X, y = data8
    net = TensorMap(8, 4, 3, seed=1)
    run = gradient_descent(net, X, y, steps=3000, lr=0.02, init=net.init(1, batch=2)[1], record=4, progress=False)
    land = loss_landscape(net, run.params(), X, y)
    assert land.loss > 1.5 and np.min(land.margins) < 0
    assert land.grad_norm <= 1e-10
    assert land.hessian_eigenvalues[0] > 1.0


def test_loss_landscape_gradient_and_hessian_agree_with_the_loss(data8):
    X, y = data8
    net = Diagonal(8, 2)
    w = net.init(3, scale=0.5)
    land = loss_landscape(net, w, X, y)

    def loss(v):
        return np.sum(np.exp(-y * (X @ net.predictor(v))))

    h = 1e-5
    fd = np.array([(loss(w + h * e) - loss(w - h * e)) / (2 * h) for e in np.eye(w.size)])
    np.testing.assert_allclose(land.grad_norm, np.linalg.norm(fd), rtol=1e-7)
    np.testing.assert_allclose(land.loss, loss(w), rtol=1e-14)
    u = np.random.default_rng(0).standard_normal(w.size)
    u /= np.linalg.norm(u)
    second = (loss(w + 1e-4 * u) - 2 * loss(w) + loss(w - 1e-4 * u)) / 1e-8
    assert land.hessian_eigenvalues[0] - 1e-6 <= second <= land.hessian_eigenvalues[-1] + 1e-6
    with pytest.raises(ShapeError):
        loss_landscape(net, w[:3], X, y)
