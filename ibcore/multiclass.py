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

The descent itself is the engine of :mod:`ibcore.train` (``ibcore._engine._descend``): :math:`W` is
the depth-1 linear predictor :math:`\operatorname{vec}W` (row-major) on the **pair rows**
:math:`\mathbf z_{n,c} = \operatorname{vec}\big((\mathbf e_{k_n} - \mathbf e_c)\mathbf x_n^\top\big)` (:func:`pair_rows`),
whose margins :math:`\langle\mathbf z_{n,c}, \operatorname{vec}W\rangle` are the pair margins
:math:`m_{n,c}`; only the loss differs from the binary engine's: :class:`CrossEntropyLoss`
groups the pair margins by sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np

from ._checks import as_float_array, as_rng, check_choice, check_positive_float, check_positive_int
from ._schedules import make_rule
from .errors import IbcoreTypeError, IbcoreValueError, NotSeparableError, ShapeError, SolverError
from .losses import LOG_SCALE_CAP, LossTerms
from .nets import FullyConnected
from ._engine import _descend, _record_points

__all__ = [
    "MC_SCHEDULES",
    "CrossEntropyLoss",
    "CrossEntropyTerms",
    "MulticlassResult",
    "MulticlassSVM",
    "angles_at_equal_loss",
    "check_multiclass",
    "cross_entropy_gd",
    "cross_entropy_terms",
    "multiclass_margins",
    "multiclass_svm",
    "pair_rows",
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
    others = _rivals(labels, C)
    rival = np.take_along_axis(scores, np.broadcast_to(others, scores.shape[:-2] + (N, C - 1)), axis=-1)
    return own - rival


def _rivals(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The rival classes of each sample, (N, C-1): the columns of the pair margins, in order."""
    return np.array([[c for c in range(n_classes) if c != k] for k in labels], dtype=np.int64).reshape(len(labels), n_classes - 1)


def _pair_differences(labels: np.ndarray, n_classes: int) -> np.ndarray:
    r""":math:`\mathbf e_{k_n} - \mathbf e_c` (N, C-1, C), the gradient of :math:`m_{n,c}` is this times :math:`\mathbf x_n^\top`."""
    E = np.eye(n_classes)
    return E[labels][:, None, :] - E[_rivals(labels, n_classes)]


def pair_rows(X, labels, n_classes: int) -> np.ndarray:
    r"""The pair rows :math:`\mathbf z_{n,c} = \operatorname{vec}\big((\mathbf e_{k_n} - \mathbf e_c)\mathbf x_n^\top\big)`, (N (C-1), C D).

    Row-major, in the order of the columns of :func:`multiclass_margins` (sample by sample),
    so that ``pair_rows(X, labels, C) @ W.ravel()`` is ``multiclass_margins(W, X, labels).ravel()``.
    """
    X, labels, C = check_multiclass(X, labels, n_classes)
    rows = _pair_differences(labels, C)[:, :, :, None] * X[:, None, None, :]  # (N, C-1, C, D)
    return rows.reshape(X.shape[0] * (C - 1), C * X.shape[1])


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
    terms = _cross_entropy_batch(np.asarray(m, dtype=np.float64)[None], np.array([float(log_scale)]))
    return CrossEntropyTerms(float(terms.log_loss[0]), terms.weights[0], float(terms.log_grad_mass[0]))


def _cross_entropy_batch(m: np.ndarray, log_scale: np.ndarray) -> LossTerms:
    """:func:`cross_entropy_terms` for a batch: margins (B, N, C-1), log-scales (B,); terms (B,), weights (B, N, C-1)."""
    s = np.exp(np.minimum(log_scale, LOG_SCALE_CAP))[:, None, None]
    with np.errstate(over="ignore"):
        a = np.clip(s * m, -1e300, 1e300)
    z = _logsumexp(-a, axis=2)  # (B, N)
    softplus_z = np.logaddexp(0.0, z)
    log_q = -a - softplus_z[:, :, None]
    log_mass = _logsumexp(log_q, axis=(1, 2))
    weights = np.exp(log_q - log_mass[:, None, None])
    log_l = np.where(z < -30.0, z, np.log(np.where(z < -30.0, 1.0, softplus_z)))
    return LossTerms(_logsumexp(log_l, axis=1), weights, log_mass)


class CrossEntropyLoss:
    r"""The multi-class cross-entropy as a loss object of the engine (module docstring of :mod:`ibcore.train`).

    Called with the margins ``m`` (B, N (C-1)) of the :func:`pair_rows` and log-scales (B,), it
    groups them by sample, (B, N, C-1), and returns the :func:`cross_entropy_terms` of each
    run, the weights :math:`q_{n,c}` normalized over all pairs and laid out as the rows.
    """

    name = "cross-entropy"

    def __init__(self, n_classes: int):
        self.n_classes = check_positive_int("n_classes", n_classes, minimum=2)

    def __call__(self, m: np.ndarray, log_scale_L: np.ndarray) -> LossTerms:
        runs, rows = m.shape
        if rows % (self.n_classes - 1):
            raise ShapeError(f"the pair margins must come C-1 = {self.n_classes - 1} per sample, got {rows} columns")
        terms = _cross_entropy_batch(m.reshape(runs, rows // (self.n_classes - 1), self.n_classes - 1), log_scale_L)
        return LossTerms(terms.log_loss, terms.weights.reshape(runs, rows), terms.log_grad_mass)

    def __repr__(self) -> str:
        return f"CrossEntropyLoss(n_classes={self.n_classes})"


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
    X,
    labels,
    n_classes: int,
    *,
    steps: int,
    lr: float,
    schedule: str = "constant",
    init=0,
    init_scale: float = 1.0,
    record: int = 60,
    progress: bool | None = None,
) -> MulticlassResult:
    r"""Gradient descent on the multi-class cross-entropy of a linear predictor :math:`W`.

    ``schedule="constant"``: :math:`W\leftarrow W - \eta\nabla\mathcal L(W)` with :math:`\eta` = ``lr``.
    ``"normalized"``: :math:`\eta_t = \text{lr}/\mathcal L(W_t)`, the normalized GD of Nacson et al.
    (2019), a reparameterization of gradient flow with unbounded steps, for speed.
    ``init``: an int seed or Generator (Gaussian, Frobenius norm ``init_scale``) or a (C, D) array.
    ``record``: the number of log-spaced iterations recorded (0 and ``steps`` always are).
    ``progress``: as in :func:`ibcore.train.gradient_descent`.

    The run is the engine of :mod:`ibcore.train` on the :func:`pair_rows` with the
    :class:`CrossEntropyLoss` (depth 1, where its ``"normalized"`` step is exactly this one).
    Raises :class:`~ibcore.errors.DivergenceError` naming the step and iteration if a constant step
    makes the loss grow by a factor :math:`e^{20}` over its start or goes beyond float64.
    """
    X, labels, C = check_multiclass(X, labels, n_classes)
    steps = check_positive_int("steps", steps)
    init_scale = check_positive_float("init_scale", init_scale)
    record = check_positive_int("record", record, minimum=2)
    check_choice("schedule", schedule, MC_SCHEDULES)
    rule = make_rule(schedule, lr)
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
    coords = FullyConnected(C * D, 1)._coordinates(pair_rows(X, labels, C))
    run = _descend(coords, (W0 / norm0).reshape(1, C * D), np.array([np.log(norm0)]), L=1, steps=steps, rule=rule,
                   loss=CrossEntropyLoss(C), pts=_record_points(steps, record), batched=False, progress=progress,
                   name="cross-entropy gradient descent")
    h = run.history
    history = {"iteration": h["iteration"], "log_loss": h["log_loss"], "margin": h["margin"],
               "log_norm_W": h["log_norm_w"], "W": h["beta"].reshape(-1, C, D)}
    return MulticlassResult(run.w.reshape(C, D), float(run.log_norm_w), run.log_loss, float(run.margin), history)


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
    rows = np.repeat(np.arange(X.shape[0]), C - 1)
    cols_own = np.repeat(labels, C - 1)
    cols_other = _rivals(labels, C).ravel()
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
    rebuilt = np.einsum("nc,nck,nd->kd", alpha, _pair_differences(labels, C), X)
    return MulticlassSVM(Wv, alpha, float(problem.value), float(np.linalg.norm(Wv - rebuilt) / np.linalg.norm(Wv)))


def angles_at_equal_loss(reference: MulticlassResult, other: MulticlassResult) -> tuple[np.ndarray, np.ndarray]:
    """Angle (degrees) between two runs' directions ``W`` at equal loss, as :func:`ibcore.experiments.angles_at_equal_loss`.

    The loss labels the points of the gradient-flow path whatever the schedule; for every
    record of ``reference`` whose log-loss ``other`` also passes, ``other``'s direction is
    interpolated linearly in log-loss between its bracketing records (record it densely).
    Returns ``(log_loss, angles)``; ``other``'s log-loss must be non-increasing.
    """
    from .experiments import _angles_at_equal_loss  # the same interpolation, on W flattened

    for name, r in (("reference", reference), ("other", other)):
        if not isinstance(r, MulticlassResult):
            raise IbcoreTypeError(f"{name} must be a MulticlassResult, got {type(r).__name__}")
    h, g = reference.history, other.history
    return _angles_at_equal_loss(h["log_loss"], h["W"], g["log_loss"], g["W"])
