"""ibcore.local: local filters and several channels, against finite differences, the
layer-by-layer definitions, the paper's full-width net, and each other."""

import numpy as np
import pytest

from ibcore.errors import IbcoreTypeError, IbcoreValueError, ShapeError
from ibcore.fourier import dft
from ibcore.local import LocalConvolutional, MultiChannelConvolutional, flatten_channels, unflatten_channels
from ibcore.nets import Convolutional, Parameterization
from ibcore.train import gradient_descent
from ibcore.data import gaussian

NETS = [
    LocalConvolutional(6, 1, 2),
    LocalConvolutional(8, 2, 1),
    LocalConvolutional(8, 2, 3),
    LocalConvolutional(7, 3, 2),
    LocalConvolutional(8, 4, 5),
    MultiChannelConvolutional(8, 3, 1),
    MultiChannelConvolutional(8, 3, 2, in_channels=3),
    MultiChannelConvolutional(6, 1, 2, in_channels=2),
    MultiChannelConvolutional(6, 6, 3, in_channels=2),
]


def central_difference_vjp(net, w, g, eps=1e-6):
    E = eps * np.eye(w.size)
    return (net.predictor(w + E) - net.predictor(w - E)) @ g / (2 * eps)


@pytest.mark.parametrize("net", NETS, ids=repr)
def test_vjp_matches_central_differences(net):
    rng = np.random.default_rng(1)
    w = net.init(2, scale=2.0)
    g = rng.standard_normal(net.dim)
    # central differences of a polynomial of degree <= 4: error O(eps^2) ~ 1e-10
    np.testing.assert_allclose(net.vjp(w, g), central_difference_vjp(net, w, g), atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("net", NETS, ids=repr)
def test_batch_axis_homogeneity_and_euler(net):
    rng = np.random.default_rng(3)
    W = net.init(4, batch=5)
    G = rng.standard_normal((5, net.dim))
    B, V = net.predictor(W), net.vjp(W, G)
    assert isinstance(net, Parameterization) and B.shape == (5, net.dim) and V.shape == W.shape
    for b in range(5):
        np.testing.assert_allclose(B[b], net.predictor(W[b]), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(V[b], net.vjp(W[b], G[b]), rtol=1e-12, atol=1e-14)
    w, z = W[0], G[0]
    for a in (-1.7, 0.3, 2.5):
        np.testing.assert_allclose(net.predictor(a * w), a**net.depth * net.predictor(w), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(w @ net.vjp(w, z), net.depth * (net.predictor(w) @ z), rtol=1e-11)
    beta, pullback = net._linearize(W)
    np.testing.assert_allclose(beta, B, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(pullback(G), V, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(net.flatten(net.unflatten(W)), W)


@pytest.mark.parametrize("dim,depth", [(5, 1), (6, 2), (7, 3), (8, 4)])
def test_full_kernel_is_the_papers_net_exactly(dim, depth):
    local, full = LocalConvolutional(dim, depth, dim), Convolutional(dim, depth)
    assert local.n_params == full.n_params
    W = local.init(5, batch=3)
    np.testing.assert_array_equal(W, full.init(5, batch=3))
    G = np.random.default_rng(0).standard_normal((3, dim))
    np.testing.assert_array_equal(local.predictor(W), full.predictor(W))
    np.testing.assert_array_equal(local.vjp(W, G), full.vjp(W, G))
    X, y = gaussian(4, dim, seed=1)
    a = gradient_descent(local, X, y, steps=50, lr=0.05, schedule="angular", init=W, progress=False)
    b = gradient_descent(full, X, y, steps=50, lr=0.05, schedule="angular", init=W, progress=False)
    np.testing.assert_array_equal(a.w, b.w)


@pytest.mark.parametrize("dim,depth,kernel", [(6, 2, 1), (8, 2, 3), (7, 3, 2), (8, 4, 5)])
def test_local_is_the_padded_full_net_and_the_layer_definition(dim, depth, kernel):
    net = LocalConvolutional(dim, depth, kernel)
    w = net.init(7, scale=3.0)
    padded = net.padded(w)
    np.testing.assert_allclose(net.predictor(w), Convolutional(dim, depth).predictor(padded), rtol=1e-12, atol=1e-14)
    assert np.all(padded.reshape(depth, dim)[:-1, kernel:] == 0)
    X = np.random.default_rng(dim).standard_normal((6, dim))
    # independent computation: explicit index sums h_l[d] = D^-1/2 sum_{k<K} w_l[k] h_{l-1}[(d+k) % D]
    layers = net.unflatten(w)
    H = X.copy()
    for wl in layers[:-1]:
        H = np.stack([sum(wl[k] * H[:, (d + k) % dim] for k in range(kernel)) for d in range(dim)], 1) / np.sqrt(dim)
    np.testing.assert_allclose(X @ net.predictor(w), H @ layers[-1], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(net.layerwise_output(w, X), H @ layers[-1], rtol=1e-11, atol=1e-13)


def test_fourier_product_with_padded_filters():
    net = LocalConvolutional(8, 3, 3)
    w = net.init(11)
    prod = np.prod([dft(wl) for wl in net.padded(w).reshape(3, 8)], axis=0)
    np.testing.assert_allclose(dft(net.predictor(w)), prod, rtol=1e-11, atol=1e-14)


def test_kernel_one_is_a_scaled_rank_one_product():
    net = LocalConvolutional(8, 2, 1)
    w = net.init(0)
    np.testing.assert_allclose(net.predictor(w), w[0] * w[1:] / np.sqrt(8), rtol=1e-13)


def test_one_channel_equals_local_net():
    local, multi = LocalConvolutional(8, 2, 3), MultiChannelConvolutional(8, 3, 1)
    assert local.n_params == multi.n_params and local.dim == multi.dim
    W = local.init(2, batch=4)
    G = np.random.default_rng(2).standard_normal((4, 8))
    np.testing.assert_allclose(multi.predictor(W), local.predictor(W), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(multi.vjp(W, G), local.vjp(W, G), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("net", [n for n in NETS if isinstance(n, MultiChannelConvolutional)], ids=repr)
def test_multichannel_layer_definition_and_sum_over_channels(net):
    rng = np.random.default_rng(4)
    w = net.init(9, scale=2.0)
    X = rng.standard_normal((5, net.in_channels, net.signal_dim))
    np.testing.assert_allclose(net.layerwise_output(w, X), flatten_channels(X) @ net.predictor(w), rtol=1e-11, atol=1e-13)
    # beta_r = sum_c D^-1/2 w1[c, r] (*) w2[c]: each channel is a local net of depth two
    w1, w2 = net.unflatten(w)
    one = LocalConvolutional(net.signal_dim, 2, net.kernel_size)
    beta = sum(np.stack([one.predictor(np.concatenate([w1[c, r], w2[c]])) for r in range(net.in_channels)])
               for c in range(net.channels))
    np.testing.assert_allclose(unflatten_channels(net.predictor(w), net.in_channels), beta, rtol=1e-11, atol=1e-13)


def test_channel_flattening_round_trip():
    v = np.arange(24.0).reshape(2, 3, 4)
    flat = flatten_channels(v)
    assert flat.shape == (2, 12) and flat[1, 4 + 2] == v[1, 1, 2]
    np.testing.assert_array_equal(unflatten_channels(flat, 3), v)


@pytest.mark.parametrize(
    "make, exc",
    [
        (lambda: LocalConvolutional(4, 2, 0), IbcoreValueError),
        (lambda: LocalConvolutional(4, 2, 5), IbcoreValueError),
        (lambda: LocalConvolutional(4, 2, 2.0), IbcoreTypeError),
        (lambda: MultiChannelConvolutional(4, 5, 1), IbcoreValueError),
        (lambda: MultiChannelConvolutional(4, 2, 0), IbcoreValueError),
        (lambda: MultiChannelConvolutional(4, 2, 1, in_channels=0), IbcoreValueError),
        (lambda: unflatten_channels(np.ones(7), 2), ShapeError),
        (lambda: flatten_channels(np.ones(3)), ShapeError),
    ],
)
def test_bad_arguments(make, exc):
    with pytest.raises(exc):
        make()


def test_bad_parameters_name_the_argument():
    net = LocalConvolutional(6, 2, 2)
    with pytest.raises(ShapeError, match="w must have 8 parameters"):
        net.predictor(np.ones(7))
    with pytest.raises(ShapeError, match="g must have length 6"):
        net.vjp(np.ones(8), np.ones(5))
    with pytest.raises(IbcoreValueError, match="NaN"):
        net.padded(np.full(8, np.nan))
    with pytest.raises(ShapeError):
        net.layerwise_output(np.ones((2, 8)), np.ones(6))
    multi = MultiChannelConvolutional(6, 2, 2, in_channels=2)
    with pytest.raises(ShapeError, match="x must have shape"):
        multi.layerwise_output(multi.init(0), np.ones((3, 6)))
