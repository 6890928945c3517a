r"""The squared loss on an under-determined regression problem, and the interpolants it can reach.

Data :math:`X\in\mathbb R^{N\times D}` with :math:`N < D` and real targets :math:`\mathbf t\in\mathbb R^N`.
Unlike the exponential loss on separable data, the squared loss

.. math::
    \mathcal L_{\mathcal P}(\mathbf w) = \tfrac12\big\|X\mathcal P(\mathbf w) - \mathbf t\big\|_2^2

*has* minimizers: every interpolant :math:`X\boldsymbol\beta = \mathbf t`, an affine subspace of
dimension :math:`D - N`.  Gradient descent converges (for small steps) to one of them, with
finite weights, and which one depends on the parameterization **and on the initialization**:

- depth 1 (:math:`\boldsymbol\beta = \mathbf w`) from :math:`\mathbf w(0) = 0`: every gradient
  :math:`X^\top(X\mathbf w - \mathbf t)` lies in the row space of :math:`X`, so the iterates do, and
  the only interpolant there is the minimum-:math:`\ell_2`-norm one,
  :math:`X^+\mathbf t` (:func:`min_norm_interpolant`);
- the signed diagonal network :math:`\boldsymbol\beta = \mathbf u^{\odot2} - \mathbf v^{\odot2}` from
  :math:`\mathbf u = \mathbf v = \alpha\mathbf 1` (:class:`ibcore.signed.SignedDiagonal`): gradient flow reaches
  the minimizer of a potential :math:`Q_\alpha` over the interpolants, which tends to the
  minimum-:math:`\ell_1` interpolant (:func:`min_l1_interpolant`) as :math:`\alpha\to0` and to the
  minimum-:math:`\ell_2` one as :math:`\alpha\to\infty` (Woodworth et al. 2020).

:func:`squared_gd` runs plain gradient descent (the weights stay bounded, so no scale and
direction split is needed) for any :mod:`ibcore.nets` parameterization, batched over
initializations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

from ._checks import as_float_array, check_params, check_positive_float, check_positive_int, check_samples
from .errors import DivergenceError, IbcoreTypeError, IbcoreValueError, ShapeError, SolverError
from ._engine import _record_points
from .nets import Parameterization

__all__ = ["RegressionResult", "check_regression", "min_l1_interpolant", "min_norm_interpolant", "q_alpha_gradient", "squared_gd"]


def check_regression(X, t) -> tuple[np.ndarray, np.ndarray]:
    """Validate a regression problem: ``X`` (N, D) and targets ``t`` (N,), finite, with N >= 1."""
    return check_samples(X, "t", t, "targets")


def min_norm_interpolant(X, t) -> np.ndarray:
    r""":math:`X^+\mathbf t`, the interpolant of least :math:`\ell_2` norm (raises if none interpolates)."""
    X, t = check_regression(X, t)
    beta = np.linalg.pinv(X) @ t
    if np.linalg.norm(X @ beta - t) > 1e-9 * max(1.0, np.linalg.norm(t)):
        raise IbcoreValueError("no predictor interpolates the targets (X does not have full row rank)")
    return beta


def min_l1_interpolant(X, t) -> np.ndarray:
    r"""The minimizer of :math:`\|\boldsymbol\beta\|_1` s.t. :math:`X\boldsymbol\beta = \mathbf t`.

    Written as a linear program in :math:`\boldsymbol\beta = \mathbf p - \mathbf q`,
    :math:`\mathbf p, \mathbf q\ge0`: minimize :math:`\mathbf 1^\top(\mathbf p + \mathbf q)` s.t.
    :math:`X(\mathbf p - \mathbf q) = \mathbf t` (HiGHS).  The minimizer need not be unique; the
    solver returns a vertex.
    """
    X, t = check_regression(X, t)
    D = X.shape[1]
    res = linprog(np.ones(2 * D), A_eq=np.hstack([X, -X]), b_eq=t, bounds=[(0, None)] * (2 * D), method="highs")
    if res.status != 0:
        raise SolverError(f"the min-l1 interpolation LP failed: {res.message}")
    return res.x[:D] - res.x[D:]


def q_alpha_gradient(beta, alpha: float) -> np.ndarray:
    r""":math:`\nabla Q_\alpha(\boldsymbol\beta) = \operatorname{arcsinh}(\boldsymbol\beta / (2\alpha^2))`.

    For the depth-2 signed diagonal net from :math:`\mathbf u = \mathbf v = \alpha\mathbf 1`, gradient
    flow keeps :math:`\boldsymbol\beta(t) = 2\alpha^2\sinh(X^\top\boldsymbol\lambda(t))` for some
    :math:`\boldsymbol\lambda(t)`, so this gradient stays in the row space of :math:`X`: at an
    interpolant, that is the optimality condition of :math:`\min Q_\alpha` s.t. :math:`X\boldsymbol\beta=\mathbf t`.
    """
    alpha = check_positive_float("alpha", alpha)
    return np.arcsinh(as_float_array("beta", beta) / (2.0 * alpha**2))


@dataclass
class RegressionResult:
    """Outcome of :func:`squared_gd`: final ``w`` and ``beta`` (with a leading batch axis if batched),
    ``loss`` (final :math:`\\tfrac12\\|X\\beta - t\\|^2`), and ``history`` (``iteration``, ``loss``, ``beta``)."""

    w: np.ndarray
    beta: np.ndarray
    loss: np.ndarray | float
    history: dict = field(repr=False)


def squared_gd(net: Parameterization, X, t, *, init, steps: int, lr: float, record: int = 40) -> RegressionResult:
    r"""Gradient descent :math:`\mathbf w \leftarrow \mathbf w - \eta\nabla\tfrac12\|X\mathcal P(\mathbf w) - \mathbf t\|^2`.

    ``init`` is explicit (parameters (P,) or a batch (B, P); zero is allowed, unlike in
    :func:`ibcore.train.gradient_descent`, because nothing here divides by :math:`\|\mathbf w\|`).
    Raises :class:`~ibcore.errors.DivergenceError` naming ``lr`` and the iteration if the loss
    grows by more than a factor 1e8 over its start or becomes non-finite.
    """
    if not isinstance(net, Parameterization):
        raise IbcoreTypeError(f"net must be an ibcore.nets parameterization, got {type(net).__name__}")
    X, t = check_regression(X, t)
    if X.shape[1] != net.dim:
        raise ShapeError(f"X has {X.shape[1]} features but net.dim is {net.dim}")
    steps = check_positive_int("steps", steps)
    lr = check_positive_float("lr", lr)
    pts = set(_record_points(steps, record).tolist())  # the engine's log-spaced records, 0 and steps included
    w, batched = check_params("init", init, net.n_params)
    w = w.copy()
    hist = {"iteration": [], "loss": [], "beta": []}
    start = None
    for it in range(steps + 1):
        beta, pullback = net._linearize(w)
        r = beta @ X.T - t  # (B, N) residuals
        loss = 0.5 * np.sum(r**2, axis=1)
        if start is None:
            start = np.maximum(loss, 1e-300)
        if not np.all(np.isfinite(loss)) or np.any(loss > 1e8 * start + 1e-12):
            raise DivergenceError(
                f"squared-loss gradient descent diverged at iteration {it} with step lr={lr}: the loss grew "
                "by more than a factor 1e8; use a smaller lr"
            )
        if it in pts:
            hist["iteration"].append(it)
            hist["loss"].append(loss.copy())
            hist["beta"].append(beta.copy())
        if it == steps:
            break
        w = w - lr * pullback(r @ X)
    history = {k: np.array(v) if k == "iteration" else np.stack(v) for k, v in hist.items()}
    if not batched:
        history["loss"], history["beta"] = history["loss"][:, 0], history["beta"][:, 0]
        return RegressionResult(w[0], history["beta"][-1], float(history["loss"][-1]), history)
    return RegressionResult(w, history["beta"][-1], history["loss"][-1], history)
