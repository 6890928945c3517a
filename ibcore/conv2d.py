r"""Two-dimensional circular convolutions: the paper's full-width network on images.

Images are ``n1 x n2`` arrays; the training loop works with flat vectors, so an image
(or a predictor) is stored row after row: entry ``a * n2 + b`` is ``x[a, b]``, and
``dim`` = D = n1 n2.  The layer is the paper's, with the shift taken in both axes:

.. math::
    \mathbf h_l[a,b] = \tfrac{1}{\sqrt D}\sum_{k<n_1}\sum_{m<n_2}\mathbf w_l[k,m]\,
    \mathbf h_{l-1}[(a+k)\bmod n_1,\,(b+m)\bmod n_2]\ (1\le l\le L-1),\qquad
    f(\mathbf x) = \langle\mathbf h_{L-1},\mathbf w_L\rangle,

so :math:`\boldsymbol\beta = D^{-(L-1)/2}\,\mathbf w_1\circledast\cdots\circledast\mathbf w_L`
(2-D circular convolution) and, with the unitary 2-D DFT
:math:`\hat{\mathbf z} = F_{n_1}\mathbf z F_{n_2}` (``numpy.fft.fft2(norm="ortho")``),
:math:`\hat{\boldsymbol\beta} = \hat{\mathbf w}_1\odot\cdots\odot\hat{\mathbf w}_L`.
On flat vectors the 2-D DFT is the Kronecker product :math:`F_{n_1}\otimes F_{n_2}`, a unitary
D x D matrix (:func:`dft2_matrix`); the whole theory of the 1-D network carries over
with F replaced by it.  ``Convolutional2D((1, D), L)`` is ``ibcore.nets.Convolutional(D, L)``.

References and certificates (predictor space), with :math:`T = F_{n_1}\otimes F_{n_2}`:

- :func:`min_fourier2_l1_margin`: :math:`\min\|T\boldsymbol\beta\|_1` s.t. margins >= 1 (an
  SOCP, cvxpy + Clarabel), the depth-2 reference;
- :func:`fourier2_certificate`: the first-order certificate of
  :math:`\min\tfrac1p\sum_d|(T\boldsymbol\beta)_d|^p` s.t. margins >= 1, p = 2/L, exactly as
  :func:`ibcore.limits.bridge_certificate` with ``domain="fourier"`` but for T: it *is*
  that certificate, with the matrix T as its domain.
  Refinement of GD's output is done in parameter space by the generic
  ``ibcore.limits.polish(net, w, ...)`` (Theorem 3's problem), whose KKT points map to
  predictor-space stationary points; :func:`polish_and_certify` chains the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ._checks import (
    as_float_array,
    check_dataset,
    check_params,
    check_positive_float,
    check_positive_int,
    check_vectors,
)
from .certificates import Certificate, bridge_certificate
from .data import check_separable
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError
from .fourier import dft_matrix
from ._coordinates import _exclusive_products
from .nets import Parameterization
from .references import clarabel_solve

__all__ = [
    "CertifiedLimit2D",
    "Convolutional2D",
    "Fourier2Reference",
    "check_shape",
    "circular_convolve2d",
    "dft2",
    "dft2_matrix",
    "fourier2_certificate",
    "min_fourier2_l1_margin",
    "plane_wave_data",
    "polish_and_certify",
    "symbolic_check_2d",
]


def check_shape(shape) -> tuple[int, int]:
    """Validate an image shape ``(n1, n2)`` of positive ints."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise IbcoreTypeError(f"shape must be a pair (n1, n2) of positive ints, got {shape!r}")
    return check_positive_int("shape[0]", shape[0]), check_positive_int("shape[1]", shape[1])


def dft2(beta, shape) -> np.ndarray:
    """Unitary 2-D DFT of flat images (``(..., D)``), returned as images ``(..., n1, n2)``."""
    n1, n2 = check_shape(shape)
    beta = as_float_array("beta", beta)
    if beta.ndim == 0 or beta.shape[-1] != n1 * n2:
        raise ShapeError(f"beta must have last axis n1 * n2 = {n1 * n2}, got shape {beta.shape}")
    return np.fft.fft2(beta.reshape(beta.shape[:-1] + (n1, n2)), norm="ortho")


def dft2_matrix(shape) -> np.ndarray:
    r"""The D x D unitary matrix :math:`F_{n_1}\otimes F_{n_2}` of the 2-D DFT on row-major flat images."""
    n1, n2 = check_shape(shape)
    return np.kron(dft_matrix(n1), dft_matrix(n2))


