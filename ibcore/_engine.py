r"""The training loop of :mod:`ibcore.train`, shared by every descent of the package.

:func:`_descend` runs gradient descent in the scale/direction representation
:math:`\mathbf w = e^\sigma\mathbf u` described in the module docstring of :mod:`ibcore.train`,
with a pluggable step rule (:mod:`ibcore._schedules`), loss, mini-batch sampler and direction
map; :func:`ibcore.train.gradient_descent`, :func:`ibcore.signed.descent_path`,
:func:`ibcore.stochastic.sgd`, :func:`ibcore.steepest.steepest_descent` and
:func:`ibcore.multiclass.cross_entropy_gd` validate their arguments and call it.  The result
type :class:`GDResult` and the shared validation helpers live here too; the public names are
re-exported by :mod:`ibcore.train`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._checks import as_float_array, check_choice, check_dataset, check_positive_float, check_positive_int
from ._schedules import FullDataStep, StepRule
from .errors import DivergenceError, IbcoreTypeError, IbcoreValueError, ShapeError
from .losses import LOG_SCALE_CAP, LOSSES, Loss, _exp_terms
from .nets import Parameterization
from .progress import DELAY as PROGRESS_DELAY
from .progress import Progress, progress_enabled

__all__ = ["DIVERGENCE_LOG_RISE", "GDResult", "split_scale"]

#: A run whose log-loss rises this far above its starting value (the loss grew by
#: e^20, about 5e8) is diverging: gradient descent with a step small enough for the
#: local smoothness never increases the loss, so no convergent run does this.
DIVERGENCE_LOG_RISE = 20.0


@dataclass
class GDResult:
    """The outcome of :func:`gradient_descent`.

    ``w`` and ``beta`` are unit-norm directions (``beta`` is the zero vector, with margin 0,
    where P(w) = 0, e.g. at the saddle of two zero layers) (``(P,)``/``(D,)``, or with a leading batch
    axis); ``log_norm_w`` is :math:`\\log\\|\\mathbf w\\|`; ``log_loss`` the final natural log of
    the loss; ``margin`` the normalized margin :math:`\\min_n y_n\\langle x_n, \\beta\\rangle` of the
    final direction.  ``history`` holds numpy arrays ``iteration`` (K,), ``log_loss``,
    ``margin``, ``log_norm_w`` (K,) or (K, B), and ``beta`` (K, D) or (K, B, D), sampled at
    log-spaced iterations including 0 and the last.
    """

    w: np.ndarray
    beta: np.ndarray
    log_norm_w: np.ndarray | float
    log_loss: np.ndarray | float
    margin: np.ndarray | float
    history: dict = field(repr=False)
    schedule: str = "constant"
    loss: str = "exp"
    steps: int = 0

    def params(self) -> np.ndarray:
        """The parameters themselves, ``exp(log_norm_w) * w``; raises if they overflow float64."""
        if np.any(np.asarray(self.log_norm_w) > 700):
            raise IbcoreValueError("the parameters' norm exceeds float64 (log_norm_w > 700); use w and log_norm_w")
        return np.exp(np.asarray(self.log_norm_w))[..., None] * self.w if np.ndim(self.w) == 2 else np.exp(self.log_norm_w) * self.w


def split_scale(w: np.ndarray, *, allow_zero: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Split parameters (B, P) into unit directions and log-norms; raise on a zero vector.

    ``allow_zero=True`` maps a zero row to ``u = 0``, ``sigma = 0`` instead: the start w = 0 that
    :func:`_descend` accepts where the gradient at 0 is not zero (a linear predictor).
    """
    norms = np.linalg.norm(w, axis=1)
    if np.any(norms == 0):
        if not allow_zero:
            raise IbcoreValueError("init contains a zero parameter vector: it has no direction and its gradient vanishes")
        safe = np.where(norms > 0, norms, 1.0)
        return np.where(norms[:, None] > 0, w / safe[:, None], 0.0), np.where(norms > 0, np.log(safe), 0.0)
    return w / norms[:, None], np.log(norms)


