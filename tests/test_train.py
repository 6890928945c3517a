"""ibcore.train.gradient_descent: the closed-form 2-D case, batch = loop, the fast
schedules against small constant steps at equal ||w||, balancedness, long runs that
stay finite, and one test per bad input."""

import numpy as np
import pytest

import ibcore
from ibcore.errors import DivergenceError, IbcoreTypeError, IbcoreValueError, NotSeparableError, ShapeError
from ibcore.fourier import dft
from ibcore.nets import Convolutional, Diagonal, FullyConnected
from ibcore.train import angles_at_equal_norm, gradient_descent

X2 = np.array([[0.5, 1.5], [1.5, 0.5], [-0.5, -1.5], [-1.5, -0.5]])
Y2 = np.array([1.0, 1.0, -1.0, -1.0])
SVM2 = np.array([1.0, 1.0]) / np.sqrt(2.0)


@pytest.fixture(scope="module")
def small_data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 4)), np.array([1.0, -1.0, 1.0])


@pytest.mark.parametrize("loss", ["exp", "logistic"])
def test_closed_form_2d_direction_and_margin(loss):
    # The two positive points are symmetric about the diagonal, so the limit is (1,1)/sqrt2 and
    # the normalized margin is sqrt2 (Soudry et al. 2018); the loss-based schedule reaches it to round-off.
    r = gradient_descent(FullyConnected(2, 1), X2, Y2, steps=3000, lr=0.1, schedule="normalized", loss=loss,
                         init=np.array([1.0, -0.3]))
    assert ibcore.angle(r.beta, SVM2) < 1e-7  # degrees: 1.7e-9 rad, i.e. direction to ~1e-9
    assert r.margin == pytest.approx(np.sqrt(2.0), abs=1e-9)
    assert np.isclose(np.linalg.norm(r.beta), 1.0) and np.isclose(np.linalg.norm(r.w), 1.0)


def test_constant_steps_approach_the_svm_slowly_and_monotonically():
    r = gradient_descent(FullyConnected(2, 1), X2, Y2, steps=20000, lr=0.1, init=np.array([1.0, -0.3]), record=20)
    ang = ibcore.angle(r.history["beta"], SVM2)
    late = ang[r.history["iteration"] >= 100]
    assert np.all(np.diff(late) < 0) and late[-1] < 2.0
    # the norm grows like log t: doubling-free check that log||w|| increases but slowly
    assert 0.5 < r.log_norm_w < 4.0


def test_batch_runs_each_initialization_on_its_own_schedule(small_data):
    X, y = small_data
    net = Convolutional(4, 2)
    W0 = net.init(3, batch=3)
    # The angular run stops at 60 steps: beyond that its loss weights are a hard 0/1 indicator and
    # the zigzag between support vectors amplifies round-off (batched FFTs differ in the last bit).
    for schedule, steps in (("constant", 300), ("angular", 60), ("normalized", 300)):
        rb = gradient_descent(net, X, y, steps=steps, lr=0.05, schedule=schedule, init=W0, record=10)
        assert rb.history["beta"].shape[1:] == (3, 4) and rb.history["log_loss"].shape[1:] == (3,)
        assert len(set(np.round(rb.log_norm_w, 6))) == 3  # three different runs, not one repeated
        for b in range(3):
            r1 = gradient_descent(net, X, y, steps=steps, lr=0.05, schedule=schedule, init=W0[b], record=10)
            np.testing.assert_allclose(rb.beta[b], r1.beta, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(rb.log_norm_w[b], r1.log_norm_w, rtol=1e-12)


@pytest.mark.parametrize("net", [Convolutional(4, 2), FullyConnected(4, 2), Diagonal(4, 3)], ids=repr)
@pytest.mark.parametrize("schedule", ["angular", "normalized"])
def test_fast_schedules_follow_the_small_step_path_at_equal_norm(small_data, net, schedule):
    X, y = small_data
    slow = gradient_descent(net, X, y, steps=20000, lr=0.01, init=1, record=200)
    fast = gradient_descent(net, X, y, steps=6000, lr=0.005, schedule=schedule, init=1, T=1e9,
                            record=np.arange(6001))
    log_norms, angles = angles_at_equal_norm(slow, fast)
    assert log_norms.size >= 10  # the comparison covers a real stretch of the path
    # 0.5 degrees: the constant-step run itself is off the flow by O(lr); see the contract
    assert angles.max() <= 0.5


def test_long_angular_run_reaches_huge_log_loss_without_overflow():
    X = np.array([[1.0, 0.2, -0.3, 0.1], [-0.2, 1.0, 0.5, 0.0], [0.3, -0.1, 1.0, 0.4]])
    y = np.array([1.0, -1.0, 1.0])
    r = gradient_descent(Convolutional(4, 2), X, y, steps=4000, lr=0.2, schedule="angular", T=1e9)
    h = r.history
    for key in ("log_loss", "margin", "log_norm_w", "beta"):
        assert np.all(np.isfinite(h[key])), key
    assert h["log_loss"][-1] < -1e6  # log(1/loss) beyond 1e6
    assert r.log_norm_w <= 700.0 / 2 + 1e-9  # the documented scale cap (L * log||w|| <= 700)
    assert r.margin > 0


def test_balancedness_drift_halves_when_the_step_halves():
    # Gradient flow conserves W1^T W1 - W2 W2^T; GD drifts by O(lr) over a fixed time horizon.
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3, 3))
    y = np.array([1.0, -1.0, 1.0])
    net = FullyConnected(3, 2, widths=[3])
    w0 = net.init(5, scale=1.5)

    def drift(lr):
        r = gradient_descent(net, X, y, steps=int(round(2.0 / lr)), lr=lr, init=w0)
        W1, W2 = net.unflatten(r.params())
        V1, V2 = net.unflatten(w0)
        return np.linalg.norm((W1.T @ W1 - W2 @ W2.T) - (V1.T @ V1 - V2 @ V2.T))

    d1, d2 = drift(0.02), drift(0.01)
    assert d1 > 0 and 0.4 < d2 / d1 < 0.6

    # the Fourier form for the conv net: |w1_hat|^2 - |w2_hat|^2 per frequency
    cnet = Convolutional(3, 2)
    c0 = cnet.init(5, scale=1.5)

    def cdrift(lr):
        r = gradient_descent(cnet, X, y, steps=int(round(2.0 / lr)), lr=lr, init=c0)
        a, b = (np.abs(dft(v)) ** 2 for v in cnet.unflatten(r.params()))
        a0, b0 = (np.abs(dft(v)) ** 2 for v in cnet.unflatten(c0))
        return np.linalg.norm((a - b) - (a0 - b0))

    e1, e2 = cdrift(0.02), cdrift(0.01)
    assert e1 > 0 and 0.4 < e2 / e1 < 0.6


