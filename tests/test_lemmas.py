"""ibcore.lemmas: induced regularizers three ways (closed form, balanced weights, SLSQP) and
hand-solvable cases; gradient directions against finite differences; the checkpointed run
against one uninterrupted run; loss weights converging to the SVM's duals; balancedness, one
gradient step checked against its exact formula; the SymPy step polynomials; bad inputs."""

import numpy as np
import pytest

import ibcore
from ibcore import lemmas
from ibcore.data import closed_form_2d, gaussian
from ibcore.errors import IbcoreTypeError, IbcoreValueError, ShapeError
from ibcore.fourier import dft
from ibcore.limits import hard_margin_svm
from ibcore.nets import Convolutional, Diagonal, FullyConnected
from ibcore.train import gradient_descent

NETS = [Diagonal(5, 2), Diagonal(6, 3), Convolutional(5, 2), Convolutional(6, 3), Convolutional(4, 4)]


@pytest.fixture(scope="module")
def data():
    return gaussian(5, 8, seed=2)


# --------------------------------------------------------------------------- induced regularizers


def test_induced_regularizer_hand_cases():
    beta = np.array([3.0, -4.0, 0.0, 1.0])
    assert lemmas.induced_regularizer(Diagonal(4, 2), beta) == pytest.approx(2 * 8.0, rel=1e-14)  # 2 ||beta||_1
    assert lemmas.induced_regularizer(Diagonal(4, 1), beta) == pytest.approx(26.0, rel=1e-14)  # ||beta||^2
    assert lemmas.induced_regularizer(FullyConnected(4, 2), beta) == pytest.approx(2 * np.sqrt(26.0), rel=1e-14)
    assert lemmas.induced_regularizer(Convolutional(4, 2), beta) == pytest.approx(
        2 * np.sum(np.abs(np.fft.fft(beta, norm="ortho"))), rel=1e-14)
    # depth 3, diagonal: 3 * sum |beta_d|^(2/3); a delta in time is flat in frequency and vice versa
    expected = 3 * (9 ** (1 / 3) + 16 ** (1 / 3) + 1)
    assert lemmas.induced_regularizer(Diagonal(4, 3), beta) == pytest.approx(expected, rel=1e-13)
    delta = np.array([1.0, 0.0, 0.0, 0.0])  # beta^ = (1/2, 1/2, 1/2, 1/2)
    assert lemmas.induced_regularizer(Convolutional(4, 3), delta) == pytest.approx(3 * 4 * 0.5 ** (2 / 3), rel=1e-13)
    # batched, and homogeneous of degree 2/L in beta
    batch = np.stack([beta, 2.0 * beta])
    out = lemmas.induced_regularizer(Diagonal(4, 3), batch)
    assert out.shape == (2,) and out[1] == pytest.approx(2 ** (2 / 3) * out[0], rel=1e-13)


@pytest.mark.parametrize("net", NETS, ids=repr)
def test_balanced_factorization_attains_the_regularizer(net):
    beta = np.random.default_rng(net.depth + net.dim).standard_normal(net.dim)
    w = lemmas.balanced_factorization(net, beta)
    np.testing.assert_allclose(net.predictor(w), beta, atol=1e-12)
    assert w @ w == pytest.approx(lemmas.induced_regularizer(net, beta), rel=1e-12)
    assert lemmas.cost_ratio(net, w) == pytest.approx(1.0, abs=1e-12)
    # balanced: every layer has the same modulus per coordinate / frequency
    layers = np.stack(net.unflatten(w))
    moduli = np.abs(dft(layers)) if isinstance(net, Convolutional) else np.abs(layers)
    np.testing.assert_allclose(moduli, np.broadcast_to(moduli[0], moduli.shape), atol=1e-12)


