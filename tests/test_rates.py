"""ibcore.rates: the fits recover known exponents exactly on synthetic curves, the clocks are
the right ones on real runs (the normalized schedule's linear predictor decays like 1/t, i.e.
like 1/||w||), the 1/log t model and its local exponent, and every bad input raises."""

import numpy as np
import pytest

import ibcore
from ibcore.data import closed_form_2d, gaussian
from ibcore.errors import IbcoreTypeError, IbcoreValueError, ShapeError
from ibcore.experiments import angles_at_equal_loss
from ibcore.limits import hard_margin_svm
from ibcore.nets import FullyConnected
from ibcore.rates import (
    PowerFit,
    angle_curves,
    angular_step_deg,
    fit_power,
    fit_rates,
    inverse_log_fit,
    local_exponent,
    markdown_table,
    unbatch,
)
from ibcore.train import GDResult, gradient_descent


@pytest.fixture(scope="module")
def problem():
    X, y = gaussian(5, 8, seed=2)
    return X, y, hard_margin_svm(X, y)


# --------------------------------------------------------------------------- fit_power


@pytest.mark.parametrize("slope, scale", [(-1.0, 3.0), (-0.5, 0.2), (2.0, 1.0), (0.0, 5.0)])
def test_fit_power_recovers_an_exact_power_law(slope, scale):
    x = np.logspace(0, 4, 17)
    fit = fit_power(x, scale * x**slope)
    assert abs(fit.slope - slope) <= 1e-12
    assert abs(fit.intercept - np.log(scale)) <= 1e-11
    assert abs(fit.r2 - 1.0) <= 1e-12
    assert fit.n_points == 17
    assert np.allclose(fit.predict(x), scale * x**slope, rtol=1e-11)


def test_fit_power_r2_drops_with_noise_and_slope_stays_close():
    rng = np.random.default_rng(0)
    x = np.logspace(0, 3, 40)
    y = x**-1.0 * np.exp(0.3 * rng.standard_normal(40))
    fit = fit_power(x, y)
    assert 0.5 < fit.r2 < 0.999
    assert abs(fit.slope + 1.0) < 0.2  # 40 points over 3 decades: standard error ~ 0.05


@pytest.mark.parametrize(
    "x, y, err",
    [
        ([1.0, 2.0], [1.0, 2.0], IbcoreValueError),  # too few points
        ([1.0, 2.0, 3.0], [1.0, 0.0, 3.0], IbcoreValueError),  # zero y (angle at round-off)
        ([1.0, -2.0, 3.0], [1.0, 2.0, 3.0], IbcoreValueError),  # negative x
        ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], IbcoreValueError),  # constant x
        ([1.0, 2.0, np.nan], [1.0, 2.0, 3.0], IbcoreValueError),  # NaN
        ([1.0, 2.0, 3.0], [1.0, 2.0], ShapeError),
        ("abc", [1.0, 2.0, 3.0], IbcoreTypeError),
    ],
)
def test_fit_power_rejects_bad_inputs(x, y, err):
    with pytest.raises(err):
        fit_power(x, y)


def test_predict_rejects_nonpositive_x():
    fit = fit_power([1.0, 2.0, 4.0], [1.0, 0.5, 0.25])
    with pytest.raises(IbcoreValueError):
        fit.predict([0.0, 1.0])


# --------------------------------------------------------------------------- local exponent, 1/log t


def test_inverse_log_fit_recovers_the_model_and_its_local_exponent():
    t = np.unique(np.round(np.logspace(1, 6, 30)).astype(int))
    A, B = 2.0, -5.0
    theta = np.degrees(np.arctan(1.0 / (A * np.log(t) + B)))
    fit = inverse_log_fit(t, theta, t_min=100)
    assert abs(fit.A - A) <= 1e-10 and abs(fit.B - B) <= 1e-9 and fit.max_misfit <= 1e-12
    assert abs(fit.offset + 2.5) <= 1e-9
    # the local exponent is the derivative of log(theta) in log log t (for small angles)
    tt = 1e5
    h = 1e-6
    u = np.log(np.log(tt))
    log_theta = lambda v: np.log(np.arctan(1 / (A * np.exp(v) + B)))
    numeric = (log_theta(u + h) - log_theta(u - h)) / (2 * h)
    assert abs(fit.local_exponent(tt) - numeric) <= 5e-3  # arctan vs its argument: 1/(A log t + B)^2 ~ 5e-3
    assert local_exponent(np.e**10, 0.0) == -1.0
    assert abs(local_exponent(np.e**10, -5.0) + 2.0) <= 1e-12


def test_naive_loglog_fit_of_the_offset_model_matches_the_local_exponent():
    # theta = 1/(log t + b) with b = -3 over t in [1e3, 1e5]: the fitted exponent against
    # log log t is the local exponent at the middle of the range, not -1.
    t = np.logspace(3, 5, 25)
    theta = 1.0 / (np.log(t) - 3.0)
    fit = fit_power(np.log(t), theta)
    mid = np.exp(np.exp(np.mean(np.log(np.log(t)))))
    assert fit.slope < -1.3
    assert abs(fit.slope - local_exponent(mid, -3.0)) <= 0.03


@pytest.mark.parametrize(
    "kwargs",
    [{"t_min": 1}, {"t_min": 10**9}, {"t_min": 2.5}],
)
def test_inverse_log_fit_rejects_bad_ranges(kwargs):
    t = np.arange(1, 100)
    with pytest.raises(IbcoreValueError):
        inverse_log_fit(t, 10.0 / np.log(t + 1), **kwargs)


