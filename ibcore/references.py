r"""The predictors the theorems point to, as convex programs at margin 1.

.. math::
    \text{SVM (Theorem 1):}\quad &\min_{\boldsymbol\beta}\ \tfrac12\|\boldsymbol\beta\|_2^2
        &&\text{s.t. } y_n\langle\mathbf x_n,\boldsymbol\beta\rangle \ge 1 \quad\text{(QP)}\\
    \ell_1\text{ (diagonal, depth 2):}\quad &\min_{\boldsymbol\beta}\ \|\boldsymbol\beta\|_1
        &&\text{s.t. the same} \quad\text{(LP)}\\
    \text{Fourier }\ell_1\text{ (Theorem 2):}\quad &\min_{\boldsymbol\beta}\ \|F\boldsymbol\beta\|_1
        = \textstyle\sum_k|\hat{\boldsymbol\beta}_k| &&\text{s.t. the same} \quad\text{(SOCP)}

Each is solved by cvxpy with Clarabel at its default tolerances (absolute and
relative duality gap and feasibility ``1e-8``), after :func:`ibcore.data.check_separable`
(an LP decided by HiGHS and verified in float64) has raised
:class:`~ibcore.errors.NotSeparableError` for non-separable data, so that this verdict
does not hinge on an interior-point solver's infeasibility detection.

**Active-set polish.**  Interior-point answers are less accurate than their
tolerances suggest: on seeded Gaussian sets (D up to 64) Clarabel's "optimal" β
was seen up to 0.007 degrees from the exact minimizer (weakly active samples with
duals of 1e-5, small active frequencies whose phase is poorly determined), with
round-off off the support up to 1e-5 of the largest entry.  So each answer is
finished by :func:`ibcore.polish.polish` with ``p = 2`` (SVM) or ``p = 1`` on
the solver's own support and active set (both read at the relative tolerance
``1e-4``): the KKT system on that set, solved to round-off.  The polished point
is adopted when its certificate holds at ``REFERENCE_TOL = 1e-10`` -- for the ℓ1
problems including the off-support condition, which by convexity makes it the
global minimizer -- and it moved less than 0.05 degrees; then ``beta``, ``alpha``
and ``value`` are the polished ones and ``polished=True``.

Status policy: ``optimal`` is accepted; if the polish fails, the solver's answer
and duals are returned with ``polished=False``.  ``optimal_inaccurate`` (Clarabel's
"AlmostSolved", frequent for the Fourier SOCP at D >= 32, whose dual residual
stalls just above ``1e-8``) is accepted only when the polish certifies the
point, since the certificate, not the solver's stopping rule, is the proof.
Every other status raises :class:`~ibcore.errors.SolverError` naming the problem
and the status.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ._checks import check_dataset
from .polish import polish
from .data import check_separable
from .errors import SolverError
from .fourier import dft, dft_matrix

__all__ = ["REFERENCE_TOL", "Reference", "hard_margin_svm", "min_fourier_l1_margin", "min_l1_margin"]

REFERENCE_TOL = 1e-10
_REFERENCE_SUPPORT_TOL = 1e-4
_REFERENCE_ACTIVE_TOL = 1e-4
_REFERENCE_MAX_MOVED_DEG = 0.05


@dataclass(frozen=True)
class Reference:
    """A margin-1 reference predictor.

    ``beta`` (D,): the minimizer; ``alpha`` (N,): the multipliers of the margin
    constraints, >= 0, for the objective as written (so ``beta = sum alpha_n y_n x_n``
    for the SVM); ``value``: the optimal objective; ``name``: which problem;
    ``polished``: whether the active-set polish was adopted (module docstring).
    """

    beta: np.ndarray
    alpha: np.ndarray
    value: float
    name: str
    polished: bool


def clarabel_solve(name: str, problem: cp.Problem, *, accept_inaccurate=None) -> str:
    """Solve ``problem`` with Clarabel and return its status, or raise :class:`SolverError` naming ``name``.

    The status must be ``optimal``; ``optimal_inaccurate`` passes only when
    ``accept_inaccurate()`` (a callable, checked after the solve) returns True, e.g. when a
    duality gap is small enough or an exact certificate follows.  Clarabel's "Solution may
    be inaccurate" warning is silenced: this status policy handles it.  Shared by every
    convex reference of the package.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as exc:
        raise SolverError(f"{name}: Clarabel failed: {exc}") from exc
    if problem.status == cp.OPTIMAL:
        return problem.status
    if problem.status == cp.OPTIMAL_INACCURATE and accept_inaccurate is not None and accept_inaccurate():
        return problem.status
    raise SolverError(f"{name}: solver status {problem.status!r}, expected 'optimal'")


