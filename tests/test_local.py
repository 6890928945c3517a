"""ibcore.local: several channels, against finite differences, the layer-by-layer
definitions and the one-channel local net (local filters themselves: tests/test_nets.py;
the contract of every parameterization: tests/test_contract.py)."""

import numpy as np
import pytest

from ibcore.errors import IbcoreValueError, ShapeError
from ibcore.local import MultiChannelConvolutional, flatten_channels, unflatten_channels
from ibcore.nets import Convolutional

def test_one_channel_equals_local_net():
    local, multi = Convolutional(8, 2, kernel_size=3), MultiChannelConvolutional(8, 3, 1)
    assert local.n_params == multi.n_params and local.dim == multi.dim
    W = local.init(2, batch=4)
    G = np.random.default_rng(2).standard_normal((4, 8))
    np.testing.assert_allclose(multi.predictor(W), local.predictor(W), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(multi.vjp(W, G), local.vjp(W, G), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("net", [MultiChannelConvolutional(8, 3, 2, in_channels=3), MultiChannelConvolutional(6, 1, 2, in_channels=2),
                                 MultiChannelConvolutional(6, 6, 3, in_channels=2)], ids=repr)
def test_multichannel_layer_definition_and_sum_over_channels(net):
    rng = np.random.default_rng(4)
    w = net.init(9, scale=2.0)
    X = rng.standard_normal((5, net.in_channels, net.signal_dim))
    np.testing.assert_allclose(net.layerwise_output(w, X), flatten_channels(X) @ net.predictor(w), rtol=1e-11, atol=1e-13)
    # beta_r = sum_c D^-1/2 w1[c, r] (*) w2[c]: each channel is a local net of depth two
    w1, w2 = net.unflatten(w)
    one = Convolutional(net.signal_dim, 2, kernel_size=net.kernel_size)
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
    multi = MultiChannelConvolutional(6, 2, 2, in_channels=2)
    with pytest.raises(ShapeError, match="x must have shape"):
        multi.layerwise_output(multi.init(0), np.ones((3, 6)))
    with pytest.raises(ShapeError, match="w must have"):
        multi.predictor(np.ones(multi.n_params + 1))
