r"""Mini-batch stochastic gradient descent on :math:`\mathcal L_{\mathcal P}`, with the engine of :mod:`ibcore.train`.

At iteration :math:`t` a mini-batch :math:`B_t\subset\{1,\dots,N\}` of ``batch_size`` samples
is drawn and the step uses the gradient of the *batch sum*

.. math::
    \mathcal L_{B_t}(\mathbf w) = \sum_{n\in B_t}\ell\big(y_n\langle\mathbf x_n, \mathcal P(\mathbf w)\rangle\big),
    \qquad \mathbf w \leftarrow \mathbf w - \eta_t\nabla\mathcal L_{B_t}(\mathbf w),

so that ``batch_size = N`` is exactly :func:`ibcore.train.gradient_descent` (the tests check
it).  The sum, not the mean, keeps the meaning of ``lr`` the same as in full-batch GD.

The loop is the engine of :func:`~ibcore.train.gradient_descent` itself (``ibcore._engine._descend``)
with a *batch sampler*: the indices of step :math:`t`'s batch, from :func:`batch_sequence`.  The
parameters are kept as a log-scale and a unit direction, :math:`\mathbf w = e^\sigma\mathbf u`,
and the loss weights of the batch are a softmax over the batch's margins, so nothing
underflows however long the run.  It runs in the parameters themselves as coordinates
(not the conv net's spectral ones), the arithmetic this function has always had.

Batches (``sampling``):

``"reshuffle"``
    Each epoch a fresh random permutation of the samples is cut into consecutive batches
    (the last one smaller when ``batch_size`` does not divide N): every sample is used once
    per epoch.
``"replacement"``
    Each batch is ``batch_size`` distinct samples drawn uniformly, independently of the
    other batches.

Step sizes (``schedule``): ``"constant"`` is SGD with the fixed step :math:`\eta` = ``lr``, the
setting of Nacson, Srebro and Soudry (2019) for linear predictors.  ``"angular"``,
``"normalized"`` and ``"loss-clock"`` choose a step size :math:`\eta_t` from the **full** data, exactly as
:func:`~ibcore.train.gradient_descent` would, and apply it to the batch gradient
(:class:`ibcore._schedules.FullDataStep`).  (Taking
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

from ._checks import as_rng, check_choice, check_positive_int
from .errors import ShapeError
from ._coordinates import _Coordinates
from .nets import Parameterization
from ._engine import GDResult, _descend, _prepare, _record_points

__all__ = ["SAMPLINGS", "batch_sequence", "sgd"]


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
    rate: float = 0.02,
    record=60,
    progress: bool | None = None,
) -> GDResult:
    """Mini-batch SGD on ``net`` with data ``X`` (N, D), labels ``y`` in {-1, +1}; returns a :class:`~ibcore.train.GDResult`.

    Arguments are those of :func:`ibcore.train.gradient_descent`, plus ``batch_size``
    (1 <= batch_size <= N), ``sampling`` (``"reshuffle"`` or ``"replacement"``, see the
    module docstring) and ``seed`` (int >= 0 or Generator) for the batches.  ``init`` is
    seeded separately (``None`` means seed 0 of ``net.init``).  The schedules are those of
    ``gradient_descent``; all but ``"constant"`` take the step size from the full data (module
    docstring) and are reparameterizations of (stochastic) gradient flow, not bounded steps.
    ``progress``: a progress bar on stderr, as in :func:`ibcore.train.gradient_descent` (``None``:
    in a terminal or a Jupyter kernel once the run has lasted 2 s; ``IBCORE_PROGRESS=0`` silences it).

    Raises
    ------
    NotSeparableError
        If the data are not linearly separable.
    DivergenceError
        If a ``"constant"`` step makes the full loss explode; the message names ``lr`` and the iteration.
    """
    X, y, steps, rule, u, sigma, batched = _prepare(net, X, y, steps=steps, schedule=schedule, lr=lr, T=T, rate=rate,
                                                    loss=loss, init=init, init_scale=init_scale)
    batches = batch_sequence(X.shape[0], batch_size, steps, sampling=sampling, seed=seed)
    # The parameters themselves as coordinates (not net._coordinates): the arithmetic sgd always had.
    coords = _Coordinates(net, X * y[:, None])
    return _descend(coords, u, sigma, L=net.depth, steps=steps, rule=rule, loss=loss, pts=_record_points(steps, record),
                    batched=batched, sampler=batches.__getitem__, name="SGD", progress=progress)