def _solve(name: str, objective, beta: cp.Variable, margins: cp.Constraint) -> tuple[np.ndarray, np.ndarray, str]:
    """Solve with Clarabel; return (beta, duals of the margin constraints, status) or raise.

    An inaccurate solution is accepted here: :func:`_finish` keeps it only if the
    active-set polish certifies it.
    """
    problem = cp.Problem(cp.Minimize(objective), [margins])
    status = clarabel_solve(name, problem, accept_inaccurate=lambda: True)
    alpha = np.maximum(np.asarray(margins.dual_value, dtype=np.float64), 0.0)
    return np.asarray(beta.value, dtype=np.float64), alpha, status


def _finish(name: str, X, y, solved, p: float, domain: str, value) -> Reference:
    """Adopt the active-set polish when it certifies the solver's point (module docstring)."""
    beta, alpha, status = solved
    try:
        refined = polish(beta, X, y, p, domain, support_tol=_REFERENCE_SUPPORT_TOL, active_tol=_REFERENCE_ACTIVE_TOL)
        good = refined.certified(REFERENCE_TOL, max_moved_deg=_REFERENCE_MAX_MOVED_DEG)
    except SolverError:
        good = False
    if good:
        return Reference(refined.beta, refined.alpha, value(refined.beta), name, True)
    if status != cp.OPTIMAL:
        raise SolverError(f"{name}: solver status {status!r}, and the active-set polish could not certify the point")
    return Reference(beta, alpha, value(beta), name, False)


def _problem_data(X, y) -> tuple[np.ndarray, np.ndarray, cp.Variable, cp.Constraint]:
    X, y = check_dataset(X, y)
    check_separable(X, y)
    beta = cp.Variable(X.shape[1])
    return X, y, beta, cp.multiply(y, X @ beta) >= 1


def hard_margin_svm(X, y) -> Reference:
    r"""The hard-margin SVM :math:`\min\tfrac12\|\boldsymbol\beta\|^2` s.t. margins :math:`\ge 1` (Theorem 1).

    At the optimum :math:`\boldsymbol\beta = \sum_n\alpha_n y_n\mathbf x_n` and
    ``value`` :math:`= \tfrac12\|\boldsymbol\beta\|^2 = \tfrac12\sum_n\alpha_n`.
    """
    X, y, beta, margins = _problem_data(X, y)
    solved = _solve("hard_margin_svm", 0.5 * cp.sum_squares(beta), beta, margins)
    return _finish("hard_margin_svm", X, y, solved, 2.0, "time", lambda v: 0.5 * float(v @ v))


def min_l1_margin(X, y) -> Reference:
    r"""The ℓ1 max-margin predictor :math:`\min\|\boldsymbol\beta\|_1` s.t. margins :math:`\ge 1` (an LP).

    Diagonal networks of depth 2 point here.  At the optimum
    :math:`\mathbf z = \sum_n\alpha_n y_n\mathbf x_n` has :math:`|z_d|\le 1`, with
    :math:`z_d = \operatorname{sign}\beta_d` on the support.
    """
    X, y, beta, margins = _problem_data(X, y)
    solved = _solve("min_l1_margin", cp.norm1(beta), beta, margins)
    return _finish("min_l1_margin", X, y, solved, 1.0, "time", lambda v: float(np.sum(np.abs(v))))


def min_fourier_l1_margin(X, y) -> Reference:
    r"""The Fourier-ℓ1 predictor :math:`\min\sum_k|\hat{\boldsymbol\beta}_k|` s.t. margins :math:`\ge 1` (Theorem 2).

    Written with cvxpy's complex expressions, :math:`|F\boldsymbol\beta|` with the
    complex unitary DFT matrix, which makes it a second-order-cone program.  At the
    optimum :math:`\hat{\mathbf z} = F\sum_n\alpha_n y_n\mathbf x_n` has
    :math:`|\hat{\mathbf z}_k|\le 1`, with :math:`\hat{\mathbf z}_k =
    \hat{\boldsymbol\beta}_k/|\hat{\boldsymbol\beta}_k|` on the support.
    """
    X, y, beta, margins = _problem_data(X, y)
    F = dft_matrix(X.shape[1])
    solved = _solve("min_fourier_l1_margin", cp.sum(cp.abs(F @ beta)), beta, margins)
    return _finish("min_fourier_l1_margin", X, y, solved, 1.0, "fourier", lambda v: float(np.sum(np.abs(dft(v)))))
