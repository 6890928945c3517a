r"""Layer alignment and the minimum-norm factorization of fully connected linear networks.

Theorem 1 says *where* a fully connected network :math:`\boldsymbol\beta = W_1W_2\cdots W_L`
ends up (the SVM direction, whatever the depth); this module measures *how the
layers look* when it gets there, and why depth does not change the answer.

**Alignment** (Ji & Telgarsky 2019).  Along gradient descent on separable data the
layers of a deep linear network grow without bound while what they started with
stays bounded, so after normalization each :math:`W_l` tends to a rank-one matrix
:math:`\mathbf u_l\mathbf v_l^\top`, and consecutive layers align,
:math:`|\langle\mathbf v_l,\mathbf u_{l+1}\rangle|\to1`: the network collapses to a
product of rank-one maps passing one direction through.  Measured here by

- the *stable rank* :math:`\|W\|_F^2/\|W\|_2^2\in[1,\operatorname{rank}W]`, equal to 1
  exactly for a rank-one matrix (:func:`stable_rank`);
- the *alignment* :math:`|\langle\mathbf v_1(W_l),\mathbf u_1(W_{l+1})\rangle|` between the
  top right singular vector of one layer and the top left singular vector of the
  next (:func:`layer_alignment`); absolute values, since singular vectors have no sign.

**Minimum-norm factorization.**  The cost of writing :math:`\boldsymbol\beta` as a network is

.. math::
    \mathcal R_{\rm full}(\boldsymbol\beta) = \min\Big\{\sum_{l=1}^L\|W_l\|_F^2 :
    W_1\cdots W_L = \boldsymbol\beta\Big\} = L\,\|\boldsymbol\beta\|_2^{2/L},

whatever the hidden widths: :math:`\|\boldsymbol\beta\|_2\le\prod_l\|W_l\|_2\le\prod_l\|W_l\|_F`,
and the arithmetic-geometric mean inequality gives
:math:`\sum_l\|W_l\|_F^2\ge L(\prod_l\|W_l\|_F^2)^{1/L}`; the rank-one balanced
factorization (:func:`balanced_factorization`) attains it.  Since the cost is an
increasing function of :math:`\|\boldsymbol\beta\|_2`, minimizing it under margin
constraints is the hard-margin SVM, at every depth.  :func:`min_norm_factorization`
solves the non-convex problem numerically, as an independent check of the formula;
:func:`factorization_ratio` measures how far given weights are from being a
minimum-norm factorization of their own predictor.

Everything is batched over a leading axis of ``w`` like :mod:`ibcore.nets`, and
scale-free: each quantity is invariant under :math:`\mathbf w\mapsto a\mathbf w`, so the
unit directions ``GDResult.w`` of :mod:`ibcore.train` can be passed directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from ._checks import as_float_array, as_rng, check_params
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError, SolverError
from .nets import FullyConnected

__all__ = [
    "LayerReport",
    "MinNormFactorization",
    "balanced_factorization",
    "factorization_cost",
    "factorization_ratio",
    "layer_alignment",
    "layer_report",
    "min_norm_factorization",
    "stable_rank",
]


def _check_fc(net) -> FullyConnected:
    if not isinstance(net, FullyConnected):
        raise IbcoreTypeError(f"net must be an ibcore.nets.FullyConnected network, got {type(net).__name__}")
    return net


def _top_singular(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Singular values (..., k), top left (..., m) and top right (..., n) singular vectors."""
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    return s, U[..., :, 0], Vt[..., 0, :]


def stable_rank(W) -> np.ndarray | float:
    r"""Stable rank :math:`\|W\|_F^2/\|W\|_2^2` of a matrix, or of a stack of matrices (..., m, n).

    It lies between 1 and the rank, equals 1 exactly when ``W`` has rank one, and,
    unlike the rank, moves continuously: a rank-one matrix plus a perturbation of
    relative size :math:`\varepsilon` has stable rank :math:`1 + O(\varepsilon^2)`.
    Raises for a zero matrix, whose stable rank is undefined.
    """
    W = as_float_array("W", W)
    if W.ndim < 2:
        raise ShapeError(f"W must be a matrix or a stack of matrices, got shape {W.shape}")
    s = np.linalg.svd(W, compute_uv=False)
    top = s[..., 0]
    if np.any(top == 0):
        raise IbcoreValueError("stable rank of a zero matrix is undefined")
    # divide by the top singular value first: no overflow or underflow for any scale of W
    out = np.sum((s / top[..., None]) ** 2, axis=-1)
    return float(out) if out.ndim == 0 else out