def circular_convolve2d(a, b) -> np.ndarray:
    """(a ⊛ b)[p, q] = sum_{k,m} a[k, m] b[(p-k) mod n1, (q-m) mod n2], by explicit sums (for checks)."""
    a, b = as_float_array("a", a, ndim=2), as_float_array("b", b, ndim=2)
    if a.shape != b.shape:
        raise ShapeError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    n1, n2 = a.shape
    out = np.zeros_like(a)
    for k in range(n1):
        for m in range(n2):
            out += a[k, m] * np.roll(np.roll(b, k, axis=0), m, axis=1)
    return out


class Convolutional2D(Parameterization):
    r"""The paper's full-width linear convolutional network on ``n1 x n2`` images (module docstring).

    Parameters: L filters of shape (n1, n2), flattened row-major one after the other;
    ``dim`` = n1 n2, ``n_params`` = L n1 n2.  Predictor and gradient by real 2-D FFTs:
    :math:`F\nabla_{\mathbf w_l}\langle\mathbf g,\boldsymbol\beta\rangle = \hat{\mathbf g}\odot
    \overline{\prod_{l'\ne l}\hat{\mathbf w}_{l'}}`, as in 1-D.
    """

    def __init__(self, shape, depth: int):
        self.shape = check_shape(shape)
        self.depth = check_positive_int("depth", depth)
        self.dim = self.shape[0] * self.shape[1]
        self.n_params = self.dim * self.depth
        self._norm = self.dim ** (-(self.depth - 1) / 2)

    @property
    def layer_shapes(self):
        return [self.shape] * self.depth

    def _spectra(self, w2):
        return np.fft.rfft2(w2.reshape((-1, self.depth) + self.shape))  # (B, L, n1, n2//2+1)

    def _beta(self, prod):
        return self._norm * np.fft.irfft2(prod, s=self.shape).reshape(prod.shape[0], -1)

    def _predictor(self, w2):
        return self._beta(np.prod(self._spectra(w2), axis=1))

    def _pullback(self, spec, g2):
        others = np.conj(_exclusive_products(spec))  # (B, L, n1, F)
        G = np.fft.rfft2(g2.reshape((-1,) + self.shape))[:, None]
        grads = np.fft.irfft2(G * others, s=self.shape)
        return self._norm * grads.reshape(g2.shape[0], -1)

    def _vjp(self, w2, g2):
        return self._pullback(self._spectra(w2), g2)

    def _linearize(self, w2):
        spec = self._spectra(w2)
        return self._beta(np.prod(spec, axis=1)), lambda g2: self._pullback(spec, g2)

    def layerwise_output(self, w, x) -> np.ndarray:
        """f(x) from the layer definition with explicit 2-D index arithmetic (slow; for checks).

        ``x`` flat images of shape ``(D,)`` or ``(N, D)``; ``w`` a single parameter vector.
        """
        w2, batched = check_params("w", w, self.n_params)
        if batched:
            raise ShapeError("layerwise_output takes a single parameter vector w of shape (P,)")
        x2 = check_vectors("x", x, self.dim)
        n1, n2 = self.shape
        layers = [lay[0] for lay in self._unflatten(w2)]
        h = x2.reshape(-1, n1, n2)
        for l in range(self.depth - 1):
            new = np.zeros_like(h)
            for a in range(n1):
                for b in range(n2):
                    rows = (a + np.arange(n1)) % n1
                    cols = (b + np.arange(n2)) % n2
                    new[:, a, b] = np.einsum("km,nkm->n", layers[l], h[:, rows][:, :, cols]) / np.sqrt(self.dim)
            h = new
        out = np.einsum("nab,ab->n", h, layers[-1])
        return out if np.ndim(x) == 2 else out[0]

    def __repr__(self) -> str:
        return f"Convolutional2D(shape={self.shape}, depth={self.depth})"


# --------------------------------------------------------------------------- references


@dataclass(frozen=True)
class Fourier2Reference:
    """Margin-1 minimizer of the 2-D Fourier-l1 norm: ``beta`` (flat), ``alpha`` (duals of the
    margins, >= 0), ``value`` (= sum_k |beta^[k]|), ``status`` (the solver's)."""

    beta: np.ndarray
    alpha: np.ndarray
    value: float
    status: str


def _check_image_data(X, y, shape):
    n1, n2 = check_shape(shape)
    X, y = check_dataset(X, y)
    if X.shape[1] != n1 * n2:
        raise ShapeError(f"X must have n1 * n2 = {n1 * n2} columns (flat images), got {X.shape[1]}")
    return X, y, (n1, n2)


