"""ibcore.conv2d: the 2-D network against finite differences, its layer definition and the
1-D network; the 2-D Fourier-l1 reference against an independent formulation; certificates."""

import numpy as np
import pytest

import ibcore
from ibcore import conv2d
from ibcore.conv2d import Convolutional2D, circular_convolve2d, dft2, dft2_matrix
from ibcore.errors import IbcoreTypeError, IbcoreValueError, ShapeError
from ibcore.limits import min_fourier_l1_margin
from ibcore.nets import Convolutional, Parameterization

NETS = [Convolutional2D((3, 4), 1), Convolutional2D((3, 4), 2), Convolutional2D((4, 4), 3), Convolutional2D((2, 5), 4)]


@pytest.mark.parametrize("net", NETS, ids=repr)
def test_layerwise_definition(net):
    # vjp, batches, homogeneity and Euler: tests/test_contract.py
    rng = np.random.default_rng(3)
    w = net.init(4)
    assert isinstance(net, Parameterization)
    x = rng.standard_normal((5, net.dim))
    np.testing.assert_allclose(net.layerwise_output(w, x), x @ net.predictor(w), atol=1e-12)


def test_closed_form_and_fourier_product():
    net = Convolutional2D((3, 4), 3)
    w = net.init(5)
    layers = net.unflatten(w)
    beta = circular_convolve2d(circular_convolve2d(layers[0], layers[1]), layers[2]) / 12
    np.testing.assert_allclose(net.predictor(w), beta.ravel(), atol=1e-13)
    prod = np.prod([dft2(l.ravel(), (3, 4)) for l in layers], axis=0)
    np.testing.assert_allclose(dft2(net.predictor(w), (3, 4)), prod, atol=1e-13)
    F = dft2_matrix((3, 4))
    np.testing.assert_allclose(F.conj().T @ F, np.eye(12), atol=1e-13)
    np.testing.assert_allclose(F @ net.predictor(w), prod.ravel(), atol=1e-13)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_one_row_images_are_the_paper_net(depth):
    net1, net2 = Convolutional(7, depth), Convolutional2D((1, 7), depth)
    w, g = net1.init(0, batch=2), np.random.default_rng(0).standard_normal((2, 7))
    np.testing.assert_allclose(net2.predictor(w), net1.predictor(w), atol=1e-14)
    np.testing.assert_allclose(net2.vjp(w, g), net1.vjp(w, g), atol=1e-14)


def test_reference_on_one_row_images_is_the_1d_fourier_l1():
    # independent formulation: the 1-D SOCP of ibcore.limits on the same data
    X, y = ibcore.data.gaussian(5, 8, seed=2)
    ref2 = conv2d.min_fourier2_l1_margin(X, y, (1, 8))
    ref1 = min_fourier_l1_margin(X, y)
    assert ibcore.angle(ref2.beta, ref1.beta) < 1e-2
    assert abs(ref2.value / ref1.value - 1) < 1e-6


def test_reference_is_certified_and_depth2_gd_polishes_to_it():
    X, y, _ = conv2d.plane_wave_data(6, (4, 4), [(1, 1, 1.0, 0.0)], seed=1)
    ref = conv2d.min_fourier2_l1_margin(X, y, (4, 4))
    cert = conv2d.fourier2_certificate(ref.beta, X, y, 1.0, (4, 4), support_tol=1e-4)
    assert cert.residual < 1e-4 and cert.off_support <= 1 + 1e-4
    assert abs(ref.alpha.sum() / ref.value - 1) < 1e-6
    # a hand-solvable certificate: a point violating stationarity is not certified
    bad = conv2d.fourier2_certificate(ref.beta + 0.3 * X[0], X, y, 1.0, (4, 4)) if np.min(y * (X @ (ref.beta + 0.3 * X[0]))) > 0 else None
    assert bad is None or not bad.certified()


def test_polish_and_certify_depth3():
    X, y, _ = conv2d.plane_wave_data(6, (4, 4), [(1, 1, 1.0, 0.0)], seed=1)
    net = Convolutional2D((4, 4), 3)
    run = ibcore.train.gradient_descent(net, X, y, steps=4000, lr=0.1, schedule="angular", T=100.0, init=net.init(0),
                                        progress=False)
    lim = conv2d.polish_and_certify(net, run.w, X, y, active_tol=1e-2)
    assert lim.certified(max_moved_deg=1.0)
    assert lim.cert.residual < 1e-8 and np.all(lim.cert.alpha >= 0)
    # Euler: sum(alpha) = sum |beta^|^p on the support at margin one
    assert abs(lim.cert.alpha.sum() / lim.cert.penalty - 1) < 1e-6


def test_bad_inputs():
    with pytest.raises(IbcoreTypeError):
        Convolutional2D(8, 2)
    with pytest.raises(IbcoreValueError):
        Convolutional2D((0, 3), 2)
    with pytest.raises(ShapeError):
        Convolutional2D((2, 3), 2).predictor(np.zeros(11))
    X, y = ibcore.data.gaussian(4, 6, seed=0)
    with pytest.raises(ShapeError):
        conv2d.min_fourier2_l1_margin(X, y, (2, 4))
    with pytest.raises(IbcoreValueError):
        conv2d.fourier2_certificate(np.zeros(6), X, y, 1.0, (2, 3))
    with pytest.raises(IbcoreValueError):
        conv2d.fourier2_certificate(np.ones(6), X, y, 1.5, (2, 3))
    with pytest.raises(IbcoreTypeError):
        conv2d.polish_and_certify(Convolutional(6, 2), np.ones(12), X, y)