def _record_points(steps: int, record) -> np.ndarray:
    """The sorted iterations to record: ``record`` log-spaced ones (an int >= 2) or the given array, plus 0 and ``steps``."""
    if isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        k = check_positive_int("record", record, minimum=2)
        pts = np.unique(np.round(np.logspace(0, np.log10(max(steps, 1)), k - 1)).astype(int))
        return np.unique(np.concatenate([[0], pts, [steps]]))
    pts = np.asarray(record)
    if pts.ndim != 1 or not np.issubdtype(pts.dtype, np.integer) or pts.size == 0:
        raise IbcoreTypeError("record must be an int (number of log-spaced samples) or a 1-D array of iterations")
    if pts.min() < 0 or pts.max() > steps:
        raise IbcoreValueError(f"record iterations must lie in [0, steps={steps}]")
    return np.unique(np.concatenate([[0], pts, [steps]]))


def _initial(net: Parameterization, init, init_scale: float) -> tuple[np.ndarray, bool]:
    """``(w0 (B, P), batched)`` from ``init``: None (seed 0), a seed or Generator for ``net.init``, or parameters."""
    if init is None:
        init = 0
    if isinstance(init, (int, np.integer, np.random.Generator)) and not isinstance(init, bool):
        return net.init(init, scale=init_scale)[None, :], False
    w = as_float_array("init", init, ndim=(1, 2))
    if w.shape[-1] != net.n_params:
        raise ShapeError(f"init must have {net.n_params} parameters in its last axis, got shape {w.shape}")
    return (w.copy() if w.ndim == 2 else w[None, :].copy()), w.ndim == 2


