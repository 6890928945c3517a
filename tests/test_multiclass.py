"""ibcore.multiclass: the log-space cross-entropy terms against a direct evaluation and at
extreme scales, the SVM QP on a hand-solvable set and its KKT residual, two classes against
the binary SVM, gradient descent against a hand step, a plain loop and toward the SVM, the
engine's view of it (pair rows, the grouped loss object, two classes = the logistic loss),
and bad inputs."""

import numpy as np
import pytest

import ibcore
from ibcore.data import gaussian
from ibcore._schedules import make_rule
from ibcore.errors import DivergenceError, IbcoreTypeError, IbcoreValueError, NotSeparableError, ShapeError
from ibcore.limits import hard_margin_svm
from ibcore.multiclass import (
    CrossEntropyLoss,
    cross_entropy_gd,
    cross_entropy_terms,
    multiclass_margins,
    multiclass_svm,
    pair_rows,
    random_classes,
)
from ibcore.nets import FullyConnected
from ibcore._engine import _descend, _record_points


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


def test_pair_rows_give_the_pair_margins():
    X, labels = random_classes(7, 5, 4, seed=3)
    Z = pair_rows(X, labels, 4)
    assert Z.shape == (7 * 3, 4 * 5)
    W = np.random.default_rng(2).standard_normal((6, 4, 5))  # a batch of six W
    np.testing.assert_allclose(W.reshape(6, -1) @ Z.T, multiclass_margins(W, X, labels).reshape(6, -1), rtol=1e-13, atol=1e-14)
    # each row is x_n in the block of its own class and -x_n in the rival's, zero elsewhere
    row = Z[3 * 2 + 1].reshape(4, 5)  # sample 2, its second rival
    rival = [c for c in range(4) if c != labels[2]][1]
    np.testing.assert_array_equal(row[labels[2]], X[2])
    np.testing.assert_array_equal(row[rival], -X[2])
    assert np.count_nonzero(row) == 2 * np.count_nonzero(X[2])


