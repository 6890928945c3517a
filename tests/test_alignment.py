"""ibcore.alignment: stable rank and alignment on hand-made matrices, the minimum-norm
factorization cost L ||beta||^(2/L) three ways (closed form, balanced weights, SLSQP),
a seeded gradient-descent run whose layers align, and one test per bad input."""

import numpy as np
import pytest

from ibcore.alignment import (
    balanced_factorization,
    factorization_cost,
    factorization_ratio,
    layer_alignment,
    layer_report,
    min_norm_factorization,
    stable_rank,
)
from ibcore.errors import IbcoreTypeError, IbcoreValueError, ShapeError
from ibcore.nets import Diagonal, FullyConnected
from ibcore.train import gradient_descent

SHAPES = [(4, 1, None), (4, 2, [1]), (4, 2, [5]), (3, 3, [4, 2]), (4, 4, [3, 5, 2])]


def test_stable_rank_of_hand_made_matrices():
    assert stable_rank(np.outer([1.0, 2.0, 3.0], [4.0, -1.0])) == pytest.approx(1.0, abs=1e-14)
    assert stable_rank(np.eye(3)) == pytest.approx(3.0, abs=1e-14)
    # diag(1, e): 1 + e^2 exactly, continuous in e (unlike the rank)
    assert stable_rank(np.diag([1.0, 1e-3])) == pytest.approx(1.0 + 1e-6, rel=1e-12)
    # batched, and invariant under scale (even extreme scales)
    stack = np.stack([np.eye(2), np.outer([1.0, 1.0], [1.0, 0.0]), 1e-200 * np.eye(2)])
    np.testing.assert_allclose(stable_rank(stack), [2.0, 1.0, 2.0], rtol=1e-13)


def test_layer_alignment_of_hand_made_pairs():
    u, v, x = np.array([1.0, 0.0]), np.array([0.6, 0.8]), np.array([0.0, 1.0, 0.0])
    aligned = layer_alignment(np.outer(u, v), np.outer(v, x))  # right vector of W_l = left vector of W_l+1
    assert aligned == pytest.approx(1.0, abs=1e-14)
    orthogonal = layer_alignment(np.outer(u, v), np.outer([0.8, -0.6], x))
    assert orthogonal == pytest.approx(0.0, abs=1e-14)
    # sign of singular vectors is irrelevant
    assert layer_alignment(np.outer(u, v), np.outer(-v, x)) == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("dim, depth, widths", SHAPES)
def test_balanced_factorization_attains_the_cost(dim, depth, widths):
    net = FullyConnected(dim, depth, widths)
    beta = np.random.default_rng(depth).standard_normal(dim) * 3.0
    w = balanced_factorization(net, beta)
    np.testing.assert_allclose(net.predictor(w), beta, rtol=1e-13, atol=1e-13)
    assert w @ w == pytest.approx(factorization_cost(beta, depth), rel=1e-13)
    assert factorization_ratio(net, w) == pytest.approx(1.0, abs=1e-13)
    report = layer_report(net, w)
    np.testing.assert_allclose(report.norm_shares, 1.0 / depth, rtol=1e-13)  # balanced: equal layer norms
    np.testing.assert_allclose(report.stable_ranks, 1.0, atol=1e-12)
    np.testing.assert_allclose(report.alignments, 1.0, atol=1e-12)


@pytest.mark.parametrize("dim, depth, widths", SHAPES)
def test_no_random_factorization_is_cheaper(dim, depth, widths):
    # ||beta|| <= prod ||W_l||_2 <= prod ||W_l||_F and AM-GM: the ratio is >= 1 for every w
    net = FullyConnected(dim, depth, widths)
    ratios = factorization_ratio(net, net.init(7, batch=500))
    assert ratios.shape == (500,) and np.all(ratios >= 1.0 - 1e-12)
    if depth > 1 and min(widths) > 1:
        assert np.median(ratios) > 1.05  # generic weights are far from the minimum