def min_fourier2_l1_margin(X, y, shape) -> Fourier2Reference:
    r""":math:`\min\sum_{k,m}|\hat{\boldsymbol\beta}[k,m]|` s.t. :math:`y_n\langle\mathbf x_n,\boldsymbol\beta\rangle\ge1`.

    Written with the complex matrix :math:`T = F_{n_1}\otimes F_{n_2}` (an SOCP); Clarabel at its
    default tolerances (1e-8); status ``optimal`` required, else :class:`SolverError`.
    """
    X, y, shape = _check_image_data(X, y, shape)
    check_separable(X, y)
    beta = cp.Variable(X.shape[1])
    margins = cp.multiply(y, X @ beta) >= 1
    problem = cp.Problem(cp.Minimize(cp.sum(cp.abs(dft2_matrix(shape) @ beta))), [margins])
    clarabel_solve("min_fourier2_l1_margin", problem)
    b = np.asarray(beta.value, dtype=np.float64)
    alpha = np.maximum(np.asarray(margins.dual_value, dtype=np.float64), 0.0)
    return Fourier2Reference(b, alpha, float(np.sum(np.abs(dft2(b, shape)))), problem.status)


# --------------------------------------------------------------------------- certificates


def fourier2_certificate(beta, X, y, p: float, shape, *, support_tol: float = 1e-3,
                         active_tol: float = 1e-3) -> Certificate:
    r"""Certify that ``beta`` is stationary for :math:`\min\tfrac1p\sum_d|(T\boldsymbol\beta)_d|^p` s.t. margins >= 1.

    Same equations and tolerances as :func:`ibcore.limits.bridge_certificate` (see
    :mod:`ibcore.certificates`): at margin 1, :math:`\alpha\ge0` on the samples with margin
    :math:`\le 1+` ``active_tol`` solves, by NNLS, :math:`(T\mathbf z)_d = |v_d|^{p-2}v_d` on the
    support :math:`|v_d| >` ``support_tol`` :math:`\max|v|`, :math:`\mathbf z = \sum\alpha_n y_n\mathbf x_n`,
    :math:`\mathbf v = T\boldsymbol\beta`; for p = 1 also :math:`|(T\mathbf z)_d|\le1` off it (global optimality).
    The support is conjugate symmetric automatically, since :math:`|\hat{\boldsymbol\beta}|` is for real β.
    Returns that :class:`~ibcore.certificates.Certificate` (``domain`` ``"matrix"``; ``support`` over
    the flat frequencies, ``reshape(shape)`` for an image).
    """
    X, y, shape = _check_image_data(X, y, shape)
    beta = as_float_array("beta", beta, ndim=1)
    if beta.size != X.shape[1]:
        raise ShapeError(f"beta must have length D = {X.shape[1]}, got {beta.size}")
    p = check_positive_float("p", p)
    if p > 1:
        raise IbcoreValueError(f"p must be in (0, 1] (p = 2/L for depth L >= 2), got {p}")
    return bridge_certificate(beta, X, y, p, dft2_matrix(shape), support_tol=support_tol, active_tol=active_tol)


@dataclass(frozen=True)
class CertifiedLimit2D:
    """GD's weights polished in parameter space (``kkt``: an ``ibcore`` ``KKTPolished``) and
    the predictor-space certificate of the polished predictor (``cert``); ``moved_deg``: the
    angle in degrees between GD's predictor and the polished one."""

    kkt: object
    cert: Certificate
    moved_deg: float

    def certified(self, tol: float = 1e-8, *, max_moved_deg: float = 0.5) -> bool:
        """KKT residual <= tol (parameter space), the predictor certificate at ``tol``, and the
        polished predictor within ``max_moved_deg`` of GD's (angles in predictor space: GD's
        parameters converge in direction more slowly than its predictor, because the
        balancedness of the layers is approached slowly, so the parameter-space angle
        overstates how far the *limit* moved)."""
        return bool(self.kkt.certified(tol, max_moved_deg=180.0) and self.cert.certified(tol)
                    and self.moved_deg <= max_moved_deg)


def polish_and_certify(net: Convolutional2D, w, X, y, *, active_tol: float = 1e-3,
                       support_tol: float = 1e-3) -> CertifiedLimit2D | list:
    r"""Polish GD's weights to a nearby KKT point of Theorem 3's problem (``ibcore.limits.polish``),
    then certify its predictor for the 2-D :math:`\ell_{2/L}` problem (:func:`fourier2_certificate`).

    ``w`` of shape (B, P) gives a list.
    """
    from .polish import polish

    if not isinstance(net, Convolutional2D):
        raise IbcoreTypeError(f"net must be a Convolutional2D, got {type(net).__name__}")
    w = as_float_array("w", w, ndim=(1, 2))
    if w.ndim == 2:
        return [polish_and_certify(net, wi, X, y, active_tol=active_tol, support_tol=support_tol) for wi in w]
    kkt = polish(net, w, X, y, active_tol=active_tol)
    cert = fourier2_certificate(kkt.beta, X, y, 2.0 / net.depth, net.shape, support_tol=support_tol,
                                active_tol=active_tol)
    from . import angle

    return CertifiedLimit2D(kkt, cert, float(angle(net.predictor(w), kkt.beta)))


