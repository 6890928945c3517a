r"""Representation costs of depth-two convolutional networks as convex programs, and
certificates of optimality by duality.

Setting: R input channels of length D, C hidden channels (``ibcore.nets.Convolutional(D, 2,
kernel_size=K)`` for R = C = 1, :mod:`ibcore.local` otherwise), filters of K taps with the paper's :math:`1/\sqrt D`, full-length readouts.  Collect
the weights in the (R K) x D matrix

.. math:: Z = \sum_{c=1}^C \operatorname{vec}(\mathbf w_{1,c})\,\mathbf w_{2,c}^\top,\qquad
    \text{row } rK + k \text{ of } \operatorname{vec}(\mathbf w_{1,c}) = \mathbf w_{1,c,r}[k].

The predictor is linear in Z: :math:`\boldsymbol\beta = \mathcal A(Z)` with
:math:`\mathcal A(Z)_r[m] = D^{-1/2}\sum_{k<K} Z[rK+k,\,(m-k)\bmod D]`, and its adjoint is
:math:`\mathcal A^*(\mathbf z)[rK+k,\,d] = D^{-1/2}\,\mathbf z_r[(k+d)\bmod D]` (K cyclic
shifts of each channel of z, stacked).  Since
:math:`\min\{\sum_c\|\mathbf a_c\|^2+\|\mathbf b_c\|^2 : \sum_c\mathbf a_c\mathbf b_c^\top = Z\} = 2\|Z\|_*`
once C >= rank Z, the representation cost with enough channels is

.. math:: \mathcal R_K(\boldsymbol\beta) = \min\{\|\mathbf w\|^2 : \mathcal P(\mathbf w) = \boldsymbol\beta\}
    = 2\,\|\boldsymbol\beta\|_{(K)},\qquad
    \|\boldsymbol\beta\|_{(K)} = \min\{\|Z\|_* : \mathcal A(Z) = \boldsymbol\beta\},

a nuclear-norm program (an SDP), :func:`conv_norm`.  Its dual norm is
:math:`\mathbf z \mapsto \sigma_{\max}(\mathcal A^*(\mathbf z))` (:func:`dual_norm`).
For single-channel inputs (R = 1) the book derives a second SDP in the filters'
power :math:`Q = \sum_c\mathbf w_{1,c}\mathbf w_{1,c}^\top` (:func:`filter_power_norm`),

.. math:: \|\boldsymbol\beta\|_{(K)} = \min_{Q\succeq 0}\ \tfrac12\Big(\operatorname{tr}Q
    + \sum_{k=0}^{D-1}\frac{|\hat{\boldsymbol\beta}[k]|^2}{\mathbf f_k^\top Q\,\bar{\mathbf f}_k}\Big),
    \qquad \mathbf f_k[j] = e^{-2\pi i kj/D}/\sqrt D\ (j < K),

used here as an independent check of :func:`conv_norm`.

**Margin problems.**  :func:`min_conv_norm_margin` solves
:math:`\min\|\boldsymbol\beta\|_{(K)}` s.t. :math:`y_n\langle\mathbf x_n,\boldsymbol\beta\rangle\ge1`
(in Z); :func:`min_nuclear_margin` and :func:`min_fourier_group_margin` solve the two
closed forms, :math:`\sqrt D\,\|B\|_*` (K = 1, B the D x R matrix of channels) and
:math:`\sum_k\|\hat B[k,:]\|_2` (K = D).

**Certificate by duality** (:func:`duality_certificate`).  For any :math:`\alpha\ge0`,
with :math:`\mathbf z = \sum_n\alpha_n y_n\mathbf x_n` and any feasible Z,
:math:`\|Z\|_* \ge \langle\mathcal A^*(\mathbf z), Z\rangle/\sigma_{\max}(\mathcal A^*(\mathbf z))
= \sum_n\alpha_n y_n\langle\mathbf x_n,\mathcal A(Z)\rangle/\sigma_{\max} \ge \sum_n\alpha_n/\sigma_{\max}`
(weak duality).  So a network's weights at margin 1 (primal value :math:`\|Z\|_*`) and
multipliers :math:`\alpha\ge0` (dual value :math:`\sum\alpha/\sigma_{\max}`) prove that
:math:`\|\mathcal P(\mathbf w)\|_{(K)}` exceeds the optimum by at most the relative gap
:math:`\|Z\|_*\,\sigma_{\max}/\sum\alpha - 1`.  A gap at round-off certifies a global
minimizer.  At a KKT point of :math:`\min\|\mathbf w\|^2` (Theorem 3 of the paper) the
gap vanishes exactly when :math:`\sigma_{\max}(\mathcal A^*(\mathbf z)) = 1`: the analogue of
the off-support condition :math:`|\hat{\mathbf z}[k]|\le1` of Theorem 2.
:func:`polish_and_certify` polishes gradient descent's weights to a nearby KKT point
(:func:`ibcore.limits.polish`) and certifies it this way.

**One channel is enough** (R = 1).  The cost sees the filters only through the summed
autocorrelation of Q (:func:`autocorrelation`); by the Fejér–Riesz theorem one real filter
has the same autocorrelation (:func:`spectral_factor`), and with its cheapest readout
(:func:`single_channel_weights`) a single channel attains the program's value.

Solvers: cvxpy with Clarabel at its default tolerances (gap and feasibility ``1e-8``).
Status ``optimal`` is accepted; ``optimal_inaccurate`` only when the float64 duality
gap of the returned point and duals is below ``INACCURATE_GAP_TOL``; anything else
raises :class:`~ibcore.errors.SolverError` naming the problem and the status.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ._checks import as_float_array, check_dataset, check_positive_float, check_positive_int
from .certificates import ACTIVE_TOL
from .data import check_separable
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError, SolverError
from .fourier import dft_matrix
from .local import MultiChannelConvolutional
from .nets import Convolutional
from .references import clarabel_solve

__all__ = [
    "INACCURATE_GAP_TOL",
    "ConvReference",
    "DualityCertificate",
    "conv_operator",
    "adjoint",
    "dual_norm",
    "lift",
    "conv_norm",
    "filter_power_norm",
    "min_conv_norm_margin",
    "min_nuclear_margin",
    "min_fourier_group_margin",
    "frequency_norms",
    "duality_certificate",
    "autocorrelation",
    "spectral_factor",
    "single_channel_weights",
    "CertifiedLimit",
    "polish_and_certify",
]

#: An ``optimal_inaccurate`` answer is kept only if its own duality gap is below this.
INACCURATE_GAP_TOL = 1e-6


# --------------------------------------------------------------------------- the linear map A


def _dims(signal_dim, kernel_size, in_channels) -> tuple[int, int, int]:
    D = check_positive_int("signal_dim", signal_dim)
    K = check_positive_int("kernel_size", kernel_size)
    if K > D:
        raise IbcoreValueError(f"kernel_size must be between 1 and signal_dim = {D}, got {K}")
    return D, K, check_positive_int("in_channels", in_channels)


def conv_operator(signal_dim: int, kernel_size: int, in_channels: int = 1) -> np.ndarray:
    r"""The matrix of :math:`\mathcal A`: ``beta = A @ Z.reshape(-1)`` for Z of shape (R K, D).

    Shape (R D, R K D); ``beta`` is the flat predictor of :mod:`ibcore.local` (channel after
    channel).  Entry ``A[r D + (k + d) % D, (r K + k) D + d] = D**-0.5``.
    """
    D, K, R = _dims(signal_dim, kernel_size, in_channels)
    A = np.zeros((R * D, R * K * D))
    r, k, d = np.meshgrid(np.arange(R), np.arange(K), np.arange(D), indexing="ij")
    A[(r * D + (k + d) % D).ravel(), ((r * K + k) * D + d).ravel()] = D ** -0.5
    return A


def adjoint(z, kernel_size: int, in_channels: int = 1) -> np.ndarray:
    r""":math:`\mathcal A^*(\mathbf z)`, shape (R K, D) (or (B, R K, D)): ``D**-0.5 * z_r[(k + d) % D]`` at row r K + k.

    ``z`` is a flat vector of length R D (or a batch of them).
    """
    z = as_float_array("z", z, ndim=(1, 2))
    R = check_positive_int("in_channels", in_channels)
    if z.shape[-1] % R:
        raise ShapeError(f"z must have a length that is a multiple of in_channels = {R}, got shape {z.shape}")
    D = z.shape[-1] // R
    _, K, _ = _dims(D, kernel_size, R)
    idx = (np.arange(K)[:, None] + np.arange(D)[None, :]) % D  # (K, D)
    zc = z.reshape(z.shape[:-1] + (R, D))
    out = zc[..., idx] / np.sqrt(D)  # (..., R, K, D)
    return out.reshape(z.shape[:-1] + (R * K, D))


def dual_norm(z, kernel_size: int, in_channels: int = 1) -> float | np.ndarray:
    r"""The dual norm of :math:`\|\cdot\|_{(K)}`: the largest singular value of :math:`\mathcal A^*(\mathbf z)`.

    K = D: :math:`\max_k\|\hat{\mathbf z}[k,:]\|_2`; K = 1: :math:`\|Z\|_{\rm op}/\sqrt D` with Z the D x R channels.
    """
    M = adjoint(z, kernel_size, in_channels)
    s = np.linalg.norm(M, ord=2, axis=(-2, -1))
    return float(s) if np.ndim(s) == 0 else s


def lift(net, w) -> np.ndarray:
    r"""The matrix :math:`Z = \sum_c\operatorname{vec}(\mathbf w_{1,c})\mathbf w_{2,c}^\top` of a depth-two
    local or multi-channel net, shape (R K, D); ``net.predictor(w) == conv_operator(...) @ Z.ravel()``."""
    if isinstance(net, Convolutional):
        if net.depth != 2:
            raise IbcoreValueError(f"lift needs a depth-two network, got depth {net.depth}")
        w1, w2 = net.unflatten(w)
        if np.ndim(w1) != 1:
            raise ShapeError("lift takes a single parameter vector w of shape (P,)")
        return np.outer(w1, w2)
    if isinstance(net, MultiChannelConvolutional):
        w1, w2 = net.unflatten(w)
        if np.ndim(w1) != 3:
            raise ShapeError("lift takes a single parameter vector w of shape (P,)")
        return w1.reshape(net.channels, -1).T @ w2
    raise IbcoreTypeError(f"net must be a depth-two Convolutional (any kernel_size) or a MultiChannelConvolutional, "
                          f"got {type(net).__name__}")


def _signal_shape(beta_len: int, in_channels) -> tuple[int, int]:
    R = check_positive_int("in_channels", in_channels)
    if beta_len % R:
        raise ShapeError(f"beta must have a length that is a multiple of in_channels = {R}, got {beta_len}")
    return beta_len // R, R


# --------------------------------------------------------------------------- solving


def _solve(name: str, problem: cp.Problem, gap_of=None) -> str:
    """Solve with Clarabel; apply the status policy of the module docstring."""
    accept = None if gap_of is None else (lambda: gap_of() <= INACCURATE_GAP_TOL)
    return clarabel_solve(name, problem, accept_inaccurate=accept)


def conv_norm(beta, kernel_size: int, in_channels: int = 1) -> tuple[float, np.ndarray]:
    r""":math:`\|\boldsymbol\beta\|_{(K)} = \min\{\|Z\|_* : \mathcal A(Z) = \boldsymbol\beta\}` and a minimizing Z.

    Half the representation cost :math:`\mathcal R_K` of a depth-two net with enough channels.
    ``beta`` is a flat predictor of length R D.  An SDP (cvxpy's ``normNuc``).
    """
    beta = as_float_array("beta", beta, ndim=1)
    D, R = _signal_shape(beta.size, in_channels)
    A = conv_operator(D, kernel_size, R)
    Z = cp.Variable((R * kernel_size, D))
    problem = cp.Problem(cp.Minimize(cp.normNuc(Z)), [A @ cp.vec(Z, order="C") == beta])
    _solve("conv_norm", problem)
    return float(problem.value), np.asarray(Z.value)


def filter_power_norm(beta, kernel_size: int) -> tuple[float, np.ndarray]:
    r"""The same norm for single-channel inputs, from the filter-power SDP (module docstring).

    Returns the value and the optimal Q (K x K, positive semidefinite).  The real
    quantity :math:`\mathbf f_k^\top Q\bar{\mathbf f}_k = \sum_{i,j}Q_{ij}\cos(2\pi k(i-j)/D)/D`
    is linear in Q; each term :math:`|\hat\beta_k|^2/s_k` is a quadratic-over-linear cone.
    """
    beta = as_float_array("beta", beta, ndim=1)
    D = beta.size
    D, K, _ = _dims(D, kernel_size, 1)
    lags = np.subtract.outer(np.arange(K), np.arange(K))  # i - j
    C = np.cos(2 * np.pi * np.arange(D)[:, None, None] * lags[None] / D) / D  # (D, K, K)
    Q = cp.Variable((K, K), PSD=True)
    s = cp.hstack([cp.sum(cp.multiply(C[k], Q)) for k in range(D)])
    bhat = np.abs(np.fft.fft(beta, norm="ortho"))
    terms = [cp.quad_over_lin(bhat[k], s[k]) for k in range(D) if bhat[k] > 0]
    problem = cp.Problem(cp.Minimize(0.5 * (cp.trace(Q) + cp.sum(cp.hstack(terms)))), [s >= 0])
    _solve("filter_power_norm", problem)
    return float(problem.value), np.asarray(Q.value)


@dataclass(frozen=True)
class ConvReference:
    """A margin-1 reference of a depth-two conv net's representation cost.

    ``beta`` (flat, length R D): the minimizer; ``alpha`` (N,): the duals of the margin
    constraints (>= 0; ``sum(alpha) == value`` by strong duality); ``value``: the optimal
    norm (half the representation cost); ``Z``: a minimizing lifted matrix (None for the
    closed forms); ``gap``: the float64 relative duality gap of the returned point and
    duals (:func:`duality_gap`); ``name``; ``status``: the solver's.
    """

    beta: np.ndarray
    alpha: np.ndarray
    value: float
    Z: np.ndarray | None
    gap: float
    name: str
    status: str


def _margin_data(X, y, in_channels):
    X, y = check_dataset(X, y)
    check_separable(X, y)
    D, R = _signal_shape(X.shape[1], in_channels)
    return X, y, D, R


def _duals(constraint) -> np.ndarray:
    return np.maximum(np.asarray(constraint.dual_value, dtype=np.float64), 0.0)


def duality_gap(value: float, alpha, X, y, kernel_size: int, in_channels: int = 1) -> float:
    r"""Relative gap :math:`\text{value}\cdot\sigma_{\max}(\mathcal A^*(\mathbf z))/\sum\alpha - 1` between a
    primal value (norm of a margin-1 feasible point) and the dual bound of ``alpha``."""
    alpha = as_float_array("alpha", alpha, ndim=1)
    X, y = check_dataset(X, y)
    if np.any(alpha < 0) or np.sum(alpha) <= 0:
        raise IbcoreValueError("alpha must be non-negative and not all zero")
    s = dual_norm(X.T @ (alpha * y), kernel_size, in_channels)
    return float(value * s / np.sum(alpha) - 1.0)


def min_conv_norm_margin(X, y, kernel_size: int, in_channels: int = 1) -> ConvReference:
    r""":math:`\min\|\boldsymbol\beta\|_{(K)}` s.t. margins :math:`\ge1`, as :math:`\min\|Z\|_*` s.t.
    :math:`y_n\langle\mathbf x_n,\mathcal A(Z)\rangle\ge1` (an SDP).

    ``X`` has rows of length R D (channels flattened as in :mod:`ibcore.local`).
    """
    X, y, D, R = _margin_data(X, y, in_channels)
    K = _dims(D, kernel_size, R)[1]
    A = conv_operator(D, K, R)
    Z = cp.Variable((R * K, D))
    beta = A @ cp.vec(Z, order="C")
    margins = cp.multiply(y, X @ beta) >= 1
    problem = cp.Problem(cp.Minimize(cp.normNuc(Z)), [margins])
    gap = lambda: duality_gap(float(np.linalg.norm(Z.value, "nuc")), _duals(margins), X, y, K, R)  # noqa: E731
    status = _solve(f"min_conv_norm_margin(K={K})", problem, gap)
    return ConvReference(np.asarray(beta.value), _duals(margins), float(problem.value), np.asarray(Z.value),
                         gap(), f"min ||beta||_(K={K})", status)


def _channels(beta_flat, R: int, D: int):
    """cvxpy expression or array of shape (D, R): column r is channel r."""
    return cp.reshape(beta_flat, (D, R), order="F")


def min_nuclear_margin(X, y, in_channels: int) -> ConvReference:
    r"""K = 1 closed form: :math:`\min\sqrt D\,\|B\|_*` s.t. margins :math:`\ge1`, B the D x R matrix of channels."""
    X, y, D, R = _margin_data(X, y, in_channels)
    beta = cp.Variable(R * D)
    margins = cp.multiply(y, X @ beta) >= 1
    problem = cp.Problem(cp.Minimize(np.sqrt(D) * cp.normNuc(_channels(beta, R, D))), [margins])
    value = lambda: float(np.sqrt(D) * np.linalg.norm(beta.value.reshape(R, D).T, "nuc"))  # noqa: E731
    status = _solve("min_nuclear_margin", problem, lambda: duality_gap(value(), _duals(margins), X, y, 1, R))
    return ConvReference(np.asarray(beta.value), _duals(margins), float(problem.value), None,
                         duality_gap(value(), _duals(margins), X, y, 1, R), "min sqrt(D) ||B||_*", status)


def frequency_norms(beta, in_channels: int) -> np.ndarray:
    r""":math:`\|\hat B[k,:]\|_2` for every frequency k (D,): the norm, over the R channels, of each
    channel's unitary DFT coefficient at k; their sum is the objective of :func:`min_fourier_group_margin`.
    ``beta`` is a flat R-channel predictor (channel after channel, :mod:`ibcore.local`)."""
    beta = as_float_array("beta", beta, ndim=1)
    R = check_positive_int("in_channels", in_channels)
    if beta.size % R:
        raise ShapeError(f"beta's length {beta.size} is not a multiple of in_channels = {R}")
    return np.linalg.norm(np.fft.fft(beta.reshape(R, -1), norm="ortho", axis=1), axis=0)


def min_fourier_group_margin(X, y, in_channels: int) -> ConvReference:
    r"""K = D closed form: :math:`\min\sum_k\|\hat B[k,:]\|_2` s.t. margins :math:`\ge1` (an SOCP).

    :math:`\hat B = F B` is the unitary DFT of every channel; the group of frequency k is
    the vector of its R channel coefficients.
    """
    X, y, D, R = _margin_data(X, y, in_channels)
    beta = cp.Variable(R * D)
    margins = cp.multiply(y, X @ beta) >= 1
    Bhat = dft_matrix(D) @ _channels(beta, R, D)  # (D, R) complex
    problem = cp.Problem(cp.Minimize(cp.sum(cp.norm(Bhat, 2, axis=1))), [margins])

    def value():
        return float(np.sum(frequency_norms(beta.value, R)))

    status = _solve("min_fourier_group_margin", problem, lambda: duality_gap(value(), _duals(margins), X, y, D, R))
    return ConvReference(np.asarray(beta.value), _duals(margins), float(problem.value), None,
                         duality_gap(value(), _duals(margins), X, y, D, R), "min sum_k ||B^[k,:]||_2", status)


# --------------------------------------------------------------------------- certificate


@dataclass(frozen=True)
class DualityCertificate:
    r"""Certificate by duality for a depth-two net's weights at margin 1.

    ``w``: the weights rescaled to minimum margin 1; ``beta`` = P(w); ``alpha``: the
    multipliers used (>= 0); ``primal`` = :math:`\|Z\|_*` of the lifted weights (an upper
    bound on :math:`\|\boldsymbol\beta\|_{(K)}`); ``sigma_max`` =
    :math:`\sigma_{\max}(\mathcal A^*(\sum\alpha_n y_n\mathbf x_n))`; ``dual`` =
    :math:`\sum\alpha/\sigma_{\max}` (a lower bound on the optimum); ``gap`` = primal/dual - 1,
    a bound on the relative suboptimality; ``kkt_residual``:
    :math:`\|\mathbf w - \nabla_{\mathbf w}\langle\mathbf z,\mathcal P(\mathbf w)\rangle\|/\|\mathbf w\|` for these
    multipliers (Theorem 3's stationarity; zero at a KKT point).
    """

    w: np.ndarray
    beta: np.ndarray
    alpha: np.ndarray
    primal: float
    dual: float
    sigma_max: float
    gap: float
    kkt_residual: float

    def certified(self, tol: float = 1e-8) -> bool:
        """True when the relative duality gap is at most ``tol``: a global minimizer to that accuracy."""
        return bool(self.gap <= tol and np.all(self.alpha >= 0))


def duality_certificate(net, w, X, y, *, alpha=None, active_tol: float = ACTIVE_TOL) -> DualityCertificate | list:
    r"""Bound the suboptimality of ``net``'s predictor for :math:`\min\|\boldsymbol\beta\|_{(K)}` s.t. margins :math:`\ge1`.

    ``w`` is rescaled to margin 1.  ``alpha`` defaults to the multipliers of
    :func:`ibcore.limits.kkt_certificate` (NNLS over the samples with margin within
    ``active_tol``); any non-negative ``alpha`` gives a valid bound (module docstring).
    ``w`` of shape (B, P) gives a list.
    """
    from .certificates import kkt_certificate  # the parameter-space KKT multipliers

    if not isinstance(net, (Convolutional, MultiChannelConvolutional)):
        raise IbcoreTypeError(f"net must be a depth-two Convolutional (any kernel_size) or a MultiChannelConvolutional, "
                              f"got {type(net).__name__}")
    if net.depth != 2:
        raise IbcoreValueError(f"duality_certificate needs a depth-two network, got depth {net.depth}")
    X, y = check_dataset(X, y)
    w = as_float_array("w", w, ndim=(1, 2))
    if w.ndim == 2:
        return [duality_certificate(net, wi, X, y, alpha=alpha, active_tol=active_tol) for wi in w]
    active_tol = check_positive_float("active_tol", active_tol)
    kkt = kkt_certificate(net, w, X, y, active_tol=active_tol)
    if alpha is None:
        alpha = kkt.alpha
    alpha = as_float_array("alpha", alpha, ndim=1)
    if alpha.shape != (X.shape[0],):
        raise ShapeError(f"alpha must have one entry per sample, shape ({X.shape[0]},), got {alpha.shape}")
    if np.any(alpha < 0) or np.sum(alpha) <= 0:
        raise IbcoreValueError("alpha must be non-negative and not all zero")
    R = getattr(net, "in_channels", 1)
    z = X.T @ (alpha * y)
    residual = float(np.linalg.norm(kkt.w - net.vjp(kkt.w, z)) / np.linalg.norm(kkt.w))  # vjp is linear in z
    primal = float(np.linalg.norm(lift(net, kkt.w), "nuc"))
    s = dual_norm(z, net.kernel_size, R)
    dual = float(np.sum(alpha) / s)
    return DualityCertificate(kkt.w, kkt.beta, alpha, primal, dual, float(s), primal / dual - 1.0, residual)


@dataclass(frozen=True)
class CertifiedLimit:
    """Gradient descent's weights, polished to a KKT point and certified by duality.

    ``beta``: the polished predictor at margin 1; ``w``: its weights; ``alpha``: its KKT
    multipliers; ``gap``, ``sigma_max``, ``kkt_residual``: as in :class:`DualityCertificate`;
    ``moved_deg``: the angle between the input's predictor and ``beta`` (predictor space:
    see :func:`polish_and_certify`); ``polish_failed``: the polish raised (then ``beta`` is
    the input's and nothing is certified).
    """

    beta: np.ndarray
    w: np.ndarray
    alpha: np.ndarray
    gap: float
    sigma_max: float
    kkt_residual: float
    moved_deg: float
    polish_failed: bool = False

    def certified(self, tol: float = 1e-9, max_moved_deg: float = 1.0) -> bool:
        """Gap at most ``tol`` (a global minimizer) and within ``max_moved_deg`` of the input."""
        return bool(not self.polish_failed and self.gap <= tol and self.moved_deg <= max_moved_deg
                    and self.kkt_residual <= 1e-8)


def polish_and_certify(net, w, X, y, *, active_tol: float = 1e-2) -> list[CertifiedLimit]:
    r"""Polish each row of ``w`` (Theorem 3's KKT system, :func:`ibcore.limits.polish`) and certify it by duality.

    The move is measured between *predictors*: the weights that realize a given
    predictor at least cost are not unique beyond a rescaling (for one channel, any
    spectral factor of the same filter power; for several, any rotation of the
    channels), so the angle between weight vectors, which ``polish`` reports, can be
    large while the predictor barely moves.  ``active_tol`` as in ``polish``
    (1e-2 for angular-schedule output, whose support-vector margins zigzag).
    """
    from . import angle
    from .polish import polish

    w = as_float_array("w", w, ndim=(1, 2))
    rows = w if w.ndim == 2 else w[None]
    out = []
    for wi in rows:
        start = net.predictor(wi)
        try:
            q = polish(net, wi, X, y, active_tol=active_tol)
        except SolverError:
            out.append(CertifiedLimit(start, wi, np.zeros(len(y)), np.inf, np.nan, np.inf, np.inf, True))
            continue
        if not np.all(q.alpha >= 0) or np.sum(q.alpha) <= 0:
            out.append(CertifiedLimit(q.beta, q.w, q.alpha, np.inf, np.nan, q.residual, float(angle(start, q.beta))))
            continue
        c = duality_certificate(net, q.w, X, y, alpha=q.alpha)
        out.append(CertifiedLimit(c.beta, c.w, c.alpha, c.gap, c.sigma_max, c.kkt_residual, float(angle(start, c.beta))))
    return out


# --------------------------------------------------------------------------- one channel is enough (R = 1)


def autocorrelation(Q) -> np.ndarray:
    r"""Lags :math:`r_j = \sum_i Q_{i,i+j}`, j = 0..K-1, of a symmetric K x K matrix.

    For :math:`Q = \sum_c\mathbf u_c\mathbf u_c^\top` this is the summed autocorrelation of
    the filters, and :math:`\sum_c|\hat{\mathbf u}_c[k]|^2 = \tfrac1D\big(r_0 + 2\sum_{j\ge1}r_j\cos(2\pi kj/D)\big)`:
    the filters' power spectrum, hence the representation cost, depends on Q only through r.
    """
    Q = as_float_array("Q", Q, ndim=2)
    if Q.shape[0] != Q.shape[1]:
        raise ShapeError(f"Q must be square, got shape {Q.shape}")
    return np.array([np.trace(Q, offset=j) for j in range(Q.shape[0])])


def spectral_factor(r, *, tol: float = 1e-6) -> np.ndarray:
    r"""A single real filter :math:`\mathbf u\in\mathbb R^K` whose autocorrelation is ``r`` (Fejér–Riesz).

    ``r`` (length K) must be the lags of a non-negative cosine polynomial
    :math:`p(\theta) = r_0 + 2\sum_{j\ge1}r_j\cos j\theta`.  The roots of
    :math:`z^{K-1}p` come in pairs :math:`\rho, 1/\bar\rho` (double on the unit circle);
    the K-1 of smallest modulus, closed under conjugation, are the roots of
    :math:`\sum_j u_j z^{K-1-j}`, scaled to match :math:`r_0`.  Roots on the unit circle
    (zeros of p) are ill-conditioned, so the result is checked: a relative error of
    the lags above ``tol`` raises :class:`~ibcore.errors.SolverError`.
    """
    r = as_float_array("r", r, ndim=1)
    if r.size == 0 or r[0] <= 0:
        raise IbcoreValueError("r must be non-empty with r[0] > 0 (the filters' squared norm)")
    K = r.size
    if K == 1:
        return np.sqrt(r[:1])
    coeffs = np.concatenate([r[::-1], r[1:]])  # z^{K-1} p(z), highest power first
    roots = np.roots(coeffs)
    if roots.size != 2 * (K - 1):
        raise SolverError("spectral_factor: the cosine polynomial has lower degree than r suggests (r[-1] = 0?)")
    inside = roots[np.argsort(np.abs(roots), kind="stable")[: K - 1]]
    u = np.real(np.poly(inside))
    u *= np.sqrt(r[0] / np.sum(u * u))
    got = np.correlate(u, u, mode="full")[K - 1:]
    err = float(np.max(np.abs(got - r)) / r[0])
    if err > tol:
        raise SolverError(f"spectral_factor: lags reproduced only to {err:.1e} > tol = {tol:g} "
                          "(r is not a non-negative cosine polynomial, or has zeros on the unit circle)")
    return u


def single_channel_weights(beta, Q) -> np.ndarray:
    r"""Weights of ``Convolutional(D, 2, kernel_size=K)`` realizing ``beta`` at the cost of the filter power ``Q``.

    The filter is the spectral factor of Q's autocorrelation (:func:`spectral_factor`);
    the readout is the cheapest one for that filter,
    :math:`\hat{\mathbf w}_2[k] = \overline{\hat{\mathbf u}[k]}\,\hat{\boldsymbol\beta}[k]/|\hat{\mathbf u}[k]|^2`.
    Then :math:`\|\mathbf u\|^2 + \|\mathbf w_2\|^2 = \operatorname{tr}Q + \sum_k|\hat\beta_k|^2/s_k`, the
    objective of :func:`filter_power_norm` at Q, with one channel whatever rank Q has.
    Raises if :math:`\hat{\mathbf u}` vanishes where :math:`\hat{\boldsymbol\beta}` does not.
    """
    beta = as_float_array("beta", beta, ndim=1)
    u = spectral_factor(autocorrelation(Q))
    D = beta.size
    if u.size > D:
        raise ShapeError(f"Q is {u.size} x {u.size}, larger than the signal length D = {D}")
    uh = np.fft.fft(u, n=D, norm="ortho")
    bh = np.fft.fft(beta, norm="ortho")
    power = np.abs(uh) ** 2
    scale = np.max(power)
    if np.any((power <= 1e-14 * scale) & (np.abs(bh) > 1e-12 * np.max(np.abs(bh)))):
        raise IbcoreValueError("the filter's spectrum vanishes at a frequency where beta's does not")
    w2h = np.where(power > 1e-14 * scale, np.conj(uh) * bh / np.where(power > 0, power, 1.0), 0.0)
    w2 = np.real(np.fft.ifft(w2h, norm="ortho"))
    return np.concatenate([u, w2])
