"""ibcore.nets: closed-form vjp against finite differences, the conv net against its
layer-by-layer definition and the padded full-width net; the contract every
parameterization keeps is checked for all of them in test_contract.py."""

import numpy as np
import pytest

from ibcore.errors import IbcoreTypeError, IbcoreValueError, ShapeError
from ibcore.fourier import dft
from contract import central_difference_vjp

from ibcore.nets import Convolutional, Diagonal, FullyConnected


@pytest.mark.parametrize("dim,depth", [(5, 1), (6, 2), (7, 3), (8, 4), (16, 3)])
def test_convolutional_equals_layer_by_layer_definition(dim, depth):
    net = Convolutional(dim, depth)
    rng = np.random.default_rng(dim * depth)
    w = net.init(7, scale=3.0)
    X = rng.standard_normal((9, dim))
    # independent computation: explicit circulant layers h_l[d] = D^-1/2 sum_k w_l[k] h_{l-1}[d+k]
    layers = net.unflatten(w)
    H = X.copy()
    for wl in layers[:-1]:
        C = np.array([[wl[(j - d) % dim] for j in range(dim)] for d in range(dim)]) / np.sqrt(dim)
        H = H @ C.T
    f = H @ layers[-1]
    np.testing.assert_allclose(X @ net.predictor(w), f, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(net.layerwise_output(w, X), f, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("dim,depth", [(6, 2), (7, 3), (8, 5)])
def test_convolutional_fourier_product_and_parseval(dim, depth):
    net = Convolutional(dim, depth)
    w = net.init(11)
    beta = net.predictor(w)
    prod = np.prod([dft(wl) for wl in net.unflatten(w)], axis=0)
    np.testing.assert_allclose(dft(beta), prod, rtol=1e-11, atol=1e-14)
    assert np.isclose(np.linalg.norm(dft(beta)), np.linalg.norm(beta), rtol=1e-13)


def test_fully_connected_is_the_matrix_product():
    net = FullyConnected(4, 3, widths=[5, 2])
    w = net.init(0)
    W1, W2, W3 = net.unflatten(w)
    assert W1.shape == (4, 5) and W2.shape == (5, 2) and W3.shape == (2, 1)
    np.testing.assert_allclose(net.predictor(w), (W1 @ W2 @ W3)[:, 0], rtol=1e-13)
    np.testing.assert_array_equal(net.flatten([W1, W2, W3]), w)


def test_diagonal_zero_factor_gives_finite_gradient():
    # exclusive products must not divide by a zero coordinate
    net = Diagonal(3, 3)
    w = np.array([0.0, 1.0, 2.0, 3.0, 0.0, 1.0, 2.0, 2.0, 0.0])
    v = net.vjp(w, np.ones(3))
    assert np.all(np.isfinite(v))
    np.testing.assert_allclose(v, central_difference_vjp(net, w, np.ones(3)), atol=1e-8)


def test_init_scale_is_the_norm_and_seeds_are_reproducible():
    net = Convolutional(64, 3)
    w = net.init(0, scale=5.0, batch=200)
    norms = np.linalg.norm(w, axis=1)
    # ||w||^2 / scale^2 ~ chi^2_P / P with P = 192: mean 1, sd sqrt(2/192) ~ 0.1
    assert abs(np.mean(norms**2) / 25.0 - 1.0) < 0.05
    np.testing.assert_array_equal(net.init(3), net.init(np.random.default_rng(3)))
    np.testing.assert_array_equal(net.init(3, batch=4)[0], net.init(3))


@pytest.mark.parametrize(
    "make, exc",
    [
        (lambda: Convolutional(4, 0), IbcoreValueError),
        (lambda: Convolutional(4, 2, kernel_size=0), IbcoreValueError),
        (lambda: Convolutional(4, 2, kernel_size=5), IbcoreValueError),
        (lambda: Convolutional(4, 2, kernel_size=2.0), IbcoreTypeError),
        (lambda: Diagonal(0, 2), IbcoreValueError),
        (lambda: FullyConnected(4, 2.5), IbcoreTypeError),
        (lambda: FullyConnected(4, 3, widths=[4]), IbcoreValueError),
        (lambda: FullyConnected(4, 3, widths=[4, 0]), IbcoreValueError),
        (lambda: FullyConnected(4, 2, widths="4"), IbcoreTypeError),
    ],
)
def test_bad_constructor_arguments(make, exc):
    with pytest.raises(exc):
        make()


def test_bad_parameters_and_directions():
    net = Convolutional(4, 2)
    with pytest.raises(ShapeError, match="w must have 8 parameters"):
        net.predictor(np.ones(7))
    with pytest.raises(ShapeError):
        net.predictor(np.ones((2, 2, 8)))
    with pytest.raises(IbcoreValueError, match="NaN"):
        net.predictor(np.full(8, np.nan))
    with pytest.raises(ShapeError, match="g must have length 4"):
        net.vjp(np.ones(8), np.ones(3))
    with pytest.raises(ShapeError, match="batch"):
        net.vjp(np.ones((2, 8)), np.ones((3, 4)))
    with pytest.raises(IbcoreTypeError):
        net.predictor("abc")
    with pytest.raises(IbcoreTypeError):
        net.init("seed")
    with pytest.raises(IbcoreValueError):
        net.init(0, scale=-1.0)


# --------------------------------------------------------------------------- local filters


@pytest.mark.parametrize("dim,depth", [(5, 1), (6, 2), (7, 3), (8, 4)])
def test_full_kernel_is_the_default(dim, depth):
    full, same = Convolutional(dim, depth), Convolutional(dim, depth, kernel_size=dim)
    assert full.kernel_size == same.kernel_size == dim and full.full_width and same.full_width
    assert full.n_params == same.n_params == depth * dim and repr(full) == repr(same)
    assert type(full._coordinates(np.ones((2, dim)))) is type(same._coordinates(np.ones((2, dim))))
    W = full.init(5, batch=3)
    np.testing.assert_array_equal(full.padded(W), W)


@pytest.mark.parametrize("dim,depth,kernel", [(6, 2, 1), (8, 2, 3), (7, 3, 2), (8, 4, 5)])
def test_local_is_the_padded_full_net_and_the_layer_definition(dim, depth, kernel):
    net = Convolutional(dim, depth, kernel_size=kernel)
    assert net.n_params == (depth - 1) * kernel + dim and not net.full_width
    assert net.layer_shapes == [(kernel,)] * (depth - 1) + [(dim,)]
    w = net.init(7, scale=3.0)
    padded = net.padded(w)
    np.testing.assert_allclose(net.predictor(w), Convolutional(dim, depth).predictor(padded), rtol=1e-12, atol=1e-14)
    assert np.all(padded.reshape(depth, dim)[:-1, kernel:] == 0)
    # the gradient of a local filter is the full-width gradient restricted to its K taps
    g = np.random.default_rng(dim).standard_normal(dim)
    full_grad = Convolutional(dim, depth).vjp(padded, g).reshape(depth, dim)
    expect = np.concatenate([full_grad[:-1, :kernel].ravel(), full_grad[-1]])
    np.testing.assert_allclose(net.vjp(w, g), expect, rtol=1e-12, atol=1e-14)
    X = np.random.default_rng(dim).standard_normal((6, dim))
    # independent computation: explicit index sums h_l[d] = D^-1/2 sum_{k<K} w_l[k] h_{l-1}[(d+k) % D]
    layers = net.unflatten(w)
    H = X.copy()
    for wl in layers[:-1]:
        H = np.stack([sum(wl[k] * H[:, (d + k) % dim] for k in range(kernel)) for d in range(dim)], 1) / np.sqrt(dim)
    np.testing.assert_allclose(X @ net.predictor(w), H @ layers[-1], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(net.layerwise_output(w, X), H @ layers[-1], rtol=1e-11, atol=1e-13)


def test_local_fourier_product_with_padded_filters():
    net = Convolutional(8, 3, kernel_size=3)
    w = net.init(11)
    prod = np.prod([dft(wl) for wl in net.padded(w).reshape(3, 8)], axis=0)
    np.testing.assert_allclose(dft(net.predictor(w)), prod, rtol=1e-11, atol=1e-14)


def test_kernel_one_is_a_scaled_rank_one_product():
    net = Convolutional(8, 2, kernel_size=1)
    w = net.init(0)
    np.testing.assert_allclose(net.predictor(w), w[0] * w[1:] / np.sqrt(8), rtol=1e-13)
    assert repr(net) == "Convolutional(dim=8, depth=2, kernel_size=1)"


def test_local_nets_train_and_keep_their_taps():
    from ibcore.data import gaussian
    from ibcore.train import gradient_descent

    net = Convolutional(8, 3, kernel_size=3)
    X, y = gaussian(5, 8, seed=2)
    run = gradient_descent(net, X, y, steps=400, lr=0.05, schedule="angular", init=net.init(1, batch=2), progress=False)
    assert run.w.shape == (2, net.n_params) and np.all(run.margin > 0)
    np.testing.assert_allclose(run.beta, net.predictor(run.w) / np.linalg.norm(net.predictor(run.w), axis=1)[:, None],
                               rtol=1e-10, atol=1e-13)


def test_closed_form_theory_refuses_local_filters():
    from ibcore.experiments import frozen_frequency_init
    from ibcore.homogeneous import induced_penalty
    from ibcore.lemmas import induced_regularizer

    local = Convolutional(8, 2, kernel_size=3)
    assert induced_penalty(Convolutional(8, 2)) == (1.0, "fourier")
    assert induced_penalty(Convolutional(8, 1, kernel_size=3)) == (2.0, "time")  # depth 1 has no filter
    with pytest.raises(IbcoreTypeError, match="kernel_size"):
        induced_penalty(local)
    with pytest.raises(IbcoreTypeError, match="kernel_size"):
        induced_regularizer(local, np.ones(8))
    with pytest.raises(IbcoreTypeError, match="full-width"):
        frozen_frequency_init(local, 0, [1])


def test_local_bad_parameters_name_the_argument():
    net = Convolutional(6, 2, kernel_size=2)
    with pytest.raises(ShapeError, match="w must have 8 parameters"):
        net.predictor(np.ones(7))
    with pytest.raises(ShapeError, match="g must have length 6"):
        net.vjp(np.ones(8), np.ones(5))
    with pytest.raises(IbcoreValueError, match="NaN"):
        net.padded(np.full(8, np.nan))
    with pytest.raises(ShapeError):
        net.layerwise_output(np.ones((2, 8)), np.ones(6))


def test_every_parameterization_is_reachable_from_ibcore_nets():
    import ibcore.conv2d
    import ibcore.groups
    import ibcore.limits
    import ibcore.local
    import ibcore.nets
    import ibcore.sdp
    import ibcore.signed

    assert ibcore.nets.MultiChannelConvolutional is ibcore.local.MultiChannelConvolutional
    assert ibcore.nets.Convolutional2D is ibcore.conv2d.Convolutional2D
    assert ibcore.nets.GroupConvolutional is ibcore.groups.GroupConvolutional
    assert ibcore.nets.SignedDiagonal is ibcore.signed.SignedDiagonal
    for name in ibcore.nets.__all__:
        assert issubclass(getattr(ibcore.nets, name), ibcore.nets.Parameterization)
    for name in ibcore.limits.__all__:
        assert getattr(ibcore.limits, name) is not None
    assert ibcore.limits.min_conv_norm_margin is ibcore.sdp.min_conv_norm_margin
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        ibcore.nets.Nothing
