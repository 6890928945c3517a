r"""Polishing: from gradient descent's output to a nearby exact KKT point.

**Polishing** (:func:`polish`) solves the stationarity equations on the input's own
support and near-active set by Levenberg-Marquardt with damping proportional to
the residual, which converges to a *nearby* point of a non-isolated solution set;
the active set is corrected only where the solution proves it wrong (a margin
below 1, an unsolvable system, a negative multiplier).  The refined point is then
certified afresh, exactly as :func:`bridge_certificate` would.

The certificates themselves, their tolerances and the two problems (predictor
space and Theorem 3's parameter space) are in :mod:`ibcore.certificates`.

Tolerances:

- Inside :func:`polish`: a system is *solved* when its residual is below
  ``SOLVED_TOL = 1e-10`` (relative); a margin is *violated* below ``1 - FEAS_TOL``
  (``1e-9``); a least-squares multiplier is *negative* below ``-ALPHA_TOL`` times the
  largest (``1e-12``; weakly active samples come out at -1e-16).
"""

from __future__ import annotations

from functools import singledispatch

import numpy as np

from .certificates import (
    _EPS,
    ACTIVE_TOL,
    ALPHA_TOL,
    SUPPORT_TOL,
    KKTPolished,
    Polished,
    _active_columns,
    _certify,
    _check_net_args,
    _check_predictor_args,
    _equation_mask,
    _kkt,
    _margin_one,
    _nnls,
    _is_time,
    _stack,
    _stationarity_lsq,
    _support,
    _transform,
    _transform_matrix,
    _vjp_columns,
    _w_margin_one,
)
from . import angle
from .errors import IbcoreValueError, SolverError
from .fourier import dft, idft
from .nets import Parameterization

__all__ = ["polish"]

_MAX_ITER = 200



def _modulus_jacobian(v: np.ndarray, p: float, domain: str) -> np.ndarray:
    """Jacobian of the stacked map v -> |v|^{p-2} v with respect to the stacked v.

    Per complex entry v = a + ib with r = |v|, c = a/r, s = b/r, the real 2x2 block is
    r^{p-2} [[1 + (p-2) c^2, (p-2) c s], [(p-2) c s, 1 + (p-2) s^2]]; in the time domain
    it is (p-1) r^{p-2}.  Entries with r = 0 (p > 1 only) get the p = 2 value, the
    identity times r^{p-2} taken at r = max(r, 1e-300): only p = 2 occurs in the book.
    """
    r = np.maximum(np.abs(v), 1e-300)
    g = r ** (p - 2)
    if _is_time(domain):
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
    if _is_time(domain):
        return np.where(support, beta, 0.0)
    if isinstance(domain, str):
        return np.real(idft(np.where(support, dft(beta), 0.0)))
    return np.real(domain.conj().T @ np.where(support, domain @ beta, 0.0))


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
    beta, X, y, p, support_tol, active_tol, domain = _check_predictor_args(beta, X, y, p, domain, support_tol, active_tol)
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
