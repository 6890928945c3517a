"""The contract every parameterization keeps (``ibcore.nets`` module docstring), checked in one place.

``tests/test_contract.py`` runs :func:`check_contract` on every parameterization of the
library; the per-module test files keep only what is particular to each network.
"""

import numpy as np


def central_difference_vjp(net, w, g, eps=1e-6):
    """The gradient in ``w`` of <g, P(w)> by central differences, one coordinate at a time."""
    fd = np.zeros_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = eps
        fd[i] = g @ (net.predictor(w + e) - net.predictor(w - e)) / (2 * eps)
    return fd


def check_vjp(net):
    rng = np.random.default_rng(1)
    w = net.init(2, scale=2.0)
    g = rng.standard_normal(net.dim)
    # central differences of a polynomial of degree L: the error is O(eps^2 * |third derivative|),
    # ~1e-10 at eps = 1e-6, against a cancellation error of ~1e-16 * |P| / eps ~ 1e-10
    np.testing.assert_allclose(net.vjp(w, g), central_difference_vjp(net, w, g), atol=1e-7, rtol=1e-6)


def check_batch(net):
    rng = np.random.default_rng(3)
    W = net.init(4, batch=5)
    G = rng.standard_normal((5, net.dim))
    B, V = net.predictor(W), net.vjp(W, G)
    assert B.shape == (5, net.dim) and V.shape == W.shape
    # a batch is the same arithmetic as a loop, up to a different order of summation (1e-12)
    for b in range(5):
        np.testing.assert_allclose(B[b], net.predictor(W[b]), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(V[b], net.vjp(W[b], G[b]), rtol=1e-12, atol=1e-14)
    # one g shared by the whole batch
    np.testing.assert_allclose(net.vjp(W, G[0])[2], net.vjp(W[2], G[0]), rtol=1e-12, atol=1e-14)
    # the training loop's shared forward/pullback
    beta, pullback = net._linearize(W)
    np.testing.assert_allclose(beta, B, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(pullback(G), V, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(net.flatten(net.unflatten(W)), W)


def check_homogeneity_and_euler(net):
    rng = np.random.default_rng(5)
    w = net.init(6)
    z = rng.standard_normal(net.dim)
    for a in (-1.7, 0.3, 2.5):  # degree L for every real a, negative ones included
        np.testing.assert_allclose(net.predictor(a * w), a**net.depth * net.predictor(w), rtol=1e-12, atol=1e-14)
    # Euler: <w, grad_w <P(w), z>> = L <P(w), z>
    np.testing.assert_allclose(w @ net.vjp(w, z), net.depth * (net.predictor(w) @ z), rtol=1e-11)


def check_training_coordinates(net):
    # gradient_descent runs in net._coordinates (the conv net: scaled filter spectra, layer-major);
    # everything it computes there must equal the time-domain predictor and vjp.
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((7, net.dim)), rng.choice([-1.0, 1.0], size=7)
    Xy = X * y[:, None]
    W = net.init(9, batch=4)
    coords = net._coordinates(Xy)
    s = coords.encode(W)
    np.testing.assert_allclose(coords.sqnorms(s), np.sum(W**2, axis=1), rtol=1e-13)
    np.testing.assert_allclose(coords.decode(s), W, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(coords.predictor(s), net.predictor(W), rtol=1e-11, atol=1e-15)
    mT, pullback = coords.linearize(s)
    np.testing.assert_allclose(mT.T, net.predictor(W) @ Xy.T, rtol=1e-11, atol=1e-14)
    p = rng.random((7, 4))
    v = pullback(p)
    np.testing.assert_allclose(coords.decode(v), net.vjp(W, p.T @ Xy), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(coords.sqnorms(v), np.sum(net.vjp(W, p.T @ Xy) ** 2, axis=1), rtol=1e-12)


CHECKS = [check_vjp, check_batch, check_homogeneity_and_euler, check_training_coordinates]