# --------------------------------------------------------------------------- data


def plane_wave_data(n_samples: int, shape, waves, seed: int = 0):
    r"""Gaussian images labelled by a teacher made of a few plane waves.

    ``waves`` is a list of ``(k, m, amplitude, phase)``; the teacher is
    :math:`\boldsymbol\beta^*[a,b] = \sum A\cos(2\pi(ka/n_1 + mb/n_2) + \phi)`, so its 2-D spectrum
    is supported on the frequencies :math:`\pm(k, m)`.  Returns ``X`` (N, D) flat images,
    ``y = sign(X beta*)`` and the flat teacher.
    """
    n1, n2 = check_shape(shape)
    n = check_positive_int("n_samples", n_samples)
    a, b = np.meshgrid(np.arange(n1), np.arange(n2), indexing="ij")
    teacher = np.zeros((n1, n2))
    for k, m, amp, phase in waves:
        teacher += amp * np.cos(2 * np.pi * (k * a / n1 + m * b / n2) + phase)
    teacher = teacher.ravel()
    X = np.random.default_rng(seed).standard_normal((n, n1 * n2))
    y = np.sign(X @ teacher)
    if np.any(y == 0):
        raise IbcoreValueError("a sample lies on the teacher's hyperplane; choose another seed")
    return X, y, teacher


# --------------------------------------------------------------------------- symbolic


def symbolic_check_2d(shape=(2, 3)) -> dict[str, bool]:
    r"""Exact SymPy checks, on an ``n1 x n2`` grid of symbols, of the three identities the 2-D chapter uses.

    ``"layerwise"``: the depth-2 network computed layer by layer equals
    :math:`\langle\mathbf x, D^{-1/2}\mathbf w_1\circledast\mathbf w_2\rangle`;
    ``"depth3"``: the same at depth 3 with :math:`D^{-1}\mathbf w_1\circledast\mathbf w_2\circledast\mathbf w_3`;
    ``"fourier"``: :math:`F_{n_1}(D^{-1/2}\mathbf w_1\circledast\mathbf w_2)F_{n_2} =
    (F_{n_1}\mathbf w_1F_{n_2})\odot(F_{n_1}\mathbf w_2F_{n_2})` (entrywise), with the exact roots of unity.
    """
    import sympy as sp

    n1, n2 = check_shape(shape)
    D = n1 * n2
    ws = [sp.Matrix(n1, n2, lambda a, b, l=l: sp.Symbol(f"w{l}_{a}{b}", real=True)) for l in (1, 2, 3)]
    x = sp.Matrix(n1, n2, lambda a, b: sp.Symbol(f"x_{a}{b}", real=True))

    def layer(w, h):
        return sp.Matrix(n1, n2, lambda a, b: sum(w[k, m] * h[(a + k) % n1, (b + m) % n2]
                                                  for k in range(n1) for m in range(n2)) / sp.sqrt(D))

    def convolve(u, v):
        return sp.Matrix(n1, n2, lambda p, q: sum(u[k, m] * v[(p - k) % n1, (q - m) % n2]
                                                  for k in range(n1) for m in range(n2)))

    def inner(u, v):
        return sum(u[i] * v[i] for i in range(D))

    f2 = inner(layer(ws[0], x), ws[1])
    beta2 = convolve(ws[0], ws[1]) / sp.sqrt(D)
    f3 = inner(layer(ws[1], layer(ws[0], x)), ws[2])
    beta3 = convolve(convolve(ws[0], ws[1]), ws[2]) / D

    def F(n):
        return sp.Matrix(n, n, lambda k, j: sp.exp(-2 * sp.pi * sp.I * k * j / n) / sp.sqrt(n))

    def hat(u):
        return F(n1) * u * F(n2)

    lhs, r1, r2 = hat(beta2), hat(ws[0]), hat(ws[1])
    fourier = all(sp.simplify(sp.expand(sp.expand_complex(lhs[i] - r1[i] * r2[i]))) == 0 for i in range(D))
    return {
        "layerwise": sp.expand(f2 - inner(beta2, x)) == 0,
        "depth3": sp.expand(f3 - inner(beta3, x)) == 0,
        "fourier": bool(fourier),
    }
