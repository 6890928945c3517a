r"""Gradient descent on :math:`\mathcal L_{\mathcal P}(\mathbf w) = \sum_n \ell(y_n\langle \mathbf x_n, \mathcal P(\mathbf w)\rangle)`, stable for arbitrarily long runs.

On separable data the loss has no minimizer: :math:`\|\mathbf w(t)\| \to \infty` and the
loss underflows long before the *direction* has converged.  The engine therefore
stores each parameter vector as a log-scale and a unit direction,
:math:`\mathbf w = e^{\sigma}\mathbf u`, and uses homogeneity,
:math:`\mathcal P(e^\sigma \mathbf u) = e^{L\sigma}\mathcal P(\mathbf u)` and
:math:`\nabla_{\mathbf w}\langle \mathbf g, \mathcal P\rangle(e^\sigma\mathbf u) = e^{(L-1)\sigma}\,\mathrm{vjp}(\mathbf u, \mathbf g)`,
to write one step as

.. math::
    \mathbf u \leftarrow \frac{\mathbf u + c\,\mathbf v}{\|\mathbf u + c\,\mathbf v\|},\quad
    \sigma \leftarrow \sigma + \log\|\mathbf u + c\,\mathbf v\|,\qquad
    \mathbf v = \mathrm{vjp}\big(\mathbf u, \textstyle\sum_n p_n y_n \mathbf x_n\big),

where :math:`p` are the loss weights (a softmax over samples, :mod:`ibcore.losses`)
and :math:`c \ge 0` is the step relative to :math:`\|\mathbf w\|`, computed in log space.
No loss value, gradient or scale is ever exponentiated outside the float64 range.

Schedules (each parameter vector in a batch runs its own):

``"constant"``
    The paper's gradient descent, :math:`\mathbf w \leftarrow \mathbf w - \eta\nabla\mathcal L_{\mathcal P}(\mathbf w)`
    with :math:`\eta` = ``lr``: :math:`c = \eta\, e^{\log|\mathcal L'| + (L-2)\sigma}\|\ldots\|`.
    Its direction converges like :math:`1/\log t` (Soudry et al. 2018).
``"angular"``
    Steps of relative size :math:`\delta_t = \text{lr}/(1 + t/T)` along :math:`-\nabla\mathcal L_{\mathcal P}`,
    i.e. :math:`\eta_t = \delta_t\|\mathbf w\|/\|\nabla\mathcal L_{\mathcal P}\|`.
``"normalized"``
    A loss-based step :math:`\eta_t = \text{lr}/\big(\mathcal L\,\rho^{\,2-2/L}\big)` with
    :math:`\rho = \max(\log(1/\mathcal L), 1)`: for depth 1 this is the normalized GD
    :math:`\eta/\mathcal L` of Nacson et al. (2019); for deeper homogeneous nets the extra
    factor keeps :math:`\log(1/\mathcal L)` growing linearly in :math:`t`, in the spirit of the
    loss-based rates of Lyu & Li (2020).

``"loss-clock"``
    The relative step is :math:`c_t = \min\bigl(\kappa\,\rho/\rho',\ \delta_t\bigr)` with
    :math:`\rho = \max(\log(1/\mathcal L), 1)`, :math:`\rho' = d\rho/dc` to first order,
    :math:`\kappa` = ``rate`` and :math:`\delta_t` the angular step.  The first term raises
    :math:`\rho` by at most :math:`\kappa\rho` per step (to first order), so that
    :math:`\log(1/\mathcal L)` grows at most geometrically; the second takes over once it is
    the smaller.  Written for large initializations (:func:`ibcore.signed.descent_path`,
    chapter 14): there the weights hardly move relative to their size while the predictor
    moves a lot (the kernel regime), so the angular schedule's first step, a fixed
    fraction of :math:`\|\mathbf w\|`, jumps over the whole kernel phase (at init scale
    :math:`\alpha = 100`, from :math:`\log(1/\mathcal L) = -\log N` to about :math:`5\cdot10^3` in
    one step), and the normalized one slows down there as :math:`\log(1/\mathcal L)` grows.
    With :math:`\mathbf w = e^\sigma\mathbf u`, :math:`d\log(1/\mathcal L)/dc = e^{G-\log\mathcal L + L\sigma}\|\mathbf v\|`,
    :math:`G` the log of the loss-derivative mass (:math:`=\log\mathcal L` for the exponential loss).

The three fast schedules are **reparameterizations of gradient flow, not the
theorems' bounded step sizes**: their step sizes grow without bound as the loss
vanishes.  They follow the same path as small constant steps (compared at equal
:math:`\|\mathbf w\|`, which the tests check), only much faster along it.

One loop for every descent of the package (``_descend``, in :mod:`ibcore._engine`): :func:`gradient_descent`,
:func:`ibcore.signed.descent_path` (the loss clock from a zero predictor),
:func:`ibcore.stochastic.sgd`, :func:`ibcore.steepest.steepest_descent` and
:func:`ibcore.multiclass.cross_entropy_gd` are thin wrappers
that validate their arguments and call it with

- a **step rule** (:mod:`ibcore._schedules`): the schedule, as an object giving
  :math:`\log c` from the iteration, the scale and the loss terms, with flags telling the
  loop whether the step size is fixed (divergence test), the same for every run, and
  whether it reads the loss value;
- a **loss**: a name of :data:`ibcore.losses.LOSSES` (``"exp"`` takes the loop's fast path) or a
  loss object, a callable ``loss(m, lsl) -> terms`` with a ``name`` (``GDResult.loss``).  It
  gets the unit-parameter margins ``m`` (B, R) of the rows ``coords`` was built on and
  ``lsl`` (B,) :math:`= L\min(\sigma, 700/L)` (so :math:`\le` :data:`~ibcore.losses.LOG_SCALE_CAP`), and
  returns, like :func:`ibcore.losses.loss_terms`, ``log_loss`` (B,), the log of the loss
  at :math:`e^{\text{lsl}}m`; ``weights`` (B, R), non-negative and summing to 1 over the rows,
  the descent direction's row weights; and ``log_grad_mass`` (B,), with
  :math:`-\nabla_{\boldsymbol\beta}\mathcal L = e^{\text{log\_grad\_mass}}\sum_r p_r\mathbf z_r`
  for the rows :math:`\mathbf z_r` and weights :math:`p_r`.  The loss need not be a sum over rows: the
  multi-class cross-entropy (:func:`ibcore.multiclass.cross_entropy_gd`) is a depth-1
  linear predictor on rows :math:`(\mathbf e_{k_n} - \mathbf e_c)\otimes\mathbf x_n`, one per
  sample and rival class, with a loss that groups them by sample
  (:class:`ibcore.multiclass.CrossEntropyLoss`); :class:`ibcore.losses.Loss` makes the
  named losses such objects;
- a **batch sampler**: ``None`` (the full batch, the default) or ``t -> rows``, the
  mini-batch of step ``t``; the loss weights are then a softmax over the batch, and a
  state-dependent step size is taken from the full data;
- optionally a **direction map** ``(v, t) -> d`` applied to the descent direction before
  the step (steepest descent in the ℓ1 or ℓ∞ norm on a linear predictor: the step is
  still :math:`\mathbf u \leftarrow (\mathbf u + c\,\mathbf d/\|\mathbf d\|)/\|\cdot\|` in ℓ2, so the
  scale/direction representation holds; only the direction is not the gradient's);
- the coordinates to run in, whether to skip records of a zero predictor, and the name
  used in error messages.

The default path (full batch, no direction map) costs one method call per step more than
a loop written for one schedule.  The wrappers use the internal API of
:mod:`ibcore._engine` only: ``_prepare`` (all of it, for gradient_descent and sgd), ``_check_problem`` (net and data), ``_initial`` and
:func:`split_scale` (the start), ``_record_points``, ``_check_separable`` and ``_descend``;
the schedules live in :mod:`ibcore._schedules`.

Speed: the loop runs in coordinates the net chooses (``net._coordinates``, an isometry of
parameter space).  By default they are the parameters themselves, with the arithmetic of
the first version of this loop operation for operation; the conv net runs in its filters'
scaled spectra, where a step is two small real matrix products and O(L D) elementwise work
per parameter vector, with no FFT (:class:`ibcore._coordinates._SpectralCoordinates`): the same map,
equal to round-off.  Before the exact LP of :func:`ibcore.data.check_separable` (seconds at
D = 1024), a cheap certificate is tried (``ibcore._engine._check_separable``).  ``benchmarks/README.md``
has the timings.

The extreme-scale regime: once :math:`L\sigma` exceeds
:data:`ibcore.losses.LOG_SCALE_CAP` (700, i.e. :math:`\|\mathbf w\|^L \approx 10^{304}`),
float64 can no longer tell the loss weights from the 0/1 indicator of the
minimum-margin samples, so growing the scale further changes nothing: the engine
stops growing :math:`\sigma` there (``log_norm_w`` stays at the cap) and keeps updating
the direction, with the weights being exactly that indicator.  ``log_loss`` is then
:math:`\approx -10^{304}\gamma`: finite, as it is everywhere.
"""

