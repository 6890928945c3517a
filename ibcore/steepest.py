r"""Steepest descent with respect to a norm, on a linear predictor: the optimizer's geometry.

Gunasekar, Lee, Soudry and Srebro (ICML 2018) change the *algorithm* instead of the
architecture.  For a norm :math:`\|\cdot\|` with dual norm :math:`\|\cdot\|_*`, steepest
descent on :math:`\mathcal L(\boldsymbol\beta) = \sum_n \exp(-y_n\langle\mathbf x_n,\boldsymbol\beta\rangle)` is

.. math::
    \boldsymbol\beta(t+1) = \boldsymbol\beta(t) + \eta_t\,\Delta(t),\qquad
    \Delta(t) \in \arg\min_{\mathbf v}\ \langle\nabla\mathcal L(\boldsymbol\beta(t)),\mathbf v\rangle + \tfrac12\|\mathbf v\|^2,

i.e. :math:`\Delta = \|\mathbf g\|_*\,\hat{\mathbf d}` with :math:`\mathbf g = -\nabla\mathcal L` and
:math:`\hat{\mathbf d}\in\arg\max_{\|\mathbf d\|\le1}\langle\mathbf g,\mathbf d\rangle`:

- ``"l2"``: :math:`\Delta = \mathbf g`, gradient descent;
- ``"l1"``: :math:`\Delta = g_i\,\mathbf e_i` with :math:`i = \arg\max_j|g_j|` (ties: the smallest
  index), greedy (Gauss-Southwell) coordinate descent;
- ``"linf"``: :math:`\Delta = \|\mathbf g\|_1\operatorname{sign}(\mathbf g)`, sign descent.

On separable data the normalized margin :math:`\min_n y_n\langle\mathbf x_n,\boldsymbol\beta\rangle/\|\boldsymbol\beta\|`
in *that* norm tends to the largest possible one, the LP optima :func:`max_margin_l1` and
:func:`max_margin_linf` (the SVM for ``"l2"``).

**Numerics.** The run is the engine of :mod:`ibcore.train` (``ibcore._engine._descend``) on the
linear predictor, :math:`\boldsymbol\beta = e^\sigma\mathbf u` with :math:`\|\mathbf u\|_2 = 1`, with one
addition, a *direction map*: the loss weights' pullback :math:`\sum_n p_n y_n\mathbf x_n` is replaced
by its steepest step :math:`\mathbf d` (:func:`steepest_step`) before the step
:math:`\mathbf u \leftarrow (\mathbf u + c\,\mathbf d/\|\mathbf d\|_2)/\|\cdot\|_2`,
:math:`\sigma \leftarrow \sigma + \log\|\cdot\|_2`, with :math:`\log c` computed in log space by the
engine's step rule (depth 1, where its ``"normalized"`` step size is exactly :math:`\text{lr}/\mathcal L`).
The loss, its softmax weights :math:`p_n` and :math:`\log\|\nabla\mathcal L\|`-type quantities come from
:mod:`ibcore.losses`, so :math:`\mathbf g = e^{G}\sum_n p_n y_n\mathbf x_n` is never formed.  Steepest
descent fits the engine's Euclidean scale/direction step: with :math:`c` computed from
:math:`\|\mathbf d\|_2` as for any descent direction, that step *is*
:math:`\boldsymbol\beta \leftarrow \boldsymbol\beta + \eta_t\Delta` whatever :math:`\Delta`; the ℓ2 norm is only the
bookkeeping of the scale, not the geometry.  What does not carry over is the engine's
freedom of coordinates: the ℓ1 and ℓ∞ steps are not invariant under the isometries a
net's coordinates may apply, so the run uses the predictor's own coordinates (and only a
linear predictor: for a deep net "steepest descent in β's norm" would be another algorithm).

Schedules:

``"constant"``
    :math:`\eta_t = \eta` = ``lr``: bounded steps, as in the theorem; slow (for ``"l2"`` the
    direction converges like :math:`1/\log t`, Soudry et al. 2018).
``"normalized"``
    :math:`\eta_t = \text{lr}/\mathcal L(\boldsymbol\beta(t))`, so :math:`\boldsymbol\beta` moves by
    :math:`\text{lr}\cdot\Delta(\mathbf p)` per step, :math:`\Delta(\mathbf p)` the steepest step for
    :math:`\sum_n p_n y_n\mathbf x_n` (:math:`p` the loss weights).  Its step sizes grow without bound
    as the loss vanishes: not the theorem's bounded steps, but the same kind of
    loss-based step as the normalized gradient descent of :mod:`ibcore.train`.
    With :math:`\text{lr}\le 1/B^2`, :math:`B = \max_n\|\mathbf x_n\|_*`, it satisfies
    :math:`\eta_t\,\mathcal L \le 1/B^2`; far larger values can cycle instead of converging
    (sign descent with ``lr = 1`` on the data of chapter 15, where :math:`1/B^2 \approx 0.01`,
    stalls at half the maximal margin).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.optimize import linprog

from ._checks import as_float_array, check_choice, check_dataset, check_positive_int
from ._schedules import make_rule
from .errors import IbcoreValueError, ShapeError, SolverError
from .losses import LOSSES
from ._coordinates import _Coordinates
from .nets import FullyConnected
from ._engine import GDResult, _check_separable, _descend, _initial, _record_points, split_scale

__all__ = [
    "NORMS",
    "STEEPEST_SCHEDULES",
    "MaxMargin",
    "SteepestResult",
    "dual_radius",
    "max_margin",
    "max_margin_l1",
    "max_margin_linf",
    "norm_of",
    "normalized_margin",
    "steepest_descent",
    "steepest_step",
]

NORMS = ("l1", "l2", "linf")
STEEPEST_SCHEDULES = frozenset({"constant", "normalized"})
_DUAL = {"l1": "linf", "l2": "l2", "linf": "l1"}

#: Largest duality gap (relative to max(1, margin)) accepted from the LP: the primal
#: margin is recomputed in float64 for the returned beta and the dual bound for the
#: returned multipliers, so a gap above this means the solver's answer is not optimal.
LP_GAP_TOL = 1e-9


def norm_of(v, norm: str) -> np.ndarray | float:
    """The ``norm`` (``"l1"``, ``"l2"`` or ``"linf"``) of ``v`` along its last axis."""
    check_choice("norm", norm, set(NORMS))
    v = np.asarray(v, dtype=np.float64)
    out = {"l1": lambda a: np.sum(np.abs(a), axis=-1), "l2": lambda a: np.linalg.norm(a, axis=-1),
           "linf": lambda a: np.max(np.abs(a), axis=-1)}[norm](v)
    return float(out) if np.ndim(out) == 0 else out


def dual_radius(X, norm: str) -> float:
    r""":math:`B = \max_n\|\mathbf x_n\|_*`, the data's radius in the dual norm of ``norm``.

    It bounds the curvature of the loss in the geometry of ``norm``: the exponential loss
    satisfies :math:`\mathbf v^\top\nabla^2\mathcal L\,\mathbf v \le B^2\mathcal L\,\|\mathbf v\|^2`,
    which is why step sizes of order :math:`1/(B^2\mathcal L)` appear with steepest descent.
    """
    X = as_float_array("X", X, ndim=2)
    check_choice("norm", norm, set(NORMS))
    return float(np.max(norm_of(X, _DUAL[norm])))


def normalized_margin(beta, X, y, norm: str) -> np.ndarray | float:
    r""":math:`\min_n y_n\langle\mathbf x_n,\boldsymbol\beta\rangle/\|\boldsymbol\beta\|` in ``norm``, along the last axis of ``beta``.

    Scale-free, so any representative of a direction gives the same value; ``beta``
    may carry leading batch axes.  Raises for a zero ``beta`` (no direction).
    """
    X, y = check_dataset(X, y)
    beta = as_float_array("beta", beta)
    if beta.ndim == 0 or beta.shape[-1] != X.shape[1]:
        raise ShapeError(f"beta must have length {X.shape[1]} in its last axis, got shape {beta.shape}")
    scale = norm_of(beta, norm)
    if np.any(np.asarray(scale) == 0):
        raise IbcoreValueError("the margin of a zero predictor is undefined (beta is all zeros)")
    m = np.min((beta @ X.T) * y, axis=-1) / scale
    return float(m) if np.ndim(m) == 0 else m


def steepest_step(g, norm: str) -> np.ndarray:
    r"""The steepest step :math:`\Delta = \|\mathbf g\|_*\hat{\mathbf d}` for a descent direction ``g`` (..., D).

    ``"l2"``: ``g``; ``"l1"``: ``g_i e_i`` at ``i = argmax |g_j|`` (smallest index on ties);
    ``"linf"``: ``||g||_1 sign(g)``.  It satisfies :math:`\langle\mathbf g,\Delta\rangle = \|\mathbf g\|_*^2`
    and :math:`\|\Delta\| = \|\mathbf g\|_*` (the tests check both).
    """
    check_choice("norm", norm, set(NORMS))
    g = np.asarray(g, dtype=np.float64)
    if norm == "l2":
        return g.copy()
    if norm == "linf":
        return np.sum(np.abs(g), axis=-1, keepdims=True) * np.sign(g)
    flat = g.reshape(-1, g.shape[-1])
    rows, idx = np.arange(flat.shape[0]), np.argmax(np.abs(flat), axis=-1)
    out = np.zeros_like(flat)
    out[rows, idx] = flat[rows, idx]
    return out.reshape(g.shape)


@dataclass
class SteepestResult(GDResult):
    """A :class:`~ibcore.train.GDResult` of :func:`steepest_descent`, plus the ``norm`` used.

    ``w`` and ``beta`` coincide (the predictor is linear), as unit-ℓ2 directions;
    ``margin`` is the ℓ2-normalized margin; use :func:`normalized_margin` for the others.
    """

    norm: str = "l2"


def steepest_descent(
    X,
    y,
    *,
    norm: str,
    steps: int,
    lr: float,
    schedule: str = "constant",
    loss: str = "exp",
    init=None,
    record=60,
    progress: bool | None = None,
) -> SteepestResult:
    r"""Steepest descent w.r.t. ``norm`` on the linear predictor (module docstring).

    ``init``: ``None`` (:math:`\boldsymbol\beta(0) = 0`, the default) or a start of shape
    ``(D,)`` or ``(B, D)`` (a batch runs B independent descents).  ``record``: as in
    :func:`ibcore.train.gradient_descent`; records at a zero predictor (iteration 0 from
    :math:`\boldsymbol\beta(0) = 0`) are skipped, since it has no direction.
    ``progress``: a progress bar on stderr, as in :func:`ibcore.train.gradient_descent` (``None``:
    in a terminal or a Jupyter kernel once the run has lasted 2 s; ``IBCORE_PROGRESS=0`` silences it).

    Raises ``NotSeparableError`` for non-separable data, ``DivergenceError`` when a constant
    step makes the loss explode, and ``IbcoreValueError``/``ShapeError``/``IbcoreTypeError``
    for bad arguments (an unknown ``norm`` or ``schedule`` among them).
    """
    X, y = check_dataset(X, y)
    check_choice("norm", norm, set(NORMS))
    check_choice("schedule", schedule, STEEPEST_SCHEDULES)
    check_choice("loss", loss, LOSSES)
    steps = check_positive_int("steps", steps)
    rule = make_rule(schedule, lr)
    linear = FullyConnected(X.shape[1], 1)
    # None: beta(0) = 0, unlike gradient_descent's seed 0
    w0, batched = (np.zeros((1, X.shape[1])), False) if init is None else _initial(linear, as_float_array("init", init, ndim=(1, 2)), 1.0)
    _check_separable(X, y)

    u, sigma = split_scale(w0, allow_zero=True)  # beta(0) = 0: u = 0, sigma = 0 (the first step makes it unit)
    # The linear predictor in its own coordinates: the l1 and linf steps are not invariant under the
    # isometries other coordinates apply (module docstring).
    coords = _Coordinates(linear, X * y[:, None])
    run = _descend(coords, u, sigma, L=1, steps=steps, rule=rule, loss=loss, pts=_record_points(steps, record),
                   batched=batched, direction=_direction_map(norm), skip_zero=True, name="steepest descent",
                   progress=progress)
    return SteepestResult(**{f.name: getattr(run, f.name) for f in fields(GDResult)}, norm=norm)


def _direction_map(norm: str):
    """The engine's ``direction`` for ``norm``: the steepest step for the loss weights' pullback ``v`` (B, D)."""

    def direction(v, t):
        d = steepest_step(v, norm)
        if not np.sqrt(np.sum(d * d, axis=1)).all():
            raise IbcoreValueError(f"the loss gradient vanished at iteration {t}; the data are degenerate")
        return d

    return direction


# --------------------------------------------------------------------------- the max-margin LPs


@dataclass(frozen=True)
class MaxMargin:
    r"""The largest normalized margin in a norm, with a duality certificate.

    ``beta``: one maximizer, scaled to unit norm (``norm``); ``margin``: its normalized
    margin :math:`\gamma`, recomputed in float64; ``dual``: multipliers :math:`p\ge0`,
    :math:`\sum_n p_n = 1`; ``dual_margin``: :math:`\|\sum_n p_n y_n\mathbf x_n\|_*`, an upper
    bound on every normalized margin (weak duality); ``gap = dual_margin - margin``.
    The maximizer need not be unique (the margin is); compare margins, not directions.
    """

    beta: np.ndarray
    margin: float
    dual: np.ndarray
    dual_margin: float
    gap: float
    norm: str


def _certify(name: str, X, y, beta, p, norm: str) -> MaxMargin:
    """Recompute both bounds in float64 from the solver's primal and dual; raise if they do not meet."""
    p = np.maximum(np.asarray(p, dtype=np.float64), 0.0)
    if not np.isfinite(p).all() or p.sum() <= 0:
        raise SolverError(f"{name}: the LP returned no usable multipliers")
    p = p / p.sum()
    scale = norm_of(beta, norm)
    if not np.isfinite(scale) or scale <= 0:
        raise SolverError(f"{name}: the LP returned a zero or non-finite predictor")
    beta = beta / scale
    margin = float(np.min(y * (X @ beta)))
    dual_margin = float(norm_of((p * y) @ X, _DUAL[norm]))
    gap = dual_margin - margin
    if not gap <= LP_GAP_TOL * max(1.0, abs(margin)) or gap < -LP_GAP_TOL * max(1.0, abs(margin)):
        raise SolverError(f"{name}: primal margin {margin:.12g} and dual bound {dual_margin:.12g} differ by {gap:.2e}")
    return MaxMargin(beta, margin, p, dual_margin, gap, norm)


