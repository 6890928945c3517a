"""ibcore.experiments: frequency removal is an orthogonal projection; a frozen frequency stays
frozen under gradient descent and the run goes to the restricted Fourier-l1 optimum; support
counts by hand; angles at equal loss; and the Figure 1 sweep on a small seeded problem."""

import numpy as np
import pytest

import ibcore
from ibcore.data import gaussian
from ibcore.errors import IbcoreTypeError, IbcoreValueError, ShapeError
from ibcore.experiments import (
    ARCHITECTURES,
    active_count,
    angles_at_equal_loss,
    figure1_sweep,
    frozen_frequency_init,
    penalty_of,
    remove_frequencies,
    restricted_fourier_l1_margin,
)
from ibcore.fourier import dft
from ibcore.limits import bridge_certificate, hard_margin_svm, min_fourier_l1_margin
from ibcore.nets import Convolutional, Diagonal, FullyConnected
from ibcore.train import gradient_descent

X2 = np.array([[0.5, 1.5], [1.5, 0.5], [-0.5, -1.5], [-1.5, -0.5]])
Y2 = np.array([1.0, 1.0, -1.0, -1.0])


@pytest.fixture(scope="module")
def data8():
    return gaussian(5, 8, seed=2)


# --------------------------------------------------------------------------- remove_frequencies


@pytest.mark.parametrize("k", [0, 1, 3, 4])
def test_remove_frequencies_is_the_orthogonal_projection_off_a_conjugate_pair(k):
    v = np.random.default_rng(0).standard_normal((3, 8))
    p = remove_frequencies(v, k)
    assert p.dtype == np.float64 and p.shape == v.shape  # real: both members of the pair go
    spec, orig = dft(p), dft(v)
    gone = np.zeros(8, bool)
    gone[[k, (-k) % 8]] = True
    assert np.max(np.abs(spec[:, gone])) <= 1e-15 * np.max(np.abs(orig))
    np.testing.assert_allclose(spec[:, ~gone], orig[:, ~gone], atol=1e-14)
    np.testing.assert_allclose(remove_frequencies(p, k), p, atol=1e-15)  # idempotent
    np.testing.assert_allclose(np.sum((v - p) * p, axis=1), 0.0, atol=1e-14)  # orthogonal


def test_remove_frequencies_rejects_bad_frequencies():
    with pytest.raises(IbcoreValueError):
        remove_frequencies(np.ones(4), 4)
    with pytest.raises(IbcoreTypeError):
        remove_frequencies(np.ones(4), 1.5)
    with pytest.raises(ShapeError):
        remove_frequencies(1.0, 0)


# --------------------------------------------------------------------------- frozen frequencies


def test_frozen_init_zeroes_the_frequency_in_every_filter_and_matches_init_elsewhere():
    net = Convolutional(8, 3)
    w = frozen_frequency_init(net, 5, 2, scale=2.0, batch=3)
    full = net.init(5, scale=2.0, batch=3)
    for layer, layer_full in zip(net.unflatten(w), net.unflatten(full)):
        spec = dft(layer)
        assert np.max(np.abs(spec[:, [2, 6]])) <= 1e-15
        np.testing.assert_allclose(np.delete(spec, [2, 6], axis=1), np.delete(dft(layer_full), [2, 6], axis=1),
                                   atol=1e-14)
    with pytest.raises(IbcoreTypeError):
        frozen_frequency_init(Diagonal(8, 2), 0, 1)


def test_frozen_frequency_stays_frozen_and_the_run_goes_to_the_restricted_optimum(data8):
    X, y = data8
    net = Convolutional(8, 2)
    frozen = frozen_frequency_init(net, 1, 1)
    run = gradient_descent(net, X, y, steps=6000, lr=0.02, schedule="angular", T=1000.0,
                           init=np.stack([frozen, net.init(1)]), record=20)
    spec = np.abs(dft(run.history["beta"]))
    share = spec[..., 1] / spec.max(axis=-1)
    assert share[:, 0].max() <= 1e-12  # round-off only, at every recorded step
    assert share[-1, 1] > 0.1  # the unfrozen run uses the frequency
    restricted = restricted_fourier_l1_margin(X, y, 1)
    # 0.5 degrees after 6000 steps (measured 0.1); the chapter runs longer and asserts 0.1.
    assert ibcore.angle(run.beta[0], restricted.beta) <= 0.5
    assert ibcore.angle(run.beta[0], min_fourier_l1_margin(X, y).beta) > 10.0


def test_restricted_fourier_l1_is_feasible_restricted_and_costlier(data8):
    X, y = data8
    full = min_fourier_l1_margin(X, y)
    restricted = restricted_fourier_l1_margin(X, y, [1])
    assert np.max(np.abs(dft(restricted.beta)[[1, 7]])) <= 1e-10 * np.max(np.abs(restricted.beta))
    assert np.min(y * (X @ restricted.beta)) >= 1 - 1e-8  # feasible for the original margins
    assert restricted.value >= full.value  # a restriction cannot lower the minimum
    # Optimal for the restricted problem (certificate on projected data), not for the full one.
    assert bridge_certificate(restricted.beta, remove_frequencies(X, 1), y, 1.0, "fourier").certified()
    assert bridge_certificate(restricted.beta, X, y, 1.0, "fourier").off_support > 1.0