def layer_alignment(W_left, W_right) -> np.ndarray | float:
    r""":math:`|\langle\mathbf v_1(W_{\rm left}),\mathbf u_1(W_{\rm right})\rangle|` for consecutive layers.

    ``W_left`` is :math:`W_l` (..., :math:`D_{l-1}`, :math:`D_l`) and ``W_right`` is
    :math:`W_{l+1}` (..., :math:`D_l`, :math:`D_{l+1}`); the shared dimension :math:`D_l` is
    where the top right singular vector of one and the top left singular vector of
    the other live.  1 means the output direction of :math:`W_{l+1}`'s dominant input is
    exactly what :math:`W_l` dominantly produces.
    """
    A = as_float_array("W_left", W_left)
    B = as_float_array("W_right", W_right)
    if A.ndim < 2 or B.ndim < 2 or A.shape[-1] != B.shape[-2]:
        raise ShapeError(f"W_left (..., m, k) and W_right (..., k, n) must chain, got {A.shape} and {B.shape}")
    _, _, v = _top_singular(A)
    _, u, _ = _top_singular(B)
    out = np.abs(np.sum(v * u, axis=-1))
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class LayerReport:
    r"""Shape of a fully connected network's layers, batched like the input ``w``.

    ``stable_ranks`` (B, L): stable rank of each :math:`W_l`; ``alignments`` (B, L-1):
    :func:`layer_alignment` of each consecutive pair; ``norm_shares`` (B, L):
    :math:`\|W_l\|_F^2/\|\mathbf w\|^2` (all :math:`1/L` for balanced layers);
    ``predictor_alignment`` (B,): :math:`|\langle\mathbf u_1(W_1),\boldsymbol\beta\rangle|/\|\boldsymbol\beta\|`,
    1 when the first layer's output direction is the predictor's;
    ``factorization_ratio`` (B,): :func:`factorization_ratio`.
    Unbatched ``w`` gives arrays without the leading axis.
    """

    stable_ranks: np.ndarray
    alignments: np.ndarray
    norm_shares: np.ndarray
    predictor_alignment: np.ndarray
    factorization_ratio: np.ndarray


def layer_report(net: FullyConnected, w) -> LayerReport:
    """Stable ranks, alignments, norm shares and the factorization ratio of ``w`` (P,) or (B, P)."""
    net = _check_fc(net)
    w2, batched = check_params("w", w, net.n_params)
    if np.any(np.max(np.abs(w2), axis=1) == 0):
        raise IbcoreValueError("w contains a zero parameter vector, whose layers have no direction")
    w2 = w2 / np.max(np.abs(w2), axis=1, keepdims=True)  # scale-free: every quantity is homogeneous of degree 0
    layers = net.unflatten(w2)
    if any(np.any(np.max(np.abs(W), axis=(1, 2)) == 0) for W in layers):
        raise IbcoreValueError("some layer of w is zero: its stable rank and singular vectors are undefined")
    ranks = np.stack([stable_rank(W) for W in layers], axis=1)
    if net.depth > 1:
        aligns = np.stack([layer_alignment(layers[l], layers[l + 1]) for l in range(net.depth - 1)], axis=1)
    else:
        aligns = np.zeros((w2.shape[0], 0))
    sq = np.stack([np.sum(W**2, axis=(1, 2)) for W in layers], axis=1)
    shares = sq / np.sum(w2**2, axis=1, keepdims=True)
    beta = net.predictor(w2)
    nb = np.linalg.norm(beta, axis=1)
    if np.any(nb == 0):
        raise IbcoreValueError("P(w) = 0 for some w: the predictor has no direction")
    _, u1, _ = _top_singular(layers[0])
    pred = np.abs(np.sum(u1 * beta, axis=1)) / nb
    ratio = factorization_ratio(net, w2)
    ratio = np.atleast_1d(ratio)
    report = (ranks, aligns, shares, pred, ratio)
    if not batched:
        report = tuple(a[0] for a in report)
    return LayerReport(*report)


def factorization_cost(beta, depth: int) -> np.ndarray | float:
    r"""The minimum-norm cost :math:`L\|\boldsymbol\beta\|_2^{2/L}` of writing ``beta`` (D,) or (B, D) as a depth-``depth`` network."""
    beta = as_float_array("beta", beta, ndim=(1, 2))
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise IbcoreValueError(f"depth must be an integer >= 1, got {depth!r}")
    out = depth * np.linalg.norm(beta, axis=-1) ** (2.0 / depth)
    return float(out) if np.ndim(out) == 0 else out


def factorization_ratio(net: FullyConnected, w) -> np.ndarray | float:
    r""":math:`\|\mathbf w\|^2 / (L\|\mathcal P_{\rm full}(\mathbf w)\|_2^{2/L})`, at least 1, equal to 1 iff ``w`` is a minimum-norm factorization.

    Homogeneous of degree 0 in ``w`` (both sides scale as :math:`a^2`), so a unit direction
    from gradient descent can be passed as it is.
    """
    from .lemmas import cost_ratio  # the same ratio for every net (lemmas builds on this module)

    return cost_ratio(_check_fc(net), w)


