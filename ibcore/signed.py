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

from ._checks import as_float_array, check_choice, check_dataset, check_positive_float, check_positive_int
from .errors import DivergenceError, IbcoreTypeError, IbcoreValueError, ShapeError
from .losses import LOG_SCALE_CAP, LOSSES, loss_terms
from .nets import Parameterization, SignedDiagonal
from .train import GDResult, _check_divergence, _record_points, split_scale

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
) -> GDResult:
    r"""Gradient descent from ``init`` (e.g. :meth:`SignedDiagonal.uniform_init`), resolved in the loss.

    The same steps as :func:`ibcore.train.gradient_descent` (parameters kept as a
    log-scale :math:`\sigma` and a unit direction :math:`\mathbf u`, loss terms from
    :func:`ibcore.losses.loss_terms`, nothing exponentiated outside float64), with one
    more schedule, written for the kernel-to-rich transition:

    ``"constant"``
        The paper's gradient descent, step :math:`\eta` = ``lr`` (as in ``gradient_descent``).
    ``"loss-clock"``
        The relative step along :math:`-\nabla\mathcal L_{\mathcal P}` is
        :math:`c_t = \min\bigl(\kappa\,\rho/\rho',\ \delta_t\bigr)` with
        :math:`\rho = \max(\log(1/\mathcal L), 1)`, :math:`\rho' = d\rho/dc` to first order,
        :math:`\kappa` = ``rate`` and :math:`\delta_t = \text{lr}/(1 + t/T)`.  The first term
        raises :math:`\rho` by at most :math:`\kappa\rho` per step (to first order), so that
        :math:`\log(1/\mathcal L)` grows at most geometrically; the second is the ``"angular"``
        schedule of :mod:`ibcore.train`.

    Why a new schedule: with a large initialization (:math:`\alpha \gg 1`) the weights
    hardly move relative to their size while the predictor moves a lot (the kernel
    regime), so the ``"angular"`` schedule's first step, a fixed fraction of
    :math:`\|\mathbf w\|`, jumps over the whole kernel phase (for :math:`\alpha = 100`, from
    :math:`\log(1/\mathcal L) = -\log N` to about :math:`5\cdot10^3` in one step); and the
    ``"normalized"`` one slows down there as :math:`\log(1/\mathcal L)` grows.  The
    loss clock takes steps that are a fixed fraction of :math:`\log(1/\mathcal L)`
    instead, whatever :math:`\alpha`, and hands over to the angular steps once those are
    the smaller.  Like the angular schedule it is a **reparameterization of gradient
    flow, not the theorems' bounded steps** (its steps grow without bound).

    Formula: with :math:`\mathbf w = e^\sigma\mathbf u`, the step moves :math:`\mathbf w` by
    :math:`c\,e^\sigma` along the unit descent direction, and
    :math:`d\log(1/\mathcal L)/dc = e^{G-\log\mathcal L + L\sigma}\|\mathbf v\|` where
    :math:`G` is ``log_grad_mass`` (:math:`=\log\mathcal L` for the exponential loss) and
    :math:`\mathbf v` the pullback of the loss weights; all in log space.

    ``init`` must be parameters, shape ``(P,)`` or ``(B, P)`` (each row runs its own
    schedule).  Records at which some predictor is exactly zero (iteration 0 from
    :math:`\mathbf u = \mathbf v`) are skipped: :math:`\boldsymbol\beta = 0` has no direction.
    Returns a :class:`~ibcore.train.GDResult` with ``schedule`` set to the one used.
    Raises as ``gradient_descent`` does (``NotSeparableError``, ``DivergenceError`` for a
    constant step that makes the loss explode, bad arguments).
    """
    from .data import check_separable

    if not isinstance(net, Parameterization):
        raise IbcoreTypeError(f"net must be an ibcore.nets parameterization, got {type(net).__name__}")
    X, y = check_dataset(X, y)
    if X.shape[1] != net.dim:
        raise ShapeError(f"X has {X.shape[1]} features but net.dim is {net.dim}")
    steps = check_positive_int("steps", steps)
    lr = check_positive_float("lr", lr)
    rate = check_positive_float("rate", rate)
    T = check_positive_float("T", T)
    check_choice("schedule", schedule, PATH_SCHEDULES)
    check_choice("loss", loss, LOSSES)
    w0 = as_float_array("init", init, ndim=(1, 2))
    if w0.shape[-1] != net.n_params:
        raise ShapeError(f"init must have {net.n_params} parameters in its last axis, got shape {w0.shape}")
    check_separable(X, y)

    batched = w0.ndim == 2
    u, sigma = split_scale(w0 if batched else w0[None, :])
    L = net.depth
    Xy = X * y[:, None]
    pts = set(_record_points(steps, record).tolist())
    hist = {k: [] for k in ("iteration", "log_loss", "margin", "log_norm_w", "beta")}
    start_log_loss = None
    for t in range(steps + 1):
        beta_u, pullback = net._linearize(u)
        m = beta_u @ Xy.T
        log_scale_L = L * np.minimum(sigma, LOG_SCALE_CAP / L)
        terms = loss_terms(m, log_scale_L, loss)
        if start_log_loss is None:
            start_log_loss = terms.log_loss.copy()
        nb = np.linalg.norm(beta_u, axis=1)
        if t in pts and np.all(nb > 0):
            hist["iteration"].append(t)
            hist["log_loss"].append(terms.log_loss.copy())
            hist["margin"].append(np.min(m, axis=1) / nb)
            hist["log_norm_w"].append(sigma.copy())
            hist["beta"].append(beta_u / nb[:, None])
        if t == steps:
            break
        if schedule == "constant":
            _check_divergence(terms.log_loss, start_log_loss, lr, t)
        v = pullback(terms.weights @ Xy)
        vnorm = np.linalg.norm(v, axis=1)
        vnorm = np.where(vnorm == 0, 1.0, vnorm)  # a saddle of P: the gradient vanishes, GD stays put
        if schedule == "constant":
            log_c = np.log(lr) + terms.log_grad_mass + (L - 2) * sigma + np.log(vnorm)
            if np.any(log_c > 700.0):
                raise DivergenceError(
                    f"gradient descent diverged at iteration {t} with constant step lr={lr}: "
                    "the step is more than e^700 times the parameters' norm; use a smaller lr"
                )
        else:
            rho = np.maximum(-terms.log_loss, 1.0)
            log_rate = terms.log_grad_mass - terms.log_loss + log_scale_L + np.log(vnorm)  # log d(log 1/L)/dc
            log_c = np.minimum(np.log(rate) + np.log(rho) - log_rate, np.log(lr / (1.0 + t / T)))
        c = np.exp(np.minimum(log_c, 700.0))
        unew = u + c[:, None] * (v / vnorm[:, None])
        n = np.linalg.norm(unew, axis=1)
        u = unew / n[:, None]
        sigma = np.minimum(sigma + np.log(n), LOG_SCALE_CAP / L)
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(sigma))):
            raise DivergenceError(f"gradient descent produced non-finite parameters at iteration {t} (lr={lr})")

    if not hist["iteration"]:
        raise IbcoreValueError("nothing was recorded: the predictor stayed exactly zero")
    history = {"iteration": np.asarray(hist["iteration"], dtype=np.int64)}
    for k in ("log_loss", "margin", "log_norm_w", "beta"):
        arr = np.stack(hist[k], axis=0)
        history[k] = arr if batched else arr[:, 0]
    return GDResult(
        w=u if batched else u[0],
        beta=history["beta"][-1],
        log_norm_w=history["log_norm_w"][-1],
        log_loss=history["log_loss"][-1],
        margin=history["margin"][-1],
        history=history,
        schedule=schedule,
        loss=loss,
        steps=steps,
    )


# --------------------------------------------------------------------------- reading a path


def unbatch(run: GDResult) -> list[GDResult]:
    """The rows of a batched run as unbatched :class:`~ibcore.train.GDResult` objects.

    So that helpers written for one run (e.g. :func:`ibcore.experiments.angles_at_equal_loss`)
    apply to each initialization of a batch.  An unbatched run gives ``[run]``.
    """
    if not isinstance(run, GDResult):
        raise IbcoreTypeError(f"run must be a GDResult, got {type(run).__name__}")
    if np.ndim(run.log_loss) == 0:
        return [run]
    h = run.history
    out = []
    for b in range(np.shape(run.log_loss)[0]):
        hb = {"iteration": h["iteration"], "log_loss": h["log_loss"][:, b], "margin": h["margin"][:, b],
              "log_norm_w": h["log_norm_w"][:, b], "beta": h["beta"][:, b]}
        out.append(GDResult(w=run.w[b], beta=run.beta[b], log_norm_w=run.log_norm_w[b], log_loss=run.log_loss[b],
                            margin=run.margin[b], history=hb, schedule=run.schedule, loss=run.loss, steps=run.steps))
    return out


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