@pytest.mark.parametrize("dim, depth, widths", SHAPES)
def test_slsqp_finds_the_closed_form_cost(dim, depth, widths):
    # An independent solver, started at random, lands on L ||beta||^(2/L): the closed form is the minimum.
    net = FullyConnected(dim, depth, widths)
    beta = np.random.default_rng(10 + depth).standard_normal(dim) * 0.3
    for seed in range(2):
        result = min_norm_factorization(net, beta, seed=seed)
        assert result.constraint_residual <= 1e-8
        assert result.ratio == pytest.approx(1.0, abs=1e-8)
        assert result.cost == pytest.approx(depth * np.linalg.norm(beta) ** (2 / depth), rel=1e-14)


def test_factorization_cost_closed_form_and_batch():
    assert factorization_cost(np.array([3.0, 4.0]), 1) == pytest.approx(25.0)
    assert factorization_cost(np.array([3.0, 4.0]), 2) == pytest.approx(10.0)
    np.testing.assert_allclose(factorization_cost(np.array([[3.0, 4.0], [0.0, 8.0]]), 3), [3 * 25 ** (1 / 3), 12.0])


def test_quantities_are_scale_free_and_batched():
    net = FullyConnected(5, 3, [4, 2])
    W = net.init(3, batch=4)
    a, b = layer_report(net, W), layer_report(net, 1e-120 * W)
    for name in ("stable_ranks", "alignments", "norm_shares", "predictor_alignment", "factorization_ratio"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12, err_msg=name)
    single = layer_report(net, W[2])
    assert single.stable_ranks.shape == (3,) and single.alignments.shape == (2,)
    np.testing.assert_allclose(single.factorization_ratio, a.factorization_ratio[2], rtol=1e-13)


def test_gradient_descent_aligns_the_layers():
    # Seeded run: after training the layers are rank one, aligned and balanced (Ji & Telgarsky 2019),
    # while at initialization they are not.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 4))
    y = np.array([1.0, -1.0, 1.0])
    net = FullyConnected(4, 3, [5, 3])
    w0 = net.init(1, batch=3)
    start = layer_report(net, w0)
    assert np.all(np.max(start.stable_ranks, axis=1) > 1.1) and np.all(start.factorization_ratio > 1.1)
    run = gradient_descent(net, X, y, steps=1500, lr=0.5, schedule="angular", T=5, init=w0, progress=False)
    end = layer_report(net, run.w)
    assert np.all(run.log_norm_w > 5)  # the run went far enough for the initialization to be forgotten
    np.testing.assert_allclose(end.stable_ranks, 1.0, atol=1e-6)
    np.testing.assert_allclose(end.alignments, 1.0, atol=1e-6)
    np.testing.assert_allclose(end.factorization_ratio, 1.0, atol=1e-4)
    np.testing.assert_allclose(end.predictor_alignment, 1.0, atol=1e-6)


def test_bad_inputs_raise_named_errors():
    net = FullyConnected(3, 2, [2])
    with pytest.raises(IbcoreTypeError):
        layer_report(Diagonal(3, 2), np.ones(6))
    with pytest.raises(ShapeError):
        layer_report(net, np.ones(5))
    with pytest.raises(IbcoreValueError):
        layer_report(net, np.zeros(net.n_params))
    with pytest.raises(IbcoreValueError):
        stable_rank(np.zeros((2, 2)))
    with pytest.raises(ShapeError):
        stable_rank(np.ones(3))
    with pytest.raises(ShapeError):
        layer_alignment(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ShapeError):
        balanced_factorization(net, np.ones(4))
    with pytest.raises(IbcoreValueError):
        min_norm_factorization(net, np.zeros(3))
    with pytest.raises(IbcoreValueError):
        factorization_cost(np.ones(3), 0)
    w_dead = net.flatten([np.zeros((3, 2)), np.ones((2, 1))])  # first layer zero: P(w) = 0
    with pytest.raises(IbcoreValueError):
        factorization_ratio(net, w_dead)