def test_cross_entropy_loss_object_groups_the_pairs_by_sample():
    X, labels = random_classes(5, 4, 3, seed=0)
    W = np.random.default_rng(4).standard_normal((2, 3, 4))
    m = multiclass_margins(W, X, labels)  # (2, 5, 2)
    log_scale = np.array([0.5, 40.0])
    terms = CrossEntropyLoss(3)(m.reshape(2, 10), log_scale)
    for b in range(2):
        one = cross_entropy_terms(m[b], log_scale[b])
        np.testing.assert_allclose(terms.log_loss[b], one.log_loss, rtol=1e-14)
        np.testing.assert_allclose(terms.log_grad_mass[b], one.log_grad_mass, rtol=1e-14)
        np.testing.assert_allclose(terms.weights[b], one.weights.ravel(), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(terms.weights.sum(axis=1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("schedule", ["constant", "normalized"])
def test_two_classes_are_the_logistic_loss_in_the_engine(schedule):
    # with C = 2 each sample has one pair margin m_n, and log(1 + e^{-m_n}) is the logistic loss
    X, labels = random_classes(6, 8, 2, seed=5)
    coords = FullyConnected(16, 1)._coordinates(pair_rows(X, labels, 2))
    u = np.random.default_rng(1).standard_normal((1, 16))
    u /= np.linalg.norm(u)
    kw = dict(L=1, steps=200, rule=make_rule(schedule, 0.3), pts=_record_points(200, 20), batched=False)
    grouped = _descend(coords, u, np.array([0.2]), loss=CrossEntropyLoss(2), **kw)
    logistic = _descend(coords, u, np.array([0.2]), loss="logistic", **kw)
    assert grouped.loss == "cross-entropy" and logistic.loss == "logistic"
    for key in ("log_loss", "margin", "log_norm_w", "beta"):
        np.testing.assert_allclose(grouped.history[key], logistic.history[key], rtol=1e-11, atol=1e-13)


def plain_cross_entropy_gd(X, labels, C, W, steps, lr, normalized):
    """W <- W - eta grad L(W), eta = lr or lr / L(W), in plain arithmetic on W (moderate scales only)."""
    rivals = [[c for c in range(C) if c != k] for k in labels]
    path = []
    for _ in range(steps + 1):
        scores = X @ W.T
        m = np.array([[scores[n, k] - scores[n, c] for c in rivals[n]] for n, k in enumerate(labels)])
        e = np.exp(-m)
        loss = np.sum(np.log1p(e.sum(axis=1)))
        q = e / (1 + e.sum(axis=1, keepdims=True))
        path.append((W.copy(), loss, m.min() / np.linalg.norm(W)))
        minus_grad = np.zeros_like(W)
        for n, k in enumerate(labels):
            for j, c in enumerate(rivals[n]):
                minus_grad[k] += q[n, j] * X[n]
                minus_grad[c] -= q[n, j] * X[n]
        W = W + (lr / loss if normalized else lr) * minus_grad
    return path


@pytest.mark.parametrize("schedule, lr", [("constant", 0.5), ("normalized", 0.05)])
def test_gd_is_a_plain_loop(schedule, lr):
    X, labels = random_classes(7, 5, 3, seed=2)
    W0 = np.random.default_rng(3).standard_normal((3, 5))
    run = cross_entropy_gd(X, labels, 3, steps=150, lr=lr, schedule=schedule, init=W0, record=40, progress=False)
    path = plain_cross_entropy_gd(X, labels, 3, W0, 150, lr, schedule == "normalized")
    h = run.history
    assert set(h) == {"iteration", "log_loss", "margin", "log_norm_W", "W"} and h["W"].shape == (len(h["iteration"]), 3, 5)
    assert h["iteration"][0] == 0 and h["iteration"][-1] == 150 and path[-1][1] < 0.5 * path[0][1]
    for i, t in enumerate(h["iteration"]):
        W, loss, margin = path[t]
        np.testing.assert_allclose(np.exp(h["log_norm_W"][i]) * h["W"][i], W, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(h["log_loss"][i], np.log(loss), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(h["margin"][i], margin, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(run.W), 1.0, rtol=1e-14)
    assert run.log_loss == h["log_loss"][-1] and run.margin == h["margin"][-1] and run.log_norm_W == h["log_norm_W"][-1]


def test_gd_reports_divergence_of_a_constant_step():
    X, labels = random_classes(6, 8, 3, seed=1)
    with pytest.raises(DivergenceError, match="^cross-entropy gradient descent diverged at iteration 0 with constant step lr=1e"):
        cross_entropy_gd(X, labels, 3, steps=10, lr=1e305)


@pytest.mark.parametrize("kwargs, error, name", [
    (dict(lr=0.0), IbcoreValueError, "lr"),
    (dict(lr=np.nan), IbcoreValueError, "lr"),
    (dict(steps=0), IbcoreValueError, "steps"),
    (dict(record=1), IbcoreValueError, "record"),
    (dict(init_scale=-1.0), IbcoreValueError, "init_scale"),
    (dict(n_classes=1), IbcoreValueError, "n_classes"),
    (dict(init=np.ones(24)), ShapeError, "init"),
])
def test_bad_gd_arguments_name_the_argument(kwargs, error, name):
    X, labels = random_classes(6, 8, 3, seed=1)
    args = dict(n_classes=3, steps=5, lr=0.1) | kwargs
    with pytest.raises(error, match=name):
        cross_entropy_gd(X, labels, **args)


def test_bad_engine_arguments_name_the_argument():
    X, labels = random_classes(6, 8, 3, seed=1)
    with pytest.raises(IbcoreTypeError, match="labels"):
        pair_rows(X, labels.astype(float), 3)
    with pytest.raises(IbcoreValueError, match="n_classes"):
        pair_rows(X, labels, 1)
    with pytest.raises(ShapeError, match="labels"):
        pair_rows(X[:4], labels, 3)
    with pytest.raises(IbcoreValueError, match="n_classes"):
        CrossEntropyLoss(1)
    with pytest.raises(ShapeError, match="pair margins"):
        CrossEntropyLoss(3)(np.zeros((1, 5)), np.zeros(1))


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
