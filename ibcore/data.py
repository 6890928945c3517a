r"""Seeded, linearly separable data sets, and an exact test of separability.

Every theorem of the book assumes data that some predictor through the origin
separates strictly: :math:`\exists\boldsymbol\beta:\ y_n\langle\mathbf x_n,\boldsymbol\beta\rangle>0`
for all :math:`n` (the networks have no bias).  On other data the loss has a
positive infimum and the limit direction the theorems describe does not exist.
So every generator here ends by calling :func:`check_separable`, and a chapter
can call it on any data set of its own.

All generators take ``seed`` (an int or a ``numpy.random.Generator``) and
return float64 arrays ``X`` of shape ``(n_samples, dim)`` and ``y`` of shape
``(n_samples,)`` with labels in ``{-1.0, +1.0}``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy.optimize import linprog

from ._checks import as_rng, check_choice, check_dataset, check_positive_int
from .errors import IbcoreTypeError, IbcoreValueError, NotSeparableError, SolverError
from .fourier import idft

__all__ = [
    "gaussian",
    "sparse_time_teacher",
    "sparse_frequency_teacher",
    "closed_form_2d",
    "check_separable",
]

#: Smallest margin, on unit-norm rows with ``|beta_i| <= 1``, that counts as separable.
#: It sits two orders above the LP's feasibility tolerance (``_LP_TOL``) and far above
#: the round-off of a float64 dot product of such vectors (about ``dim * 1e-16``), so
#: a verified margin above it cannot be an artefact of the solver or of rounding.
SEPARABILITY_TOL = 1e-8
_LP_TOL = 1e-10

#: Largest teacher margin gap accepted: beyond it rejection sampling keeps fewer than
#: one draw in a thousand (the teacher's margin of a Gaussian point is N(0, 1)).
_MAX_MARGIN_GAP = 3.0


def _check_margin_gap(margin) -> float:
    """Validate the teacher margin gap: a finite float in [0, 3] (see ``_MAX_MARGIN_GAP``)."""
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
        raise IbcoreTypeError(f"margin must be a real number, got {type(margin).__name__}")
    margin = float(margin)
    if not (0.0 <= margin <= _MAX_MARGIN_GAP):
        raise IbcoreValueError(f"margin must be a number in [0, {_MAX_MARGIN_GAP}], got {margin}")
    return margin


def _label_by_teacher(
    rng: np.random.Generator, n_samples: int, beta_star: np.ndarray, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw Gaussian points and label them ``sign(<x, beta_star>)``, keeping those with a margin gap.

    ``beta_star`` has unit norm, so the teacher margin :math:`\langle\mathbf x,\boldsymbol\beta^*\rangle`
    of a standard Gaussian point is :math:`\mathcal N(0,1)`; points with
    :math:`|\langle\mathbf x,\boldsymbol\beta^*\rangle|\le` ``margin`` are rejected and redrawn.
    With ``margin=0`` only exact zeros (probability zero) are rejected, so ``X`` is
    i.i.d. Gaussian; with ``margin > 0`` it is Gaussian conditioned on the gap.
    """
    keep_prob = math.erfc(margin / math.sqrt(2.0))
    rows: list[np.ndarray] = []
    kept = 0
    while kept < n_samples:
        chunk = math.ceil(1.2 * (n_samples - kept) / keep_prob) + 8
        X = rng.standard_normal((chunk, beta_star.size))
        X = X[np.abs(X @ beta_star) > margin]
        rows.append(X)
        kept += X.shape[0]
    X = np.concatenate(rows)[:n_samples]
    return X, np.sign(X @ beta_star)


