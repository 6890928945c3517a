"""ibcore.multiclass: the log-space cross-entropy terms against a direct evaluation and at
extreme scales, the SVM QP on a hand-solvable set and its KKT residual, two classes against
the binary SVM, gradient descent against a hand step and toward the SVM, and bad inputs."""

import numpy as np
import pytest

import ibcore
from ibcore.data import gaussian
from ibcore.errors import IbcoreTypeError, IbcoreValueError, NotSeparableError, ShapeError
from ibcore.limits import hard_margin_svm
from ibcore.multiclass import (
    cross_entropy_gd,
    cross_entropy_terms,
    multiclass_margins,
    multiclass_svm,
    random_classes,
)


def _direct(W, X, labels):
    scores = X @ W.T
    lse = np.log(np.sum(np.exp(scores), axis=1))
    return np.sum(lse - scores[np.arange(len(labels)), labels])


def test_terms_against_direct_evaluation():
    X, labels = random_classes(6, 4, 3, seed=0)
    W = np.random.default_rng(1).standard_normal((3, 4))
    s = np.linalg.norm(W)
    terms = cross_entropy_terms(multiclass_margins(W / s, X, labels), np.log(s))
    np.testing.assert_allclose(np.exp(terms.log_loss), _direct(W, X, labels), rtol=1e-12)
    # gradient: -grad = e^{log mass} * sum_{n,c} p_{n,c} (e_k - e_c) x_n^T, against central differences
    eps, grad = 1e-6, np.zeros_like(W)
    for i in np.ndindex(W.shape):
        E = np.zeros_like(W)
        E[i] = eps
        grad[i] = (_direct(W + E, X, labels) - _direct(W - E, X, labels)) / (2 * eps)
    others = np.array([[c for c in range(3) if c != k] for k in labels])
    diff = np.eye(3)[labels][:, None, :] - np.eye(3)[others]
    minus_grad = np.exp(terms.log_grad_mass) * np.einsum("nc,nck,nd->kd", terms.weights, diff, X)
    np.testing.assert_allclose(-grad, minus_grad, atol=1e-7)


def test_terms_at_extreme_scale():
    m = np.array([[0.5, 0.7], [0.2, 0.9]])
    terms = cross_entropy_terms(m, 600.0)  # scale e^600: every loss underflows, nothing may be NaN
    assert np.isfinite(terms.log_loss) and np.isfinite(terms.log_grad_mass)
    np.testing.assert_allclose(terms.log_loss, -np.exp(600.0) * 0.2, rtol=1e-12)
    np.testing.assert_allclose(terms.weights, [[0, 0], [1, 0]], atol=1e-300)


def test_svm_hand_solvable_and_kkt():
    # three classes at e_1, e_2, e_3 in R^3: by symmetry W = a(I - J/3) with margin a = 1.
    X, labels = np.eye(3), np.arange(3)
    svm = multiclass_svm(X, labels, 3)
    np.testing.assert_allclose(svm.W, np.eye(3) - 1 / 3, atol=1e-7)
    assert svm.residual < 1e-6 and np.all(svm.alpha >= 0)


def test_two_classes_match_binary_svm():
    # with C = 2 and W = (w0, w1), the binary SVM on beta = w1 - w0 has margin 1, and ||W||^2 is
    # minimized at w1 = -w0 = beta/2 ... so the pair constraint (w_k - w_c) x >= 1 is y <x, beta> >= 1.
    X, y = gaussian(5, 8, seed=2)
    labels = (y > 0).astype(np.int64)
    svm = multiclass_svm(X, labels, 2)
    binary = hard_margin_svm(X, y)
    np.testing.assert_allclose(svm.W[1] - svm.W[0], binary.beta, atol=1e-6)
    np.testing.assert_allclose(svm.W[0], -svm.W[1], atol=1e-7)


def test_gd_hand_step_and_limit():
    X, labels = random_classes(6, 8, 3, seed=1)
    W0 = np.random.default_rng(0).standard_normal((3, 8))
    run = cross_entropy_gd(X, labels, 3, steps=1, lr=0.1, init=W0, record=2)
    eps, grad = 1e-6, np.zeros_like(W0)
    for i in np.ndindex(W0.shape):
        E = np.zeros_like(W0)
        E[i] = eps
        grad[i] = (_direct(W0 + E, X, labels) - _direct(W0 - E, X, labels)) / (2 * eps)
    np.testing.assert_allclose(np.exp(run.log_norm_W) * run.W, W0 - 0.1 * grad, atol=1e-7)
    svm = multiclass_svm(X, labels, 3)
    fast = cross_entropy_gd(X, labels, 3, steps=3000, lr=0.5, schedule="normalized")
    assert ibcore.angle(fast.W.ravel(), svm.W.ravel()) < 0.2


def test_bad_inputs():
    X, labels = random_classes(6, 8, 3, seed=1)
    with pytest.raises(IbcoreValueError, match="labels must lie"):
        multiclass_svm(X, labels, 2)
    with pytest.raises(IbcoreTypeError, match="integers"):
        multiclass_svm(X, labels.astype(float), 3)
    with pytest.raises(ShapeError, match="rows"):
        cross_entropy_gd(X[:5], labels, 3, steps=5, lr=0.1)
    with pytest.raises(ShapeError, match="init"):
        cross_entropy_gd(X, labels, 3, steps=5, lr=0.1, init=np.ones((2, 8)))
    with pytest.raises(IbcoreValueError, match="zero matrix"):
        cross_entropy_gd(X, labels, 3, steps=5, lr=0.1, init=np.zeros((3, 8)))
    with pytest.raises(IbcoreValueError, match="schedule"):
        cross_entropy_gd(X, labels, 3, steps=5, lr=0.1, schedule="angular")
    with pytest.raises(IbcoreValueError, match="n_classes"):
        random_classes(2, 3, 3)
    with pytest.raises(NotSeparableError):
        multiclass_svm(np.array([[1.0], [2.0], [3.0]]), np.array([0, 1, 0]), 2)
