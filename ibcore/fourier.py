r"""The one Fourier convention of the book, and the bridge (quasi-)norms.

The unitary DFT is :math:`F[k, j] = e^{-2\pi i k j / D} / \sqrt{D}`, which is
``numpy.fft.fft(x, norm="ortho")``.  With the paper's full-width convolutional
layer (see :mod:`ibcore.nets`) this convention gives exactly

.. math:: \widehat{\mathcal P_{\rm conv}(\mathbf w)} = \hat{\mathbf w}_1 \odot \cdots \odot \hat{\mathbf w}_L

with no conjugates, and :math:`\|F\mathbf z\|_2 = \|\mathbf z\|_2` (Parseval).  The
moduli :math:`|\hat{\boldsymbol\beta}[k]|` that the theorems are about do not depend
on the sign of the exponent or on an index reversal.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_choice, check_positive_float
from .errors import IbcoreTypeError, ShapeError

__all__ = ["dft", "idft", "dft_matrix", "circular_convolve", "bridge"]


def dft(x) -> np.ndarray:
    """Unitary DFT along the last axis: ``fft(x, norm="ortho")``. Real input, complex output."""
    x = as_float_array("x", x)
    if x.ndim == 0:
        raise ShapeError("x must have at least one axis to transform")
    return np.fft.fft(x, axis=-1, norm="ortho")


def idft(z) -> np.ndarray:
    """Inverse of :func:`dft` along the last axis.

    Returns a real array when ``z`` is conjugate symmetric (the imaginary part is
    then round-off, below ``1e-12`` of the norm, and is dropped); otherwise complex.
    """
    z = np.asarray(z)
    if z.dtype == object or not np.issubdtype(z.dtype, np.number):
        raise IbcoreTypeError(f"z must be a numeric array, got dtype {z.dtype}")
    if z.ndim == 0:
        raise ShapeError("z must have at least one axis to transform")
    if not np.all(np.isfinite(z)):
        raise ValueError("z contains NaN or infinite values")
    x = np.fft.ifft(z, axis=-1, norm="ortho")
    scale = max(float(np.max(np.abs(x), initial=0.0)), 1e-300)
    if np.max(np.abs(x.imag), initial=0.0) <= 1e-12 * scale:
        return np.ascontiguousarray(x.real)
    return x


def dft_matrix(dim: int) -> np.ndarray:
    """The unitary DFT matrix ``F`` with ``F @ x == dft(x)``."""
    k = np.arange(dim)
    return np.exp(-2j * np.pi * np.outer(k, k) / dim) / np.sqrt(dim)


def circular_convolve(a, b) -> np.ndarray:
    r"""Circular convolution :math:`(a \circledast b)[m] = \sum_k a[k]\, b[(m-k) \bmod D]` along the last axis.

    Computed with FFTs; equal to the sum above up to round-off.
    """
    a = as_float_array("a", a)
    b = as_float_array("b", b)
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"a and b must have the same length, got {a.shape[-1]} and {b.shape[-1]}")
    return np.fft.irfft(np.fft.rfft(a, axis=-1) * np.fft.rfft(b, axis=-1), n=a.shape[-1], axis=-1)


def bridge(beta, p: float, domain: str = "time") -> np.ndarray | float:
    r"""Bridge (quasi-)norm :math:`\|\mathbf v\|_p = (\sum_d |v_d|^p)^{1/p}` along the last axis.

    ``domain="time"`` applies it to ``beta``; ``domain="fourier"`` to
    :math:`\hat{\boldsymbol\beta} = F\boldsymbol\beta` (moduli of complex coefficients).
    For ``p < 1`` it is a quasi-norm (no triangle inequality). The largest modulus is
    factored out before powering so that no scale under- or overflows.
    """
    beta = as_float_array("beta", beta, ndim=(1, 2))
    p = check_positive_float("p", p)
    check_choice("domain", domain, {"time", "fourier"})
    mod = np.abs(dft(beta)) if domain == "fourier" else np.abs(beta)
    top = np.max(mod, axis=-1, keepdims=True)
    safe = np.where(top > 0, top, 1.0)
    val = top[..., 0] * np.sum((mod / safe) ** p, axis=-1) ** (1.0 / p)
    return float(val) if beta.ndim == 1 else val