def _finish(X: np.ndarray, y: np.ndarray, beta_star: np.ndarray | None, return_teacher: bool):
    """Check separability (the contract of every generator) and package the result."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    check_separable(X, y)
    return (X, y, beta_star) if return_teacher else (X, y)


def gaussian(n_samples: int, dim: int, seed=0, *, labels: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    r"""I.i.d. standard Gaussian points with labels that a linear predictor separates.

    ``labels``:

    - ``"random"``: i.i.d. uniform signs.  When ``n_samples < dim`` the points are
      linearly independent almost surely, so *any* labels are separable: this is the
      book's default setting (e.g. ``D = 16, N = 8``), where the limit is decided by
      the architecture alone, not by a teacher.
    - ``"teacher"``: :math:`y_n=\operatorname{sign}\langle\mathbf x_n,\boldsymbol\beta^*\rangle`
      for a random Gaussian teacher, separable for any ``n_samples``.
    - ``"auto"`` (default): ``"random"`` if ``n_samples < dim``, else ``"teacher"``.

    Random labels with ``n_samples >= dim`` are usually not separable; then
    :class:`~ibcore.errors.NotSeparableError` is raised rather than a data set returned.
    """
    n_samples = check_positive_int("n_samples", n_samples)
    dim = check_positive_int("dim", dim)
    check_choice("labels", labels, {"auto", "random", "teacher"})
    rng = as_rng("seed", seed)
    if labels == "auto":
        labels = "random" if n_samples < dim else "teacher"
    if labels == "random":
        X = rng.standard_normal((n_samples, dim))
        y = rng.choice(np.array([-1.0, 1.0]), size=n_samples)
        return _finish(X, y, None, False)
    beta_star = rng.standard_normal(dim)
    beta_star /= np.linalg.norm(beta_star)
    X, y = _label_by_teacher(rng, n_samples, beta_star, 0.0)
    return _finish(X, y, beta_star, False)


def sparse_time_teacher(
    n_samples: int,
    dim: int,
    n_active: int = 2,
    seed=0,
    *,
    margin: float = 0.0,
    return_teacher: bool = False,
):
    r"""Gaussian points labelled by a teacher with ``n_active`` nonzero coordinates.

    The teacher :math:`\boldsymbol\beta^*` has its support drawn uniformly among the
    ``dim`` coordinates, Gaussian values there, and unit norm; labels are
    :math:`\operatorname{sign}\langle\mathbf x_n,\boldsymbol\beta^*\rangle`.  Diagonal
    networks (an :math:`\ell_{2/L}` bias in time) are the architecture this data set is
    made for.  ``margin`` > 0 redraws every point whose teacher margin
    :math:`|\langle\mathbf x_n,\boldsymbol\beta^*\rangle|` is at most ``margin``, so the
    teacher separates with normalized margin above ``margin`` (``X`` is then Gaussian
    conditioned on that gap).  ``return_teacher=True`` returns ``(X, y, beta_star)``.
    """
    n_samples = check_positive_int("n_samples", n_samples)
    dim = check_positive_int("dim", dim)
    n_active = check_positive_int("n_active", n_active)
    if n_active > dim:
        raise IbcoreValueError(f"n_active must be at most dim = {dim}, got {n_active}")
    margin = _check_margin_gap(margin)
    rng = as_rng("seed", seed)
    beta_star = np.zeros(dim)
    support = rng.choice(dim, size=n_active, replace=False)
    beta_star[support] = rng.standard_normal(n_active)
    beta_star /= np.linalg.norm(beta_star)
    X, y = _label_by_teacher(rng, n_samples, beta_star, margin)
    return _finish(X, y, beta_star, return_teacher)


def sparse_frequency_teacher(
    n_samples: int,
    dim: int,
    n_active: int = 2,
    seed=0,
    *,
    margin: float = 0.0,
    return_teacher: bool = False,
):
    r"""Gaussian points labelled by a real teacher whose unitary DFT has few nonzero frequencies.

    A real :math:`\boldsymbol\beta^*` has a conjugate-symmetric transform,
    :math:`\hat\beta^*[D-k]=\overline{\hat\beta^*[k]}`, so its frequencies are the
    ``dim // 2 + 1`` bins :math:`k=0,\dots,\lfloor D/2\rfloor` (those of ``numpy.fft.rfft``).
    ``n_active`` counts these **bins**: that many are drawn uniformly, each given a
    complex Gaussian coefficient (real for the self-conjugate bins :math:`k=0` and,
    for even ``dim``, :math:`k=D/2`), mirrored to :math:`D-k`.  The number of nonzero
    entries of :math:`\hat{\boldsymbol\beta}^*` is therefore between ``n_active`` and
    ``2 * n_active``.  The teacher has unit norm; labels, ``margin`` and
    ``return_teacher`` are as in :func:`sparse_time_teacher`.  Convolutional networks
    (an :math:`\ell_{2/L}` bias in frequency) are the architecture this set is made for.
    """
    n_samples = check_positive_int("n_samples", n_samples)
    dim = check_positive_int("dim", dim)
    n_active = check_positive_int("n_active", n_active)
    n_bins = dim // 2 + 1
    if n_active > n_bins:
        raise IbcoreValueError(
            f"n_active must be at most dim // 2 + 1 = {n_bins} (the frequency bins of a real "
            f"vector of length {dim}), got {n_active}"
        )
    margin = _check_margin_gap(margin)
    rng = as_rng("seed", seed)
    bins = rng.choice(n_bins, size=n_active, replace=False)
    beta_hat = np.zeros(dim, dtype=complex)
    for k in bins:
        self_conjugate = k == 0 or 2 * k == dim
        coeff = rng.standard_normal() + (0.0 if self_conjugate else 1j * rng.standard_normal())
        beta_hat[k] = coeff
        beta_hat[(dim - k) % dim] = np.conj(coeff)
    beta_star = np.real(idft(beta_hat))
    beta_star /= np.linalg.norm(beta_star)
    X, y = _label_by_teacher(rng, n_samples, beta_star, margin)
    return _finish(X, y, beta_star, return_teacher)


def closed_form_2d() -> tuple[np.ndarray, np.ndarray]:
    r"""The hand-solvable set of Soudry et al. (2018): its SVM is known in closed form.

    Points :math:`(0.5, 1.5)` and :math:`(1.5, 0.5)` labelled :math:`+1` and their
    negatives labelled :math:`-1`.  For a unit direction :math:`(\cos\theta,\sin\theta)`
    the smallest margin is :math:`\min(0.5\cos\theta+1.5\sin\theta,\ 1.5\cos\theta+0.5\sin\theta)`,
    largest at :math:`\theta=45^\circ` where both equal :math:`\sqrt2`.  So the SVM direction
    is :math:`(1,1)/\sqrt2`, the normalized margin :math:`\sqrt2`, every point is a support
    vector, and the margin-1 SVM is :math:`\boldsymbol\beta=(0.5, 0.5)`.
    """
    X = np.array([[0.5, 1.5], [1.5, 0.5], [-0.5, -1.5], [-1.5, -0.5]])
    y = np.array([1.0, 1.0, -1.0, -1.0])
    return _finish(X, y, None, False)


def check_separable(X, y) -> float:
    r"""Decide whether a strict linear separator through the origin exists; raise if not.

    The predictor is :math:`f(\mathbf x)=\langle\mathbf x,\boldsymbol\beta\rangle` (no bias).
    Dividing a row by its norm does not change which :math:`\boldsymbol\beta` separate,
    so with unit rows :math:`\mathbf z_n=y_n\mathbf x_n/\|\mathbf x_n\|` the linear program
    (HiGHS, feasibility tolerances ``1e-10``)

    .. math:: t^*=\max_{\boldsymbol\beta,\,t}\ t\quad\text{s.t.}\quad
              \langle\mathbf z_n,\boldsymbol\beta\rangle\ge t,\ \ -1\le\beta_i\le1,\ \ t\le1

    is always feasible (:math:`\boldsymbol\beta=0,t=0`) and bounded, and :math:`t^*>0`
    exactly when the data are separable.  The verdict does not trust the solver's
    :math:`t^*`: the smallest of :math:`\langle\mathbf z_n,\boldsymbol\beta\rangle` is
    recomputed in float64 for the returned :math:`\boldsymbol\beta`, and the data count as
    separable only if it exceeds ``SEPARABILITY_TOL = 1e-8``.  Data whose best margin in
    this normalization is below that are reported as not separable: gradient descent
    in float64 could not tell them from non-separable data either.

    Returns the normalized margin :math:`\min_n y_n\langle\mathbf x_n,\boldsymbol\beta\rangle/\|\boldsymbol\beta\|_2`
    of the LP's separator on the original data: a certificate of separability and a
    lower bound on the hard-margin SVM's normalized margin.

    Raises :class:`~ibcore.errors.NotSeparableError` when no separator exists (including
    when a row of ``X`` is zero, whose margin is 0 for every ``beta``), and
    :class:`~ibcore.errors.SolverError` if HiGHS does not report an optimum.
    """
    X, y = check_dataset(X, y)
    norms = np.linalg.norm(X, axis=1)
    zero_rows = np.flatnonzero(norms == 0.0)
    if zero_rows.size:
        raise NotSeparableError(
            f"X[{zero_rows[0]}] is the zero vector: its margin y<x, beta> is 0 for every beta, "
            "so no strict linear separator through the origin exists"
        )
    Z = y[:, None] * X / norms[:, None]
    n_samples, dim = Z.shape
    cost = np.zeros(dim + 1)
    cost[-1] = -1.0  # minimize -t
    constraints = np.hstack([-Z, np.ones((n_samples, 1))])  # t - <z_n, beta> <= 0
    bounds = [(-1.0, 1.0)] * dim + [(None, 1.0)]
    result = linprog(
        cost,
        A_ub=constraints,
        b_ub=np.zeros(n_samples),
        bounds=bounds,
        method="highs",
        options={"primal_feasibility_tolerance": _LP_TOL, "dual_feasibility_tolerance": _LP_TOL},
    )
    if result.status != 0 or result.x is None:
        raise SolverError(f"the separability LP (HiGHS) did not reach an optimum: {result.message}")
    beta = result.x[:dim]
    verified = float(np.min(Z @ beta))
    if not verified > SEPARABILITY_TOL:
        raise NotSeparableError(
            f"the data (X, y) are not linearly separable through the origin: the best margin "
            f"over unit-norm rows with |beta_i| <= 1 is {max(verified, 0.0):.3g}, not above "
            f"{SEPARABILITY_TOL:g}"
        )
    return float(np.min(y * (X @ beta)) / np.linalg.norm(beta))