from __future__ import annotations


import numpy as np

from ._schedules import SCHEDULES
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError
from .nets import Parameterization
from ._engine import DIVERGENCE_LOG_RISE, GDResult, _descend, _prepare, _record_points, split_scale

__all__ = ["SCHEDULES", "DIVERGENCE_LOG_RISE", "GDResult", "gradient_descent", "split_scale", "angles_at_equal_norm", "unbatch"]


def gradient_descent(
    net: Parameterization,
    X,
    y,
    *,
    steps: int,
    lr: float,
    schedule: str = "constant",
    loss: str = "exp",
    init=None,
    init_scale: float = 1.0,
    T: float = 1000.0,
    rate: float = 0.02,
    record=60,
    progress: bool | None = None,
) -> GDResult:
    """Run gradient descent on the network ``net`` with data ``X`` (N, D), labels ``y`` in {-1, +1}.

    Parameters
    ----------
    steps
        Number of iterations (>= 1).
    lr
        The step size :math:`\\eta` (``"constant"``), the initial relative step :math:`\\delta_0`
        (``"angular"``, ``"loss-clock"``), or the loss-based rate's constant (``"normalized"``); finite, > 0.
    schedule
        ``"constant"``, ``"angular"``, ``"normalized"`` or ``"loss-clock"`` (see the module docstring:
        all but the first are reparameterizations of gradient flow, not the theorems' bounded steps).
    loss
        ``"exp"`` (the paper's) or ``"logistic"``.
    init
        ``None`` (seed 0), an int seed or numpy Generator (``net.init(init, scale=init_scale)``),
        or parameters of shape ``(P,)`` or ``(B, P)``; a batch runs B independent descents.
    T
        Decay time of the angular step, :math:`\\delta_t = \\text{lr}/(1 + t/T)` (``"angular"``, ``"loss-clock"``).
    rate
        The loss clock's :math:`\\kappa` (``"loss-clock"`` only): :math:`\\log(1/\\mathcal L)` grows by at
        most a factor :math:`1 + \\kappa` per step, to first order.
    record
        Number of log-spaced iterations to record (0 and ``steps`` always included), or an
        array of iterations.
    progress
        Show a progress bar on stderr: ``None`` (default) shows one in a terminal or a Jupyter
        kernel once a run has lasted 2 s; ``True`` at once; ``False`` never.  ``IBCORE_PROGRESS=0``
        switches bars off everywhere (the Makefile sets it for the book build and the tests).

    Raises
    ------
    NotSeparableError
        If no linear separator exists: then the loss has a minimizer and none of this applies.
    DivergenceError
        If a ``"constant"`` step makes the loss explode (it rose by a factor e^20 over its start,
        or a value overflowed); the message names the step size and the iteration.
    """
    X, y, steps, rule, u, sigma, batched = _prepare(net, X, y, steps=steps, schedule=schedule, lr=lr, T=T, rate=rate,
                                                    loss=loss, init=init, init_scale=init_scale)
    Xy = X * y[:, None]  # rows y_n x_n
    coords = net._coordinates(Xy)  # the net's cheapest isometric coordinates (see ibcore._coordinates)
    return _descend(coords, u, sigma, L=net.depth, steps=steps, rule=rule, loss=loss,
                    pts=_record_points(steps, record), batched=batched, progress=progress)





