r"""Multi-class linear predictors: cross-entropy gradient descent and the multi-class hard-margin SVM.

A linear multi-class predictor is a matrix :math:`W\in\mathbb R^{C\times D}` scoring class :math:`c` by
:math:`\langle\mathbf w_c, \mathbf x\rangle`.  The multi-class margins of a sample are the
:math:`C-1` differences :math:`m_{n,c} = \langle\mathbf w_{k_n} - \mathbf w_c, \mathbf x_n\rangle`,
:math:`c\ne k_n` (``labels[n] = k_n``), and the cross-entropy is

.. math::
    \mathcal L(W) = \sum_n \log\Big(1 + \sum_{c\ne k_n} e^{-m_{n,c}}\Big),
    \qquad -\nabla\mathcal L(W) = \sum_n\sum_{c\ne k_n} q_{n,c}\,(\mathbf e_{k_n} - \mathbf e_c)\mathbf x_n^\top,
    \quad q_{n,c} = \frac{e^{-m_{n,c}}}{1 + \sum_{c'\ne k_n}e^{-m_{n,c'}}}.

When the data are separable (some :math:`W` has every :math:`m_{n,c} > 0`) the loss has no
minimizer and, as in :mod:`ibcore.train`, the weights are kept as a log-scale and a unit
(Frobenius) direction, :math:`W = e^\sigma U`; the pair weights :math:`q_{n,c}` are formed in
log space (:func:`cross_entropy_terms`), so nothing underflows.  Soudry et al. (2018) show that
gradient descent converges in direction to the **multi-class hard-margin SVM**
(:func:`multiclass_svm`),

.. math::
    \min_W \tfrac12\|W\|_F^2 \quad\text{s.t.}\quad \langle\mathbf w_{k_n} - \mathbf w_c, \mathbf x_n\rangle \ge 1
    \quad (n,\ c\ne k_n).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np

from ._checks import as_float_array, as_rng, check_choice, check_positive_float, check_positive_int
from .errors import DivergenceError, IbcoreTypeError, IbcoreValueError, NotSeparableError, ShapeError, SolverError
from .losses import LOG_SCALE_CAP

__all__ = [
    "MC_SCHEDULES",
    "CrossEntropyTerms",
    "MulticlassResult",
    "MulticlassSVM",
    "angles_at_equal_loss",
    "check_multiclass",
    "cross_entropy_gd",
    "cross_entropy_terms",
    "multiclass_margins",
    "multiclass_svm",
    "random_classes",
]

MC_SCHEDULES = frozenset({"constant", "normalized"})


def check_multiclass(X, labels, n_classes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate ``X`` (N, D), integer ``labels`` (N,) in {0, ..., n_classes - 1}, ``n_classes`` >= 2."""
    X = as_float_array("X", X, ndim=2)
    n_classes = check_positive_int("n_classes", n_classes, minimum=2)
    lab = np.asarray(labels)
    if lab.ndim != 1 or not np.issubdtype(lab.dtype, np.integer):
        raise IbcoreTypeError(f"labels must be a 1-D array of integers, got dtype {lab.dtype} and shape {lab.shape}")
    if lab.shape[0] != X.shape[0] or X.shape[0] == 0:
        raise ShapeError(f"X has {X.shape[0]} rows but labels has {lab.shape[0]} entries; they must match and be > 0")
    if lab.min() < 0 or lab.max() >= n_classes:
        raise IbcoreValueError(f"labels must lie in 0..{n_classes - 1}, got values from {lab.min()} to {lab.max()}")
    return X, lab.astype(np.int64), n_classes