@pytest.mark.parametrize("dim", [4, 5, 6])
def test_conv_balanced_factorization_with_real_negative_spectrum(dim):
    # a symmetric beta (beta[d] = beta[D-d]) has a real spectrum; make it negative at k = 0, 1 and D/2:
    # the phases pi must be split so that the filters stay real
    spec = np.array([-2.0, -1.5] + [0.7] * (dim - 3) + [-1.5])
    if dim % 2 == 0:
        spec[dim // 2] = -0.4
    beta = np.fft.ifft(spec, norm="ortho").real
    np.testing.assert_allclose(dft(beta), spec, atol=1e-12)
    for depth in (2, 3, 4):
        net = Convolutional(dim, depth)
        w = lemmas.balanced_factorization(net, beta)
        np.testing.assert_allclose(net.predictor(w), beta, atol=1e-12)
        assert lemmas.cost_ratio(net, w) == pytest.approx(1.0, abs=1e-12)


def test_fully_connected_delegates_to_alignment():
    net = FullyConnected(4, 3, [3, 2])
    beta = np.array([1.0, -2.0, 0.5, 0.3])
    w = lemmas.balanced_factorization(net, beta)
    np.testing.assert_allclose(net.predictor(w), beta, atol=1e-13)
    assert lemmas.cost_ratio(net, w) == pytest.approx(1.0, abs=1e-13)
    assert lemmas.min_norm_factorization(net, beta, seed=1).ratio == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("net", NETS, ids=repr)
def test_random_factorizations_are_exact_and_never_cheaper(net):
    beta = np.random.default_rng(3).standard_normal(net.dim)
    W = lemmas.random_factorization(net, beta, seed=4, batch=300)
    assert W.shape == (300, net.n_params)
    np.testing.assert_allclose(net.predictor(W), np.broadcast_to(beta, (300, net.dim)), atol=1e-9)
    ratios = lemmas.cost_ratio(net, W)
    assert ratios.min() >= 1 - 1e-12 and ratios.max() > 1.01  # the inequality, and it is not tight at random
    norms = np.linalg.norm(np.stack(net.unflatten(W)), axis=-1)  # (L, B): layer norms equalized
    np.testing.assert_allclose(norms, np.broadcast_to(norms[0], norms.shape), rtol=1e-12)
    # the unbatched draw is the first row of the batched one
    np.testing.assert_allclose(lemmas.random_factorization(net, beta, seed=4), W[0], rtol=1e-13)


@pytest.mark.parametrize("net", NETS, ids=repr)
def test_min_norm_factorization_finds_the_closed_form(net):
    beta = np.random.default_rng(net.n_params).standard_normal(net.dim) * 3.0
    for seed in range(2):
        result = lemmas.min_norm_factorization(net, beta, seed=seed)
        assert result.constraint_residual <= 1e-8
        assert result.ratio == pytest.approx(1.0, abs=1e-8)
        assert result.cost == pytest.approx(lemmas.induced_regularizer(net, beta), rel=1e-14)


def test_cost_ratio_is_scale_free_and_at_least_one():
    net = Convolutional(6, 3)
    W = net.init(0, batch=200)
    r = lemmas.cost_ratio(net, W)
    assert np.all(r >= 1 - 1e-12)
    np.testing.assert_allclose(lemmas.cost_ratio(net, 1e-100 * W), r, rtol=1e-12)
    np.testing.assert_allclose(lemmas.cost_ratio(net, 1e80 * W), r, rtol=1e-12)
    assert lemmas.cost_ratio(net, W[0]) == pytest.approx(r[0], rel=1e-14)


# --------------------------------------------------------------------------- loss weights and gradients


def test_loss_weights_are_the_softmax_and_concentrate():
    X, y = closed_form_2d()
    beta = np.array([1.0, 0.2])
    m = y * (X @ beta)
    for log_scale in (-1.0, 0.0, 1.5):
        expected = np.exp(-np.exp(log_scale) * m)
        np.testing.assert_allclose(lemmas.loss_weights(X, y, beta, log_scale), expected / expected.sum(), rtol=1e-12)
    # far along the direction only the minimum-margin samples keep weight (shared equally here)
    p = lemmas.loss_weights(X, y, beta, 800.0)
    np.testing.assert_allclose(p, (m == m.min()) / np.sum(m == m.min()), atol=0)
    # a path of directions with their log-scales
    P = lemmas.loss_weights(X, y, np.stack([beta, -beta + 2.5]), np.array([0.0, 1.0]))
    assert P.shape == (2, 4)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


@pytest.mark.parametrize("net", [FullyConnected(4, 1), FullyConnected(4, 3, [3, 2]), Diagonal(4, 3), Convolutional(4, 2)],
                         ids=repr)
def test_gradient_direction_matches_finite_differences(net):
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((3, 4)), np.array([1.0, -1.0, 1.0])
    w = net.init(3, scale=1.3)
    loss = lambda v: np.sum(np.exp(-y * (X @ net.predictor(v))))
    h = 1e-6
    fd = np.array([(loss(w + h * e) - loss(w - h * e)) / (2 * h) for e in np.eye(net.n_params)])
    direction, weights, log_loss = lemmas.gradient_direction(net, X, y, w / np.linalg.norm(w), np.log(np.linalg.norm(w)))
    assert ibcore.angle(direction, -fd) <= 1e-5
    assert np.linalg.norm(direction) == pytest.approx(1.0)
    assert log_loss == pytest.approx(np.log(loss(w)), rel=1e-12)
    m = y * (X @ net.predictor(w))
    np.testing.assert_allclose(weights, np.exp(-m) / np.exp(-m).sum(), rtol=1e-12)
    # batched equals unbatched
    W = net.init(5, batch=3)
    D, _, _ = lemmas.gradient_direction(net, X, y, W, np.zeros(3))
    np.testing.assert_allclose(D[1], lemmas.gradient_direction(net, X, y, W[1], 0.0)[0], rtol=1e-12)


def test_descent_path_is_one_run(data):
    X, y = data
    net = Convolutional(8, 2)
    path = lemmas.descent_path(net, X, y, checkpoints=[5, 40, 300], lr=0.05, init=2)
    whole = gradient_descent(net, X, y, steps=300, lr=0.05, init=2, record=np.array([5, 40]))
    assert path.iteration.tolist() == [0, 5, 40, 300]
    np.testing.assert_allclose(path.beta, whole.history["beta"], atol=1e-10)
    np.testing.assert_allclose(path.log_norm_w, whole.history["log_norm_w"], atol=1e-10)
    np.testing.assert_allclose(path.log_loss, whole.history["log_loss"], rtol=1e-9)
    np.testing.assert_allclose(path.w[-1], whole.w, atol=1e-10)
    # the increments are sums of gradient steps: their running sum is w(t) - w(0)
    np.testing.assert_allclose(np.cumsum(path.increments(), axis=0)[-1], path.params()[-1] - path.params()[0], atol=1e-12)
    # the recorded gradients are gradient_direction's
    g, p, _ = lemmas.gradient_direction(net, X, y, path.w[2], path.log_norm_w[2])
    np.testing.assert_allclose(path.neg_gradient[2], g, atol=1e-14)
    np.testing.assert_allclose(path.weights[2], p, atol=1e-14)
    # interpolation at recorded losses returns the records
    np.testing.assert_allclose(path.at_log_loss(path.log_loss[1:3], "beta"), path.beta[1:3], atol=1e-12)
    np.testing.assert_allclose(path.at_log_loss(path.log_loss[2], "weights"), path.weights[2], atol=1e-12)


def test_descent_path_batched(data):
    X, y = data
    net = Diagonal(8, 2)
    W0 = net.init(1, batch=2)
    path = lemmas.descent_path(net, X, y, checkpoints=[10, 50], lr=0.05, init=W0)
    assert path.w.shape == (3, 2, net.n_params) and path.weights.shape == (3, 2, 5) and path.log_loss.shape == (3, 2)
    single = lemmas.descent_path(net, X, y, checkpoints=[10, 50], lr=0.05, init=W0[1])
    np.testing.assert_allclose(path.w[:, 1], single.w, atol=1e-12)


def test_gradients_lead_and_weights_converge_to_the_svm_duals(data):
    # Lemmas 2 and 3 on the linear predictor: the normalized run's gradient is the SVM's direction and its
    # weights are the SVM's normalized duals (to round-off), while the iterate still lags behind.
    X, y = data
    svm = hard_margin_svm(X, y)
    path = lemmas.descent_path(FullyConnected(8, 1), X, y, checkpoints=[100, 700], lr=0.1, schedule="normalized", init=0)
    np.testing.assert_allclose(path.weights[-1], svm.alpha / svm.alpha.sum(), atol=1e-9)
    assert ibcore.angle(path.neg_gradient[-1], svm.beta) <= 1e-6
    assert ibcore.angle(path.w[-1], svm.beta) > 10 * ibcore.angle(path.neg_gradient[-1], svm.beta)


# --------------------------------------------------------------------------- balancedness


def test_balancedness_quantities_by_hand():
    net = Diagonal(3, 3)
    w = net.flatten([np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, -1.0]), np.array([2.0, 2.0, 2.0])])
    q = lemmas.balancedness(net, w)
    np.testing.assert_allclose(q[0], [1.0, 3.0, 8.0])
    np.testing.assert_allclose(q[1], [-4.0, -3.0, -3.0])
    fc = FullyConnected(2, 2, [1])
    Q = lemmas.balancedness(fc, fc.flatten([np.array([[1.0], [2.0]]), np.array([[3.0]])]))
    np.testing.assert_allclose(Q[0], [[5.0 - 9.0]])
    conv = Convolutional(4, 2)
    v = np.array([1.0, 0.0, 0.0, 0.0])
    Qc = lemmas.balancedness(conv, conv.flatten([2 * v, v]))  # flat spectra 1 and 1/2
    np.testing.assert_allclose(Qc[0], np.full(4, 1.0 - 0.25))
    assert lemmas.balancedness(Diagonal(3, 1), np.ones(3)) == []
    assert lemmas.balancedness_drift(Diagonal(3, 1), np.ones(3), np.ones(3)) == 0.0


