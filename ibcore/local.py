r"""Convolutional networks with several channels (chapter 11).

Local filters (kernel size K < D) with one channel are ``ibcore.nets.Convolutional(dim,
depth, kernel_size=K)``.  This module generalizes its depth-two case to several input
and hidden channels, with the contract of :mod:`ibcore.nets` (``dim``, ``depth``,
``n_params``, ``init``, batched ``predictor``/``vjp`` in closed form, ``unflatten``,
``flatten``), so that :func:`ibcore.train.gradient_descent`, :func:`ibcore.limits.polish`
and :func:`ibcore.limits.kkt_certificate` accept it unchanged.

**Several channels** (:class:`MultiChannelConvolutional`, depth two).  Inputs with R
channels :math:`\mathbf x = (\mathbf x_1,\dots,\mathbf x_R)`, C hidden channels, filters
:math:`\mathbf w_{1,c,r}` of K taps and readouts :math:`\mathbf w_{2,c}\in\mathbb R^D`:

.. math::
    \mathbf h_c[d] = \tfrac1{\sqrt D}\sum_{r=1}^R\sum_{k=0}^{K-1}\mathbf w_{1,c,r}[k]\,\mathbf x_r[(d+k)\bmod D],\qquad
    f(\mathbf x) = \sum_{c=1}^C\langle\mathbf h_c,\mathbf w_{2,c}\rangle,

so :math:`\boldsymbol\beta_r = D^{-1/2}\sum_c\mathbf w_{1,c,r}\circledast\mathbf w_{2,c}` and
:math:`\hat{\boldsymbol\beta}_r[k] = \sum_c\hat{\mathbf w}_{1,c,r}[k]\,\hat{\mathbf w}_{2,c}[k]`.
The training loop works with flat vectors, so an R-channel input (or predictor) is
stored channel after channel: entry ``r * D + d`` is :math:`\mathbf x_r[d]`
(:func:`flatten_channels`, :func:`unflatten_channels`).  ``dim`` is therefore the length
of that flat vector, R D; ``signal_dim`` is D.  With ``channels = in_channels = 1`` the
class equals ``Convolutional(D, 2, kernel_size=K)``, parameter for parameter.

It uses real FFTs (O(D log D) per filter), as :class:`ibcore.nets.Convolutional` does;
``layerwise_output`` computes :math:`f(\mathbf x)` from the definitions above with explicit
index arithmetic, for the tests.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_params, check_positive_int
from .errors import ShapeError
from .nets import Parameterization, _check_kernel_size

__all__ = ["MultiChannelConvolutional", "flatten_channels", "unflatten_channels"]


def _shift_index(dim: int, kernel_size: int) -> np.ndarray:
    """``idx[d, k] = (d + k) mod D``: the input entries a filter tap k sees at output d."""
    return (np.arange(dim)[:, None] + np.arange(kernel_size)[None, :]) % dim


def flatten_channels(v) -> np.ndarray:
    """``(..., R, D)`` -> ``(..., R * D)``, channel after channel (entry ``r * D + d`` is ``v[..., r, d]``)."""
    v = as_float_array("v", v)
    if v.ndim < 2:
        raise ShapeError(f"v must have a channel axis and a signal axis (..., R, D), got shape {v.shape}")
    return v.reshape(v.shape[:-2] + (v.shape[-2] * v.shape[-1],))


def unflatten_channels(v, in_channels: int) -> np.ndarray:
    """Inverse of :func:`flatten_channels`: ``(..., R * D)`` -> ``(..., R, D)``."""
    v = as_float_array("v", v)
    R = check_positive_int("in_channels", in_channels)
    if v.ndim == 0 or v.shape[-1] % R:
        raise ShapeError(f"the last axis of v must be a multiple of in_channels = {R}, got shape {v.shape}")
    return v.reshape(v.shape[:-1] + (R, v.shape[-1] // R))


class MultiChannelConvolutional(Parameterization):
    r"""Depth-two linear convolutional network with R input channels and C hidden channels.

    Parameters, in order: the filters :math:`\mathbf w_1` of shape (C, R, K), then the
    readouts :math:`\mathbf w_2` of shape (C, D); ``n_params`` = C (R K + D).  The predictor
    is the flat vector of :math:`(\boldsymbol\beta_1,\dots,\boldsymbol\beta_R)`, so ``dim`` = R D
    (module docstring).  ``channels = in_channels = 1`` is ``Convolutional(D, 2, kernel_size=K)``.
    """

    def __init__(self, signal_dim: int, kernel_size: int, channels: int, in_channels: int = 1):
        self.signal_dim = check_positive_int("signal_dim", signal_dim)
        self.kernel_size = _check_kernel_size(kernel_size, self.signal_dim)
        self.channels = check_positive_int("channels", channels)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.depth = 2
        self.dim = self.in_channels * self.signal_dim
        self.n_params = self.channels * (self.in_channels * self.kernel_size + self.signal_dim)
        self._norm = self.signal_dim ** -0.5

    @property
    def layer_shapes(self):
        return [(self.channels, self.in_channels, self.kernel_size), (self.channels, self.signal_dim)]

    def _spectra(self, w2):
        w1, w2_ = self._unflatten(w2)
        return np.fft.rfft(w1, n=self.signal_dim, axis=-1), np.fft.rfft(w2_, axis=-1)  # (B,C,R,F), (B,C,F)

    def _beta(self, s1, s2):
        spec = np.einsum("bcrf,bcf->brf", s1, s2)
        beta = self._norm * np.fft.irfft(spec, n=self.signal_dim, axis=-1)  # (B, R, D)
        return beta.reshape(beta.shape[0], -1)

    def _predictor(self, w2):
        return self._beta(*self._spectra(w2))

    def _pullback(self, s1, s2, g2):
        B, D, K = g2.shape[0], self.signal_dim, self.kernel_size
        G = np.fft.rfft(g2.reshape(B, self.in_channels, D), axis=-1)  # (B, R, F)
        g_w1 = np.fft.irfft(G[:, None, :, :] * np.conj(s2)[:, :, None, :], n=D, axis=-1)[..., :K]
        g_w2 = np.fft.irfft(np.einsum("brf,bcrf->bcf", G, np.conj(s1)), n=D, axis=-1)
        return self._norm * np.concatenate([g_w1.reshape(B, -1), g_w2.reshape(B, -1)], axis=1)

    def _vjp(self, w2, g2):
        return self._pullback(*self._spectra(w2), g2)

    def _linearize(self, w2):
        s1, s2 = self._spectra(w2)
        return self._beta(s1, s2), lambda g2: self._pullback(s1, s2, g2)

    def layerwise_output(self, w, x) -> np.ndarray:
        """f(x) from the definition, with explicit indices (slow; for checks).

        ``x`` of shape ``(R, D)`` or ``(N, R, D)``; ``w`` a single parameter vector.
        """
        w2, batched = check_params("w", w, self.n_params)
        if batched:
            raise ShapeError("layerwise_output takes a single parameter vector w of shape (P,)")
        x = as_float_array("x", x, ndim=(2, 3))
        if x.shape[-2:] != (self.in_channels, self.signal_dim):
            raise ShapeError(f"x must have shape (R, D) = {(self.in_channels, self.signal_dim)} "
                             f"or (N, R, D), got {x.shape}")
        x3 = x if x.ndim == 3 else x[None]
        w1, wout = (a[0] for a in self._unflatten(w2))
        idx = _shift_index(self.signal_dim, self.kernel_size)
        h = np.einsum("crk,nrdk->ncd", w1, x3[:, :, idx]) / np.sqrt(self.signal_dim)
        out = np.einsum("ncd,cd->n", h, wout)
        return out if x.ndim == 3 else out[0]

    def __repr__(self) -> str:
        return (f"MultiChannelConvolutional(signal_dim={self.signal_dim}, kernel_size={self.kernel_size}, "
                f"channels={self.channels}, in_channels={self.in_channels})")