def balanced_factorization(net: FullyConnected, beta) -> np.ndarray:
    r"""Weights ``w`` with :math:`\mathcal P_{\rm full}(\mathbf w) = \boldsymbol\beta` and :math:`\|\mathbf w\|^2 = L\|\boldsymbol\beta\|_2^{2/L}`.

    The rank-one, balanced choice: with :math:`r = \|\boldsymbol\beta\|^{1/L}` and
    :math:`\mathbf e_1` the first basis vector of each hidden layer,
    :math:`W_1 = r\,(\boldsymbol\beta/\|\boldsymbol\beta\|)\,\mathbf e_1^\top`,
    :math:`W_l = r\,\mathbf e_1\mathbf e_1^\top` (:math:`1<l<L`), :math:`W_L = r\,\mathbf e_1`
    (for :math:`L=1`, :math:`W_1=\boldsymbol\beta`).  Every layer has norm :math:`r`, which is
    the equality case of the arithmetic-geometric mean inequality.
    """
    net = _check_fc(net)
    beta = as_float_array("beta", beta, ndim=1)
    if beta.shape[0] != net.dim:
        raise ShapeError(f"beta must have length net.dim = {net.dim}, got {beta.shape[0]}")
    nb = np.linalg.norm(beta)
    if nb == 0:
        return np.zeros(net.n_params)
    if net.depth == 1:
        return beta.copy()
    r = nb ** (1.0 / net.depth)
    layers = []
    for l, (rows, cols) in enumerate(net.layer_shapes):
        W = np.zeros((rows, cols))
        if l == 0:
            W[:, 0] = r * beta / nb
        else:
            W[0, 0] = r
        layers.append(W)
    return net.flatten(layers)


@dataclass(frozen=True)
class MinNormFactorization:
    r"""Result of :func:`min_norm_factorization`.

    ``w``: the minimizer found; ``value``: :math:`\|\mathbf w\|^2`; ``cost``: the closed form
    :math:`L\|\boldsymbol\beta\|^{2/L}`; ``ratio``: ``value / cost``; ``constraint_residual``:
    :math:`\|\mathcal P(\mathbf w)-\boldsymbol\beta\|/\|\boldsymbol\beta\|`.
    """

    w: np.ndarray
    value: float
    cost: float
    ratio: float
    constraint_residual: float


def min_norm_factorization(net: FullyConnected, beta, seed=0, *, tol: float = 1e-12) -> MinNormFactorization:
    r"""Solve :math:`\min\|\mathbf w\|^2` s.t. :math:`\mathcal P_{\rm full}(\mathbf w)=\boldsymbol\beta` numerically (SLSQP).

    A check of the closed form :math:`L\|\boldsymbol\beta\|^{2/L}` that does not use it: the
    start is a random Gaussian ``w`` (seeded), the constraint Jacobian comes from
    ``net.vjp`` (row :math:`d` is :math:`\nabla_{\mathbf w}\mathcal P(\mathbf w)[d]`), and the
    problem is non-convex, so the answer is a local minimum found from that start.
    ``beta`` is first scaled to unit norm and the answer scaled back
    (:math:`\mathbf w\mapsto\|\boldsymbol\beta\|^{1/L}\mathbf w`), so that SLSQP's absolute
    tolerances mean the same thing for every ``beta``.  Raises
    :class:`~ibcore.errors.SolverError` if SLSQP reports failure or leaves the
    constraint violated by more than ``1e-8`` (relative).
    """
    net = _check_fc(net)
    beta = as_float_array("beta", beta, ndim=1)
    if beta.shape[0] != net.dim:
        raise ShapeError(f"beta must have length net.dim = {net.dim}, got {beta.shape[0]}")
    nb = float(np.linalg.norm(beta))
    if nb == 0:
        raise IbcoreValueError("beta = 0 has the trivial factorization w = 0; nothing to solve")
    return _slsqp_factorization(net, beta, nb, net.init(as_rng("seed", seed)), factorization_cost(beta, net.depth), tol)


def _slsqp_factorization(net, beta: np.ndarray, nb: float, w0: np.ndarray, cost: float, tol: float) -> MinNormFactorization:
    """min ||w||^2 s.t. P(w) = beta / ||beta|| by SLSQP from ``w0``, scaled back by ||beta||^(1/L); ``cost`` the closed form.

    The constraint Jacobian comes from ``net.vjp`` (row d is grad_w P(w)[d]).  Raises
    :class:`~ibcore.errors.SolverError` if SLSQP fails or leaves the constraint violated by
    more than 1e-8 (relative).
    """
    target = beta / nb
    eye = np.eye(net.dim)
    res = minimize(
        lambda w: float(w @ w),
        w0,
        jac=lambda w: 2.0 * w,
        constraints=[{
            "type": "eq",
            "fun": lambda w: net.predictor(w) - target,
            "jac": lambda w: net.vjp(np.broadcast_to(w, (net.dim, w.size)), eye),  # (D, P)
        }],
        method="SLSQP",
        options={"ftol": tol, "maxiter": 2000},
    )
    w = res.x * nb ** (1.0 / net.depth)
    residual = float(np.linalg.norm(net.predictor(w) - beta) / nb)
    if not res.success or residual > 1e-8:
        raise SolverError(f"SLSQP did not find a factorization: {res.message} (constraint residual {residual:.2e})")
    value = float(w @ w)
    return MinNormFactorization(w=w, value=value, cost=cost, ratio=value / cost, constraint_residual=residual)
