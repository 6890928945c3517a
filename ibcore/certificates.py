r"""Certificates that a predictor, or a parameter vector, is a KKT point; and polishing.

**Predictor space** (Theorems 1, 2, 2a; diagonal networks).  For depth :math:`L` put
:math:`p = 2/L` and :math:`\mathbf v = T\boldsymbol\beta` with :math:`T = I`
(``domain="time"``), the unitary DFT :math:`T = F` (``domain="fourier"``), or any
unitary matrix passed as ``domain`` (the 2-D DFT of :mod:`ibcore.conv2d`, a group-Fourier
basis; the certificate's ``domain`` then reads ``"matrix"``):

.. math::
    \min_{\boldsymbol\beta}\ \tfrac1p R_p(\boldsymbol\beta) = \tfrac1p\sum_d |v_d|^p
    \quad\text{s.t.}\quad y_n\langle\mathbf x_n,\boldsymbol\beta\rangle \ge 1 .

The factor :math:`1/p` fixes the multipliers: for :math:`p = 1` they are the duals of
:math:`\min\|T\boldsymbol\beta\|_1`, for :math:`p = 2` those of the SVM's
:math:`\tfrac12\|\boldsymbol\beta\|^2`.  At margin-1 scale, :math:`\boldsymbol\beta` is
stationary when some :math:`\alpha \ge 0`, zero unless :math:`y_n\langle\mathbf x_n,
\boldsymbol\beta\rangle = 1`, gives :math:`\mathbf z = \sum_n \alpha_n y_n \mathbf x_n` with

.. math::
    (T\mathbf z)_d = |v_d|^{p-2}\, v_d \quad\text{on the support } S = \{d : v_d \ne 0\}.

Off the support: nothing for :math:`p < 1` (the quasi-norm has infinite slope at 0,
so leaving the support is always uphill); :math:`|(T\mathbf z)_d| \le 1` for
:math:`p = 1` (then :math:`\mathbf z` is a subgradient, and by convexity the point is
the *global* minimum); for :math:`p > 1` the penalty is differentiable and the
equation holds at every :math:`d` (it reads :math:`(T\mathbf z)_d = 0` off the support).
Since :math:`T\mathbf z` is real-linear in :math:`\alpha`, real and imaginary parts are
stacked and :math:`\alpha` is found by non-negative least squares.  Euler's identity
gives :math:`\sum_n\alpha_n = \langle\mathbf z,\boldsymbol\beta\rangle = R_p(\boldsymbol\beta)`
at a KKT point, a consequence worth checking in tests.

**Parameter space** (Theorem 3).  For a homogeneous :math:`\mathcal P` of degree :math:`L`,

.. math::
    \min_{\mathbf w}\ \tfrac12\|\mathbf w\|^2 \quad\text{s.t.}\quad
    y_n\langle\mathbf x_n, \mathcal P(\mathbf w)\rangle \ge 1,
    \qquad \text{KKT: } \mathbf w = \sum_n \alpha_n y_n \nabla_{\mathbf w}
    \langle\mathbf x_n, \mathcal P(\mathbf w)\rangle,\ \alpha \ge 0,

and Euler's identity gives :math:`\|\mathbf w\|^2 = L\sum_n\alpha_n`.

**Numerics.**  Everything is done at margin-1 scale, reached by dividing by the
largest entry first and then by the minimum margin, so inputs of any scale
(GD's directions, or 1e-200) give the same certificate; nothing is exponentiated,
and :math:`|v|^{p-2}` is only evaluated on the thresholded support, where
:math:`|v_d| \ge` ``support_tol`` :math:`\cdot\max|v|`.

**Polishing** (refining GD's output to a nearby exact KKT point) lives in
:mod:`ibcore.polish`; :mod:`ibcore.limits` exports both under one name.

Tolerances (all relative, all stated where they are used):

- ``support_tol = 1e-3``: a coordinate/frequency is in the support when
  :math:`|v_d| > 10^{-3}\max_d|v_d|`.  GD's off-support components decay but are
  never 0, and a direction that is 0.05 degrees from its limit carries components up
  to a few :math:`10^{-4}` of its largest one; smaller genuine components are the
  "tiny active components" of PAPER §5, and a user who expects them passes a
  smaller value.  In the Fourier domain the pairs :math:`k, D-k` are decided
  together (same modulus for a real :math:`\boldsymbol\beta`), so the support is
  conjugate symmetric.
- ``active_tol = 1e-3``: sample :math:`n` is near-active when its margin is at most
  :math:`1 + 10^{-3}` at margin-1 scale.  For a certificate of a (nearly) exact point
  this only has to exceed the point's error; for GD's output, whose support-vector
  margins spread over ~1e-2 at a few tenths of a degree, :func:`polish` corrects the
  set, so the value is not critical there.
- ``certified(tol=1e-8)``: relative stationarity residual at most ``tol``;
  :math:`\alpha \ge 0` (exact: every certificate's α comes from NNLS, polished
  points included); complementary slackness
  :math:`\max_n\alpha_n(\text{margin}_n - 1) \le` ``tol`` :math:`\cdot\sum\alpha`;
  for :math:`p = 1` off-support moduli :math:`\le 1 +` ``off_tol`` (default ``1e-6``:
  they are computed from α, whose error is the residual times the conditioning of
  the active columns, so they need more room than the residual itself).  ``1e-8``
  is far above the ~1e-15 reached at exact points, and far below the ~1e-3 of a
  direction 0.05 degrees off, so it separates the two cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from ._checks import as_float_array, check_choice, check_dataset, check_positive_float
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError
from .fourier import dft, dft_matrix
from .nets import Parameterization

__all__ = [
    "ACTIVE_TOL",
    "SUPPORT_TOL",
    "Certificate",
    "KKTCertificate",
    "KKTPolished",
    "Polished",
    "bridge_certificate",
    "kkt_certificate",
]

SUPPORT_TOL = 1e-3
ACTIVE_TOL = 1e-3
OFF_TOL = 1e-6
#: Inside polish, least-squares multipliers come out at -1e-16 for weakly active
#: samples; only those below -ALPHA_TOL * max(alpha) count as negative.
ALPHA_TOL = 1e-12
_EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Certificate:
    """First-order (KKT) certificate of min (1/p) R_p(beta) s.t. margins >= 1, at margin 1.

    Fields: ``beta`` (margin-1 predictor, shape (D,)), ``alpha`` (multipliers, shape
    (N,), zero off ``active``), ``support`` (bool over the D coordinates/frequencies),
    ``active`` (bool over the N samples), ``residual`` (relative stationarity residual
    ||M alpha - h|| / ||h||), ``alpha_min`` (smallest multiplier), ``alpha_nonneg``,
    ``slackness`` (max_n alpha_n (margin_n - 1)), ``off_support`` (p = 1: the largest
    modulus of T z off the support; None otherwise), ``penalty`` (R_p = sum_d |v_d|^p at
    margin 1, over all coordinates), ``p``, ``domain``.
    """

    beta: np.ndarray
    alpha: np.ndarray
    support: np.ndarray
    active: np.ndarray
    residual: float
    alpha_min: float
    alpha_nonneg: bool
    slackness: float
    off_support: float | None
    penalty: float
    p: float
    domain: str

    def certified(self, tol: float = 1e-8, *, off_tol: float = OFF_TOL) -> bool:
        """True when residual <= tol, alpha >= 0, slackness <= tol * sum(alpha) and,
        for p = 1, off_support <= 1 + off_tol (module docstring: why these)."""
        ok = (
            self.residual <= tol
            and self.alpha_nonneg
            and self.slackness <= tol * max(float(np.sum(self.alpha)), _EPS)
        )
        if self.off_support is not None:
            ok = ok and self.off_support <= 1.0 + off_tol
        return bool(ok)

    @property
    def ok(self) -> bool:
        """``certified()`` with its default tolerances."""
        return self.certified()


@dataclass(frozen=True)
class Polished(Certificate):
    """A :class:`Certificate` of the refined point, plus ``moved_deg`` (the angle in
    degrees between the input direction and the refined ``beta``) and
    ``active_swaps`` (how many samples polishing added to or released from the
    input's near-active set)."""

    moved_deg: float
    active_swaps: int

    def certified(self, tol: float = 1e-8, *, max_moved_deg: float = 0.5, off_tol: float = OFF_TOL) -> bool:
        """The certificate's checks, and the refined point within ``max_moved_deg`` of the input.

        A polished point that moved far is a stationary point, but not *the input's*
        limit: the support kept from the input was wrong.
        """
        return super().certified(tol, off_tol=off_tol) and self.moved_deg <= max_moved_deg


@dataclass(frozen=True)
class KKTCertificate:
    """KKT certificate of Theorem 3's min (1/2)||w||^2 s.t. y_n <x_n, P(w)> >= 1, at margin 1.

    Fields: ``w`` (margin-1 parameters), ``beta`` (= P(w)), ``alpha`` (shape (N,), zero
    off ``active``), ``active``, ``residual`` (||w - M alpha|| / ||w||, M's columns
    net.vjp(w, y_n x_n)), ``alpha_min``, ``alpha_nonneg``, ``slackness``, ``sq_norm``
    (||w||^2), ``euler_gap`` (| ||w||^2 - L sum(alpha) | / ||w||^2, zero at a KKT
    point by Euler's identity), ``depth``.
    """

    w: np.ndarray
    beta: np.ndarray
    alpha: np.ndarray
    active: np.ndarray
    residual: float
    alpha_min: float
    alpha_nonneg: bool
    slackness: float
    sq_norm: float
    euler_gap: float
    depth: int

    def certified(self, tol: float = 1e-8) -> bool:
        """True when residual <= tol, alpha >= 0 and slackness <= tol * sum(alpha)."""
        return bool(
            self.residual <= tol
            and self.alpha_nonneg
            and self.slackness <= tol * max(float(np.sum(self.alpha)), _EPS)
        )

    @property
    def ok(self) -> bool:
        """``certified()`` with its default tolerance."""
        return self.certified()


@dataclass(frozen=True)
class KKTPolished(KKTCertificate):
    """A :class:`KKTCertificate` of the refined parameters, plus ``moved_deg`` (angle between
    input and refined w, in parameter space) and ``active_swaps`` (as in :class:`Polished`)."""

    moved_deg: float
    active_swaps: int

    def certified(self, tol: float = 1e-8, *, max_moved_deg: float = 0.5) -> bool:
        """The certificate's checks, and the refined w within ``max_moved_deg`` of the input."""
        return super().certified(tol) and self.moved_deg <= max_moved_deg


# --------------------------------------------------------------------------- validation


def _check_predictor_args(beta, X, y, p, domain, support_tol, active_tol):
    X, y = check_dataset(X, y)
    beta = as_float_array("beta", beta, ndim=(1, 2))
    if beta.shape[-1] != X.shape[1]:
        raise ShapeError(f"beta must have length D = {X.shape[1]} (columns of X), got shape {beta.shape}")
    p = check_positive_float("p", p)
    if p > 2:
        raise IbcoreValueError(f"p must be in (0, 2] (p = 2/L for depth L >= 1), got {p}")
    domain = _check_domain(domain, X.shape[1])
    support_tol = check_positive_float("support_tol", support_tol)
    if support_tol >= 1:
        raise IbcoreValueError(f"support_tol is relative to the largest modulus and must be < 1, got {support_tol}")
    active_tol = check_positive_float("active_tol", active_tol)
    return beta, X, y, p, support_tol, active_tol, domain


def _check_net_args(net, w, X, y, active_tol):
    if not isinstance(net, Parameterization):
        raise IbcoreTypeError(f"net must be an ibcore.nets Parameterization, got {type(net).__name__}")
    X, y = check_dataset(X, y)
    if X.shape[1] != net.dim:
        raise ShapeError(f"X has {X.shape[1]} columns but net.dim is {net.dim}")
    w = as_float_array("w", w, ndim=(1, 2))
    if w.shape[-1] != net.n_params:
        raise ShapeError(f"w must have net.n_params = {net.n_params} entries in its last axis, got shape {w.shape}")
    active_tol = check_positive_float("active_tol", active_tol)
    return w, X, y, active_tol


# --------------------------------------------------------------------------- pieces


def _margin_one(beta: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rescale ``beta`` to minimum margin 1; return it and its margins.

    Dividing by the largest entry first keeps the margins representable for any
    input scale; a non-positive minimum margin means ``beta`` separates nothing.
    """
    top = np.max(np.abs(beta))
    if top == 0:
        raise IbcoreValueError("beta is the zero vector, which separates nothing")
    beta = beta / top
    margins = y * (X @ beta)
    gamma = float(np.min(margins))
    if gamma <= 0:
        raise IbcoreValueError(
            f"beta does not separate the data (minimum margin {gamma:.3g} <= 0 after normalizing beta)"
        )
    return beta / gamma, margins / gamma


#: How far from unitary (max entry of T^H T - I) a user's transform may be: round-off of
#: a matrix built from cosines and sines is ~1e-15 per entry times D.
UNITARY_TOL = 1e-10


def _check_domain(domain, dim: int):
    """``"time"``, ``"fourier"``, or a unitary (dim, dim) matrix T (returned as a complex array)."""
    if isinstance(domain, str):
        return check_choice("domain", domain, {"time", "fourier"})
    try:
        T = np.asarray(domain, dtype=np.complex128)
    except (TypeError, ValueError) as exc:
        raise IbcoreTypeError(f"domain must be 'time', 'fourier' or a unitary matrix, got {type(domain).__name__}") from exc
    if T.shape != (dim, dim):
        raise ShapeError(f"a matrix domain must be a unitary ({dim}, {dim}) matrix, got shape {T.shape}")
    if not np.all(np.isfinite(T)):
        raise IbcoreValueError("the domain matrix contains NaN or infinite entries")
    err = float(np.max(np.abs(T.conj().T @ T - np.eye(dim))))
    if err > UNITARY_TOL:
        raise IbcoreValueError(f"the domain matrix must be unitary (T^H T = I); max |T^H T - I| = {err:.3g}")
    return T


def _is_time(domain) -> bool:
    return isinstance(domain, str) and domain == "time"


def _domain_name(domain) -> str:
    return domain if isinstance(domain, str) else "matrix"


def _transform(beta: np.ndarray, domain) -> np.ndarray:
    """v = T beta: beta itself (time), its unitary DFT (fourier), or T @ beta (a unitary matrix)."""
    if isinstance(domain, str):
        return dft(beta) if domain == "fourier" else beta
    return domain @ beta


def _transform_matrix(dim: int, domain) -> np.ndarray:
    if isinstance(domain, str):
        return dft_matrix(dim) if domain == "fourier" else np.eye(dim)
    return domain


def _stack(c: np.ndarray, domain) -> np.ndarray:
    """Real and imaginary parts stacked along axis 0 (complex domains); the array itself (time)."""
    return np.real(c) if _is_time(domain) else np.concatenate([c.real, c.imag], axis=0)


def _support(v: np.ndarray, support_tol: float, domain) -> np.ndarray:
    """|v_d| > support_tol * max |v|; 1-D frequencies k and D-k decided together."""
    mod = np.abs(v)
    if isinstance(domain, str) and domain == "fourier":
        mod = np.maximum(mod, np.roll(mod[::-1], 1))  # mod[-k mod D]
    return mod > support_tol * np.max(mod)


def _equation_mask(support: np.ndarray, p: float) -> np.ndarray:
    """Where the stationarity equation is imposed: the support for p <= 1, everywhere for p > 1."""
    return support if p <= 1 else np.ones_like(support)


def _bridge_gradient(v: np.ndarray, p: float, mask: np.ndarray) -> np.ndarray:
    """|v|^{p-2} v on ``mask`` (0 where v = 0, the limit for p > 1), 0 elsewhere.

    The negative power is taken only on the mask, never on the round-off left off
    the support, so it cannot overflow.
    """
    out = np.zeros_like(v)
    mod = np.abs(v)
    on = mask & (mod > 0)
    out[on] = v[on] * mod[on] ** (p - 2)
    return out


def _active_columns(X: np.ndarray, y: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Columns y_n x_n for the active samples, shape (D, |A|)."""
    return (X[active] * y[active, None]).T


def _penalty(beta: np.ndarray, p: float, domain: str, support: np.ndarray) -> float:
    """R_p over the support only: the ~1e-17 of round-off left off it would add (1e-17)^p,
    i.e. ~2e-6 for p = 1/3, and make one stationary point look like two."""
    return float(np.sum(np.abs(_transform(beta, domain))[support] ** p))


def _stationarity_lsq(beta, X, y, p, domain, support, active) -> tuple[np.ndarray, np.ndarray]:
    """M and h of the stationarity equations M alpha_A = h (stacked real and imaginary parts).

    M's columns are (T y_n x_n)_E for active n, h = (|v|^{p-2} v)_E, E the equation mask.
    """
    T = _transform_matrix(X.shape[1], domain)
    eq = _equation_mask(support, p)
    h = _stack(_bridge_gradient(_transform(beta, domain), p, eq)[eq], domain)
    M = _stack(T[eq] @ _active_columns(X, y, active), domain)
    return M, h


def _nnls(M: np.ndarray, b: np.ndarray) -> np.ndarray:
    return nnls(M, b, maxiter=50 * M.shape[1] + 100)[0]


def _certify(beta, margins, X, y, p, domain, support, active, cls=Certificate, **extra) -> Certificate:
    """The certificate of a margin-1 ``beta`` for given support and active masks (NNLS for alpha)."""
    M, h = _stationarity_lsq(beta, X, y, p, domain, support, active)
    alpha_a = _nnls(M, h)
    residual = float(np.linalg.norm(M @ alpha_a - h) / np.linalg.norm(h))
    T = _transform_matrix(X.shape[1], domain)
    alpha = np.zeros(X.shape[0])
    alpha[active] = alpha_a
    off = None
    if p == 1:
        vz = T @ (X.T @ (alpha * y))
        off = float(np.max(np.abs(vz[~support]), initial=0.0))
    return cls(
        beta=beta,
        alpha=alpha,
        support=support,
        active=active,
        residual=residual,
        alpha_min=float(np.min(alpha)),
        alpha_nonneg=bool(np.min(alpha) >= 0),
        slackness=float(np.max(alpha * (margins - 1.0))),
        off_support=off,
        penalty=_penalty(beta, p, domain, support),
        p=p,
        domain=_domain_name(domain),
        **extra,
    )


# --------------------------------------------------------------------------- bridge certificate


def bridge_certificate(
    beta,
    X,
    y,
    p: float,
    domain: str = "fourier",
    *,
    support_tol: float = SUPPORT_TOL,
    active_tol: float = ACTIVE_TOL,
) -> Certificate | list[Certificate]:
    r"""Certify, without refining, that ``beta`` is stationary for min (1/p) R_p s.t. margins >= 1.

    ``beta`` is rescaled to minimum margin 1 (any scale and sign of input; it must
    separate the data).  The support is :math:`|v_d| >` ``support_tol``
    :math:`\cdot\max|v|`; the near-active set is margins :math:`\le 1 +` ``active_tol``;
    α comes from non-negative least squares on the stationarity equations (module
    docstring).  Because nothing is refined, a direction that is off by a fraction of a
    degree fails at ``tol = 1e-8``: use :func:`polish` for GD's output.

    ``beta`` of shape (B, D) gives a list of B certificates.
    """
    beta, X, y, p, support_tol, active_tol, domain = _check_predictor_args(beta, X, y, p, domain, support_tol, active_tol)
    if beta.ndim == 2:
        return [bridge_certificate(b, X, y, p, domain, support_tol=support_tol, active_tol=active_tol) for b in beta]
    beta, margins = _margin_one(beta, X, y)
    support = _support(_transform(beta, domain), support_tol, domain)
    active = margins <= 1.0 + active_tol
    return _certify(beta, margins, X, y, p, domain, support, active)


# --------------------------------------------------------------------------- parameter space


def _w_margin_one(net: Parameterization, w: np.ndarray, X, y) -> tuple[np.ndarray, np.ndarray]:
    """Rescale w to minimum margin 1: w / gamma^{1/L}, after dividing by its largest entry."""
    top = np.max(np.abs(w))
    if top == 0:
        raise IbcoreValueError("w is the zero vector, whose predictor separates nothing")
    w = w / top
    margins = y * (X @ net.predictor(w))
    gamma = float(np.min(margins))
    if gamma <= 0:
        raise IbcoreValueError(
            f"P(w) does not separate the data (minimum margin {gamma:.3g} <= 0 after normalizing w)"
        )
    return w / gamma ** (1.0 / net.depth), margins / gamma


def _vjp_columns(net: Parameterization, w: np.ndarray, X, y, active) -> np.ndarray:
    """Columns net.vjp(w, y_n x_n) for the active samples, shape (P, |A|), in one batched call."""
    G = _active_columns(X, y, active).T  # (|A|, D)
    return net.vjp(np.broadcast_to(w, (G.shape[0], w.size)), G).T


def _kkt(net, w, margins, X, y, active, cls=KKTCertificate, **extra) -> KKTCertificate:
    """The certificate of margin-1 ``w`` for a given active mask (NNLS for alpha)."""
    M = _vjp_columns(net, w, X, y, active)
    alpha_a = _nnls(M, w)
    sq_norm = float(w @ w)
    alpha = np.zeros(X.shape[0])
    alpha[active] = alpha_a
    return cls(
        w=w,
        beta=net.predictor(w),
        alpha=alpha,
        active=active,
        residual=float(np.linalg.norm(M @ alpha_a - w) / np.sqrt(sq_norm)),
        alpha_min=float(np.min(alpha)),
        alpha_nonneg=bool(np.min(alpha) >= 0),
        slackness=float(np.max(alpha * (margins - 1.0))),
        sq_norm=sq_norm,
        euler_gap=float(abs(sq_norm - net.depth * np.sum(alpha)) / sq_norm),
        depth=net.depth,
        **extra,
    )


def kkt_certificate(net: Parameterization, w, X, y, *, active_tol: float = ACTIVE_TOL) -> KKTCertificate | list:
    r"""Certify that ``w`` is a KKT point of min (1/2)||w||^2 s.t. y_n <x_n, P(w)> >= 1 (Theorem 3).

    ``w`` is rescaled to margin 1 (:math:`\mathbf w/\gamma^{1/L}`); α solves NNLS
    :math:`\min\|M\alpha - \mathbf w\|` over the near-active samples (margin
    :math:`\le 1 +` ``active_tol``), :math:`M`'s columns being
    :math:`\nabla_{\mathbf w}\langle y_n\mathbf x_n, \mathcal P(\mathbf w)\rangle`
    = ``net.vjp(w, y_n x_n)``.  Reports the relative residual, slackness and Euler's
    gap :math:`|\|\mathbf w\|^2 - L\sum\alpha|/\|\mathbf w\|^2`.  ``w`` of shape
    (B, P) gives a list.
    """
    w, X, y, active_tol = _check_net_args(net, w, X, y, active_tol)
    if w.ndim == 2:
        return [kkt_certificate(net, wi, X, y, active_tol=active_tol) for wi in w]
    w, margins = _w_margin_one(net, w, X, y)
    return _kkt(net, w, margins, X, y, margins <= 1.0 + active_tol)