def random_classes(n_samples: int, dim: int, n_classes: int, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian points (N, D) with uniformly random labels in which every class occurs (seeded).

    With ``n_samples <= dim`` the points are linearly independent (almost surely), so any
    labelling is separable: some W puts any prescribed scores on them.
    """
    n_samples = check_positive_int("n_samples", n_samples)
    dim = check_positive_int("dim", dim)
    n_classes = check_positive_int("n_classes", n_classes, minimum=2)
    if n_classes > n_samples:
        raise IbcoreValueError(f"n_classes={n_classes} exceeds n_samples={n_samples}: some class would be empty")
    rng = as_rng("seed", seed)
    X = rng.standard_normal((n_samples, dim))
    labels = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, n_samples - n_classes)])
    return X, rng.permutation(labels)


def multiclass_margins(W, X, labels) -> np.ndarray:
    r"""Pair margins :math:`m_{n,c}` (N, C-1), or (B, N, C-1) for a batch of W (B, C, D); columns skip :math:`c = k_n`."""
    W = np.asarray(W, dtype=np.float64)
    scores = np.einsum("...cd,nd->...nc", W, X)
    C = W.shape[-2]
    N = X.shape[0]
    own = np.take_along_axis(scores, np.broadcast_to(labels[:, None], scores.shape[:-1] + (1,)), axis=-1)
    others = np.array([[c for c in range(C) if c != k] for k in labels])  # (N, C-1)
    rival = np.take_along_axis(scores, np.broadcast_to(others, scores.shape[:-2] + (N, C - 1)), axis=-1)
    return own - rival


@dataclass(frozen=True)
class CrossEntropyTerms:
    """``log_loss`` (float), ``weights`` (N, C-1) summing to 1, ``log_grad_mass`` = log sum q_{n,c}."""

    log_loss: float
    weights: np.ndarray
    log_grad_mass: float


def _logsumexp(a: np.ndarray, axis=None) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(top, axis=axis) + np.log(np.sum(np.exp(a - top), axis=axis))


def cross_entropy_terms(m: np.ndarray, log_scale: float) -> CrossEntropyTerms:
    r"""Cross-entropy terms at unit-direction pair margins ``m`` (N, C-1) and scale :math:`e^{\text{log\_scale}}`.

    With :math:`a = s\,m` and :math:`z_n = \log\sum_c e^{-a_{n,c}}` (a log-sum-exp, finite for any
    finite :math:`a`): :math:`\log q_{n,c} = -a_{n,c} - \operatorname{softplus}(z_n)` and the
    per-sample loss is :math:`\operatorname{softplus}(z_n) = \log(1 + e^{z_n})`, whose log is
    :math:`z_n + \log(\log(1+e^{z_n})/e^{z_n})`, computed as :math:`z_n` (error below
    :math:`e^{z_n}/2 < 10^{-13}`) once :math:`z_n < -30`, where :math:`\log(1+e^{z})` underflows.
    ``log_scale`` is capped at :data:`ibcore.losses.LOG_SCALE_CAP` as in the binary engine.
    """
    s = np.exp(min(float(log_scale), LOG_SCALE_CAP))
    with np.errstate(over="ignore"):
        a = np.clip(s * m, -1e300, 1e300)
    z = _logsumexp(-a, axis=1)  # (N,)
    softplus_z = np.logaddexp(0.0, z)
    log_q = -a - softplus_z[:, None]
    log_mass = float(_logsumexp(log_q.ravel()))
    weights = np.exp(log_q - log_mass)
    log_l = np.where(z < -30.0, z, np.log(np.where(z < -30.0, 1.0, softplus_z)))
    return CrossEntropyTerms(float(_logsumexp(log_l)), weights, log_mass)


@dataclass
class MulticlassResult:
    """Outcome of :func:`cross_entropy_gd`: unit-Frobenius direction ``W`` (C, D), ``log_norm_W``,
    ``log_loss``, normalized ``margin`` (min pair margin of the unit direction) and ``history``
    (``iteration``, ``log_loss``, ``margin``, ``log_norm_W``, ``W``)."""

    W: np.ndarray
    log_norm_W: float
    log_loss: float
    margin: float
    history: dict = field(repr=False)


def cross_entropy_gd(
    X, labels, n_classes: int, *, steps: int, lr: float, schedule: str = "constant", init=0, init_scale: float = 1.0, record: int = 60
) -> MulticlassResult:
    r"""Gradient descent on the multi-class cross-entropy of a linear predictor :math:`W`.

    ``schedule="constant"``: :math:`W\leftarrow W - \eta\nabla\mathcal L(W)` with :math:`\eta` = ``lr``.
    ``"normalized"``: :math:`\eta_t = \text{lr}/\mathcal L(W_t)`, the normalized GD of Nacson et al.
    (2019), a reparameterization of gradient flow with unbounded steps, for speed.
    ``init``: an int seed or Generator (Gaussian, Frobenius norm ``init_scale``) or a (C, D) array.
    Raises :class:`~ibcore.errors.DivergenceError` naming the step and iteration if the loss grows
    by a factor :math:`e^{20}` over its start.
    """
    X, labels, C = check_multiclass(X, labels, n_classes)
    steps = check_positive_int("steps", steps)
    lr = check_positive_float("lr", lr)
    init_scale = check_positive_float("init_scale", init_scale)
    record = check_positive_int("record", record, minimum=2)
    check_choice("schedule", schedule, MC_SCHEDULES)
    D = X.shape[1]
    if isinstance(init, (int, np.integer, np.random.Generator)) and not isinstance(init, bool):
        W0 = as_rng("init", init).standard_normal((C, D))
        W0 *= init_scale / np.linalg.norm(W0)
    else:
        W0 = as_float_array("init", init, ndim=2)
        if W0.shape != (C, D):
            raise ShapeError(f"init must have shape (n_classes, D) = {(C, D)}, got {W0.shape}")
    norm0 = np.linalg.norm(W0)
    if norm0 == 0:
        raise IbcoreValueError("init is the zero matrix: it has no direction (take one gradient step by hand, or a small random init)")
    U, sigma = W0 / norm0, float(np.log(norm0))
    E = np.eye(C)
    others = np.array([[c for c in range(C) if c != k] for k in labels])
    # G_{n,c} = (e_k - e_c) x_n^T, the gradient of the pair margin m_{n,c} with respect to W.
    diff = E[labels][:, None, :] - E[others]  # (N, C-1, C)
    pts = set(np.unique(np.round(np.logspace(0, np.log10(steps), record - 1)).astype(int)).tolist()) | {0, steps}
    hist = {k: [] for k in ("iteration", "log_loss", "margin", "log_norm_W", "W")}
    start = None
    for t in range(steps + 1):
        m = multiclass_margins(U, X, labels)
        terms = cross_entropy_terms(m, sigma)
        if start is None:
            start = terms.log_loss
        if t in pts:
            for k, v in (("iteration", t), ("log_loss", terms.log_loss), ("margin", m.min()), ("log_norm_W", sigma), ("W", U.copy())):
                hist[k].append(v)
        if t == steps:
            break
        if schedule == "constant" and (not np.isfinite(terms.log_loss) or terms.log_loss > start + 20.0):
            raise DivergenceError(
                f"cross-entropy gradient descent diverged at iteration {t} with constant step lr={lr}: the loss rose by "
                "more than a factor e^20 over its starting value; use a smaller lr"
            )
        V = np.einsum("nc,nck,nd->kd", terms.weights, diff, X)  # descent direction per unit gradient mass
        vnorm = np.linalg.norm(V)
        log_eta = np.log(lr) - (terms.log_loss if schedule == "normalized" else 0.0)
        log_c = log_eta + terms.log_grad_mass - min(sigma, LOG_SCALE_CAP) + np.log(vnorm)
        if log_c > 700.0:
            raise DivergenceError(f"cross-entropy gradient descent diverged at iteration {t} (lr={lr}): step beyond float64")
        Unew = U + np.exp(log_c) * V / vnorm
        n = np.linalg.norm(Unew)
        U, sigma = Unew / n, min(sigma + float(np.log(n)), LOG_SCALE_CAP)
    history = {k: np.array(v) for k, v in hist.items()}
    return MulticlassResult(U, sigma, history["log_loss"][-1], float(history["margin"][-1]), history)


@dataclass(frozen=True)
class MulticlassSVM:
    """The multi-class hard-margin SVM: ``W`` (C, D) at margin 1, multipliers ``alpha`` (N, C-1) >= 0,
    ``value`` = (1/2)||W||_F^2, and the KKT ``residual`` ||W - sum alpha_{n,c} (e_k - e_c) x_n^T|| / ||W||."""

    W: np.ndarray
    alpha: np.ndarray
    value: float
    residual: float


def multiclass_svm(X, labels, n_classes: int) -> MulticlassSVM:
    r"""Solve :math:`\min\tfrac12\|W\|_F^2` s.t. :math:`\langle\mathbf w_{k_n} - \mathbf w_c, \mathbf x_n\rangle\ge1` (cvxpy, Clarabel).

    Its KKT conditions, which ``residual`` checks with the solver's duals, are
    :math:`W = \sum_{n,c}\alpha_{n,c}(\mathbf e_{k_n} - \mathbf e_c)\mathbf x_n^\top` with
    :math:`\alpha\ge0`, zero where the constraint is slack: the SVM is a non-negative combination
    of the gradients of its active pair margins, which is what the normalized gradient of the
    cross-entropy becomes as the scale grows.  Raises :class:`~ibcore.errors.NotSeparableError`
    when no W separates the classes.
    """
    X, labels, C = check_multiclass(X, labels, n_classes)
    W = cp.Variable((C, X.shape[1]))
    scores = X @ W.T  # (N, C)
    others = [[c for c in range(C) if c != k] for k in labels]
    rows = np.repeat(np.arange(X.shape[0]), C - 1)
    cols_own = np.repeat(labels, C - 1)
    cols_other = np.array(others).ravel()
    margin = cp.hstack([scores[r, a] - scores[r, b] for r, a, b in zip(rows, cols_own, cols_other)])
    constraint = margin >= 1
    problem = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(W)), [constraint])
    try:
        problem.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as exc:  # pragma: no cover - solver failure
        raise SolverError(f"the multi-class SVM QP failed: {exc}") from exc
    if problem.status in ("infeasible", "infeasible_inaccurate"):
        raise NotSeparableError("no linear multi-class predictor separates these classes: the SVM QP is infeasible")
    if problem.status != "optimal":
        raise SolverError(f"the multi-class SVM QP ended with status {problem.status}")
    Wv = np.asarray(W.value)
    alpha = np.maximum(np.asarray(constraint.dual_value).reshape(X.shape[0], C - 1), 0.0)
    E = np.eye(C)
    diff = E[labels][:, None, :] - E[np.array(others)]
    rebuilt = np.einsum("nc,nck,nd->kd", alpha, diff, X)
    return MulticlassSVM(Wv, alpha, float(problem.value), float(np.linalg.norm(Wv - rebuilt) / np.linalg.norm(Wv)))


def angles_at_equal_loss(reference: MulticlassResult, other: MulticlassResult) -> tuple[np.ndarray, np.ndarray]:
    """Angle (degrees) between two runs' directions ``W`` at equal loss, as :func:`ibcore.experiments.angles_at_equal_loss`.

    The loss labels the points of the gradient-flow path whatever the schedule; for every
    record of ``reference`` whose log-loss ``other`` also passes, ``other``'s direction is
    interpolated linearly in log-loss between its bracketing records (record it densely).
    Returns ``(log_loss, angles)``; ``other``'s log-loss must be non-increasing.
    """
    from . import angle

    for name, r in (("reference", reference), ("other", other)):
        if not isinstance(r, MulticlassResult):
            raise IbcoreTypeError(f"{name} must be a MulticlassResult, got {type(r).__name__}")
    lr_, Wr = reference.history["log_loss"], reference.history["W"]
    lo, Wo = other.history["log_loss"], other.history["W"]
    if np.any(np.diff(lo) > 1e-12 * np.maximum(1.0, np.abs(lo[:-1]))):
        raise IbcoreValueError("other's loss increases somewhere; it is not following a descent path")
    keep = (lr_ <= lo[0]) & (lr_ >= lo[-1])
    if not np.any(keep):
        raise IbcoreValueError("the two runs share no range of loss")
    lr_, Wr = lr_[keep], Wr[keep]
    # lo is non-increasing: search in -lo, which is non-decreasing
    j = np.clip(np.searchsorted(-lo, -lr_), 1, lo.size - 1)
    span = np.where(lo[j - 1] > lo[j], lo[j - 1] - lo[j], 1.0)
    frac = np.clip((lo[j - 1] - lr_) / span, 0.0, 1.0)[:, None, None]
    interp = (1 - frac) * Wo[j - 1] + frac * Wo[j]
    return lr_, np.atleast_1d(angle(Wr.reshape(len(lr_), -1), interp.reshape(len(lr_), -1)))
