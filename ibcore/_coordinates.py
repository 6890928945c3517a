r"""The coordinates gradient descent runs in, for each net on fixed data (:meth:`ibcore.nets.Parameterization._coordinates`).

The training loop (:mod:`ibcore._engine`) only needs the margins of the unit-parameter
predictor and their pullback, in any coordinates that are an isometry of parameter
space.  :class:`_Coordinates` uses the parameters themselves; :class:`_SpectralCoordinates`,
the conv net's, its filters' scaled real spectra, where a step needs no FFT.
:func:`_exclusive_products` (the products of all factors but one, without division) is
shared with the nets' closed-form gradients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: nets imports this module
    from .nets import Convolutional, Parameterization


def _exclusive_products(factors: np.ndarray, axis: int = 1) -> np.ndarray:
    """``out[l] = prod_{l' != l} factors[l']`` along ``axis`` (the layers), without dividing.

    Division by ``factors[l]`` would give NaN where a factor is zero (a frozen
    coordinate or frequency), so prefix and suffix products are combined instead.
    """
    f = factors if axis == 0 else factors.swapaxes(0, axis)  # layers first (a view)
    depth = f.shape[0]
    if depth == 1:
        out = np.ones_like(f)
    elif depth == 2:
        out = f[::-1].copy()
    else:
        # prefixes out[l] = f_0 ... f_{l-1} for l >= 2, then each out[l] times its suffix
        # f_{l+1} ... f_{L-1}; out[1] and out[0] are written by their last product only
        out = np.empty_like(f)
        np.multiply(f[0], f[1], out=out[2])
        for l in range(3, depth):
            np.multiply(out[l - 1], f[l - 1], out=out[l])
        acc = f[depth - 1]
        for l in range(depth - 2, 1, -1):
            out[l] *= acc
            acc = acc * f[l]
        np.multiply(f[0], acc, out=out[1])
        np.multiply(acc, f[1], out=out[0])
    return out if axis == 0 else out.swapaxes(0, axis)


class _Coordinates:
    r"""The training loop's view of a net on fixed data: margins and their pullback in some coordinates.

    The engine only ever needs, for unit parameters :math:`\mathbf u`, the margins
    :math:`m_n = y_n\langle\mathbf x_n, \mathcal P(\mathbf u)\rangle` and, for loss weights
    :math:`p`, the descent direction :math:`\sum_n p_n \nabla_{\mathbf u} m_n`, plus the
    norm of parameter space.  Any *isometric* change of coordinates :math:`\mathbf s = E\mathbf u`
    keeps the step :math:`\mathbf u \leftarrow (\mathbf u + c\mathbf v)/\|\cdot\|` the same map, so
    a net may run in whatever coordinates and memory layout make those cheap (the conv
    net: its filters' spectra, layer by layer).  A state is a float64 array whose
    second-to-last axis is the batch (so ``x * c[:, None]`` scales each parameter vector
    by its own ``c``); margins and loss weights are laid out (N, B).

    This default uses the parameters themselves, (B, P), with the arithmetic of the
    original loop operation for operation (margins ``beta @ Xy.T``, norms as
    ``np.linalg.norm``), so every net without coordinates of its own trains bit for bit
    as before.
    """

    def __init__(self, net: "Parameterization", Xy: np.ndarray):
        self._net, self._Xy = net, Xy

    def encode(self, u: np.ndarray) -> np.ndarray:
        """The state for parameters ``u`` (B, P), with the same norms."""
        return np.array(u, dtype=np.float64)

    def decode(self, s: np.ndarray) -> np.ndarray:
        """Parameters (B, P) from a state."""
        return np.array(s)

    def sqnorms(self, s: np.ndarray) -> np.ndarray:
        """Squared norm of each parameter vector in a state (or a direction), (B,)."""
        return np.add.reduce(s * s, axis=-1)

    def predictor(self, s: np.ndarray) -> np.ndarray:
        """P(u) (B, D) in the time domain."""
        return self._net._predictor(self.decode(s))

    def linearize(self, s: np.ndarray):
        """``(mT, pullback)``: margins (N, B) and ``(pT, rows=None) -> sum_n p_n grad m_n``, a fresh direction.

        ``pT`` is laid out (N, B), or (len(rows), B) for the samples ``rows`` only (a mini-batch).
        """
        beta, pullback = self._net._linearize(s)
        return (beta @ self._Xy.T).T, lambda pT, rows=None: pullback(pT.T @ (self._Xy if rows is None else self._Xy[rows]))


class _SpectralCoordinates(_Coordinates):
    r"""The conv net's training coordinates: every filter's real FFT, scaled to an orthonormal basis.

    With :math:`c_k = 2` for :math:`0 < k < D/2` and :math:`c_k = 1` at :math:`k = 0` and
    :math:`k = D/2`, Parseval for real vectors reads :math:`\langle\mathbf a, \mathbf b\rangle =
    \sum_k \tfrac{c_k}{D}\,\mathrm{Re}\,\hat a_k\overline{\hat b_k}` (``rfft`` coefficients), so
    :math:`\mathbf s_l = r\odot\mathrm{rfft}(\mathbf w_l)` with :math:`r_k = \sqrt{c_k/D}` is an
    isometry, and :math:`\hat{\boldsymbol\beta} = D^{-(L-1)/2}\prod_l \mathbf s_l / r^L`.  With the
    constants folded into :math:`Q = D^{-(L-1)/2}\, r^{2-L}\odot\mathrm{rfft}(y_n\mathbf x_n)` (N, K),

    .. math::
        m = \mathrm{Re}\,\big(\overline Q \textstyle\prod_l \mathbf s_l\big),\qquad
        \mathbf v_l = (Q^\top p) \odot \overline{\textstyle\prod_{l'\ne l}\mathbf s_{l'}},

    so a step costs two real matrix products (complex numbers stored as their real view,
    re and im interleaved) and O(L K) elementwise products per parameter vector: the loop
    never calls an FFT; only :meth:`encode`, :meth:`decode` and the recorded predictors
    do.  The state is laid out (L, B, 2K), layer by layer, so that every product runs
    over contiguous memory.  The imaginary parts at :math:`k = 0` (and :math:`D/2`) start at
    exactly 0 and stay 0, since the data's coefficients there are real.
    """

    def __init__(self, net: "Convolutional", Xy: np.ndarray):
        super().__init__(net, Xy)
        D, L = net.dim, net.depth
        c = np.full(D // 2 + 1, 2.0)
        c[0] = 1.0
        if D % 2 == 0:
            c[-1] = 1.0
        self._r, self._D, self._L = np.sqrt(c / D), D, L
        Q = net._norm * self._r ** (2 - L) * np.fft.rfft(Xy, axis=-1)
        self._Q = np.ascontiguousarray(Q).view(np.float64)  # (N, 2K)

    def _factors(self, s):
        return s.view(np.complex128)  # (L, B, K)

    def encode(self, u):
        layers = u.reshape(u.shape[0], self._L, -1).transpose(1, 0, 2)  # (L, B, D)
        return (np.fft.rfft(layers, axis=-1) * self._r).view(np.float64)

    def decode(self, s):
        layers = np.fft.irfft(self._factors(s) / self._r, n=self._D, axis=-1)
        return np.ascontiguousarray(layers.transpose(1, 0, 2)).reshape(s.shape[1], -1)

    def sqnorms(self, s):
        return np.add.reduce(np.vecdot(s, s), axis=0)

    def _product(self, f):
        """(prod_l f_l, conj(others)) with others[l] = prod_{l' != l} f_l'."""
        if self._L == 1:
            return f[0], np.ones_like(f)
        if self._L == 2:
            return f[0] * f[1], np.conj(f[::-1])
        others = _exclusive_products(f, axis=0)
        prod = others[-1] * f[-1]
        return prod, np.conjugate(others, out=others)

    def predictor(self, s):
        spec = self._product(self._factors(s))[0] / self._r ** self._L
        return self._net._norm * np.fft.irfft(spec, n=self._D, axis=-1)

    def linearize(self, s):
        prod, others = self._product(self._factors(s))
        mT = self._Q @ prod.view(np.float64).T

        def pullback(pT, rows=None):
            G = (pT.T @ (self._Q if rows is None else self._Q[rows])).view(np.complex128)  # (B, K): shared by the layers
            return (G * others).view(np.float64)

        return mT, pullback