def _highs(name: str, cost, A_ub, b_ub, bounds, n_samples: int):
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs",
                  options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    if res.status != 0 or res.x is None:
        raise SolverError(f"{name}: HiGHS status {res.status} ({res.message})")
    return res.x, -np.asarray(res.ineqlin.marginals[:n_samples])


def max_margin_l1(X, y) -> MaxMargin:
    r"""The ℓ1 max margin :math:`\gamma_1 = \max_{\|\boldsymbol\beta\|_1\le1}\min_n y_n\langle\mathbf x_n,\boldsymbol\beta\rangle` (an LP, HiGHS).

    Variables :math:`\boldsymbol\beta^\pm\ge0`, :math:`t`: maximize :math:`t` s.t.
    :math:`y_n\langle\mathbf x_n,\boldsymbol\beta^+-\boldsymbol\beta^-\rangle\ge t`,
    :math:`\mathbf 1^\top(\boldsymbol\beta^++\boldsymbol\beta^-)\le1`.  Its dual is
    :math:`\min_{p\in\Delta}\|\sum_n p_n y_n\mathbf x_n\|_\infty`, and the result carries both
    values (:class:`MaxMargin`).  Raises ``NotSeparableError`` for non-separable data and
    ``SolverError`` if HiGHS does not report an optimum or the duality gap exceeds ``LP_GAP_TOL``.
    """
    from .data import check_separable

    X, y = check_dataset(X, y)
    check_separable(X, y)
    N, D = X.shape
    A = y[:, None] * X
    cost = np.zeros(2 * D + 1)
    cost[-1] = -1.0
    A_ub = np.vstack([np.hstack([-A, A, np.ones((N, 1))]), np.concatenate([np.ones(2 * D), [0.0]])[None, :]])
    b_ub = np.concatenate([np.zeros(N), [1.0]])
    x, p = _highs("max_margin_l1", cost, A_ub, b_ub, [(0, None)] * (2 * D) + [(None, None)], N)
    return _certify("max_margin_l1", X, y, x[:D] - x[D:2 * D], p, "l1")