def _exp_loss_gradient_beta(X, y, beta):
    return -(np.exp(-y * (X @ beta)) * y) @ X  # grad of sum exp(-y <x, beta>)


@pytest.mark.parametrize("net", [FullyConnected(4, 3, [3, 2]), Convolutional(5, 3), Diagonal(4, 3)], ids=repr)
def test_one_gradient_step_changes_balancedness_exactly_as_the_lemma_says(net):
    rng = np.random.default_rng(11)
    X, y = rng.standard_normal((3, net.dim)), np.array([1.0, -1.0, 1.0])
    w = net.init(2, scale=1.2)
    eta = 0.3
    g = _exp_loss_gradient_beta(X, y, net.predictor(w))
    G = net.vjp(w, g)
    one = gradient_descent(net, X, y, steps=1, lr=eta, init=w, record=2).params()
    np.testing.assert_allclose(one, w - eta * G, atol=1e-12)
    change = [b - a for a, b in zip(lemmas.balancedness(net, w), lemmas.balancedness(net, one))]
    if isinstance(net, FullyConnected):
        Gs = net.unflatten(G)
        predicted = [eta**2 * (Gs[l].T @ Gs[l] - Gs[l + 1] @ Gs[l + 1].T) for l in range(net.depth - 1)]
    else:
        q = lemmas.balancedness(net, w)
        hat = (lambda v: dft(v)) if isinstance(net, Convolutional) else (lambda v: v)
        sq = [np.abs(hat(v)) ** 2 for v in net.unflatten(w)]
        predicted = []
        for l in range(net.depth - 1):
            others = np.prod([sq[m] for m in range(net.depth) if m not in (l, l + 1)], axis=0)
            predicted.append(-(eta**2) * np.abs(hat(g)) ** 2 * others * q[l])
    for c, p in zip(change, predicted):
        np.testing.assert_allclose(c, p, atol=1e-12)
        assert np.max(np.abs(p)) > 1e-6  # the second-order term is really there


