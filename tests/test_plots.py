"""Tests for ibcore.plots: each figure has the artists it promises, shows the
numbers it is given (checked against independent computations), and rejects bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import StemContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ibcore import plots  # noqa: E402
from ibcore.data import closed_form_2d  # noqa: E402
from ibcore.errors import IbcoreTypeError, IbcoreValueError, ShapeError  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


ITER = np.array([0, 1, 10, 100, 1000])


# ---------------------------------------------------------------- angle_curve


def test_angle_curve_single_run_on_log_axes_with_floor():
    angles = np.array([40.0, 10.0, 1.0, 0.1, 0.0])
    fig = plots.angle_curve(ITER, angles, floor=1e-6)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xscale() == "symlog" and ax.get_yscale() == "log"
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), ITER)  # step 0 is kept
    np.testing.assert_array_equal(line.get_ydata(), [40.0, 10.0, 1.0, 0.1, 1e-6])


def test_angle_curve_batch_draws_faint_runs_and_their_median():
    rng = np.random.default_rng(0)
    angles = rng.uniform(0.1, 30.0, size=(5, 4))
    fig = plots.angle_curve(ITER, angles, labels="angular")
    lines = fig.axes[0].get_lines()
    assert len(lines) == 5
    assert all(line.get_alpha() == 0.3 for line in lines[:4])
    np.testing.assert_allclose(lines[4].get_ydata(), np.median(angles, axis=1))
    assert len({line.get_color() for line in lines}) == 1
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["angular"]


def test_angle_curve_one_label_per_run_and_overlay_on_given_axes():
    fig, ax = plt.subplots()
    angles = np.full((5, 3), 2.0)
    out = plots.angle_curve(ITER, angles, labels=["a", "b", "c"], ax=ax)
    plots.angle_curve(ITER, angles[:, 0], labels="constant", ax=ax)
    assert out is fig
    assert len(ax.get_lines()) == 4
    assert len({line.get_color() for line in ax.get_lines()}) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c", "constant"]


# ---------------------------------------------------------------- spectrum_stems


def test_spectrum_stems_heights_are_unit_norm_dft_moduli():
    rng = np.random.default_rng(1)
    betas = rng.standard_normal((3, 8)) * np.array([[1e-200], [1.0], [1e200]])
    fig = plots.spectrum_stems(betas, labels=["conv", "diag", "fc"])
    ax = fig.axes[0]
    stems = [c for c in ax.containers if isinstance(c, StemContainer)]
    assert len(stems) == 3
    for m, stem in enumerate(stems):
        x, heights = stem.markerline.get_data()
        scaled = betas[m] / np.max(np.abs(betas[m]))  # 1e200**2 would overflow in the norm
        unit = scaled / np.linalg.norm(scaled)
        expected = np.abs(np.fft.fft(unit, norm="ortho"))
        np.testing.assert_allclose(heights, expected, rtol=1e-12)
        assert np.linalg.norm(heights) == pytest.approx(1.0)
        np.testing.assert_allclose(np.round(x), np.arange(8))
    offsets = [stem.markerline.get_xdata()[0] for stem in stems]
    assert offsets[0] < offsets[1] < offsets[2]


def test_spectrum_stems_single_predictor():
    fig = plots.spectrum_stems(np.array([1.0, 0.0, 0.0, 0.0]))
    (stem,) = fig.axes[0].containers
    np.testing.assert_allclose(stem.markerline.get_ydata(), 0.5)  # a spike is flat in frequency


# ---------------------------------------------------------------- margins_plot


def test_margins_plot_on_closed_form_svm_highlights_all_points():
    X, y = closed_form_2d()
    fig = plots.margins_plot(X, y, np.array([3.0, 3.0]))
    ax = fig.axes[0]
    others, support, minimum = ax.get_lines()
    assert len(others.get_ydata()) == 0 and len(support.get_ydata()) == 4
    np.testing.assert_allclose(support.get_ydata(), np.sqrt(2.0))
    assert minimum.get_ydata()[0] == pytest.approx(np.sqrt(2.0))


def test_margins_plot_sorted_and_minimum_for_a_non_svm_direction():
    X, y = closed_form_2d()
    fig = plots.margins_plot(X, y, np.array([1.0, 0.0]))
    others, support, _ = fig.axes[0].get_lines()
    np.testing.assert_allclose(support.get_ydata(), [0.5, 0.5])
    np.testing.assert_allclose(others.get_ydata(), [1.5, 1.5])


# ---------------------------------------------------------------- time_and_frequency


def test_time_and_frequency_has_two_panels():
    beta = np.array([0.0, 2.0, 0.0, 0.0, 0.0, 0.0])
    fig = plots.time_and_frequency(beta)
    assert len(fig.axes) == 2
    time_ax, freq_ax = fig.axes
    (time_stem,) = time_ax.containers
    np.testing.assert_allclose(time_stem.markerline.get_ydata(), [0, 1, 0, 0, 0, 0])
    (freq_stem,) = freq_ax.containers
    np.testing.assert_allclose(freq_stem.markerline.get_ydata(), 1 / np.sqrt(6))


def test_time_and_frequency_on_given_axes():
    fig, axes = plt.subplots(2, 1)
    assert plots.time_and_frequency(np.ones(4), ax=axes) is fig


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: plots.angle_curve(ITER, np.ones(4)), ShapeError, "angles_deg"),
        (lambda: plots.angle_curve(ITER, np.ones((5, 2, 2))), ShapeError, "angles_deg"),
        (lambda: plots.angle_curve(ITER, np.array([1, 2, np.nan, 4, 5])), IbcoreValueError, "angles_deg"),
        (lambda: plots.angle_curve(ITER, -np.ones(5)), IbcoreValueError, "angles_deg"),
        (lambda: plots.angle_curve(-ITER, np.ones(5)), IbcoreValueError, "iterations"),
        (lambda: plots.angle_curve(ITER, np.ones((5, 3)), labels=["a", "b"]), IbcoreValueError, "labels"),
        (lambda: plots.angle_curve(ITER, np.ones(5), floor=0.0), IbcoreValueError, "floor"),
        (lambda: plots.angle_curve(ITER, np.ones(5), ax="axes"), IbcoreTypeError, "ax"),
        (lambda: plots.spectrum_stems(np.zeros(4)), IbcoreValueError, "betas"),
        (lambda: plots.spectrum_stems(np.ones((2, 2, 2))), ShapeError, "betas"),
        (lambda: plots.spectrum_stems(np.ones((2, 4)), labels=["only one"]), IbcoreValueError, "labels"),
        (lambda: plots.margins_plot(*closed_form_2d(), np.ones(3)), ShapeError, "beta"),
        (lambda: plots.margins_plot(*closed_form_2d(), np.zeros(2)), IbcoreValueError, "beta"),
        (lambda: plots.margins_plot(np.ones((4, 2)), np.zeros(4), np.ones(2)), IbcoreValueError, "y"),
        (lambda: plots.time_and_frequency(np.ones(4), ax=plt.subplots()[1]), IbcoreTypeError, "ax"),
        (lambda: plots.time_and_frequency(np.ones((2, 4))), ShapeError, "beta"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()