def test_restricting_a_frequency_the_optimum_does_not_use_changes_nothing(data8):
    X, y = data8
    full = min_fourier_l1_margin(X, y)
    unused = int(np.argmin(np.abs(dft(full.beta))))  # a frequency with modulus ~0 at the optimum
    assert ibcore.angle(restricted_fourier_l1_margin(X, y, unused).beta, full.beta) <= 1e-6


# --------------------------------------------------------------------------- active_count


def test_active_count_by_hand():
    beta = np.array([1.0, -0.5, 2e-3, 1e-4, 0.0])
    assert active_count(beta) == 3  # threshold 1e-3 of the largest: 1, 0.5, 2e-3
    assert active_count(beta, threshold=1e-2) == 2
    assert active_count(1e-200 * beta) == 3 and active_count(1e200 * beta) == 3  # scale free
    np.testing.assert_array_equal(active_count(np.stack([beta, -beta[::-1]])), [3, 3])
    cosine = np.cos(2 * np.pi * 3 * np.arange(8) / 8 + 0.3)  # no zero entries
    assert active_count(cosine, "fourier") == 2  # frequencies 3 and 5
    assert active_count(cosine, "time") == 8


def test_active_count_rejects_bad_arguments():
    with pytest.raises(IbcoreValueError):
        active_count(np.zeros(3))
    with pytest.raises(IbcoreValueError):
        active_count(np.ones(3), threshold=1.0)
    with pytest.raises(IbcoreValueError):
        active_count(np.ones(3), domain="frequency")


# --------------------------------------------------------------------------- angles_at_equal_loss


def test_equal_loss_angles_vanish_for_a_run_against_itself():
    net = FullyConnected(2, 1)
    r = gradient_descent(net, X2, Y2, steps=500, lr=0.1, init=np.array([1.0, -0.3]), record=np.arange(501))
    log_loss, angles = angles_at_equal_loss(r, r)
    assert log_loss.size == 501
    assert angles.max() <= 1e-6


def test_small_constant_steps_and_small_angular_steps_agree_at_equal_loss(data8):
    # Both follow gradient flow up to O(step). The constant run (eta = 0.01) is itself a few tenths of a
    # degree off the flow early on (it differs from an eta = 0.005 run by about 0.35 deg); measured 0.58 deg.
    X, y = data8
    net = Convolutional(8, 2)
    w0 = net.init(1)
    slow = gradient_descent(net, X, y, steps=10000, lr=0.01, init=w0, record=100)
    fast = gradient_descent(net, X, y, steps=2000, lr=0.005, schedule="angular", T=1e9, init=w0,
                            record=np.arange(2001))
    log_loss, angles = angles_at_equal_loss(slow, fast)
    assert log_loss.size >= 30
    assert angles.max() <= 1.0


def test_equal_loss_rejects_batches_and_disjoint_runs():
    net = FullyConnected(2, 1)
    r = gradient_descent(net, X2, Y2, steps=50, lr=0.1, init=np.array([1.0, -0.3]))
    rb = gradient_descent(net, X2, Y2, steps=50, lr=0.1, init=np.array([[1.0, -0.3], [0.2, 1.0]]))
    with pytest.raises(ShapeError):
        angles_at_equal_loss(r, rb)
    with pytest.raises(IbcoreTypeError):
        angles_at_equal_loss(r, "run")
    late = gradient_descent(net, X2, Y2, steps=50, lr=0.1, init=50.0 * np.array([1.0, 1.0]))
    with pytest.raises(IbcoreValueError):
        angles_at_equal_loss(r, late)  # late starts below every loss value r reaches


# --------------------------------------------------------------------------- Figure 1


def test_penalty_of_names_the_theorems_penalties():
    assert penalty_of("fully connected", 3)[:2] == (2.0, "time")
    assert penalty_of("diagonal", 1)[:2] == (2.0, "time")
    assert penalty_of("diagonal", 2)[:2] == (1.0, "time")
    assert penalty_of("convolutional", 4)[:2] == (0.5, "fourier")
    with pytest.raises(IbcoreValueError):
        penalty_of("recurrent", 2)


def test_figure1_sweep_small_problem():
    X, y = gaussian(3, 4, seed=0)
    sweep = figure1_sweep(X, y, depths=(1, 2), steps=3000, batch=2)
    assert set(sweep) == {(a, L) for a in ARCHITECTURES for L in (1, 2)}
    assert sweep[("diagonal", 1)].run is sweep[("fully connected", 1)].run  # depth 1: one shared run
    svm = hard_margin_svm(X, y)
    for key in [("fully connected", 1), ("fully connected", 2)]:
        s = sweep[key]
        assert s.run.beta.shape == (2, 4) and len(s.polished) == 2
        assert s.certified().all()
        assert max(ibcore.angle(q.beta, svm.beta) for q in s.polished) <= 1e-6
    for key in [("diagonal", 2), ("convolutional", 2)]:
        s = sweep[key]
        assert s.p == 1.0 and s.certified().all()
        assert np.all(s.supports() >= 1)