def test_balancedness_drift_is_first_order_in_the_step(data):
    X, y = data
    net = Diagonal(8, 3)
    w0 = net.init(5, scale=1.5)
    drift = []
    for eta in (0.04, 0.02):
        n = round(2.0 / eta)
        run = gradient_descent(net, X, y, steps=n, lr=eta, init=w0, record=2)
        drift.append(lemmas.balancedness_drift(net, w0, run.params()))
    assert drift[0] > 1e-4 and 0.45 <= drift[1] / drift[0] <= 0.55


# --------------------------------------------------------------------------- bad inputs


def test_bad_inputs(data):
    X, y = data
    with pytest.raises(IbcoreTypeError, match="net"):
        lemmas.induced_regularizer("diag", np.ones(3))
    with pytest.raises(ShapeError, match="beta"):
        lemmas.induced_regularizer(Diagonal(3, 2), np.ones(4))
    with pytest.raises(ShapeError, match="single"):
        lemmas.balanced_factorization(Diagonal(3, 2), np.ones((2, 3)))
    with pytest.raises(IbcoreTypeError, match="Diagonal and Convolutional"):
        lemmas.random_factorization(FullyConnected(3, 2), np.ones(3))
    with pytest.raises(IbcoreValueError, match="beta = 0"):
        lemmas.min_norm_factorization(Convolutional(3, 2), np.zeros(3))
    with pytest.raises(IbcoreValueError, match="zero"):
        lemmas.cost_ratio(Diagonal(3, 2), np.zeros(6))
    with pytest.raises(IbcoreValueError, match="P\\(w\\) = 0"):
        lemmas.cost_ratio(Diagonal(2, 2), np.array([1.0, 0.0, 0.0, 1.0]))
    with pytest.raises(IbcoreValueError, match="schedule"):
        lemmas.descent_path(Diagonal(8, 2), X, y, checkpoints=[10], lr=0.1, schedule="angular")
    with pytest.raises(IbcoreTypeError, match="checkpoints"):
        lemmas.descent_path(Diagonal(8, 2), X, y, checkpoints=[1.5], lr=0.1)
    with pytest.raises(IbcoreValueError, match="positive"):
        lemmas.descent_path(Diagonal(8, 2), X, y, checkpoints=[0], lr=0.1)
    with pytest.raises(IbcoreValueError, match="zero"):
        lemmas.descent_path(Diagonal(8, 2), X, y, checkpoints=[3], lr=0.1, init=np.zeros(16))
    with pytest.raises(ShapeError, match="features"):
        lemmas.gradient_direction(Diagonal(3, 2), X, y, np.ones(6), 0.0)
    with pytest.raises(IbcoreValueError, match="saddle"):
        lemmas.gradient_direction(Diagonal(8, 3), X, y, np.concatenate([np.ones(8), np.zeros(16)]), 0.0)
    path = lemmas.descent_path(Diagonal(8, 2), X, y, checkpoints=[5], lr=0.1)
    with pytest.raises(IbcoreValueError, match="outside"):
        path.at_log_loss(path.log_loss[0] + 1.0)
    with pytest.raises(IbcoreValueError, match="field"):
        path.at_log_loss(path.log_loss[0], "alpha")
