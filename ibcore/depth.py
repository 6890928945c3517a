r"""Depth sweeps for diagonal and convolutional networks, and how many stationary points they reach.

For depth :math:`L \ge 3` the penalties of Theorem 2a and of diagonal networks,
:math:`\sum_d |v_d|^{2/L}` with :math:`\mathbf v = \boldsymbol\beta` or :math:`\hat{\boldsymbol\beta}`,
are not convex, and the theory promises only a *first-order stationary point*.
The chapters on those results (Theorem 2a; diagonal networks) make claims that need
more than one call to the core, and this module holds those calls:

- :func:`depth_sweep`: one data set, one architecture, depths :math:`2,\dots,6`, a batch
  of initializations per depth, every final direction polished and certified for the
  penalty of :func:`ibcore.experiments.penalty_of` (the same recipe as
  :func:`ibcore.experiments.figure1_sweep`, for one architecture and more depths);
- :func:`support_penalty` and :func:`distinct_stationary_points`: which certified
  limits are *different* stationary points.  Two are counted as different only if both
  are certified and their supports or their margin-1 penalties differ, so the count is
  a lower bound on the number of distinct points;
- :func:`constant_beside_angular`: the theorem's constant steps beside the fast angular
  schedule from the same initialization, compared at equal loss;
- :func:`dual_vector`: :math:`T\mathbf z = T\sum_n\alpha_n y_n\mathbf x_n` at a certified point, to
  show what the stationarity conditions fix on the support and leave free off it;
- :func:`real_fourier_basis`: the real orthonormal basis of cosines and sines in which
  a real vector's unitary DFT is written with real coordinates, to compare a
  convolutional network with a *real* diagonal network on Fourier-transformed data.

This module sits on top of :mod:`ibcore.experiments`; nothing in the core imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_float_array, check_choice, check_dataset, check_positive_float, check_positive_int
from .certificates import Certificate, Polished
from .errors import IbcoreTypeError, IbcoreValueError, SolverError
from .certificates import _penalty
from .experiments import ARCHITECTURES, SweepRun, _net, angles_at_equal_loss, penalty_of
from .fourier import dft
from .limits import polish
from .nets import Parameterization
from .train import GDResult, gradient_descent

__all__ = [
    "depth_sweep",
    "support_penalty",
    "StationaryPoint",
    "distinct_stationary_points",
    "EqualLossComparison",
    "constant_beside_angular",
    "real_fourier_basis",
    "dual_vector",
]

#: Two certified points with the same support are the same stationary point when their
#: support penalties agree to this relative tolerance.  Polishing the same point from
#: different starts reproduces the penalty to ~1e-14; distinct points on the book's
#: data differ by 1e-3 or more.  Along a connected set of KKT points with one active
#: set the penalty is constant (its derivative is sum_n alpha_n d(margin_n) = 0), so
#: different penalties always mean different points.
PENALTY_RTOL = 1e-8


# --------------------------------------------------------------------------- sweeps


def depth_sweep(
    architecture: str,
    X,
    y,
    depths=(2, 3, 4, 5, 6),
    *,
    steps: int = 5000,
    lr: float = 0.1,
    T: float = 100.0,
    seed: int = 0,
    batch: int = 32,
    scale: float = 1.0,
    active_tol: float = 1e-2,
) -> dict[int, SweepRun]:
    r"""Gradient descent on one architecture at several depths, each final direction polished.

    Every depth runs ``batch`` initializations ``net.init(seed, scale, batch)`` at once with
    the ``"angular"`` schedule (``lr``, ``T``; a reparameterization of gradient flow, not
    the theorems' bounded steps, see :mod:`ibcore.train`), and polishes every final
    direction (:func:`ibcore.limits.polish`) for the penalty of
    :func:`ibcore.experiments.penalty_of`: :math:`p = 2/L` in frequency for
    ``"convolutional"``, in time for ``"diagonal"``.

    ``active_tol = 1e-2``: the angular schedule leaves the support vectors' margins
    zigzagging by about the last relative step, ``lr / (1 + steps / T)`` (``2e-3``
    at the defaults), so the certificates' default ``1e-3`` would let the active set
    flicker.  A polish that fails (the least squares cannot run, or the direction does
    not yet separate the data: a deep run can still sit near the saddle at 0 when the
    budget ends) is recorded as ``None``; such a run is simply not certified.

    Returns ``{depth: SweepRun}``.
    """
    check_choice("architecture", architecture, set(ARCHITECTURES))
    X, y = check_dataset(X, y)
    depths = tuple(check_positive_int("depth", d) for d in depths)
    if not depths:
        raise IbcoreValueError("depths must name at least one depth")
    steps = check_positive_int("steps", steps)
    batch = check_positive_int("batch", batch)
    out: dict[int, SweepRun] = {}
    for depth in depths:
        p, domain, label = penalty_of(architecture, depth)
        net = _net(architecture, X.shape[1], depth)
        run = gradient_descent(net, X, y, steps=steps, lr=lr, schedule="angular", T=T,
                               init=net.init(seed, scale=scale, batch=batch), record=20, progress=False)
        polished = []
        for beta in run.beta:
            try:
                polished.append(polish(beta, X, y, p, domain, active_tol=active_tol))
            except (SolverError, IbcoreValueError):  # SolverError first: it is an IbcoreValueError too
                polished.append(None)
        out[depth] = SweepRun(architecture, depth, net, run, polished, p, domain, label)
    return out


# --------------------------------------------------------------------------- stationary points


def support_penalty(certificate: Certificate) -> float:
    r""":math:`\sum_{d\in S}|v_d|^p` at margin 1, summed over the certificate's support :math:`S` only.

    It recomputes what ``certificate.penalty`` holds (the certificates sum over the support
    too, for the same reason) from ``beta``, so it also serves certificates whose ``beta``
    was modified after the fact.  Why only the support: off the support a polished point carries round-off (:math:`\sim10^{-17}` after the
    projection through the DFT), which :math:`|\cdot|^p` with small :math:`p` magnifies:
    :math:`(10^{-17})^{1/3}\approx2\times10^{-6}`.  Two polishings of one stationary point
    at depth 6 were seen to differ by :math:`3\times10^{-6}` in ``penalty`` for that reason
    alone (their angle was :math:`10^{-14}` degrees).  On the support every
    :math:`|v_d|` exceeds ``support_tol`` times the largest, so nothing is magnified.
    """
    if not isinstance(certificate, Certificate):
        raise IbcoreTypeError(f"certificate must be an ibcore Certificate, got {type(certificate).__name__}")
    return _penalty(certificate.beta, certificate.p, certificate.domain, certificate.support)


@dataclass(frozen=True)
class StationaryPoint:
    """One stationary point reached by one or more initializations.

    ``penalty``: :func:`support_penalty` of its first member (margin 1); ``support``: bool
    over the D coordinates or frequencies; ``members``: indices of the initializations
    that reached it; ``beta``: the first member's polished, margin-1 predictor.
    """

    penalty: float
    support: np.ndarray
    members: tuple[int, ...]
    beta: np.ndarray

    @property
    def count(self) -> int:
        """How many initializations reached this point."""
        return len(self.members)


def distinct_stationary_points(
    polished,
    *,
    rtol: float = PENALTY_RTOL,
    tol: float = 1e-8,
    max_moved_deg: float = 0.5,
) -> list[StationaryPoint]:
    r"""Group certified polished limits into stationary points, sorted by penalty.

    ``polished`` is a list of :class:`~ibcore.limits.Polished` (or ``None`` where the
    polish failed), e.g. ``SweepRun.polished``; plain certificates
    (:func:`~ibcore.limits.bridge_certificate` of exact points) are accepted too.  Only
    certified points are used (``certified(tol=tol, max_moved_deg=max_moved_deg)``, or
    ``certified(tol=tol)`` for a plain certificate, which has not moved).  Two of them are the same point when
    their supports are equal and their :func:`support_penalty` values agree to ``rtol``
    (relative; :data:`PENALTY_RTOL`).  So two runs count as reaching *different*
    stationary points only when both are certified and their supports or penalties
    differ: the number of groups is a lower bound on the number of distinct points.
    """
    rtol = check_positive_float("rtol", rtol)
    groups: list[dict] = []
    for i, q in enumerate(polished):
        if q is None:
            continue
        if not isinstance(q, Certificate):
            raise IbcoreTypeError(f"polished[{i}] must be an ibcore Certificate or None, got {type(q).__name__}")
        # Keywords: a plain Certificate's second positional argument is off_tol, not max_moved_deg.
        ok = q.certified(tol=tol, max_moved_deg=max_moved_deg) if isinstance(q, Polished) else q.certified(tol=tol)
        if not ok:
            continue
        value = support_penalty(q)
        for g in groups:
            if np.array_equal(g["support"], q.support) and abs(value - g["penalty"]) <= rtol * g["penalty"]:
                g["members"].append(i)
                break
        else:
            groups.append({"penalty": value, "support": q.support.copy(), "members": [i], "beta": q.beta})
    points = [StationaryPoint(g["penalty"], g["support"], tuple(g["members"]), g["beta"]) for g in groups]
    return sorted(points, key=lambda s: s.penalty)


# --------------------------------------------------------------------------- constant steps


@dataclass
class EqualLossComparison:
    """Constant-step gradient descent beside a densely recorded angular run from the same start.

    ``constant`` and ``angular``: the two :class:`~ibcore.train.GDResult`; ``log_loss`` and
    ``angles``: the angle (degrees) between their predictor directions at the recorded
    loss levels of ``constant`` (:func:`ibcore.experiments.angles_at_equal_loss`).
    """

    constant: GDResult
    angular: GDResult
    log_loss: np.ndarray
    angles: np.ndarray


def constant_beside_angular(
    net: Parameterization,
    X,
    y,
    init,
    *,
    constant_steps: int = 6000,
    constant_lr: float = 0.05,
    angular_steps: int = 1500,
    angular_lr: float = 0.01,
    angular_T: float = 1000.0,
) -> EqualLossComparison:
    r"""Run the theorem's constant steps and the angular schedule from ``init``; compare at equal loss.

    The angular schedule is a reparameterization of gradient flow; constant steps are
    the algorithm of the theorems.  Along gradient flow the loss decreases strictly, so
    it labels points of the path whatever the speed of a schedule; the angular run is
    recorded at every step (small steps ``angular_lr``, slow decay ``angular_T``) so
    that it can be interpolated at each loss level the constant run passes.  What is
    left is the :math:`O(\eta)` difference between constant steps of size
    ``constant_lr`` and the flow.
    """
    if not isinstance(net, Parameterization):
        raise IbcoreTypeError(f"net must be an ibcore.nets Parameterization, got {type(net).__name__}")
    init = as_float_array("init", init, ndim=1)
    angular_steps = check_positive_int("angular_steps", angular_steps)
    constant = gradient_descent(net, X, y, steps=constant_steps, lr=constant_lr, init=init, record=200,
                                progress=False)
    angular = gradient_descent(net, X, y, steps=angular_steps, lr=angular_lr, schedule="angular", T=angular_T,
                               init=init, record=np.arange(angular_steps + 1), progress=False)
    log_loss, angles = angles_at_equal_loss(constant, angular)
    return EqualLossComparison(constant, angular, log_loss, angles)


# --------------------------------------------------------------------------- real Fourier basis


def real_fourier_basis(dim: int) -> tuple[np.ndarray, list[str]]:
    r"""The real orthonormal basis :math:`Q` whose coordinates of :math:`\mathbf z` are the real and
    imaginary parts of its unitary DFT, and a label for each row.

    Rows, in order: :math:`F[0]` (label ``"0"``); for :math:`k = 1,\dots,\lceil D/2\rceil-1`,
    :math:`\sqrt2\,\mathrm{Re}\,F[k]` (``"c{k}"``) and :math:`\sqrt2\,\mathrm{Im}\,F[k]` (``"s{k}"``);
    and :math:`F[D/2]` (``"{D/2}"``) when :math:`D` is even.  For real :math:`\mathbf z`,
    :math:`(Q\mathbf z)_{c_k} = \sqrt2\,\mathrm{Re}\,\hat{\mathbf z}[k]` and
    :math:`(Q\mathbf z)_{s_k} = \sqrt2\,\mathrm{Im}\,\hat{\mathbf z}[k]`, so
    :math:`|\hat{\mathbf z}[k]| = |\hat{\mathbf z}[D-k]| = \sqrt{(Q\mathbf z)_{c_k}^2 + (Q\mathbf z)_{s_k}^2}/\sqrt2`.
    :math:`Q` is orthogonal (the factor :math:`\sqrt2` makes up for the conjugate frequency
    :math:`D-k` that the pair stands for).  For :math:`D\le2` it is the DFT itself, which
    is then real.
    """
    dim = check_positive_int("dim", dim)
    k = np.arange(dim)
    F = np.exp(-2j * np.pi * np.outer(k, k) / dim) / np.sqrt(dim)
    rows, labels = [F[0].real], ["0"]
    for freq in range(1, (dim + 1) // 2):
        rows += [np.sqrt(2) * F[freq].real, np.sqrt(2) * F[freq].imag]
        labels += [f"c{freq}", f"s{freq}"]
    if dim % 2 == 0 and dim > 1:
        rows.append(F[dim // 2].real)
        labels.append(str(dim // 2))
    return np.array(rows), labels


def dual_vector(certificate: Certificate, X, y) -> np.ndarray:
    r""":math:`T\mathbf z` with :math:`\mathbf z = \sum_n\alpha_n y_n\mathbf x_n`, the certificate's multipliers.

    :math:`T` is the identity (``domain="time"``) or the unitary DFT (``"fourier"``, complex
    output).  At a certified point it equals :math:`|v_d|^{p-2}v_d` on the support; off the
    support it is what the stationarity conditions leave free for :math:`p<1`, and what
    must have modulus at most 1 for :math:`p = 1`.
    """
    if not isinstance(certificate, Certificate):
        raise IbcoreTypeError(f"certificate must be an ibcore Certificate, got {type(certificate).__name__}")
    X, y = check_dataset(X, y)
    if X.shape[0] != certificate.alpha.size or X.shape[1] != certificate.beta.size:
        raise IbcoreValueError(
            f"X of shape {X.shape} is not the data of this certificate "
            f"(N = {certificate.alpha.size}, D = {certificate.beta.size})"
        )
    z = X.T @ (certificate.alpha * y)
    return dft(z) if certificate.domain == "fourier" else z
