"""ibcore.fourier conventions and ibcore.angle."""

import numpy as np
import pytest

import ibcore
from ibcore.errors import IbcoreValueError, ShapeError
from ibcore.fourier import bridge, circular_convolve, dft, dft_matrix, idft


def test_dft_is_unitary_and_matches_matrix():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(9)
    F = dft_matrix(9)
    np.testing.assert_allclose(F @ F.conj().T, np.eye(9), atol=1e-13)
    np.testing.assert_allclose(dft(x), F @ x, atol=1e-13)
    np.testing.assert_allclose(idft(dft(x)), x, atol=1e-13)
    assert np.isclose(np.linalg.norm(dft(x)), np.linalg.norm(x))  # Parseval
    assert np.isrealobj(idft(dft(x)))


def test_circular_convolution_theorem_with_unitary_dft():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 8))
    direct = np.array([sum(a[k] * b[(m - k) % 8] for k in range(8)) for m in range(8)])
    np.testing.assert_allclose(circular_convolve(a, b), direct, atol=1e-12)
    # unitary DFT: F(a * b) = sqrt(D) F(a) F(b)
    np.testing.assert_allclose(dft(direct), np.sqrt(8) * dft(a) * dft(b), atol=1e-12)


def test_bridge_values_and_scale_safety():
    assert bridge([3.0, 4.0], 2) == pytest.approx(5.0)
    assert bridge([3.0, -4.0], 1) == pytest.approx(7.0)
    assert bridge([1.0, 1.0], 0.5) == pytest.approx(4.0)
    # Fourier l1 of a delta at 0 in dimension D: |beta_hat| = 1/sqrt(D) at each of D frequencies
    assert bridge(np.eye(16)[0], 1, domain="fourier") == pytest.approx(4.0)
    np.testing.assert_allclose(bridge(np.array([[3.0, 4.0]]) * 1e-200, 2), [5e-200], rtol=1e-12)
    assert bridge(np.array([1e200, 1e200]), 2 / 3) == pytest.approx(1e200 * 2**1.5, rel=1e-12)
    with pytest.raises(IbcoreValueError):
        bridge([1.0, 2.0], 0)
    with pytest.raises(IbcoreValueError):
        bridge([1.0, 2.0], 1, domain="frequency")


def test_angle_batched_scale_free_and_accurate_near_zero():
    assert ibcore.angle([1.0, 0.0], [0.0, 2.0]) == pytest.approx(90.0)
    assert ibcore.angle([1.0, 0.0], [-1.0, 0.0]) == pytest.approx(180.0)
    np.testing.assert_allclose(ibcore.angle(np.array([[1.0, 1.0], [1.0, 0.0]]) * 1e-250, [1e250, 1e250]), [0.0, 45.0], atol=1e-12)
    tiny = 1e-9
    assert ibcore.angle([1.0, 0.0], [1.0, tiny]) == pytest.approx(np.degrees(tiny), rel=1e-6)
    with pytest.raises(IbcoreValueError, match="zero vector"):
        ibcore.angle([0.0, 0.0], [1.0, 0.0])
    with pytest.raises(ShapeError):
        ibcore.angle([1.0, 0.0], [1.0, 0.0, 0.0])
    with pytest.raises(IbcoreValueError):
        ibcore.angle([np.nan, 0.0], [1.0, 0.0])