def unbatch(run: GDResult, index: int | None = None):
    """Unbatched :class:`GDResult` objects from a batched run (init of shape (B, P)).

    ``index=None`` gives the list of all B rows (``[run]`` for an unbatched run); an integer
    gives row ``index`` alone.  So that helpers written for one run
    (:func:`angles_at_equal_norm`, :func:`ibcore.experiments.angles_at_equal_loss`) apply to
    each initialization of a batch.  The rows are copies.
    """
    if not isinstance(run, GDResult):
        raise IbcoreTypeError(f"run must be a GDResult, got {type(run).__name__}")
    batched = np.ndim(run.log_norm_w) == 1
    if index is None:
        return [unbatch(run, b) for b in range(np.size(run.log_norm_w))] if batched else [run]
    if not batched:
        raise ShapeError("run is not batched (init of shape (B, P)); it is already a single run")
    B = np.size(run.log_norm_w)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < B:
        raise IbcoreValueError(f"index must be an integer in [0, {B}), got {index!r}")
    h = run.history
    history = {"iteration": h["iteration"].copy()}
    for k in ("log_loss", "margin", "log_norm_w"):
        history[k] = np.asarray(h[k])[:, index].copy()
    history["beta"] = np.asarray(h["beta"])[:, index, :].copy()
    return GDResult(
        w=np.asarray(run.w)[index].copy(),
        beta=np.asarray(run.beta)[index].copy(),
        log_norm_w=float(history["log_norm_w"][-1]),
        log_loss=float(history["log_loss"][-1]),
        margin=float(history["margin"][-1]),
        history=history,
        schedule=run.schedule,
        loss=run.loss,
        steps=run.steps,
    )