def test_inverse_log_fit_rejects_bad_angles_and_growth():
    t = np.arange(2, 50)
    with pytest.raises(IbcoreValueError):
        inverse_log_fit(t, np.full(t.shape, 95.0), t_min=2)
    with pytest.raises(IbcoreValueError):  # growing angle: cot decreases, not a 1/log t decay
        inverse_log_fit(t, np.linspace(1.0, 10.0, t.size), t_min=2)
    with pytest.raises(ShapeError):
        inverse_log_fit(t, np.ones(3), t_min=2)


def test_local_exponent_rejects_points_without_a_model():
    with pytest.raises(IbcoreValueError):
        local_exponent(1.0, 0.0)
    with pytest.raises(IbcoreValueError):
        local_exponent(np.e**2, -3.0)


# --------------------------------------------------------------------------- real runs


def test_normalized_linear_predictor_decays_like_one_over_t_and_one_over_norm(problem):
    X, y, svm = problem
    net = FullyConnected(8, 1)
    run = gradient_descent(net, X, y, steps=3000, lr=0.2, schedule="normalized", init=net.init(0, batch=2), record=30)
    by_t = fit_rates(run, svm, clock="t", t_min=300)
    by_norm = fit_rates(run, svm.beta, clock="norm", t_min=300)
    assert len(by_t) == len(by_norm) == 2
    for f in by_t + by_norm:
        assert abs(f.slope + 1.0) <= 0.02 and f.r2 >= 0.999


def test_fit_rates_unbatched_and_clock_log_t(problem):
    X, y, svm = problem
    net = FullyConnected(8, 1)
    run = gradient_descent(net, X, y, steps=2000, lr=0.05, init=0, record=30)
    (fit,) = fit_rates(run, svm, clock="log t", t_min=200)
    it, ang = angle_curves(run, svm)
    keep = it >= 200
    direct = fit_power(np.log(it[keep]), ang[keep])
    assert isinstance(fit, PowerFit) and abs(fit.slope - direct.slope) <= 1e-12
    assert fit.slope < 0  # the angle falls


def test_fit_rates_rejects_bad_inputs(problem):
    X, y, svm = problem
    net = FullyConnected(8, 1)
    run = gradient_descent(net, X, y, steps=200, lr=0.05, init=0, record=10)
    with pytest.raises(IbcoreValueError):
        fit_rates(run, svm, clock="seconds", t_min=10)
    with pytest.raises(IbcoreValueError):
        fit_rates(run, svm, clock="log t", t_min=1)  # log log 1 does not exist
    with pytest.raises(IbcoreValueError):
        fit_rates(run, svm, clock="t", t_min=150, t_max=160)  # too few records
    with pytest.raises(IbcoreValueError):
        fit_rates(run, svm, clock="t", t_min=50, t_max=10)
    with pytest.raises(IbcoreTypeError):
        fit_rates(run, svm, clock="t", t_min=10.0)
    with pytest.raises(IbcoreTypeError):
        fit_rates("not a run", svm, clock="t", t_min=10)
    with pytest.raises(ShapeError):
        fit_rates(run, np.ones(3), clock="t", t_min=10)
    # a run that sits on its reference: zero angles have no logarithm
    at_limit = gradient_descent(net, X, y, steps=50, lr=0.05, init=svm.beta, record=10)
    v = np.eye(8)[0]  # a coordinate axis: its angle with itself is exactly 0
    at_limit.history["beta"][:] = v
    assert np.all(angle_curves(at_limit, v)[1] == 0)
    with pytest.raises(IbcoreValueError):
        fit_rates(at_limit, v, clock="t", t_min=1)


def test_angle_curves_refuses_a_zero_predictor():
    X, y = closed_form_2d()
    net = FullyConnected(2, 2)
    run = gradient_descent(net, X, y, steps=5, lr=0.1, init=np.zeros(net.n_params) + 0.1, record=3)
    run.history["beta"][1] = 0.0
    with pytest.raises(IbcoreValueError):
        angle_curves(run, [1.0, 1.0])


def test_unbatch_is_the_single_run(problem):
    X, y, _ = problem
    net = FullyConnected(8, 2)
    inits = net.init(0, batch=3)
    batched = gradient_descent(net, X, y, steps=300, lr=0.05, init=inits, record=20)
    single = gradient_descent(net, X, y, steps=300, lr=0.05, init=inits[1], record=20)
    one = unbatch(batched, 1)
    assert isinstance(one, GDResult) and np.ndim(one.log_norm_w) == 0
    for k in ("log_loss", "margin", "log_norm_w", "beta"):
        assert np.allclose(one.history[k], single.history[k], rtol=0, atol=1e-12), k
    _, angles = angles_at_equal_loss(one, single)
    assert angles.max() <= 1e-6
    with pytest.raises(ShapeError):
        unbatch(single, 0)
    with pytest.raises(IbcoreValueError):
        unbatch(batched, 3)


def test_angular_step_deg():
    assert abs(angular_step_deg(0, 0.1, 300.0) - np.degrees(np.arctan(0.1))) <= 1e-12
    assert np.allclose(angular_step_deg([300, 900], 0.1, 300.0), np.degrees(np.arctan([0.05, 0.025])))
    with pytest.raises(IbcoreValueError):
        angular_step_deg([-1], 0.1, 300.0)
    with pytest.raises(IbcoreValueError):
        angular_step_deg([1], 0.0, 300.0)


def test_markdown_table():
    table = markdown_table(["a", "b"], [["1", "2"], ["3", "4"]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | 2 |", "| 3 | 4 |"]
    with pytest.raises(ShapeError):
        markdown_table(["a", "b"], [["1"]])
    with pytest.raises(IbcoreValueError):
        markdown_table(["a"], [["x|y"]])
    with pytest.raises(IbcoreValueError):
        markdown_table([], [])


def test_module_is_reachable_lazily():
    assert ibcore.rates.fit_power is fit_power