def max_margin_linf(X, y) -> MaxMargin:
    r"""The ℓ∞ max margin :math:`\gamma_\infty = \max_{\|\boldsymbol\beta\|_\infty\le1}\min_n y_n\langle\mathbf x_n,\boldsymbol\beta\rangle` (an LP, HiGHS).

    Variables :math:`-1\le\beta_i\le1`, :math:`t`: maximize :math:`t` s.t.
    :math:`y_n\langle\mathbf x_n,\boldsymbol\beta\rangle\ge t`; dual
    :math:`\min_{p\in\Delta}\|\sum_n p_n y_n\mathbf x_n\|_1`.  Raises as :func:`max_margin_l1`.
    """
    from .data import check_separable

    X, y = check_dataset(X, y)
    check_separable(X, y)
    N, D = X.shape
    A = y[:, None] * X
    cost = np.zeros(D + 1)
    cost[-1] = -1.0
    x, p = _highs("max_margin_linf", cost, np.hstack([-A, np.ones((N, 1))]), np.zeros(N),
                  [(-1.0, 1.0)] * D + [(None, None)], N)
    return _certify("max_margin_linf", X, y, x[:D], p, "linf")


def max_margin(X, y, norm: str) -> MaxMargin:
    """:func:`max_margin_l1`, :func:`max_margin_linf`, or for ``"l2"`` the hard-margin SVM
    (:func:`ibcore.limits.hard_margin_svm`, margin ``1 / ||beta||``, dual ``alpha / sum(alpha)``)."""
    check_choice("norm", norm, set(NORMS))
    if norm == "l1":
        return max_margin_l1(X, y)
    if norm == "linf":
        return max_margin_linf(X, y)
    from .limits import hard_margin_svm

    X, y = check_dataset(X, y)
    svm = hard_margin_svm(X, y)
    return _certify("max_margin (l2)", X, y, svm.beta, svm.alpha, "l2")
