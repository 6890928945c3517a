r"""Certificates that a predictor, or a parameter vector, is a KKT point; and polishing.

**Predictor space** (Theorems 1, 2, 2a; diagonal networks).  For depth :math:`L` put
:math:`p = 2/L` and :math:`\mathbf v = T\boldsymbol\beta` with :math:`T = I`
(``domain="time"``) or the unitary DFT :math:`T = F` (``domain="fourier"``):

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

**Polishing** (:func:`polish`) solves the stationarity equations on the input's own
support and near-active set by Levenberg-Marquardt with damping proportional to
the residual, which converges to a *nearby* point of a non-isolated solution set;
the active set is corrected only where the solution proves it wrong (a margin
below 1, an unsolvable system, a negative multiplier).  The refined point is then
certified afresh, exactly as :func:`bridge_certificate` would.

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
- Inside :func:`polish`: a system is *solved* when its residual is below
  ``SOLVED_TOL = 1e-10`` (relative); a margin is *violated* below ``1 - FEAS_TOL``
  (``1e-9``); a least-squares multiplier is *negative* below ``-ALPHA_TOL`` times the
  largest (``1e-12``; weakly active samples come out at -1e-16).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch

import numpy as np
from scipy.optimize import nnls

from . import angle
from ._checks import as_float_array, check_choice, check_dataset, check_positive_float
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError, SolverError
from .fourier import dft, dft_matrix, idft
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
    "polish",
]

SUPPORT_TOL = 1e-3
ACTIVE_TOL = 1e-3
OFF_TOL = 1e-6
#: Inside polish, least-squares multipliers come out at -1e-16 for weakly active
#: samples; only those below -ALPHA_TOL * max(alpha) count as negative.
ALPHA_TOL = 1e-12
_EPS = np.finfo(np.float64).eps
_MAX_ITER = 200


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

    def certified(self, tol: float = 1e-8, off_tol: float = OFF_TOL) -> bool:
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

    def certified(self, tol: float = 1e-8, max_moved_deg: float = 0.5, off_tol: float = OFF_TOL) -> bool:
        """The certificate's checks, and the refined point within ``max_moved_deg`` of the input.

        A polished point that moved far is a stationary point, but not *the input's*
        limit: the support kept from the input was wrong.
        """
        return super().certified(tol, off_tol) and self.moved_deg <= max_moved_deg


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

    def certified(self, tol: float = 1e-8, max_moved_deg: float = 0.5) -> bool:
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
    check_choice("domain", domain, {"time", "fourier"})
    support_tol = check_positive_float("support_tol", support_tol)
    if support_tol >= 1:
        raise IbcoreValueError(f"support_tol is relative to the largest modulus and must be < 1, got {support_tol}")
    active_tol = check_positive_float("active_tol", active_tol)
    return beta, X, y, p, support_tol, active_tol


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


def _transform(beta: np.ndarray, domain: str) -> np.ndarray:
    """v = T beta: beta itself (time) or its unitary DFT (fourier)."""
    return dft(beta) if domain == "fourier" else beta


def _transform_matrix(dim: int, domain: str) -> np.ndarray:
    return dft_matrix(dim) if domain == "fourier" else np.eye(dim)


def _stack(c: np.ndarray, domain: str) -> np.ndarray:
    """Real and imaginary parts stacked along axis 0 (fourier); the array itself (time)."""
    return np.concatenate([c.real, c.imag], axis=0) if domain == "fourier" else np.real(c)


def _support(v: np.ndarray, support_tol: float, domain: str) -> np.ndarray:
    """|v_d| > support_tol * max |v|; frequencies k and D-k decided together."""
    mod = np.abs(v)
    if domain == "fourier":
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


def _penalty(beta: np.ndarray, p: float, domain: str) -> float:
    return float(np.sum(np.abs(_transform(beta, domain)) ** p))


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
        penalty=_penalty(beta, p, domain),
        p=p,
        domain=domain,
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
    beta, X, y, p, support_tol, active_tol = _check_predictor_args(beta, X, y, p, domain, support_tol, active_tol)
    if beta.ndim == 2:
        return [bridge_certificate(b, X, y, p, domain, support_tol=support_tol, active_tol=active_tol) for b in beta]
    beta, margins = _margin_one(beta, X, y)
    support = _support(_transform(beta, domain), support_tol, domain)
    active = margins <= 1.0 + active_tol
    return _certify(beta, margins, X, y, p, domain, support, active)


# --------------------------------------------------------------------------- polishing


def _modulus_jacobian(v: np.ndarray, p: float, domain: str) -> np.ndarray:
    """Jacobian of the stacked map v -> |v|^{p-2} v with respect to the stacked v.

    Per complex entry v = a + ib with r = |v|, c = a/r, s = b/r, the real 2x2 block is
    r^{p-2} [[1 + (p-2) c^2, (p-2) c s], [(p-2) c s, 1 + (p-2) s^2]]; in the time domain
    it is (p-1) r^{p-2}.  Entries with r = 0 (p > 1 only) get the p = 2 value, the
    identity times r^{p-2} taken at r = max(r, 1e-300): only p = 2 occurs in the book.
    """
    r = np.maximum(np.abs(v), 1e-300)
    g = r ** (p - 2)
    if domain == "time":
        return np.diag((p - 1) * g)
    c, s = np.real(v) / r, np.imag(v) / r
    rr, ri, ii = g * (1 + (p - 2) * c * c), g * (p - 2) * c * s, g * (1 + (p - 2) * s * s)
    return np.block([[np.diag(rr), np.diag(ri)], [np.diag(ri), np.diag(ii)]])


def _polish_system(X, y, p, domain, support, active):
    """Residual and Jacobian of the stationarity system in u = (beta, alpha_A).

    Equations: margins = 1 on A; v_beta = 0 off the support (p <= 1 only); and
    (T z)_E - |v_beta|^{p-2} (v_beta)_E = 0 with z = sum_A alpha_n y_n x_n.
    """
    D = X.shape[1]
    T = _transform_matrix(D, domain)
    eq = _equation_mask(support, p)
    off = ~support if p <= 1 else np.zeros_like(support)
    G = _active_columns(X, y, active)  # (D, |A|)
    T_eq, T_off = T[eq], T[off]
    M = _stack(T_eq @ G, domain)
    B_eq, B_off = _stack(T_eq, domain), _stack(T_off, domain)
    n_a = G.shape[1]

    def residual(u):
        beta, alpha = u[:D], u[D:]
        v_eq = T_eq @ beta
        mod = np.maximum(np.abs(v_eq), 1e-300)
        return np.concatenate([G.T @ beta - 1.0, B_off @ beta, M @ alpha - _stack(v_eq * mod ** (p - 2), domain)])

    def jacobian(u):
        beta = u[:D]
        dh = _modulus_jacobian(T_eq @ beta, p, domain) @ B_eq
        return np.block([
            [G.T, np.zeros((n_a, n_a))],
            [B_off, np.zeros((B_off.shape[0], n_a))],
            [-dh, M],
        ])

    return residual, jacobian


#: A stationarity system counts as solved when LM leaves ||residual|| <= SOLVED_TOL *
#: (1 + ||right-hand side||); consistent systems end near 1e-15, inconsistent ones
#: (a wrong active set) orders of magnitude above.
SOLVED_TOL = 1e-10


def _converged(history: list[float], step: np.ndarray, u: np.ndarray) -> bool:
    """Stop at zero residual, at a step below machine epsilon relative to ``u``, at
    round-off (residual below 1e-13 relative to ``u`` and no longer halving), or when
    the last five accepted steps gained less than 0.1% together (an inconsistent
    system, i.e. a wrong active set, converging slowly to a least-squares point)."""
    cost = history[-1]
    if cost == 0.0 or np.linalg.norm(step) <= _EPS * (1.0 + np.linalg.norm(u)):
        return True
    if len(history) >= 2 and cost <= 1e-13 * (1.0 + np.linalg.norm(u)) and cost > 0.5 * history[-2]:
        return True
    return len(history) >= 6 and cost > (1 - 1e-3) * history[-6]


def _least_squares(residual, jacobian, u0: np.ndarray, what: str) -> tuple[np.ndarray, float]:
    r"""Levenberg-Marquardt for F(u) = 0 with damping :math:`\lambda_k = \mu_k\|F(u_k)\|`.

    Least squares rather than a square solve, because stationary points need not be
    isolated: multipliers may be non-unique, and parameterizations have continuous
    symmetries (hidden-unit rotations of fully connected nets).  There the Jacobian
    is singular at every solution and nearly singular next to it, so Gauss-Newton
    steps are huge along the near-null directions, and a trust region sized from
    :math:`\|u\|` (MINPACK's ``lm``) lets them through: from 0.05 degrees off a
    rank-one fully connected KKT point, both were seen to land 2 to 23 degrees away.
    Damping proportional to the residual (Yamashita & Fukushima 2001; Fan & Yuan
    2005) keeps those steps small, and converges quadratically to the *set* of
    solutions under a local error bound, at a point whose distance from ``u0`` is
    of the order of the distance from ``u0`` to the set.  μ is adapted by the usual
    ratio of actual to predicted reduction.  Stopping rules in :func:`_converged`;
    at most 200 iterations.  The caller judges the residual left.
    """
    try:
        u = np.array(u0, dtype=np.float64)
        r = residual(u)
        if not np.all(np.isfinite(r)):
            raise SolverError(f"least squares for the {what} stationarity system failed to run: "
                              "residuals are not finite at the starting point")
        cost, mu = float(np.linalg.norm(r)), 1e-2
        history = [cost]
        J = svd = None
        for _ in range(_MAX_ITER):
            if J is None:  # one SVD per Jacobian serves every damping tried on it
                J = jacobian(u)
                svd = np.linalg.svd(J, full_matrices=False)
            U, sig, Vt = svd
            lam = mu * cost
            step = -Vt.T @ (sig / (sig**2 + lam) * (U.T @ r))
            trial = residual(u + step)
            new_cost = float(np.linalg.norm(trial))
            predicted = cost**2 - float(np.linalg.norm(r + J @ step)) ** 2
            ratio = (cost**2 - new_cost**2) / predicted if predicted > 0 and np.isfinite(new_cost) else -1.0
            if ratio > 1e-4:
                u, r, cost, J = u + step, trial, new_cost, None
                history.append(cost)
            mu = mu * 4 if ratio < 0.25 else (max(mu / 4, 1e-8) if ratio > 0.75 else mu)
            if _converged(history, step, u):
                break
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
        raise SolverError(f"least squares for the {what} stationarity system failed to run: {exc}") from exc
    return u, cost


def _project_support(beta: np.ndarray, support: np.ndarray, domain: str) -> np.ndarray:
    """Zero beta's coordinates/frequencies off the support exactly (they are ~1e-17 after LM)."""
    if domain == "time":
        return np.where(support, beta, 0.0)
    return np.real(idft(np.where(support, dft(beta), 0.0)))


def _refined_margin_one(rescale, refined: np.ndarray):
    """Rescale the refined point to margin 1; a refinement that stopped separating is a failure.

    It happens when the kept support or active set is wrong: the system then has no
    solution near the start, and Levenberg-Marquardt wanders off.
    """
    try:
        return rescale(refined)
    except IbcoreValueError as exc:
        raise SolverError(f"polish left the separators ({exc}); the input's support or active set is wrong") from exc


def _moved_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(angle(a, b))


#: A sample outside the active set whose margin at the refined point (active margins
#: = 1) is below 1 - FEAS_TOL violates the constraints; at 1e-9 the slackness this
#: leaves after rescaling is far below the certificate's ``tol * sum(alpha)``.
FEAS_TOL = 1e-9


def _refine_active_set(solve, margins_of, start_margins: np.ndarray, active: np.ndarray):
    """Solve on GD's near-active set; adjust it only where the solution says it is wrong.

    ``solve(active)`` returns (point, alpha (N,), solved) with margins = 1 on
    ``active``.  Each solve starts from the input's margin-1 point: warm starts from
    the previous solution drift along the (non-isolated) set of stationary points,
    away from the input.  If the system had no solution (too few
    active samples to balance the stationarity equations; the least-squares point
    is then meaningless), the outside sample of smallest margin *at the input* is
    added; else a sample outside the set with margin < 1 at the solution is added
    (the most violated first); else a sample inside with alpha < 0 is released (the
    most negative first).
    One change at a time, as in an active-set method.  This is needed because GD a
    few tenths of a degree from its limit has the margins of its support vectors
    spread over ~1e-2, so no ``active_tol`` separates them from the rest every time.
    Stops when nothing is violated, when a set repeats, or after 2N + 1 changes.
    Returns (point, active, number of changes).
    """
    seen, swaps = {active.tobytes()}, 0
    while True:
        point, alpha, solved = solve(active)
        margins = margins_of(point)
        violated = ~active & (margins < 1.0 - FEAS_TOL)
        negative = active & (alpha < -ALPHA_TOL * max(float(np.max(alpha)), _EPS))
        if not solved:
            if active.all():
                break
            n = int(np.argmin(np.where(active, np.inf, start_margins)))
        elif violated.any():
            n = int(np.argmin(np.where(violated, margins, np.inf)))
        elif negative.any():
            n = int(np.argmin(np.where(negative, alpha, np.inf)))
        else:
            break
        changed = active.copy()
        changed[n] = not changed[n]
        if not changed.any() or changed.tobytes() in seen or swaps > 2 * active.size:
            break
        seen.add(changed.tobytes())
        active, swaps = changed, swaps + 1
    return point, active, swaps


@singledispatch
def polish(
    beta,
    X,
    y,
    p: float,
    domain: str = "fourier",
    *,
    support_tol: float = SUPPORT_TOL,
    active_tol: float = ACTIVE_TOL,
) -> Polished | list[Polished]:
    r"""Refine GD's ``beta`` to a nearby exact stationary point on its own support and active set.

    The support S and near-active set A are read off the margin-1 rescaling of
    ``beta`` as in :func:`bridge_certificate`.  The support is kept.  Unknowns
    :math:`\boldsymbol\beta\in\mathbb R^D` and :math:`\alpha_A`; equations (real and
    imaginary parts):

    .. math::
        y_n\langle\mathbf x_n,\boldsymbol\beta\rangle = 1\ (n\in A),\qquad
        v_d = 0\ (d\notin S,\ p \le 1),\qquad
        (T\mathbf z)_d = |v_d|^{p-2}v_d\ (d \in S, \text{ or all } d \text{ if } p > 1),

    solved by Levenberg-Marquardt (analytic Jacobian; :func:`_least_squares`) from
    the margin-1 β and its NNLS α.  A is kept unless the solution proves it wrong --
    no solution, a sample outside A with margin below 1, or a negative multiplier
    inside -- and is then corrected one sample at a time (:func:`_refine_active_set`;
    ``active_swaps`` counts the changes).  The refined β is projected exactly onto S, rescaled to margin 1 and
    certified afresh (NNLS α): the result is a :class:`Polished`, whose ``moved_deg``
    says how far the input was from the point certified.  Only a certificate with
    ``moved_deg <= 0.5`` and α >= 0 counts (``certified()``).

    Raises :class:`~ibcore.errors.SolverError` if the least squares cannot run or the
    refined point no longer separates the data.  ``polish(net, w, X, y, *,
    active_tol=...)`` polishes Theorem 3's parameter-space problem instead (see
    :func:`_polish_parameters`).  ``beta`` of shape (B, D) gives a list.
    """
    beta, X, y, p, support_tol, active_tol = _check_predictor_args(beta, X, y, p, domain, support_tol, active_tol)
    if beta.ndim == 2:
        return [polish(b, X, y, p, domain, support_tol=support_tol, active_tol=active_tol) for b in beta]
    start, margins = _margin_one(beta, X, y)
    support = _support(_transform(start, domain), support_tol, domain)
    D = X.shape[1]

    def solve(active):
        M, h = _stationarity_lsq(start, X, y, p, domain, support, active)
        residual, jacobian = _polish_system(X, y, p, domain, support, active)
        u, left = _least_squares(residual, jacobian, np.concatenate([start, _nnls(M, h)]), "predictor")
        alpha = np.zeros(X.shape[0])
        alpha[active] = u[D:]
        point = _project_support(u[:D], support, domain) if p <= 1 else u[:D]
        return point, alpha, left <= SOLVED_TOL * (1.0 + np.linalg.norm(h))

    refined, active, swaps = _refine_active_set(solve, lambda b: y * (X @ b), margins, margins <= 1.0 + active_tol)
    refined, margins = _refined_margin_one(lambda b: _margin_one(b, X, y), refined)
    return _certify(refined, margins, X, y, p, domain, support, active, cls=Polished,
                    moved_deg=_moved_deg(beta, refined), active_swaps=swaps)


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


def _hessian_columns(net: Parameterization, w: np.ndarray, z: np.ndarray) -> np.ndarray:
    """d/dw net.vjp(w, z) by central differences, all P directions in one batched call.

    vjp is a polynomial of degree L-1 in w, so central differences are exact (up to
    round-off) for L <= 3 and O(h^2) accurate beyond; LM needs no more.
    """
    P = w.size
    h = 1e-4 * max(1.0, float(np.max(np.abs(w))))
    plus = net.vjp(w[None, :] + h * np.eye(P), np.broadcast_to(z, (P, z.size)))
    minus = net.vjp(w[None, :] - h * np.eye(P), np.broadcast_to(z, (P, z.size)))
    return ((plus - minus) / (2 * h)).T


@polish.register
def _polish_parameters(net: Parameterization, w, X, y, *, active_tol: float = ACTIVE_TOL) -> KKTPolished | list:
    r"""Refine ``w`` to a nearby KKT point of Theorem 3's problem, on its own active set.

    Unknowns :math:`(\mathbf w, \alpha_A)`; equations
    :math:`\mathbf w - \nabla_{\mathbf w}\langle\mathbf z,\mathcal P(\mathbf w)\rangle = 0`
    with :math:`\mathbf z = \sum_A\alpha_n y_n\mathbf x_n`, and margins = 1 on A;
    Levenberg-Marquardt from the margin-1 ``w`` and its NNLS α, with the Jacobian
    block :math:`\partial_{\mathbf w}\nabla_{\mathbf w}\langle\mathbf z,\mathcal P\rangle`
    from batched central differences of ``net.vjp``.  A is corrected as in the
    predictor version.  Returns a :class:`KKTPolished` (certificate of the refined w,
    ``moved_deg`` between input and refined w in parameter space, ``active_swaps``).
    """
    w, X, y, active_tol = _check_net_args(net, w, X, y, active_tol)
    if w.ndim == 2:
        return [_polish_parameters(net, wi, X, y, active_tol=active_tol) for wi in w]
    start, margins = _w_margin_one(net, w, X, y)
    P = net.n_params

    def solve(active):
        G = _active_columns(X, y, active)

        def residual(u):
            wu, alpha = u[:P], u[P:]
            return np.concatenate([wu - net.vjp(wu, G @ alpha), G.T @ net.predictor(wu) - 1.0])

        def jacobian(u):
            wu, alpha = u[:P], u[P:]
            M = _vjp_columns(net, wu, X, y, active)
            H = _hessian_columns(net, wu, G @ alpha)
            return np.block([[np.eye(P) - H, -M], [M.T, np.zeros((alpha.size, alpha.size))]])

        alpha0 = _nnls(_vjp_columns(net, start, X, y, active), start)
        u, left = _least_squares(residual, jacobian, np.concatenate([start, alpha0]), "parameter-space")
        alpha = np.zeros(X.shape[0])
        alpha[active] = u[P:]
        return u[:P], alpha, left <= SOLVED_TOL * (1.0 + np.linalg.norm(start))

    refined, active, swaps = _refine_active_set(
        solve, lambda v: y * (X @ net.predictor(v)), margins, margins <= 1.0 + active_tol
    )
    refined, margins = _refined_margin_one(lambda v: _w_margin_one(net, v, X, y), refined)
    return _kkt(net, refined, margins, X, y, active, cls=KKTPolished, moved_deg=_moved_deg(w, refined),
                active_swaps=swaps)
