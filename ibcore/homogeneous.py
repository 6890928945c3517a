r"""Theorem 3's objects beyond the three architectures: a homogeneous map that is none of
them, degenerate initializations, and the step from parameter-space KKT points to
predictor-space stationarity.

Theorem 3 of the paper needs only that :math:`\mathcal P` be a homogeneous polynomial of
degree :math:`L`: its conclusion (the limit direction of :math:`\mathbf w` is a KKT point of
:math:`\min\|\mathbf w\|^2` s.t. :math:`y_n\langle\mathbf x_n,\mathcal P(\mathbf w)\rangle\ge1`)
is stated in parameter space.  This module supplies what the chapters on Theorem 3
and on its limits need beyond :mod:`ibcore.nets` and :mod:`ibcore.limits`:

- :class:`TensorMap`: :math:`\boldsymbol\beta_d = \sum_{i_1..i_L} T[d, i_1, \dots, i_L]\,
  w_{i_1}\cdots w_{i_L}`, a random homogeneous polynomial map of degree :math:`L`, with the
  contract of :mod:`ibcore.nets` (batched ``predictor`` and closed-form ``vjp``), so that
  :func:`ibcore.train.gradient_descent`, :func:`ibcore.limits.kkt_certificate` and
  :func:`ibcore.limits.polish` run on it unchanged; and :func:`tensor_map_sympy`, the same
  map as exact SymPy polynomials.
- :func:`induced_penalty` and :func:`predictor_multipliers`: a KKT point of the
  parameter-space problem, read in predictor space.  For diagonal and convolutional
  networks the multipliers are *the same numbers* as those of
  :math:`\min\tfrac1p\sum_d|v_d|^p` (:math:`p = 2/L`, :math:`\mathbf v = \boldsymbol\beta` or
  :math:`\hat{\boldsymbol\beta}`), because :math:`\tfrac12\mathcal R_{\mathcal P} = \tfrac1p R_p`;
  for fully connected networks they are the SVM's times :math:`\|\boldsymbol\beta\|^{2/L-2}`
  at margin one (derivation in :func:`predictor_multipliers`).
- :func:`predictor_stationarity`: the predictor-space stationarity residual for
  *given* multipliers (not refitted), and the largest off-support modulus of
  :math:`T\mathbf z`, the quantity that decides global :math:`\ell_1` optimality.
- Degenerate initializations: :func:`frozen_coordinate_init` (a coordinate zero in every
  layer of a diagonal network stays zero for ever) with :func:`restricted_l1_margin`,
  where such a run goes; :func:`zero_layers_init` (two zero layers: a saddle, gradient
  descent never moves).
- :func:`loss_landscape`: the loss, gradient and Hessian at finite parameters, to show
  that "the loss tends to zero" is an assumption: a homogeneous map can have a strict
  local minimum with loss above :math:`\ell(0) = 1`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ._checks import (
    as_float_array,
    as_rng,
    check_choice,
    check_dataset,
    check_positive_float,
    check_positive_int,
)
from .certificates import KKTCertificate
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError
from .fourier import dft
from .nets import Convolutional, Diagonal, FullyConnected, Parameterization

__all__ = [
    "LossLandscape",
    "PredictorStationarity",
    "TensorMap",
    "frozen_coordinate_init",
    "induced_penalty",
    "loss_landscape",
    "predictor_multipliers",
    "predictor_stationarity",
    "restricted_l1_margin",
    "tensor_map_sympy",
    "zero_layers_init",
]


# --------------------------------------------------------------------------- a homogeneous map that is no network


def _symmetrize(tensor: np.ndarray) -> np.ndarray:
    """Average over all permutations of the parameter axes (every axis but the first).

    The polynomial is unchanged (each monomial collects the same total coefficient),
    and the gradient then has the short form L * T(g, ., w, ..., w).
    """
    degree = tensor.ndim - 1
    perms = list(itertools.permutations(range(1, degree + 1)))
    return sum(np.transpose(tensor, (0, *p)) for p in perms) / len(perms)


class TensorMap(Parameterization):
    r"""A homogeneous polynomial map of degree :math:`L`,
    :math:`\mathcal P(\mathbf w)_d = T[d, i_1, \dots, i_L]\,w_{i_1}\cdots w_{i_L}` (summed).

    ``tensor`` of shape ``(D, P, ..., P)`` (``degree`` parameter axes) gives the map; by
    default it is drawn i.i.d. standard Gaussian from ``seed``.  It is symmetrized over
    the parameter axes (:func:`_symmetrize`: the same polynomial), so that

    .. math::
        \nabla_{\mathbf w}\langle\mathbf g, \mathcal P(\mathbf w)\rangle
        = L\, T(\mathbf g, \cdot, \mathbf w, \dots, \mathbf w),

    evaluated for a batch by contracting one parameter axis at a time.  It is a
    parameterization that is neither fully connected, diagonal nor convolutional,
    and need not reach every predictor (its image is an :math:`L`-homogeneous set of
    dimension at most ``n_params``); Theorem 3 still applies to it whenever gradient
    descent drives its loss to zero.  ``depth`` is the degree :math:`L` (the name
    the training engine reads).
    """

    def __init__(self, dim: int, n_params: int, degree: int = 3, seed=0, *, tensor=None):
        self.dim = check_positive_int("dim", dim)
        self.n_params = check_positive_int("n_params", n_params)
        self.depth = check_positive_int("degree", degree)
        shape = (self.dim,) + (self.n_params,) * self.depth
        if tensor is None:
            tensor = as_rng("seed", seed).standard_normal(shape)
        tensor = as_float_array("tensor", tensor)
        if tensor.shape != shape:
            raise ShapeError(f"tensor must have shape {shape} (dim, then degree axes of n_params), got {tensor.shape}")
        self.tensor = _symmetrize(tensor)

    @property
    def degree(self) -> int:
        """The degree L of the polynomial (= ``depth``)."""
        return self.depth

    @property
    def layer_shapes(self):
        return [(self.n_params,)]

    def _contract(self, w2: np.ndarray, times: int) -> np.ndarray:
        """T contracted with w on its last ``times`` axes: shape (B, D, P, ..., P)."""
        out = np.broadcast_to(self.tensor, (w2.shape[0],) + self.tensor.shape)
        for _ in range(times):
            out = np.einsum("b...i,bi->b...", out, w2)
        return out

    def _predictor(self, w2):
        return self._contract(w2, self.depth)

    def _vjp(self, w2, g2):
        if self.depth == 1:
            return g2 @ self.tensor
        partial = self._contract(w2, self.depth - 1)  # (B, D, P)
        return self.depth * np.einsum("bdi,bd->bi", partial, g2)

    def __repr__(self) -> str:
        return f"TensorMap(dim={self.dim}, n_params={self.n_params}, degree={self.depth})"


def tensor_map_sympy(net: TensorMap, symbols=None):
    r"""The map of ``net`` as exact SymPy polynomials: ``(beta, w)``, a ``D x 1`` Matrix and the symbols.

    Every float64 entry of the (symmetrized) tensor is converted to the rational number
    it represents exactly, so homogeneity and Euler's identity can be decided by exact
    expansion (:func:`ibcore.symbolic.is_homogeneous`), with no round-off.  ``symbols``
    defaults to real symbols ``w0 .. w{P-1}``.
    """
    import sympy as sp

    if not isinstance(net, TensorMap):
        raise IbcoreTypeError(f"net must be a TensorMap, got {type(net).__name__}")
    if symbols is None:
        symbols = sp.symbols(f"w0:{net.n_params}", real=True)
    symbols = list(symbols)
    if len(symbols) != net.n_params:
        raise ShapeError(f"need {net.n_params} symbols, got {len(symbols)}")
    beta = []
    for d in range(net.dim):
        expr = sp.S.Zero
        for idx in itertools.product(range(net.n_params), repeat=net.depth):
            expr += sp.Rational(float(net.tensor[(d, *idx)])) * sp.Mul(*(symbols[i] for i in idx))
        beta.append(sp.expand(expr))
    return sp.Matrix(beta), symbols


# --------------------------------------------------------------------------- parameter space -> predictor space


def induced_penalty(net: Parameterization) -> tuple[float, str]:
    r"""``(p, domain)`` of the penalty whose stationary points the KKT points of ``net`` map to.

    The induced regularizer :math:`\mathcal R_{\mathcal P}(\boldsymbol\beta) = \min\{\|\mathbf w\|^2 :
    \mathcal P(\mathbf w) = \boldsymbol\beta\}` is :math:`L\|\boldsymbol\beta\|_2^{2/L}` (fully
    connected: the SVM, ``p = 2`` in time, whose minimizers are the same),
    :math:`L\sum_d|\beta_d|^{2/L}` (diagonal: ``p = 2/L``, time) and
    :math:`L\sum_k|\hat\beta_k|^{2/L}` (convolutional: ``p = 2/L``, fourier).  Depth 1 is
    :math:`\boldsymbol\beta = \mathbf w`, the SVM, for every architecture.  Other maps have no
    closed-form regularizer here: :class:`~ibcore.errors.IbcoreTypeError`.
    """
    if isinstance(net, Convolutional) and not net.full_width:
        raise IbcoreTypeError(
            f"no closed-form induced regularizer for {net!r}: with local filters (kernel_size < dim) "
            "the depth-two cost is the semidefinite program of ibcore.sdp; only the parameter-space "
            "certificate (ibcore.limits.kkt_certificate) applies at other depths"
        )
    if isinstance(net, FullyConnected) or (isinstance(net, (Diagonal, Convolutional)) and net.depth == 1):
        return 2.0, "time"
    if isinstance(net, Diagonal):
        return 2.0 / net.depth, "time"
    if isinstance(net, Convolutional):
        return 2.0 / net.depth, "fourier"
    raise IbcoreTypeError(
        f"no closed-form induced regularizer for {type(net).__name__}; only the parameter-space "
        "certificate (ibcore.limits.kkt_certificate) applies to it"
    )


def predictor_multipliers(net: Parameterization, certificate: KKTCertificate) -> np.ndarray:
    r"""The multipliers of the predictor-space problem, from a parameter-space KKT certificate.

    At margin one a KKT point of :math:`\min\tfrac12\|\mathbf w\|^2` has
    :math:`\mathbf w = \nabla_{\mathbf w}\langle\mathbf z, \mathcal P(\mathbf w)\rangle` with
    :math:`\mathbf z = \sum_n\alpha_n y_n\mathbf x_n`.

    - Diagonal: :math:`\mathbf w_l = \mathbf z\odot\prod_{l'\ne l}\mathbf w_{l'}`; multiplying by
      :math:`\mathbf w_l` gives :math:`\mathbf w_l^{\odot2} = \mathbf z\odot\boldsymbol\beta` for every
      :math:`l`, so the layers are balanced, :math:`|w_l[d]| = |\beta_d|^{1/L}`, and
      :math:`z_d = |\beta_d|^{p-2}\beta_d` on the support, :math:`p = 2/L`: the stationarity
      condition of :math:`\min\tfrac1p\sum_d|\beta_d|^p` with the **same** :math:`\alpha`.
    - Convolutional: the same in the Fourier basis, with
      :math:`\hat{\mathbf w}_l = \hat{\mathbf z}\odot\overline{\prod_{l'\ne l}\hat{\mathbf w}_{l'}}`
      and :math:`|\hat{\mathbf w}_l|^2 = \hat{\mathbf z}\odot\overline{\hat{\boldsymbol\beta}}`.
    - Fully connected: the first layer gives :math:`\boldsymbol\beta = \|\mathbf r\|^2\mathbf z`,
      :math:`\mathbf r = W_2\cdots W_L`, and at a (balanced, rank-one) KKT point
      :math:`\|\mathbf r\|^2 = \|\boldsymbol\beta\|^{2-2/L}`; the SVM's condition is
      :math:`\mathbf z_{\rm SVM} = \boldsymbol\beta`, so
      :math:`\alpha_{\rm SVM} = \|\boldsymbol\beta\|^{2-2/L}\,\alpha`.

    Returns the mapped multipliers, shape (N,), to be used with the penalty of
    :func:`induced_penalty` at the certificate's margin-one predictor ``certificate.beta``.
    """
    if not isinstance(certificate, KKTCertificate):
        raise IbcoreTypeError(f"certificate must be a KKTCertificate, got {type(certificate).__name__}")
    p, _ = induced_penalty(net)
    if certificate.depth != net.depth or certificate.beta.shape != (net.dim,):
        raise ShapeError("certificate does not belong to this net (depth or dimension differ)")
    if isinstance(net, FullyConnected) or p == 2.0:
        return certificate.alpha * float(np.linalg.norm(certificate.beta)) ** (2.0 - 2.0 / net.depth)
    return certificate.alpha.copy()


@dataclass(frozen=True)
class PredictorStationarity:
    r"""Predictor-space stationarity of a margin-one ``beta`` for *given* multipliers.

    ``residual``: :math:`\|(T\mathbf z)_S - (|v|^{p-2}v)_S\| / \|(|v|^{p-2}v)_S\|` over the support
    :math:`S` (for :math:`p > 1` over every coordinate); ``off_support``: the largest
    :math:`|(T\mathbf z)_d|` off the support (``0.0`` if the support is everything);
    ``support`` (bool, D); ``z`` (:math:`\sum_n\alpha_ny_n\mathbf x_n`).  For :math:`p = 1`,
    ``residual`` small **and** ``off_support`` :math:`\le 1` is the global-optimality
    certificate of the convex problem; for :math:`p < 1` the residual alone is
    first-order stationarity.
    """

    residual: float
    off_support: float
    support: np.ndarray
    z: np.ndarray


def predictor_stationarity(beta, alpha, X, y, p: float, domain: str = "time", *, support_tol: float = 1e-3):
    r"""Check :math:`(T\mathbf z)_d = |v_d|^{p-2}v_d` on the support of :math:`\mathbf v = T\boldsymbol\beta`,
    with :math:`\mathbf z = \sum_n\alpha_ny_n\mathbf x_n` for the multipliers given (not refitted).

    ``beta`` must already be at margin one (as ``KKTCertificate.beta`` is): the equation
    is not scale invariant.  The support is :math:`|v_d| >` ``support_tol``
    :math:`\cdot\max|v|` (the certificates' default, 1e-3).  This is how a
    parameter-space certificate is read in predictor space: pass the multipliers of
    :func:`predictor_multipliers`.
    """
    X, y = check_dataset(X, y)
    beta = as_float_array("beta", beta, ndim=1)
    alpha = as_float_array("alpha", alpha, ndim=1)
    if beta.shape[0] != X.shape[1] or alpha.shape[0] != X.shape[0]:
        raise ShapeError(f"beta must have length {X.shape[1]} and alpha length {X.shape[0]}")
    p = check_positive_float("p", p)
    check_choice("domain", domain, {"time", "fourier"})
    support_tol = check_positive_float("support_tol", support_tol)
    transform = dft if domain == "fourier" else (lambda v: v)
    z = X.T @ (alpha * y)
    v, tz = transform(beta), transform(z)
    mod = np.abs(v)
    if np.max(mod) == 0:
        raise IbcoreValueError("beta is the zero vector")
    support = mod > support_tol * np.max(mod)
    eq = support if p <= 1 else np.ones_like(support)
    target = np.zeros_like(v)
    on = eq & (mod > 0)
    target[on] = v[on] * mod[on] ** (p - 2)
    residual = float(np.linalg.norm(tz[eq] - target[eq]) / np.linalg.norm(target[eq]))
    off = float(np.max(np.abs(tz[~support]), initial=0.0))
    return PredictorStationarity(residual, off, support, z)


# --------------------------------------------------------------------------- degenerate initializations


def frozen_coordinate_init(net: Diagonal, seed, coordinates, *, scale: float = 1.0, batch: int | None = None,
                           layers=None) -> np.ndarray:
    r"""``net.init(seed, scale, batch)`` with :math:`w_l[d] = 0` at ``coordinates`` in ``layers`` (default: all).

    For a diagonal network :math:`\nabla_{w_l[d]}\langle\mathbf g, \mathcal P(\mathbf w)\rangle =
    g_d\prod_{l'\ne l}w_{l'}[d]`: if coordinate :math:`d` is zero in at least two layers, every
    one of these products contains a zero, the whole coordinate's gradient vanishes, and
    gradient descent keeps :math:`\beta_d = 0` exactly, at every step.  (Zero in one layer
    only is not enough: that layer's gradient is then in general non-zero.)  This is the
    time-domain twin of :func:`ibcore.experiments.frozen_frequency_init`.
    """
    if not isinstance(net, Diagonal):
        raise IbcoreTypeError(f"net must be an ibcore.nets.Diagonal, got {type(net).__name__}")
    coords = np.unique(np.atleast_1d(np.asarray(coordinates)))
    if coords.ndim != 1 or coords.size == 0 or not np.issubdtype(coords.dtype, np.integer):
        raise IbcoreTypeError("coordinates must be an int or a non-empty 1-D sequence of ints")
    if np.any(coords < 0) or np.any(coords >= net.dim):
        raise IbcoreValueError(f"coordinates must lie in [0, {net.dim - 1}], got {coords.tolist()}")
    chosen = _layers(net, layers)
    w = net.init(seed, scale=scale, batch=batch)
    parts = [np.array(a) for a in net.unflatten(w)]
    for l in chosen:
        parts[l][..., coords] = 0.0
    return net.flatten(parts)


def _layers(net: Parameterization, layers) -> list[int]:
    """0-based layer indices from 1-based ``layers`` (the paper's numbering); default all."""
    if layers is None:
        return list(range(net.depth))
    ls = np.unique(np.atleast_1d(np.asarray(layers)))
    if ls.ndim != 1 or ls.size == 0 or not np.issubdtype(ls.dtype, np.integer):
        raise IbcoreTypeError("layers must be an int or a non-empty 1-D sequence of ints (1-based)")
    if np.any(ls < 1) or np.any(ls > net.depth):
        raise IbcoreValueError(f"layers are numbered 1..{net.depth}, got {ls.tolist()}")
    return [int(l) - 1 for l in ls]


def restricted_l1_margin(X, y, coordinates):
    r""":math:`\min\|\boldsymbol\beta\|_1` s.t. margins :math:`\ge1` *and* :math:`\beta_d = 0` at ``coordinates``.

    Solved as :func:`ibcore.limits.min_l1_margin` on the data with those columns set to
    zero: the margins then do not see :math:`\beta_d`, and setting :math:`\beta_d = 0`
    only lowers :math:`\|\boldsymbol\beta\|_1`, so the minimizer on the modified data has
    :math:`\beta_d = 0` and is feasible and optimal for the restricted problem.  It is
    where a diagonal network of depth two with those coordinates frozen
    (:func:`frozen_coordinate_init`) goes instead of the :math:`\ell_1` max margin.
    """
    from .limits import (
        min_l1_margin,  # limits loads cvxpy; keep this module light to import
    )

    X, y = check_dataset(X, y)
    coords = np.unique(np.atleast_1d(np.asarray(coordinates)))
    if coords.ndim != 1 or coords.size == 0 or not np.issubdtype(coords.dtype, np.integer):
        raise IbcoreTypeError("coordinates must be an int or a non-empty 1-D sequence of ints")
    if np.any(coords < 0) or np.any(coords >= X.shape[1]):
        raise IbcoreValueError(f"coordinates must lie in [0, {X.shape[1] - 1}], got {coords.tolist()}")
    Xr = X.copy()
    Xr[:, coords] = 0.0
    return min_l1_margin(Xr, y)


def zero_layers_init(net: Parameterization, seed, layers, *, scale: float = 1.0, batch: int | None = None):
    r"""``net.init(seed, scale, batch)`` with the weights of ``layers`` (1-based) set to zero.

    For the three architectures of the paper the gradient of :math:`\langle\mathbf g,
    \mathcal P(\mathbf w)\rangle` with respect to each layer is a product that contains
    every *other* layer, so with two or more zero layers all gradients vanish: a saddle
    point of :math:`\mathcal L_{\mathcal P}` (the loss stays at :math:`N`), from which
    gradient descent never moves.  With a single zero layer it does move.
    """
    if not isinstance(net, (FullyConnected, Diagonal, Convolutional)):
        raise IbcoreTypeError(f"net must be one of the paper's networks, got {type(net).__name__}")
    chosen = _layers(net, layers)
    w = net.init(seed, scale=scale, batch=batch)
    parts = [np.array(a) for a in net.unflatten(w)]
    for l in chosen:
        parts[l][...] = 0.0
    return net.flatten(parts)


# --------------------------------------------------------------------------- the loss at finite parameters


@dataclass(frozen=True)
class LossLandscape:
    r"""The exponential loss :math:`\mathcal L_{\mathcal P}` around finite parameters ``w``.

    ``loss`` (:math:`\sum_n e^{-y_n\langle\mathbf x_n,\mathcal P(\mathbf w)\rangle}`), ``margins``
    (N,), ``grad_norm`` (:math:`\|\nabla\mathcal L_{\mathcal P}(\mathbf w)\|`, exact) and
    ``hessian_eigenvalues`` (ascending; central differences of the exact gradient).
    """

    loss: float
    margins: np.ndarray
    grad_norm: float
    hessian_eigenvalues: np.ndarray


def _loss_gradient(net: Parameterization, w2: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Exact gradients of the exponential loss for a batch of parameters (B, P)."""
    m = net.predictor(w2) @ (X * y[:, None]).T  # (B, N)
    return -net.vjp(w2, np.exp(-m) @ (X * y[:, None]))


def loss_landscape(net: Parameterization, w, X, y) -> LossLandscape:
    r"""Loss, gradient norm and Hessian spectrum of :math:`\mathcal L_{\mathcal P}` at finite ``w``.

    Theorem 3 *assumes* that the loss tends to zero.  This function is how a chapter
    shows that it need not: at a finite point with :math:`\nabla\mathcal L_{\mathcal P} = 0`,
    a positive definite Hessian and loss above :math:`\ell(0) = 1`, gradient descent with
    small steps started nearby stays there (a strict local minimum attracts an open set
    of initializations, so "almost all initializations" cannot exclude it).

    The Hessian is the central difference of the exact gradient with step
    :math:`h = 10^{-5}\max(1, \|\mathbf w\|_\infty)`, all :math:`2P` gradients in one batched
    call, then symmetrized: its error is :math:`O(h^2)` times third derivatives,
    about :math:`10^{-9}` relative here, far below the eigenvalues it is used to sign.
    Uses the exponential loss at face value, so ``w`` must have moderate margins
    (the point of the function is the finite-parameter regime).
    """
    if not isinstance(net, Parameterization):
        raise IbcoreTypeError(f"net must be an ibcore.nets Parameterization, got {type(net).__name__}")
    X, y = check_dataset(X, y)
    if X.shape[1] != net.dim:
        raise ShapeError(f"X has {X.shape[1]} columns but net.dim is {net.dim}")
    w = as_float_array("w", w, ndim=1)
    if w.shape[0] != net.n_params:
        raise ShapeError(f"w must have net.n_params = {net.n_params} entries, got {w.shape[0]}")
    margins = y * (X @ net.predictor(w))
    if np.min(margins) < -700:
        raise IbcoreValueError("the loss overflows float64 at w (a margin below -700)")
    P = w.size
    h = 1e-5 * max(1.0, float(np.max(np.abs(w))))
    steps = np.concatenate([w + h * np.eye(P), w - h * np.eye(P)])
    grads = _loss_gradient(net, steps, X, y)
    H = (grads[:P] - grads[P:]) / (2 * h)
    grad = _loss_gradient(net, w[None, :], X, y)[0]
    return LossLandscape(
        loss=float(np.sum(np.exp(-margins))),
        margins=margins,
        grad_norm=float(np.linalg.norm(grad)),
        hessian_eigenvalues=np.linalg.eigvalsh((H + H.T) / 2),
    )
