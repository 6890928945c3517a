"""The one training loop of ibcore.train and its pluggable parts: the step rules of
ibcore._schedules (the loss clock against a plain w-space computation and against
descent_path, bit for bit), the batch sampler (full batch = plain GD in both kinds of
coordinates, each sample once per epoch, the rows of a pullback), the direction map of
steepest descent, the loss given as an object (ibcore.losses.Loss = the named loss, bit for
bit), and the errors for bad arguments."""

import numpy as np
import pytest

from ibcore._schedules import SCHEDULES, FullDataStep, make_rule
from ibcore.data import gaussian
from ibcore.errors import IbcoreValueError
from ibcore.losses import Loss
from ibcore._coordinates import _Coordinates
from ibcore.nets import Convolutional, Diagonal, FullyConnected, SignedDiagonal
from ibcore.signed import descent_path
from ibcore.stochastic import batch_sequence, sgd
from ibcore._engine import _descend, _record_points, split_scale
from ibcore.train import gradient_descent


def loss_clock_in_w(net, X, y, w, steps, lr, rate, T):
    """The loss clock written directly on w for the exp loss (no log space, moderate scales only):
    w <- w - c ||w|| g/||g|| with c = min(rate * rho / rho', lr/(1 + t/T)), rho' = ||w|| ||g|| / L."""
    for t in range(steps):
        e = np.exp(-y * (X @ net.predictor(w)))
        loss = e.sum()
        g = net.vjp(w, -(e * y) @ X)  # the gradient of sum_n exp(-y_n <x_n, P(w)>)
        rho = max(-np.log(loss), 1.0)
        rho_prime = np.linalg.norm(w) * np.linalg.norm(g) / loss
        c = min(rate * rho / rho_prime, lr / (1 + t / T))
        w = w - c * np.linalg.norm(w) * g / np.linalg.norm(g)
    return w


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_loss_clock_against_a_plain_computation(alpha):
    X, y = gaussian(5, 6, seed=4)
    net = SignedDiagonal(6, 2)
    w0 = net.uniform_init(alpha)
    w0[0] *= 1.1  # beta(0) != 0, so that every iteration is recorded
    run = gradient_descent(net, X, y, steps=60, lr=0.05, rate=0.05, T=50.0, schedule="loss-clock", init=w0,
                           record=np.arange(61), progress=False)
    for t in (1, 7, 60):
        ref = loss_clock_in_w(net, X, y, w0, t, 0.05, 0.05, 50.0)
        np.testing.assert_allclose(np.exp(run.history["log_norm_w"][t]), np.linalg.norm(ref), rtol=1e-11)
        beta = net.predictor(ref)
        np.testing.assert_allclose(run.history["beta"][t], beta / np.linalg.norm(beta), rtol=1e-10, atol=1e-13)
    assert run.schedule == "loss-clock"


def test_loss_clock_of_gradient_descent_is_descent_path_bit_for_bit():
    X, y = gaussian(5, 8, seed=2)
    net = SignedDiagonal(8, 2)
    w0 = net.init(3, batch=3) * np.array([[0.1], [3.0], [100.0]])
    for loss in ("exp", "logistic"):
        a = descent_path(net, X, y, init=w0, steps=300, lr=0.01, rate=0.02, T=300.0, loss=loss, record=30)
        b = gradient_descent(net, X, y, steps=300, lr=0.01, rate=0.02, T=300.0, schedule="loss-clock", loss=loss,
                             init=w0, record=30, progress=False)
        for k in a.history:
            np.testing.assert_array_equal(a.history[k], b.history[k])
        np.testing.assert_array_equal(a.w, b.w)