def _check_problem(net: Parameterization, X, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``net`` and the data set (X (N, D) matching ``net.dim``, labels in {-1, +1})."""
    if not isinstance(net, Parameterization):
        raise IbcoreTypeError(f"net must be an ibcore.nets parameterization, got {type(net).__name__}")
    X, y = check_dataset(X, y)
    if X.shape[1] != net.dim:
        raise ShapeError(f"X has {X.shape[1]} features but net.dim is {net.dim}")
    return X, y



def _prepare(net, X, y, *, steps, schedule, lr, T, rate, loss, init, init_scale):
    """The validation and start shared by :func:`ibcore.train.gradient_descent` and :func:`ibcore.stochastic.sgd`.

    Returns ``(X, y, steps, rule, u, sigma, batched)``: the checked data, step count and step
    rule (:func:`ibcore._schedules.make_rule` checks ``lr``, ``T`` and ``rate``), and the start
    split into unit directions and log-norms; raises ``NotSeparableError`` for data no linear
    predictor separates.
    """
    from ._schedules import make_rule

    X, y = _check_problem(net, X, y)
    steps = check_positive_int("steps", steps)
    init_scale = check_positive_float("init_scale", init_scale)
    rule = make_rule(schedule, lr, T, rate)
    check_choice("loss", loss, LOSSES)
    _check_separable(X, y)
    w0, batched = _initial(net, init, init_scale)
    u, sigma = split_scale(w0)
    return X, y, steps, rule, u, sigma, batched


def _descend(coords, u, sigma, *, L: int, steps: int, rule: StepRule, loss, pts, batched: bool,
             progress: bool | None = False, sampler=None, direction=None, skip_zero: bool = False,
             name: str = "gradient descent") -> GDResult:
    """The training loop, shared by every descent of the package; arguments already validated.

    ``coords``
        The coordinates to run in (``net._coordinates(Xy)``, or ``_coordinates._Coordinates(net, Xy)``
        for the parameters themselves), built on the rows ``Xy`` = y_n x_n.
    ``u``, ``sigma``
        The start, unit directions (B, P) and log-norms (B,) (:func:`split_scale`); a zero row
        with ``sigma = 0`` starts at w = 0, which moves only where the gradient at 0 is not zero
        (a linear predictor: steepest descent's default start).
    ``rule``
        The step rule (:mod:`ibcore._schedules`: ``log_step`` and the flags ``fixed``,
        ``uniform``, ``needs_log_loss``).
    ``loss``
        A name of :data:`~ibcore.losses.LOSSES` or a loss object (module docstring: the
        contract), called with the margins of all rows, or of a mini-batch's rows only (so a
        loss that groups rows, like the cross-entropy, needs mini-batches of whole groups).
    ``pts``
        Iterations to record (:func:`_record_points`); ``batched``: keep the batch axis.
    ``sampler``
        ``None`` (full batch, the default) or a callable ``t -> rows``, the sorted sample
        indices of the mini-batch of step ``t``.  The step then follows the gradient of the
        batch sum; a non-``fixed`` rule takes its step size from the full data
        (:class:`~ibcore._schedules.FullDataStep`).  Records and the divergence test always
        use the full data.
    ``direction``
        ``None`` or a map ``(v, t) -> d`` applied to the pullback ``v`` of the loss weights (a
        state, batch on its second-to-last axis) before the step, which then goes along
        ``d / ||d||``: steepest descent in another norm (:mod:`ibcore.steepest`).  Such maps are
        not invariant under the isometries the net's coordinates may apply, so use them with
        the parameter coordinates only.
    ``skip_zero``
        Skip records at which some predictor is exactly zero (it has no direction) instead
        of recording the zero vector with margin 0; raises if nothing is recorded.
    ``progress``
        As in :func:`gradient_descent`; every wrapper passes its own ``progress`` argument.
    ``name``
        How error messages call the method (``"SGD"``, ``"steepest descent"``).
    """
    pts = np.asarray(pts, dtype=np.int64)
    s = coords.encode(u)
    hist = {k: [] for k in ("iteration", "log_loss", "margin", "log_norm_w", "beta")}
    rec = [int(p) for p in pts] + [-1]
    cap = LOG_SCALE_CAP / L
    # The angular step needs no loss value; the others need it at every step, and so do mini-batches
    # (the divergence test and a state-dependent step size use the full loss).
    every_log_loss = rule.needs_log_loss or loss != "exp" or sampler is not None
    loss_fn = Loss(loss) if isinstance(loss, str) else loss
    fixed = rule.fixed
    step_rule = rule if sampler is None or fixed else FullDataStep(rule)
    sqnorms = coords.sqnorms

    n_runs = s.shape[-2]
    bar = Progress(steps, progress_enabled(progress, steps * n_runs), desc=f"{'GD' if name == 'gradient descent' else name} ({rule.name})",
                   delay=0.0 if progress else PROGRESS_DELAY)
    start_log_loss = None
    next_rec = 0
    try:
        # Floating-point warnings are silenced inside the loop: s^L * gap may overflow to +inf
        # on purpose (a weight of exactly 0), and every other non-finite value is caught by the
        # explicit checks below, which raise DivergenceError or take the careful step.
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            for t in range(steps + 1):
                mT, pullback = coords.linearize(s)  # margins of the unit-parameter predictor, (N, B)
                lsl = L * np.minimum(sigma, cap)
                recording = t == rec[next_rec]
                if loss == "exp":
                    log_loss, weightsT = _exp_terms(mT, np.minimum(lsl, LOG_SCALE_CAP), every_log_loss or recording or t == 0)
                    log_grad_mass = log_loss
                else:
                    terms = loss_fn(mT.T, lsl)
                    log_loss, weightsT, log_grad_mass = terms.log_loss, terms.weights.T, terms.log_grad_mass
                if start_log_loss is None:
                    start_log_loss = log_loss.copy()
                if recording:
                    _record(hist, coords, s, mT, sigma, log_loss, t, skip_zero)
                    next_rec += 1
                if t == steps:
                    break
                if fixed:
                    _check_divergence(log_loss, start_log_loss, rule.lr, t, name)
                if sampler is None:
                    pT, rows = weightsT, None
                    step = (step_rule, sqnorms, s, sigma, t, L, lsl, log_loss, log_grad_mass)
                else:
                    rows = sampler(t)
                    batch = loss_fn(mT.T[:, rows], lsl)  # weights: a softmax over the batch only
                    pT = batch.weights.T
                    if not fixed:
                        step_rule.set_full(t, L, sigma, lsl, log_loss, log_grad_mass, np.sqrt(sqnorms(pullback(weightsT))))
                    step = (step_rule, sqnorms, s, sigma, t, L, lsl, batch.log_loss, batch.log_grad_mass)
                v = pullback(pT, rows)  # descent direction in the coordinates
                if direction is not None:
                    v = direction(v, t)
                s_new, sig_new = _fast_step(*step, v, name)
                if not math.isfinite(np.add.reduce(sig_new)):  # a zero gradient, a huge step, or divergence
                    v = pullback(pT, rows)
                    s_new, sig_new = _careful_step(*step, v if direction is None else direction(v, t), name)
                s, sigma = s_new, np.minimum(sig_new, cap)
                bar.update(t + 1)
    finally:
        bar.close()

    if not hist["iteration"]:
        raise IbcoreValueError("nothing was recorded: the predictor stayed exactly zero")
    history = {"iteration": np.asarray(hist.pop("iteration"), dtype=np.int64)}
    for k, vals in hist.items():
        arr = np.stack(vals, axis=0)
        history[k] = arr if batched else arr[:, 0]
    u = coords.decode(s)
    return GDResult(
        w=u if batched else u[0],
        beta=history["beta"][-1],
        log_norm_w=history["log_norm_w"][-1],
        log_loss=history["log_loss"][-1],
        margin=history["margin"][-1],
        history=history,
        schedule=rule.name,
        loss=loss_fn.name,
        steps=steps,
    )


def _record(hist: dict, coords, s, mT, sigma, log_loss, t: int, skip_zero: bool) -> None:
    """Append iteration ``t``'s loss, margin, log-norm and unit predictor to ``hist``.

    P(w) = 0 (e.g. two zero layers: a saddle GD never leaves) has no direction: it is recorded
    as the zero vector with margin 0, never as 0/0 = NaN, or the record is skipped (``skip_zero``).
    """
    beta_u = coords.predictor(s)
    nb = np.linalg.norm(beta_u, axis=1)
    if skip_zero and not np.all(nb > 0):
        return
    safe = np.where(nb > 0, nb, 1.0)
    hist["iteration"].append(t)
    hist["log_loss"].append(log_loss.copy())
    hist["margin"].append(np.min(mT, axis=0) / safe)
    hist["log_norm_w"].append(sigma.copy())
    hist["beta"].append(beta_u / safe[:, None])


def _fast_step(rule, sqnorms, s, sigma, t, L, lsl, log_loss, log_grad_mass, v, name="gradient descent"):
    """One step ``s <- (s + c v/||v||)/||.||``, ``sigma <- sigma + log||.||``, in place in ``v``.

    The arithmetic of the original loop operation for operation (so nets in the default
    coordinates train bit for bit as before), but writing into ``v`` instead of
    allocating: large states are not re-allocated at every step.  Valid whenever every
    result is finite; the caller checks ``sigma`` and otherwise redoes the step with
    :func:`_careful_step` from a fresh ``v`` (a zero ``v`` gives 0/0 here, a step too large
    for float64 gives inf).  ``c`` comes from the step ``rule`` (:mod:`ibcore._schedules`); a
    ``fixed`` rule's step beyond e^700 raises ``DivergenceError``.
    """
    vnorm = np.sqrt(sqnorms(v))
    log_c = rule.log_step(t, L, sigma, lsl, log_loss, log_grad_mass, vnorm)
    if rule.uniform:
        c = np.exp(log_c)  # the same for every parameter vector
    else:
        if rule.fixed and np.maximum.reduce(log_c) > 700.0:
            _raise_step_overflow(rule.lr, t, name)
        c = np.exp(np.minimum(log_c, 700.0))[:, None]
    unew = v
    unew /= vnorm[:, None]
    unew *= c
    unew += s
    n = np.sqrt(sqnorms(unew))
    unew /= n[:, None]
    return unew, sigma + np.log(n)


def _careful_step(rule, sqnorms, s, sigma, t, L, lsl, log_loss, log_grad_mass, v, name="gradient descent"):
    """The step of :func:`_fast_step` for the cases it cannot take, raising where no step exists."""
    vnorm = np.sqrt(sqnorms(v))
    # w = 0 in some layer (a saddle of P): the gradient vanishes and GD stays put.
    vnorm = np.where(vnorm == 0, 1.0, vnorm)
    log_c = np.broadcast_to(rule.log_step(t, L, sigma, lsl, log_loss, log_grad_mass, vnorm), sigma.shape)
    if rule.fixed and np.any(log_c > 700.0):
        _raise_step_overflow(rule.lr, t, name)
    c = np.exp(np.minimum(log_c, 700.0))
    unew = s + c[:, None] * (v / vnorm[:, None])
    n = np.sqrt(sqnorms(unew))
    if not np.all(np.isfinite(n)):
        # squares beyond float64 (c up to e^700): scale by the largest entry first
        # (the batch axis of a state is its second-to-last)
        big = np.max(np.abs(unew), axis=tuple(i for i in range(unew.ndim) if i != unew.ndim - 2))
        big = np.where((big > 0) & np.isfinite(big), big, 1.0)
        n = big * np.sqrt(sqnorms(unew / big[:, None]))
    u, sig = unew / n[:, None], sigma + np.log(n)
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(sig))):
        raise DivergenceError(f"{name} produced non-finite parameters at iteration {t} (lr={rule.lr})")
    return u, sig


def _raise_step_overflow(lr, t, name="gradient descent"):
    raise DivergenceError(
        f"{name} diverged at iteration {t} with constant step lr={lr}: "
        "the step is more than e^700 times the parameters' norm; use a smaller lr"
    )


def _check_separable(X: np.ndarray, y: np.ndarray) -> None:
    r""":func:`ibcore.data.check_separable`, after a cheap sufficient certificate.

    The LP takes milliseconds at D = 32 but seconds at D = 1024, longer than the run.
    Most data sets given to the engine (N <= D, in general position) are separated by
    the minimum-norm interpolant of the unit rows :math:`\mathbf z_n = y_n\mathbf x_n/\|\mathbf x_n\|`,
    :math:`\boldsymbol\beta = Z^\top (ZZ^\top)^{-1}\mathbf 1`.  It is accepted by the LP's own rule: its
    margins recomputed in float64, in the LP's normalization :math:`\max_i|\beta_i| = 1`, must exceed
    ``SEPARABILITY_TOL``, so the LP's optimum would too.  Anything else goes to the LP,
    which decides (and raises).
    """
    from .data import SEPARABILITY_TOL, check_separable  # data stands apart from the engine's layers

    norms = np.linalg.norm(X, axis=1)
    n_samples, dim = X.shape
    if n_samples <= dim and np.all(norms > 0):
        Z = X * (y / norms)[:, None]
        try:
            beta = Z.T @ np.linalg.solve(Z @ Z.T, np.ones(n_samples))
        except np.linalg.LinAlgError:  # rows linearly dependent: let the LP decide
            beta = None
        # an ill-conditioned Gram matrix may give inf or NaN: then the LP decides
        if beta is not None and np.all(np.isfinite(beta)):
            top = np.max(np.abs(beta))
            if top > 0 and np.min(Z @ (beta / top)) > SEPARABILITY_TOL:
                return
    check_separable(X, y)


def _check_divergence(log_loss, start, lr, t, name="gradient descent"):
    """Raise ``DivergenceError`` once the log-loss has risen :data:`DIVERGENCE_LOG_RISE` above ``start`` (or is NaN)."""
    # NaN fails the comparison, +inf exceeds the bound; -inf cannot occur (a_min is clipped to +-e^700)
    if not np.maximum.reduce(log_loss - start) <= DIVERGENCE_LOG_RISE:
        raise DivergenceError(
            f"{name} diverged at iteration {t} with constant step lr={lr}: the loss rose by more "
            f"than a factor e^{DIVERGENCE_LOG_RISE:g} over its starting value; use a smaller lr"
        )