def angles_at_equal_norm(reference: GDResult, other: GDResult) -> tuple[np.ndarray, np.ndarray]:
    """Angle (degrees) between two unbatched runs' predictor directions at equal ``||w||``.

    Different schedules move along the gradient-flow path at different speeds, so
    comparing them at equal *iteration* is meaningless; at equal parameter norm they
    should agree. For every recorded point of ``reference`` at which the data are fit
    (margin > 0) and whose norm ``other`` also passes while fitting the data, the
    direction of ``other`` is interpolated linearly in ``log_norm_w`` between its two
    bracketing records (so record ``other`` densely). Returns ``(log_norm_w, angles)``.
    """
    for name, r in (("reference", reference), ("other", other)):
        if not isinstance(r, GDResult):
            raise IbcoreTypeError(f"{name} must be a GDResult, got {type(r).__name__}")
        if np.ndim(r.log_norm_w) != 0:
            raise ShapeError(f"{name} must be an unbatched run (init of shape (P,) or a seed)")
    hr, ho = reference.history, other.history
    fit_o = np.flatnonzero(ho["margin"] > 0)
    if fit_o.size < 2:
        raise IbcoreValueError("other never fits the data (margin > 0 at fewer than two records)")
    start = fit_o[0]
    lo, bo = ho["log_norm_w"][start:], ho["beta"][start:]
    if np.any(np.diff(lo) < 0):
        raise IbcoreValueError("other's norm is not increasing after it fits the data; cannot match norms")
    keep = (hr["margin"] > 0) & (hr["log_norm_w"] >= lo[0]) & (hr["log_norm_w"] <= lo[-1])
    lr_, br = hr["log_norm_w"][keep], hr["beta"][keep]
    if lr_.size == 0:
        raise IbcoreValueError("the two runs share no range of ||w|| after fitting the data")
    j = np.clip(np.searchsorted(lo, lr_), 1, lo.size - 1)
    span = np.where(lo[j] > lo[j - 1], lo[j] - lo[j - 1], 1.0)
    frac = np.clip((lr_ - lo[j - 1]) / span, 0.0, 1.0)[:, None]
    interp = (1 - frac) * bo[j - 1] + frac * bo[j]
    from . import angle

    return lr_, np.atleast_1d(angle(br, interp))