def test_history_layout_unbatched():
    r = gradient_descent(Diagonal(2, 2), X2, Y2, steps=50, lr=0.1, record=8)
    h = r.history
    assert h["iteration"][0] == 0 and h["iteration"][-1] == 50
    k = h["iteration"].size
    assert h["log_loss"].shape == (k,) and h["beta"].shape == (k, 2) and h["margin"].shape == (k,)
    np.testing.assert_allclose(np.linalg.norm(h["beta"], axis=1), 1.0)


@pytest.mark.parametrize("net", [FullyConnected(4, 1), FullyConnected(4, 2), Convolutional(4, 2), Diagonal(4, 3)], ids=repr)
def test_divergence_is_reported_with_step_and_iteration(small_data, net):
    # lr = 1 converges on these data (checked alongside); lr = 10 overshoots and the loss explodes.
    X, y = small_data
    assert gradient_descent(net, X, y, steps=200, lr=1.0, init=1).margin > 0
    with pytest.raises(DivergenceError, match=r"iteration \d+ with constant step lr=10.0"):
        gradient_descent(net, X, y, steps=200, lr=10.0, init=1)


def test_progress_bar_is_silent_when_switched_off(monkeypatch, capsys):
    monkeypatch.setenv("IBCORE_PROGRESS", "0")
    gradient_descent(FullyConnected(2, 1), X2, Y2, steps=20, lr=0.1, progress=True)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(steps=0, lr=0.1), IbcoreValueError, "steps"),
        (dict(steps=10, lr=-0.1), IbcoreValueError, "lr"),
        (dict(steps=10, lr=float("nan")), IbcoreValueError, "lr"),
        (dict(steps=10, lr=0.1, schedule="adam"), IbcoreValueError, "schedule"),
        (dict(steps=10, lr=0.1, loss="hinge"), IbcoreValueError, "loss"),
        (dict(steps=10, lr=0.1, init=np.ones(3)), ShapeError, "init"),
        (dict(steps=10, lr=0.1, init=np.zeros(4)), IbcoreValueError, "zero"),
        (dict(steps=10, lr=0.1, init="seed"), IbcoreTypeError, "init"),
        (dict(steps=10, lr=0.1, T=0.0), IbcoreValueError, "T"),
        (dict(steps=10, lr=0.1, record=1), IbcoreValueError, "record"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        gradient_descent(Diagonal(2, 2), X2, Y2, **kwargs)


def test_bad_data():
    net = FullyConnected(2, 1)
    with pytest.raises(NotSeparableError):
        gradient_descent(net, np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([1.0, -1.0]), steps=5, lr=0.1)
    with pytest.raises(IbcoreValueError, match="labels"):
        gradient_descent(net, X2, np.array([1.0, 0.0, -1.0, -1.0]), steps=5, lr=0.1)
    with pytest.raises(IbcoreValueError, match="NaN"):
        gradient_descent(net, np.where(X2 > 1, np.nan, X2), Y2, steps=5, lr=0.1)
    with pytest.raises(ShapeError, match="features"):
        gradient_descent(FullyConnected(3, 1), X2, Y2, steps=5, lr=0.1)
    with pytest.raises(IbcoreTypeError, match="net"):
        gradient_descent("fc", X2, Y2, steps=5, lr=0.1)


def test_zero_predictor_is_recorded_without_nan(recwarn):
    # Two zero layers: P(w) = 0 and the gradient vanishes, so GD stays at the saddle forever.
    net = Diagonal(2, 3)
    w0 = np.array([0.0, 0.0, 0.0, 0.0, 1.0, -1.0])
    r = gradient_descent(net, X2, Y2, steps=20, lr=0.1, init=w0)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    for key in ("log_loss", "margin", "log_norm_w", "beta"):
        assert np.all(np.isfinite(r.history[key])), key
    np.testing.assert_array_equal(r.beta, 0.0)
    assert r.margin == 0.0 and r.log_loss == pytest.approx(np.log(4.0))
    np.testing.assert_allclose(r.params(), w0)


def test_fast_separability_certificate_agrees_with_the_lp():
    # gradient_descent tries a cheap certificate (the min-norm interpolant of the unit rows)
    # before ibcore.data.check_separable's LP; the verdict must be the LP's.
    from ibcore.data import check_separable
    from ibcore._engine import _check_separable

    rng = np.random.default_rng(4)
    cases = [(rng.standard_normal((n, d)), rng.choice([-1.0, 1.0], size=n)) for n, d in [(3, 5), (8, 16), (16, 16), (40, 5)]]
    x = rng.standard_normal(4)
    cases.append((np.stack([x, x, rng.standard_normal(4)]), np.array([1.0, -1.0, 1.0])))  # a point with both labels
    cases.append((np.stack([x, 2 * x, -x]), np.array([1.0, 1.0, 1.0])))  # x and -x both positive
    cases.append((np.stack([x, np.zeros(4)]), np.array([1.0, -1.0])))  # a zero row
    verdicts = 0
    for X, y in cases:
        try:
            check_separable(X, y)
            lp = True
        except NotSeparableError:
            lp = False
        if lp:
            _check_separable(X, y)
        else:
            with pytest.raises(NotSeparableError):
                _check_separable(X, y)
        verdicts += lp
    assert 0 < verdicts < len(cases)  # both verdicts were exercised


@pytest.mark.parametrize("schedule", ["constant", "angular", "normalized", "loss-clock"])
def test_fast_and_careful_steps_agree(small_data, schedule):
    # The loop takes the in-place step and falls back to the careful one only when a value is
    # not finite; where both apply they must be the same map.
    from ibcore._schedules import make_rule
    from ibcore._engine import _careful_step, _fast_step

    X, y = small_data
    net = Convolutional(4, 3)
    coords = net._coordinates(X * y[:, None])
    s = coords.encode(net.init(2, batch=3))
    sigma = np.array([0.1, 2.0, -1.0])
    mT, pullback = coords.linearize(s)
    log_loss = np.array([-0.5, -3.0, 0.2])
    args = (make_rule(schedule, 0.05, T=100.0), coords.sqnorms, s, sigma, 7, 3, 3 * sigma, log_loss, log_loss)
    fast = _fast_step(*args, pullback(np.full(mT.shape, 1 / 3)))
    careful = _careful_step(*args, pullback(np.full(mT.shape, 1 / 3)))
    np.testing.assert_allclose(fast[0], careful[0], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(fast[1], careful[1], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("net", [FullyConnected(4, 3), Diagonal(4, 3), Convolutional(4, 4)], ids=repr)
def test_batch_equals_loop_for_the_smooth_schedules(small_data, net):
    X, y = small_data
    W0 = net.init(5, batch=3)
    for schedule, lr in (("constant", 0.05), ("normalized", 0.05)):
        rb = gradient_descent(net, X, y, steps=400, lr=lr, schedule=schedule, init=W0, record=5)
        for b in range(3):
            r1 = gradient_descent(net, X, y, steps=400, lr=lr, schedule=schedule, init=W0[b], record=5)
            np.testing.assert_allclose(rb.w[b], r1.w, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(rb.history["log_loss"][:, b], r1.history["log_loss"], rtol=1e-10)


def test_progress_bar_when_asked_and_silence_by_default_outside_a_terminal(monkeypatch, capsys):
    monkeypatch.delenv("IBCORE_PROGRESS", raising=False)
    gradient_descent(FullyConnected(2, 1), X2, Y2, steps=20, lr=0.1, progress=True)
    assert "GD (constant)" in capsys.readouterr().err
    # pytest's captured stderr is not a terminal and no Jupyter kernel runs: no bar, however long the run
    gradient_descent(FullyConnected(2, 1), X2, Y2, steps=30000, lr=0.1)
    assert capsys.readouterr().err == ""
