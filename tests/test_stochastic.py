"""ibcore.stochastic: full batches reproduce ibcore.train exactly, a hand-computed SGD step,
the batch sequences (coverage per epoch, seeding), SGD on seeded data against the SVM, the
divergence report, and one test per bad input."""

import numpy as np
import pytest

import ibcore
from ibcore.data import closed_form_2d, gaussian
from ibcore.errors import DivergenceError, IbcoreTypeError, IbcoreValueError, NotSeparableError, ShapeError
from ibcore.limits import hard_margin_svm
from ibcore.nets import Diagonal, FullyConnected
from ibcore.stochastic import batch_sequence, sgd
from ibcore.train import gradient_descent


@pytest.mark.parametrize("schedule", ["constant", "angular", "normalized"])
def test_full_batch_is_gradient_descent(schedule):
    X, y = gaussian(5, 8, seed=2)
    # lr = 0.01: with relative steps of 0.05 the angular schedule zigzags late in these 200 steps,
    # and there round-off differences between the two loops (1e-16) can grow to 1e-3
    net = Diagonal(8, 2)
    kw = {"steps": 200, "lr": 0.01, "schedule": schedule, "T": 50.0, "init": net.init(1, batch=2), "record": np.arange(201)}
    a = sgd(net, X, y, batch_size=5, **kw)
    b = gradient_descent(net, X, y, progress=False, **kw)
    np.testing.assert_allclose(a.history["beta"], b.history["beta"], atol=1e-9)
    np.testing.assert_allclose(a.history["log_loss"], b.history["log_loss"], rtol=1e-9, atol=1e-9)


def test_one_step_by_hand():
    # depth 1, exp loss, batch {n}: w <- w + lr * exp(-y_n <x_n, w>) y_n x_n
    X, y = gaussian(4, 3, seed=0)
    net = FullyConnected(3, 1)
    w0 = np.array([0.3, -0.2, 0.5])
    idx = batch_sequence(4, 1, 1, seed=7)[0]
    n = idx[0]
    expected = w0 + 0.1 * np.exp(-y[n] * X[n] @ w0) * y[n] * X[n]
    run = sgd(net, X, y, steps=1, lr=0.1, batch_size=1, seed=7, init=w0)
    np.testing.assert_allclose(np.exp(run.log_norm_w) * run.w, expected, rtol=1e-12)


def test_batch_sequence():
    seq = batch_sequence(7, 3, 6, seed=4)
    assert [len(b) for b in seq] == [3, 3, 1, 3, 3, 1]
    assert sorted(np.concatenate(seq[:3]).tolist()) == list(range(7))  # each epoch covers every sample once
    again = batch_sequence(7, 3, 6, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(seq, again))
    rep = batch_sequence(7, 3, 50, sampling="replacement", seed=1)
    assert all(len(np.unique(b)) == 3 for b in rep)
    assert not all(np.array_equal(a, b) for a, b in zip(seq, batch_sequence(7, 3, 6, seed=5)))


def test_sgd_closed_form_and_seeded_svm():
    X, y = closed_form_2d()
    run = sgd(FullyConnected(2, 1), X, y, steps=3000, lr=0.5, batch_size=1, seed=0, schedule="normalized")
    assert ibcore.angle(run.beta, np.array([1.0, 1.0])) < 0.5
    X, y = gaussian(5, 8, seed=2)
    svm = hard_margin_svm(X, y)
    run = sgd(FullyConnected(8, 1), X, y, steps=3000, lr=0.1, batch_size=2, seed=3, schedule="angular", T=100.0)
    assert ibcore.angle(run.beta, svm.beta) < 0.5


def test_divergence_names_step_and_iteration():
    X, y = gaussian(5, 8, seed=2)
    with pytest.raises(DivergenceError, match=r"iteration \d+ with constant step lr=1000"):
        sgd(FullyConnected(8, 2), X, y, steps=100, lr=1000.0, batch_size=2)


def test_bad_inputs():
    X, y = gaussian(5, 8, seed=2)
    net = FullyConnected(8, 1)
    with pytest.raises(ShapeError, match="batch_size"):
        sgd(net, X, y, steps=5, lr=0.1, batch_size=6)
    with pytest.raises(IbcoreValueError, match="batch_size"):
        sgd(net, X, y, steps=5, lr=0.1, batch_size=0)
    with pytest.raises(IbcoreValueError, match="sampling"):
        sgd(net, X, y, steps=5, lr=0.1, batch_size=2, sampling="cyclic")
    with pytest.raises(IbcoreValueError, match="seed"):
        sgd(net, X, y, steps=5, lr=0.1, batch_size=2, seed=-1)
    with pytest.raises(IbcoreValueError, match="lr"):
        sgd(net, X, y, steps=5, lr=-0.1, batch_size=2)
    with pytest.raises(IbcoreTypeError, match="net"):
        sgd("net", X, y, steps=5, lr=0.1, batch_size=2)
    with pytest.raises(ShapeError, match="features"):
        sgd(FullyConnected(7, 1), X, y, steps=5, lr=0.1, batch_size=2)
    with pytest.raises(NotSeparableError):
        sgd(FullyConnected(1, 1), np.array([[1.0], [2.0]]), np.array([1.0, -1.0]), steps=5, lr=0.1, batch_size=1)
