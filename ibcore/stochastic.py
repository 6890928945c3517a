r"""Mini-batch stochastic gradient descent on :math:`\mathcal L_{\mathcal P}`, with the engine of :mod:`ibcore.train`.

At iteration :math:`t` a mini-batch :math:`B_t\subset\{1,\dots,N\}` of ``batch_size`` samples
is drawn and the step uses the gradient of the *batch sum*

.. math::
    \mathcal L_{B_t}(\mathbf w) = \sum_{n\in B_t}\ell\big(y_n\langle\mathbf x_n, \mathcal P(\mathbf w)\rangle\big),
    \qquad \mathbf w \leftarrow \mathbf w - \eta_t\nabla\mathcal L_{B_t}(\mathbf w),

so that ``batch_size = N`` is exactly :func:`ibcore.train.gradient_descent` (the tests check
it).  The sum, not the mean, keeps the meaning of ``lr`` the same as in full-batch GD.

Why a separate loop and not an option of :func:`~ibcore.train.gradient_descent`: the
engine there is being optimized for the full-batch case; this module reuses its pieces
(:func:`ibcore.train.split_scale`, its record points, initialization, step rule and
divergence test, and :func:`ibcore.losses.loss_terms`) rather than copying them.  The
parameters are kept as a log-scale and a unit direction, :math:`\mathbf w = e^\sigma\mathbf u`,
and the loss weights of the batch are a softmax over the batch's margins, so nothing
underflows however long the run.

Batches (``sampling``):

``"reshuffle"``
    Each epoch a fresh random permutation of the samples is cut into consecutive batches
    (the last one smaller when ``batch_size`` does not divide N): every sample is used once
    per epoch.
``"replacement"``
    Each batch is ``batch_size`` distinct samples drawn uniformly, independently of the
    other batches.

Step sizes (``schedule``): ``"constant"`` is SGD with the fixed step :math:`\eta` = ``lr``, the
setting of Nacson, Srebro and Soudry (2019) for linear predictors.  ``"angular"`` and
``"normalized"`` choose a step size :math:`\eta_t` from the **full** data, exactly as
:func:`~ibcore.train.gradient_descent` would, and apply it to the batch gradient.  (Taking
the relative step from the batch alone would be wrong: a batch without support vectors would
then turn the direction as much as one with them, and the iterates do not approach the
max-margin direction.)  Computing the full gradient defeats the purpose of SGD in practice;
these schedules are a device to reach the limit of the stochastic path fast, and like their
full-batch versions they are reparameterizations of time, not bounded steps.

Both are seeded by ``seed``; in a batched run (init of shape (B, P)) the B descents see
the same sequence of batches.  The divergence test and the recorded loss and margin use
the *full* data set.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_rng, check_choice, check_dataset, check_positive_float, check_positive_int
from .errors import DivergenceError, IbcoreTypeError, ShapeError
from .losses import LOG_SCALE_CAP, LOSSES, loss_terms
from .nets import Parameterization
from .train import (
    SCHEDULES,
    GDResult,
    _check_divergence,
    _initial,
    _log_relative_step,
    _record_points,
    split_scale,
)

__all__ = ["SAMPLINGS", "batch_sequence", "sgd"]


def _log_mass_step(terms, L: int, sigma: np.ndarray, vnorm: np.ndarray) -> np.ndarray:
    """log(||grad L_B(w)|| / ||w||): the relative step per unit step size eta (as in train)."""
    return terms.log_grad_mass + (L - 2) * sigma + np.log(vnorm)

SAMPLINGS = frozenset({"reshuffle", "replacement"})


def batch_sequence(n_samples: int, batch_size: int, steps: int, *, sampling: str = "reshuffle", seed=0):
    """The list of ``steps`` index arrays (each sorted) that :func:`sgd` uses, in order."""
    n_samples = check_positive_int("n_samples", n_samples)
    batch_size = check_positive_int("batch_size", batch_size)
    steps = check_positive_int("steps", steps)
    check_choice("sampling", sampling, SAMPLINGS)
    if batch_size > n_samples:
        raise ShapeError(f"batch_size={batch_size} exceeds the number of samples N={n_samples}")
    rng = as_rng("seed", seed)
    batches: list[np.ndarray] = []
    if sampling == "replacement":
        for _ in range(steps):
            batches.append(np.sort(rng.choice(n_samples, size=batch_size, replace=False)))
        return batches
    while len(batches) < steps:
        perm = rng.permutation(n_samples)
        for start in range(0, n_samples, batch_size):
            batches.append(np.sort(perm[start : start + batch_size]))
    return batches[:steps]


def sgd(
    net: Parameterization,
    X,
    y,
    *,
    steps: int,
    lr: float,
    batch_size: int,
    sampling: str = "reshuffle",
    seed=0,
    schedule: str = "constant",
    loss: str = "exp",
    init=None,
    init_scale: float = 1.0,
    T: float = 1000.0,
    record=60,
) -> GDResult:
    """Mini-batch SGD on ``net`` with data ``X`` (N, D), labels ``y`` in {-1, +1}; returns a :class:`~ibcore.train.GDResult`.

    Arguments are those of :func:`ibcore.train.gradient_descent`, plus ``batch_size``
    (1 <= batch_size <= N), ``sampling`` (``"reshuffle"`` or ``"replacement"``, see the
    module docstring) and ``seed`` (int >= 0 or Generator) for the batches.  ``init`` is
    seeded separately (``None`` means seed 0 of ``net.init``).  The schedules are those of
    ``gradient_descent``, computed from the current batch: ``"angular"`` and
    ``"normalized"`` are reparameterizations of (stochastic) gradient flow, not bounded steps.

    Raises
    ------
    NotSeparableError
        If the data are not linearly separable.
    DivergenceError
        If a ``"constant"`` step makes the full loss explode; the message names ``lr`` and the iteration.
    """
    from .data import check_separable

    if not isinstance(net, Parameterization):
        raise IbcoreTypeError(f"net must be an ibcore.nets parameterization, got {type(net).__name__}")
    X, y = check_dataset(X, y)
    if X.shape[1] != net.dim:
        raise ShapeError(f"X has {X.shape[1]} features but net.dim is {net.dim}")
    steps = check_positive_int("steps", steps)
    lr = check_positive_float("lr", lr)
    T = check_positive_float("T", T)
    init_scale = check_positive_float("init_scale", init_scale)
    check_choice("schedule", schedule, SCHEDULES)
    check_choice("loss", loss, LOSSES)
    batches = batch_sequence(X.shape[0], batch_size, steps, sampling=sampling, seed=seed)
    check_separable(X, y)

    w0, batched = _initial(net, init, init_scale)
    u, sigma = split_scale(w0)
    L = net.depth
    Xy = X * y[:, None]
    pts = _record_points(steps, record)
    hist = {k: [] for k in ("log_loss", "margin", "log_norm_w", "beta")}
    start_log_loss = None
    next_rec = 0
    for t in range(steps + 1):
        beta_u, pullback = net._linearize(u)
        m = beta_u @ Xy.T  # (B, N) unit-direction margins on all samples
        log_scale_L = L * np.minimum(sigma, LOG_SCALE_CAP / L)
        full = loss_terms(m, log_scale_L, loss)
        if start_log_loss is None:
            start_log_loss = full.log_loss.copy()
        if t == pts[next_rec]:
            nb = np.linalg.norm(beta_u, axis=1)
            safe = np.where(nb > 0, nb, 1.0)
            hist["log_loss"].append(full.log_loss.copy())
            hist["margin"].append(np.min(m, axis=1) / safe)
            hist["log_norm_w"].append(sigma.copy())
            hist["beta"].append(beta_u / safe[:, None])
            next_rec += 1
        if t == steps:
            break
        if schedule == "constant":
            _check_divergence(full.log_loss, start_log_loss, lr, t)
        idx = batches[t]
        terms = loss_terms(m[:, idx], log_scale_L, loss)  # weights: a softmax over the batch only
        v = pullback(terms.weights @ Xy[idx])
        vnorm = np.linalg.norm(v, axis=1)
        vnorm = np.where(vnorm == 0, 1.0, vnorm)
        log_c = np.log(lr) + _log_mass_step(terms, L, sigma, vnorm)
        if schedule != "constant":
            # The fast schedules fix the step size eta_t from the full state (see the module docstring)
            # and apply it to the batch gradient: log c = log eta_t + log(eta-free step of the batch).
            v_full = np.linalg.norm(pullback(full.weights @ Xy), axis=1)
            v_full = np.where(v_full == 0, 1.0, v_full)
            log_c_full = _log_relative_step(schedule, lr, t, T, L, sigma, full, v_full)
            log_c = log_c_full + (_log_mass_step(terms, L, sigma, vnorm) - _log_mass_step(full, L, sigma, v_full))
        if schedule == "constant" and np.any(log_c > 700.0):
            raise DivergenceError(
                f"SGD diverged at iteration {t} with constant step lr={lr}: the step is more than e^700 "
                "times the parameters' norm; use a smaller lr"
            )
        c = np.exp(np.minimum(log_c, 700.0))
        unew = u + c[:, None] * (v / vnorm[:, None])
        n = np.linalg.norm(unew, axis=1)
        u = unew / n[:, None]
        sigma = np.minimum(sigma + np.log(n), LOG_SCALE_CAP / L)
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(sigma))):
            raise DivergenceError(f"SGD produced non-finite parameters at iteration {t} (lr={lr})")

    history = {"iteration": pts.astype(np.int64)}
    for k, vals in hist.items():
        arr = np.stack(vals, axis=0)
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
