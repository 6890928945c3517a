"""ibcore.losses: the log-space loss terms against direct formulas where those are
representable, and finite values where they are not."""

import numpy as np
import pytest

from ibcore.errors import IbcoreValueError
from ibcore.losses import loss_terms


@pytest.mark.parametrize("loss", ["exp", "logistic"])
def test_loss_terms_match_direct_formulas(loss):
    rng = np.random.default_rng(0)
    m = rng.standard_normal((4, 6))
    log_sL = np.log([0.3, 1.0, 2.0, 5.0])
    a = np.exp(log_sL)[:, None] * m
    if loss == "exp":
        ell, dell = np.exp(-a), np.exp(-a)
    else:
        ell, dell = np.log1p(np.exp(-a)), 1.0 / (1.0 + np.exp(a))
    t = loss_terms(m, log_sL, loss)
    np.testing.assert_allclose(t.log_loss, np.log(ell.sum(1)), rtol=1e-12)
    np.testing.assert_allclose(t.weights, dell / dell.sum(1, keepdims=True), atol=1e-14)
    np.testing.assert_allclose(t.log_grad_mass, np.log(dell.sum(1)), rtol=1e-12)


@pytest.mark.parametrize("loss", ["exp", "logistic"])
def test_huge_scales_stay_finite_and_weights_become_the_indicator(loss):
    m = np.array([[0.5, 0.2, 0.2 + 1e-9, 3.0]])
    for log_sL in (50.0, 1e3, 1e6):
        t = loss_terms(m, np.array([log_sL]), loss)
        assert np.all(np.isfinite(t.log_loss)) and np.all(np.isfinite(t.weights))
        assert t.log_loss[0] < -1e20
        np.testing.assert_allclose(t.weights[0], [0.0, 1.0, 0.0, 0.0], atol=1e-300)
    # at a moderate scale the 1e-9 gap is invisible and the two near-minimal samples share the weight
    t = loss_terms(m, np.array([5.0]), loss)
    assert t.weights[0, 1] == pytest.approx(0.5, rel=1e-5) and t.weights[0, 2] == pytest.approx(0.5, rel=1e-5)


def test_logistic_and_exp_agree_in_the_tail():
    m = np.array([[1.0, 1.5, 2.0]])
    e, lg = loss_terms(m, np.array([4.0]), "exp"), loss_terms(m, np.array([4.0]), "logistic")
    np.testing.assert_allclose(lg.log_loss, e.log_loss, atol=1e-20)
    np.testing.assert_allclose(lg.weights, e.weights, atol=1e-20)


def test_unknown_loss():
    with pytest.raises(IbcoreValueError, match="loss must be one of"):
        loss_terms(np.ones((1, 2)), np.zeros(1), "hinge")


def test_training_loop_layout_gives_the_same_terms():
    # the engine's hot path takes margins laid out (N, B) and may skip the log-loss
    from ibcore.losses import _exp_terms

    rng = np.random.default_rng(1)
    m = rng.standard_normal((5, 9))
    lsl = np.array([-2.0, 0.0, 3.0, 40.0, 700.0])
    t = loss_terms(m, lsl, "exp")
    log_loss, wT = _exp_terms(m.T.copy(), lsl)
    np.testing.assert_allclose(log_loss, t.log_loss, rtol=1e-14)
    np.testing.assert_allclose(wT.T, t.weights, rtol=1e-14, atol=1e-300)
    none, wT2 = _exp_terms(m.T.copy(), lsl, with_log_loss=False)
    assert none is None and np.array_equal(wT2, wT)


def test_zero_margin_gives_zero_scaled_minimum_without_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = loss_terms(np.array([[0.0, 1.0]]), np.array([3.0]), "exp")
    # a_min = 0: log_loss = log(1 + exp(-e^3)), computed as log(total): absolute round-off
    np.testing.assert_allclose(t.log_loss, np.log1p(np.exp(-np.exp(3.0))), rtol=0, atol=1e-15)