# descent_path(SignedDiagonal(8, 2), *gaussian(5, 8, seed=2), init=uniform_init([0.5, 30.0]), steps=200, lr=0.02,
# rate=0.02, T=1000.0, record=[0, 1, 50, 200]) from its own loop, before the loss clock moved into ibcore.train
OLD_LOSS_CLOCK = {
    "iteration": [1, 50, 200],
    "log_loss": [[1.5895025986950833, 1.589502598694974], [0.6114890732009687, 0.612459461347133],
                 [-3.9735880879431744, -3.9399354059158327]],
    "log_norm_w": [[0.6931568111726013, 4.787491742782788], [0.74887236442438, 4.787491747810111],
                   [1.296818039257273, 4.787492034126305]],
    "beta": [[-0.30243935769498625, -0.012851564610005821, 0.15199134960663438, 0.12694198650276137,
              -0.5304217867013724, -0.7459066217504069, 0.16864874513256028, -0.054619360104614406],
             [-0.393521848645851, -0.05712856856952863, 0.28001794403103547, 0.2403132510006832,
              -0.508283833263882, -0.5916250947576258, 0.2826444861002606, -0.13212024931246114]],
}


def test_loss_clock_reproduces_the_old_descent_path():
    # pinned values (rtol 1e-12 rather than bit equality: another BLAS may round differently); on the
    # machine that pinned them the new path is bit for bit the old one
    X, y = gaussian(5, 8, seed=2)
    net = SignedDiagonal(8, 2)
    kw = dict(steps=200, lr=0.02, rate=0.02, T=1000.0, init=net.uniform_init([0.5, 30.0]), record=np.array([0, 1, 50, 200]))
    path = descent_path(net, X, y, **kw)
    gd = gradient_descent(net, X, y, schedule="loss-clock", progress=False, **kw)
    np.testing.assert_array_equal(path.history["iteration"], OLD_LOSS_CLOCK["iteration"])
    np.testing.assert_array_equal(gd.history["iteration"], [0] + OLD_LOSS_CLOCK["iteration"])  # beta(0) = 0 recorded as 0
    assert np.all(gd.history["beta"][0] == 0) and np.all(gd.history["margin"][0] == 0)
    for run, first in ((path, 0), (gd, 1)):
        for k in ("log_loss", "log_norm_w"):
            np.testing.assert_allclose(run.history[k][first:], OLD_LOSS_CLOCK[k], rtol=1e-12)
        np.testing.assert_allclose(run.beta, OLD_LOSS_CLOCK["beta"], rtol=1e-12, atol=1e-15)


def test_loss_clock_first_step_from_a_large_init_is_small():
    # the reason for the schedule: the angular one jumps log(1/L) to thousands in one step at alpha = 100
    X, y = gaussian(5, 8, seed=2)
    net = SignedDiagonal(8, 2)
    w0 = net.uniform_init(100.0)
    w0[0] += 1e-3
    clock = gradient_descent(net, X, y, steps=1, lr=0.02, schedule="loss-clock", init=w0, record=np.arange(2))
    angular = gradient_descent(net, X, y, steps=1, lr=0.02, schedule="angular", init=w0, record=np.arange(2))
    q0 = -clock.history["log_loss"][0]
    assert abs(-clock.history["log_loss"][1] - q0) <= 0.03 * max(abs(q0), 1.0)
    assert -angular.history["log_loss"][1] > 1e3


def run_engine(net, X, y, w0, schedule, coords=None, sampler=None, steps=80):
    Xy = X * y[:, None]
    u, sigma = split_scale(w0)
    return _descend(coords or net._coordinates(Xy), u, sigma, L=net.depth, steps=steps,
                    rule=make_rule(schedule, 0.02, T=50.0), loss="exp", pts=_record_points(steps, np.arange(steps + 1)),
                    batched=True, sampler=sampler)


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
@pytest.mark.parametrize("net", [Convolutional(8, 3), Diagonal(8, 2)], ids=repr)
def test_full_batch_sampler_is_plain_gradient_descent(net, schedule):
    # in the net's own coordinates (spectral for the conv net) and in the parameters themselves
    X, y = gaussian(5, 8, seed=2)
    w0 = net.init(1, batch=2)
    plain = run_engine(net, X, y, w0, schedule)
    for coords in (None, _Coordinates(net, X * y[:, None])):
        full = run_engine(net, X, y, w0, schedule, coords=coords, sampler=lambda t: np.arange(5))
        np.testing.assert_allclose(full.history["beta"], plain.history["beta"], atol=1e-11)
        np.testing.assert_allclose(full.history["log_loss"], plain.history["log_loss"], rtol=1e-11, atol=1e-11)


