"""Tests for ibcore.symbolic: small cases by hand, the SymPy objects against the
numeric ones at random points, the identities (homogeneity, Euler, Fourier product,
Fourier gradient) with negative controls, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import ibcore.symbolic as S
from ibcore.errors import IbcoreTypeError, IbcoreValueError, ShapeError
from ibcore.fourier import circular_convolve, dft_matrix

SMALL = [(dim, depth) for dim in (1, 2, 3, 4) for depth in (1, 2, 3)]


def numeric(expr_or_matrix, values: dict) -> np.ndarray:
    """Evaluate at numbers (complex allowed) as a numpy array."""
    m = sp.Matrix(expr_or_matrix) if isinstance(expr_or_matrix, sp.MatrixBase) else sp.Matrix([expr_or_matrix])
    return np.array(m.subs(values).evalf(30), dtype=complex).reshape(-1)


def random_values(rng, symbols) -> dict:
    return {s: float(v) for s, v in zip(symbols, rng.standard_normal(len(symbols)))}


# ---------------------------------------------------------------- hand-solvable


def test_filters_are_real_symbols_named_by_layer_and_index():
    ws = S.filters(3, 2)
    assert len(ws) == 2 and all(w.shape == (3, 1) for w in ws)
    assert [str(s) for s in ws[1]] == ["w2_0", "w2_1", "w2_2"]
    assert all(s.is_real for w in ws for s in w)


def test_dft_matrix_for_two_and_four_points():
    assert S.dft_matrix(2) == sp.Matrix([[1, 1], [1, -1]]) / sp.sqrt(2)
    I = sp.I
    assert S.dft_matrix(4) == sp.Matrix([[1, 1, 1, 1], [1, -I, -1, I], [1, -1, 1, -1], [1, I, -1, -I]]) / 2


def test_circulant_layer_two_points_by_hand():
    a, b, p, q = sp.symbols("a b p q", real=True)
    h = S.circulant_layer([a, b], [p, q])
    assert S.is_zero(h - sp.Matrix([a * p + b * q, a * q + b * p]) / sp.sqrt(2))


def test_conv_predictor_two_points_depth_two_by_hand():
    (a, b), (c, d) = S.filters(2, 2)
    beta = S.conv_predictor(S.filters(2, 2))
    assert S.is_zero(beta - sp.Matrix([a * c + b * d, a * d + b * c]) / sp.sqrt(2))


def test_fc_predictor_shape_and_widths():
    Ws = S.fc_weights(3, 3, widths=[2, 4])
    assert [W.shape for W in Ws] == [(3, 2), (2, 4), (4, 1)]
    assert S.fc_predictor(Ws).shape == (3, 1)
    assert S.fc_weights(3, 1)[0].shape == (3, 1)


def test_is_zero_uses_cyclotomic_relations():
    omega = sp.Symbol("omega")
    assert S.is_zero(1 + omega + omega**2, omega, 3)
    assert S.is_zero(omega**5 - omega**2, omega, 3)  # omega^3 = 1
    assert not S.is_zero(1 + omega, omega, 3)
    assert S.is_zero(omega**2 + 1, omega, 4)  # omega = -i
    assert not S.is_zero(omega**2 - 1, omega, 4)


def test_dft_matrix_with_symbol_is_unitary_exactly():
    omega = sp.Symbol("omega")
    for dim in (3, 4):
        F = S.dft_matrix(dim, omega)
        F_conj_T = F.T.xreplace({omega: omega ** (dim - 1)})
        assert S.is_zero(F * F_conj_T - sp.eye(dim), omega, dim)


# ---------------------------------------------------------------- against the numeric core


@pytest.mark.parametrize("dim", [1, 3, 5])
def test_dft_matrix_matches_numeric_convention(dim):
    F = np.array(S.dft_matrix(dim).evalf(30), dtype=complex)
    np.testing.assert_allclose(F, dft_matrix(dim), atol=1e-14)
    omega = sp.Symbol("omega")
    F_sym = S.dft_matrix(dim, omega).subs(omega, sp.exp(-2 * sp.pi * sp.I / dim))
    np.testing.assert_allclose(np.array(F_sym.evalf(30), dtype=complex), dft_matrix(dim), atol=1e-14)


@pytest.mark.parametrize(("dim", "depth"), [(4, 3), (3, 2), (5, 3)])
def test_conv_predictor_matches_numeric_convolution(dim, depth):
    rng = np.random.default_rng(dim * 10 + depth)
    ws = S.filters(dim, depth)
    values = random_values(rng, [s for w in ws for s in w])
    numbers = [np.array([values[s] for s in w]) for w in ws]
    expected = numbers[0]
    for w in numbers[1:]:
        expected = circular_convolve(expected, w)
    expected = expected * dim ** (-(depth - 1) / 2)
    np.testing.assert_allclose(numeric(S.conv_predictor(ws), values).real, expected, atol=1e-12)


@pytest.mark.parametrize(("dim", "depth"), [(4, 3), (3, 3)])
def test_conv_layerwise_matches_explicit_numeric_layers(dim, depth):
    rng = np.random.default_rng(1)
    ws = S.filters(dim, depth)
    x = sp.Matrix(sp.symbols(f"x0:{dim}", real=True))
    values = random_values(rng, [s for w in ws for s in w] + list(x))
    h = np.array([values[s] for s in x])
    for w in ws[:-1]:
        wv = np.array([values[s] for s in w])
        h = np.array([sum(wv[k] * h[(d + k) % dim] for k in range(dim)) for d in range(dim)]) / np.sqrt(dim)
    expected = h @ np.array([values[s] for s in ws[-1]])
    assert numeric(S.conv_layerwise(ws, x), values).real[0] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("dim", "depth"), SMALL)
def test_layerwise_definition_equals_closed_form(dim, depth):
    ws = S.filters(dim, depth)
    x = sp.Matrix(sp.symbols(f"x0:{dim}", real=True))
    assert S.is_zero(S.conv_layerwise(ws, x) - (x.T * S.conv_predictor(ws))[0])


# ---------------------------------------------------------------- invariants


@pytest.mark.parametrize(("dim", "depth"), SMALL)
def test_conv_fourier_product(dim, depth):
    assert S.fourier_product_holds(S.filters(dim, depth))


def test_fourier_product_fails_with_correlation_layer():
    # negative control: with the other sign of the shift (correlation instead of
    # convolution) the transform picks up a conjugate and the plain product is wrong
    dim = 3
    ws = S.filters(dim, 2)
    omega = sp.Symbol("omega")
    F = S.dft_matrix(dim, omega)
    corr = sp.Matrix([sum(ws[0][k] * ws[1][(m + k) % dim] for k in range(dim)) for m in range(dim)]) / sp.sqrt(dim)
    product = (F * ws[0]).multiply_elementwise(F * ws[1])
    assert not S.is_zero(F * corr - product, omega, dim)


@pytest.mark.parametrize(("dim", "depth"), [(2, 2), (3, 2), (3, 3), (4, 2), (4, 3)])
def test_conv_fourier_gradient(dim, depth):
    ws = S.filters(dim, depth)
    assert all(S.conv_fourier_gradient_holds(ws, layer) for layer in range(1, depth + 1))


def test_conv_fourier_gradient_needs_the_conjugate():
    dim, depth, layer = 3, 2, 1
    ws = S.filters(dim, depth)
    g = sp.Matrix(sp.symbols("g0:3", real=True))
    omega = sp.Symbol("omega")
    F = S.dft_matrix(dim, omega)
    value = (S.conv_predictor(ws).T * g)[0]
    gradient = sp.Matrix([sp.diff(value, s) for s in ws[layer - 1]])
    without_conjugate = (F * g).multiply_elementwise(F * ws[1])
    assert not S.is_zero(F * gradient - without_conjugate, omega, dim)


def predictors(dim: int, depth: int):
    ws = S.filters(dim, depth)
    Ws = S.fc_weights(dim, depth, widths=[2] * (depth - 1))
    return {
        "conv": (S.conv_predictor(ws), ws),
        "diagonal": (S.diagonal_predictor(ws), ws),
        "fully connected": (S.fc_predictor(Ws), Ws),
    }


@pytest.mark.parametrize(("dim", "depth"), [(2, 1), (3, 2), (3, 3), (4, 3)])
def test_homogeneity_of_every_parameterization(dim, depth):
    for name, (beta, params) in predictors(dim, depth).items():
        assert S.is_homogeneous(beta, params, depth), name
        assert not S.is_homogeneous(beta, params, depth + 1), name


@pytest.mark.parametrize(("dim", "depth"), [(2, 1), (3, 2), (3, 3), (4, 3)])
def test_euler_identity_for_every_parameterization(dim, depth):
    for name, (beta, params) in predictors(dim, depth).items():
        assert S.euler_identity_holds(beta, params, depth), name
        assert not S.euler_identity_holds(beta, params, depth - 1), name


def test_euler_identity_with_a_given_direction_and_a_non_homogeneous_map():
    w0, w1 = sp.symbols("w0 w1", real=True)
    assert S.euler_identity_holds(sp.Matrix([w0 * w1, w1**2]), [w0, w1], 2, z=[3, -1])
    assert not S.euler_identity_holds(sp.Matrix([w0 * w1 + w0, w1**2]), [w0, w1], 2, z=[3, -1])
    assert not S.is_homogeneous(w0 * w1 + w0, [w0, w1], 2)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: S.filters(0, 2), IbcoreValueError, "dim"),
        (lambda: S.filters(2, 0), IbcoreValueError, "depth"),
        (lambda: S.filters(2.0, 2), IbcoreTypeError, "dim"),
        (lambda: S.fc_weights(3, 3, widths=[2]), IbcoreValueError, "widths"),
        (lambda: S.fc_weights(3, 2, widths=[0]), IbcoreValueError, "widths"),
        (lambda: S.fc_predictor(S.fc_weights(3, 2)[::-1]), ShapeError, "chain|column"),
        (lambda: S.fc_predictor([sp.ones(3, 2), sp.ones(2, 2)]), ShapeError, "one column"),
        (lambda: S.fc_predictor("W"), IbcoreTypeError, "weights"),
        (lambda: S.conv_predictor([]), IbcoreValueError, "ws"),
        (lambda: S.conv_predictor(S.filters(3, 1) + S.filters(2, 1)), ShapeError, "same length"),
        (lambda: S.diagonal_predictor(sp.ones(3, 1)), IbcoreTypeError, "ws"),
        (lambda: S.circulant_layer(sp.ones(3, 1), sp.ones(2, 1)), ShapeError, "same length"),
        (lambda: S.circulant_layer(sp.ones(3, 3), sp.ones(3, 1)), ShapeError, "w must be a vector"),
        (lambda: S.conv_layerwise(S.filters(3, 2), sp.ones(2, 1)), ShapeError, "x"),
        (lambda: S.conv_fourier_gradient_holds(S.filters(2, 2), 0), IbcoreValueError, "layer"),
        (lambda: S.conv_fourier_gradient_holds(S.filters(2, 2), 3), IbcoreValueError, "layer"),
        (lambda: S.is_zero(sp.Symbol("omega"), sp.Symbol("omega")), IbcoreTypeError, "dim"),
        (lambda: S.is_homogeneous(sp.ones(2, 1), [], 1), IbcoreTypeError, "symbols"),
        (lambda: S.euler_identity_holds(sp.ones(2, 1), sp.symbols("a b"), 1, z=[1]), ShapeError, "z"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_balancedness_step_polynomials_in_sympy():
    changes, eta = S.fc_balancedness_step(2, 3, [2, 1])
    assert len(changes) == 2
    for change in changes:
        assert S.is_zero(change.applyfunc(lambda e: e.coeff(eta, 1)))  # the flow conserves Q
        assert not S.is_zero(change.applyfunc(lambda e: e.coeff(eta, 2)))  # GD does not
        assert S.is_zero(change.applyfunc(lambda e: e.coeff(eta, 0)))
    changes, eta = S.fourier_balancedness_step(3)
    g2 = sp.Symbol("g_re", real=True) ** 2 + sp.Symbol("g_im", real=True) ** 2
    a = [sp.Symbol(f"a_re{l}", real=True) ** 2 + sp.Symbol(f"a_im{l}", real=True) ** 2 for l in (1, 2, 3)]
    assert sp.expand(changes[0].coeff(eta, 1)) == 0 and sp.expand(changes[1].coeff(eta, 1)) == 0
    assert sp.expand(changes[0].coeff(eta, 2) + g2 * a[2] * (a[0] - a[1])) == 0
    assert sp.expand(changes[1].coeff(eta, 2) + g2 * a[0] * (a[1] - a[2])) == 0
