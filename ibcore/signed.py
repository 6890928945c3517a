r"""The signed diagonal network of Woodworth et al. (2020) and Moroshko et al. (2020).

.. math::
    \boldsymbol\beta = \mathcal P_{\pm}(\mathbf u, \mathbf v) = \mathbf u^{\odot L} - \mathbf v^{\odot L},
    \qquad \mathbf u, \mathbf v \in \mathbb R^D,

started from :math:`\mathbf u = \mathbf v = \alpha\mathbf 1` (:meth:`SignedDiagonal.uniform_init`),
so that :math:`\boldsymbol\beta(0) = 0` whatever the *initialization scale* :math:`\alpha > 0`.
It is the simplest model in which :math:`\alpha` moves gradient descent between the
*kernel* regime (large :math:`\alpha`: the predictor barely moves the weights, and
training is gradient descent on a linear model with the fixed tangent kernel) and the
*rich* regime (small :math:`\alpha`: sparse, :math:`\ell_1`-like predictors).

It is a homogeneous polynomial of degree :math:`L` in :math:`\mathbf w = (\mathbf u, \mathbf v)`,
:math:`\mathcal P_\pm(a\mathbf w) = a^L\mathcal P_\pm(\mathbf w)` for every real :math:`a`,
so :func:`ibcore.train.gradient_descent` and the certificates of :mod:`ibcore.limits`
apply to it unchanged.  The exponent :math:`L` is the ``depth``: the model is a
depth-:math:`L` diagonal network whose :math:`L` layers are tied (each equal to
:math:`\mathbf u`), run side by side with a second, subtracted one (each layer :math:`\mathbf v`).

Closed form of the gradient (``vjp``):
:math:`\nabla_{\mathbf u}\langle\mathbf g, \boldsymbol\beta\rangle = L\,\mathbf u^{\odot(L-1)}\odot\mathbf g`,
:math:`\nabla_{\mathbf v}\langle\mathbf g, \boldsymbol\beta\rangle = -L\,\mathbf v^{\odot(L-1)}\odot\mathbf g`.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_choice, check_positive_float, check_positive_int
from ._schedules import make_rule
from .errors import ShapeError
from .losses import LOSSES
from .nets import Parameterization, SignedDiagonal
from ._engine import GDResult, _check_problem, _check_separable, _descend, _initial, _record_points, split_scale
from .train import unbatch

__all__ = ["PATH_SCHEDULES", "SignedDiagonal", "descent_path", "settling_loss", "transition_loss", "unbatch"]


# --------------------------------------------------------------------------- a path from beta = 0

#: Schedules of :func:`descent_path`.
PATH_SCHEDULES = frozenset({"constant", "loss-clock"})


def descent_path(
    net: Parameterization,
    X,
    y,
    *,
    init,
    steps: int,
    lr: float,
    schedule: str = "loss-clock",
    rate: float = 0.02,
    T: float = 1e4,
    loss: str = "exp",
    record=200,
    progress: bool | None = None,
) -> GDResult:
    r"""Gradient descent from ``init`` (e.g. :meth:`SignedDiagonal.uniform_init`), resolved in the loss.

    :func:`ibcore.train.gradient_descent` (the same engine and arithmetic), with the defaults
    written for the kernel-to-rich transition and two schedules:

    ``"loss-clock"`` (default)
        The relative step along :math:`-\nabla\mathcal L_{\mathcal P}` is
        :math:`c_t = \min\bigl(\kappa\,\rho/\rho',\ \delta_t\bigr)` with
        :math:`\rho = \max(\log(1/\mathcal L), 1)`, :math:`\rho' = d\rho/dc` to first order,
        :math:`\kappa` = ``rate`` and :math:`\delta_t = \text{lr}/(1 + t/T)`: see the module
        docstring of :mod:`ibcore.train` for the formula and why it is needed with a large
        initialization (the ``"angular"`` schedule's first step at :math:`\alpha = 100` jumps
        :math:`\log(1/\mathcal L)` from :math:`-\log N` to about :math:`5\cdot10^3`).  Like the angular
        schedule it is a **reparameterization of gradient flow, not the theorems' bounded steps**.
    ``"constant"``
        The paper's gradient descent, step :math:`\eta` = ``lr``.

    ``init`` must be parameters, shape ``(P,)`` or ``(B, P)`` (each row runs its own
    schedule).  Records at which some predictor is exactly zero (iteration 0 from
    :math:`\mathbf u = \mathbf v`) are skipped: :math:`\boldsymbol\beta = 0` has no direction.
    ``progress``: a progress bar on stderr, as in :func:`ibcore.train.gradient_descent` (``None``:
    in a terminal or a Jupyter kernel once the run has lasted 2 s; ``IBCORE_PROGRESS=0`` silences it).  Returns a :class:`~ibcore.train.GDResult` with ``schedule`` set
    to the one used.  Raises as ``gradient_descent`` does (``NotSeparableError``,
    ``DivergenceError`` for a constant step that makes the loss explode, bad arguments).
    """
    X, y = _check_problem(net, X, y)
    steps = check_positive_int("steps", steps)
    check_choice("schedule", schedule, PATH_SCHEDULES)
    rule = make_rule(schedule, lr, T, rate)
    check_choice("loss", loss, LOSSES)
    w0, batched = _initial(net, as_float_array("init", init, ndim=(1, 2)), 1.0)
    _check_separable(X, y)

    u, sigma = split_scale(w0)
    return _descend(net._coordinates(X * y[:, None]), u, sigma, L=net.depth, steps=steps, rule=rule, loss=loss,
                    pts=_record_points(steps, record), batched=batched, skip_zero=True,
                    progress=progress)


# --------------------------------------------------------------------------- reading a path


def _columns(name: str, a, rows: int | None = None) -> np.ndarray:
    arr = as_float_array(name, a, ndim=(1, 2))
    arr = arr[:, None] if arr.ndim == 1 else arr
    if rows is not None and arr.shape[0] != rows:
        raise ShapeError(f"{name} must have {rows} rows (one per record), got shape {arr.shape}")
    return arr


def transition_loss(log_inv_loss, to_kernel, to_rich) -> np.ndarray | float:
    r"""Where a run leaves the kernel regime: the first :math:`\log(1/\mathcal L)` at which its
    angle to the rich limit ``to_rich`` drops to its angle to the kernel limit ``to_kernel``.

    Arrays of shape (K,) (one run, K records in order) or (K, B) (B runs).  The crossing is
    located by linear interpolation of ``to_kernel - to_rich`` in :math:`\log\log(1/\mathcal L)`
    between the two records that bracket it, using records with :math:`\log(1/\mathcal L) > 0`
    only.  Returns NaN for a run whose first such record is already past the crossing (it
    starts in the rich regime) and ``inf`` for one that never crosses.
    """
    q = _columns("log_inv_loss", log_inv_loss)
    a = _columns("to_kernel", to_kernel, q.shape[0])
    b = _columns("to_rich", to_rich, q.shape[0])
    if not (q.shape == a.shape == b.shape):
        raise ShapeError(f"log_inv_loss, to_kernel and to_rich must have the same shape, got {q.shape}, {a.shape}, {b.shape}")
    out = np.full(q.shape[1], np.inf)
    for j in range(q.shape[1]):
        keep = q[:, j] > 0
        x, d = np.log(q[keep, j]), a[keep, j] - b[keep, j]
        hit = np.flatnonzero(d >= 0)
        if hit.size == 0:
            continue
        i = hit[0]
        if i == 0:
            out[j] = np.nan
            continue
        f = -d[i - 1] / (d[i] - d[i - 1])
        out[j] = float(np.exp(x[i - 1] + f * (x[i] - x[i - 1])))
    return float(out[0]) if np.ndim(log_inv_loss) == 1 else out


def settling_loss(log_inv_loss, angles, threshold: float) -> np.ndarray | float:
    r"""The smallest recorded :math:`\log(1/\mathcal L)` from which on ``angles`` stay at or below ``threshold``.

    Shapes as in :func:`transition_loss`.  ``inf`` if the last record is above ``threshold``.
    """
    threshold = check_positive_float("threshold", threshold)
    q = _columns("log_inv_loss", log_inv_loss)
    a = _columns("angles", angles, q.shape[0])
    if q.shape != a.shape:
        raise ShapeError(f"log_inv_loss and angles must have the same shape, got {q.shape} and {a.shape}")
    out = np.full(q.shape[1], np.inf)
    for j in range(q.shape[1]):
        above = np.flatnonzero(a[:, j] > threshold)
        if above.size == 0:
            out[j] = q[0, j]
        elif above[-1] + 1 < q.shape[0]:
            out[j] = q[above[-1] + 1, j]
    return float(out[0]) if np.ndim(log_inv_loss) == 1 else out