def test_sampler_is_called_once_per_step_and_reshuffling_visits_every_sample_per_epoch():
    X, y = gaussian(7, 8, seed=1)
    net = Diagonal(8, 2)
    batches = batch_sequence(7, 3, 12, seed=4)
    calls = []

    def sampler(t):
        calls.append(t)
        return batches[t]

    run_engine(net, X, y, net.init(0, batch=1), "constant", sampler=sampler, steps=12)
    assert calls == list(range(12))
    for epoch in range(4):  # batches of 3, 3, 1: an epoch is three steps
        seen = np.concatenate([batches[t] for t in calls[3 * epoch:3 * epoch + 3]])
        assert sorted(seen.tolist()) == list(range(7))


@pytest.mark.parametrize("net", [Convolutional(8, 3), FullyConnected(8, 2)], ids=repr)
def test_pullback_of_rows_is_pullback_of_the_weights_on_those_rows(net):
    X, y = gaussian(6, 8, seed=3)
    coords = net._coordinates(X * y[:, None])
    s = coords.encode(split_scale(net.init(2, batch=2))[0])
    mT, pullback = coords.linearize(s)
    rows = np.array([1, 4, 5])
    p = np.random.default_rng(0).random((3, 2))
    scattered = np.zeros(mT.shape)
    scattered[rows] = p
    np.testing.assert_allclose(pullback(p, rows), pullback(scattered), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("batches", [False, True], ids=["full batch", "mini-batches"])
@pytest.mark.parametrize("loss", ["exp", "logistic"])
@pytest.mark.parametrize("net", [Convolutional(8, 3), FullyConnected(8, 2)], ids=repr)
def test_a_loss_object_is_the_named_loss_bit_for_bit(net, loss, batches):
    # the string "exp" takes the loop's fast path, Loss("exp") the general one: the same arithmetic
    X, y = gaussian(6, 8, seed=3)
    u, sigma = split_scale(net.init(1, batch=2))
    sequence = batch_sequence(6, 4, 60, seed=1)
    kw = dict(L=net.depth, steps=60, rule=make_rule("normalized", 0.1), pts=_record_points(60, 12), batched=True,
              sampler=sequence.__getitem__ if batches else None)
    by_name = _descend(net._coordinates(X * y[:, None]), u, sigma, loss=loss, **kw)
    by_object = _descend(net._coordinates(X * y[:, None]), u, sigma, loss=Loss(loss), **kw)
    assert by_object.loss == by_name.loss == loss
    np.testing.assert_array_equal(by_object.w, by_name.w)
    for key, values in by_name.history.items():
        np.testing.assert_array_equal(by_object.history[key], values)


def test_a_loss_object_of_a_bad_name_names_the_argument():
    with pytest.raises(IbcoreValueError, match="loss"):
        Loss("hinge")


def test_sgd_step_sizes_come_from_the_full_data():
    # a state-dependent rule on mini-batches: log c = rule(full) + (log mass of the batch - of the full data)
    rule = make_rule("normalized", 0.1)
    sigma, vfull, vbatch = np.array([0.3]), np.array([2.0]), np.array([0.5])
    step = FullDataStep(rule)
    step.set_full(3, 2, sigma, 2 * sigma, np.array([-4.0]), np.array([-4.0]), vfull)
    got = step.log_step(3, 2, sigma, 2 * sigma, np.array([-1.0]), np.array([-6.0]), vbatch)
    want = rule.log_step(3, 2, sigma, 2 * sigma, np.array([-4.0]), np.array([-4.0]), vfull) + (-6.0 + np.log(0.5)) - (-4.0 + np.log(2.0))
    np.testing.assert_allclose(got, want, rtol=1e-14)
    with pytest.raises(IbcoreValueError, match="fixed"):
        FullDataStep(make_rule("constant", 0.1))


def test_sgd_loss_clock_with_one_full_batch_is_gradient_descent():
    X, y = gaussian(5, 8, seed=2)
    net = Diagonal(8, 2)
    kw = dict(steps=150, lr=0.01, schedule="loss-clock", rate=0.05, T=50.0, init=net.init(1, batch=2), record=20)
    a = sgd(net, X, y, batch_size=5, **kw)
    b = gradient_descent(net, X, y, progress=False, **kw)
    np.testing.assert_allclose(a.history["beta"], b.history["beta"], atol=1e-10)


@pytest.mark.parametrize("kwargs, name", [
    (dict(schedule="loss_clock"), "schedule"),
    (dict(schedule="loss-clock", rate=0.0), "rate"),
    (dict(schedule="loss-clock", rate=np.nan), "rate"),
    (dict(schedule="loss-clock", rate=-1.0), "rate"),
    (dict(schedule="loss-clock", T=0.0), "T"),
    (dict(schedule="loss-clock", lr=np.inf), "lr"),
])
def test_bad_step_rule_arguments_name_the_argument(kwargs, name):
    X, y = gaussian(5, 8, seed=2)
    net = Diagonal(8, 2)
    args = dict(steps=5, lr=0.1) | kwargs
    with pytest.raises(IbcoreValueError, match=name):
        gradient_descent(net, X, y, **args)
    with pytest.raises(IbcoreValueError, match=name):
        sgd(net, X, y, batch_size=2, **args)
    with pytest.raises(IbcoreValueError, match=name):
        make_rule(args["schedule"], args["lr"], T=args.get("T", 1.0), rate=args.get("rate", 0.1))


def test_wrappers_name_themselves_in_divergence_reports():
    X, y = gaussian(5, 8, seed=2)
    from ibcore.errors import DivergenceError
    from ibcore.limits import hard_margin_svm
    from ibcore.steepest import steepest_descent

    with pytest.raises(DivergenceError, match="^SGD diverged at iteration"):
        sgd(FullyConnected(8, 2), X, y, steps=100, lr=1000.0, batch_size=2)
    # a linear predictor's loss does not blow up under large steps; a step beyond e^700 ||beta|| is caught
    bad = -20 * hard_margin_svm(X, y).beta
    with pytest.raises(DivergenceError, match="^steepest descent diverged at iteration 0 with constant step lr=1e"):
        steepest_descent(X, y, norm="linf", steps=100, lr=1e305, init=bad)
    with pytest.raises(DivergenceError, match="^gradient descent diverged at iteration"):
        gradient_descent(FullyConnected(8, 2), X, y, steps=100, lr=1000.0)
    from ibcore.multiclass import cross_entropy_gd

    with pytest.raises(DivergenceError, match="^cross-entropy gradient descent diverged at iteration 0 with constant step"):
        cross_entropy_gd(X, (y > 0).astype(int), 2, steps=100, lr=1e305)


def test_wrappers_show_a_progress_bar_when_asked(monkeypatch, capsys):
    monkeypatch.delenv("IBCORE_PROGRESS", raising=False)
    from ibcore.data import gaussian
    from ibcore.multiclass import cross_entropy_gd, random_classes
    from ibcore.nets import SignedDiagonal
    from ibcore.signed import descent_path
    from ibcore.steepest import steepest_descent
    from ibcore.stochastic import sgd

    X, y = gaussian(4, 6, seed=1)
    net = SignedDiagonal(6, 2)
    runs = {
        "GD (loss-clock)": lambda p: descent_path(net, X, y, init=net.uniform_init(0.1), steps=50, lr=0.1, progress=p),
        "SGD (constant)": lambda p: sgd(net, X, y, steps=50, lr=0.1, batch_size=2, progress=p),
        "steepest descent (constant)": lambda p: steepest_descent(X, y, norm="l1", steps=50, lr=0.1, progress=p),
        "cross-entropy gradient descent (normalized)": lambda p: cross_entropy_gd(
            *random_classes(6, 8, 3, seed=1), 3, steps=50, lr=0.1, schedule="normalized", progress=p),
    }
    for desc, run in runs.items():
        run(False)
        assert capsys.readouterr().err == ""
        run(True)
        assert desc in capsys.readouterr().err
