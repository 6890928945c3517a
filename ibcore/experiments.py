r"""Experiments that several chapters share: frozen frequencies, support counts, runs at
equal loss, and the sweep behind the book's numerical Figure 1.

This module sits on top of the others (it imports :mod:`ibcore.train` and
:mod:`ibcore.limits`); nothing imports it.  Each function exists because a chapter
makes a claim that needs more than one call to the core:

- :func:`remove_frequencies` and :func:`frozen_frequency_init`: a conv net whose
  filters all start with :math:`\hat{\mathbf w}_l[k]=0` keeps :math:`\hat{\boldsymbol\beta}[k]=0`
  forever, because the Fourier gradient at :math:`k` is
  :math:`\hat{\mathbf g}[k]\,\overline{\prod_{l'\ne l}\hat{\mathbf w}_{l'}[k]}=0`.  This is
  the measure-zero set of initializations that Theorem 2 excludes.
- :func:`restricted_fourier_l1_margin`: where such a run goes instead, the Fourier-ℓ1
  problem with those frequencies removed, solved by the same convex solver on
  projected data (no new solver).
- :func:`active_count`: how many coordinates or frequencies a predictor uses, with the
  threshold stated.
- :func:`angles_at_equal_loss`: compare two schedules along the gradient-flow path
  where :math:`\|\mathbf w\|` is not monotone (rich-regime runs from a small initialization).
- :func:`figure1_sweep`: one data set, the three architectures at depths 1-4, each
  run polished and certified for the penalty its theorem names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_float_array, check_choice, check_dataset, check_positive_float, check_positive_int
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError
from .fourier import dft
from .limits import Reference, min_fourier_l1_margin, polish
from .nets import Convolutional, Diagonal, FullyConnected, Parameterization
from .train import GDResult, gradient_descent

__all__ = [
    "remove_frequencies",
    "frozen_frequency_init",
    "restricted_fourier_l1_margin",
    "active_count",
    "angles_at_equal_loss",
    "ARCHITECTURES",
    "SweepRun",
    "figure1_sweep",
    "penalty_of",
]

#: The three parameterizations of the paper, by the names the book uses.
ARCHITECTURES = ("fully connected", "diagonal", "convolutional")


# --------------------------------------------------------------------------- frozen frequencies


def _frequencies(frequencies, dim: int) -> np.ndarray:
    """The frequencies to remove, closed under k -> D - k (a real vector's spectrum is conjugate symmetric)."""
    ks = np.atleast_1d(np.asarray(frequencies))
    if ks.ndim != 1 or ks.size == 0 or not np.issubdtype(ks.dtype, np.integer):
        raise IbcoreTypeError("frequencies must be an int or a non-empty 1-D sequence of ints")
    if np.any(ks < 0) or np.any(ks >= dim):
        raise IbcoreValueError(f"frequencies must lie in [0, {dim - 1}], got {ks.tolist()}")
    return np.unique(np.concatenate([ks, (-ks) % dim]))


def remove_frequencies(v, frequencies) -> np.ndarray:
    r"""Zero the unitary DFT of real vectors ``v`` (last axis) at ``frequencies`` and at :math:`D-k`.

    Both members of each conjugate pair are removed, so the result is real: it is the
    orthogonal projection of ``v`` onto :math:`\{\mathbf z:\hat{\mathbf z}[k]=\hat{\mathbf z}[D-k]=0\}`.
    The removed coefficients are zero up to round-off (about ``1e-16`` of the largest).
    """
    v = as_float_array("v", v)
    if v.ndim == 0:
        raise ShapeError("v must have at least one axis")
    ks = _frequencies(frequencies, v.shape[-1])
    spec = np.fft.fft(v, axis=-1)
    spec[..., ks] = 0.0
    return np.ascontiguousarray(np.fft.ifft(spec, axis=-1).real)


def frozen_frequency_init(net: Convolutional, seed, frequencies, *, scale: float = 1.0, batch: int | None = None):
    r"""``net.init(seed, scale, batch)`` with :math:`\hat{\mathbf w}_l[k] = \hat{\mathbf w}_l[D-k] = 0` in *every* filter.

    For a convolutional net :math:`F\nabla_{\mathbf w_l}\langle\mathbf g,\mathcal P(\mathbf w)\rangle
    = \hat{\mathbf g}\odot\overline{\prod_{l'\ne l}\hat{\mathbf w}_{l'}}`, so with two or more layers
    the gradient of every filter vanishes at :math:`k` and gradient descent never moves
    :math:`\hat{\mathbf w}_l[k]` off zero: :math:`\hat{\boldsymbol\beta}[k]` stays zero at every
    step, whatever the data.  In floating point it stays at round-off (``1e-16``).
    """
    if not isinstance(net, Convolutional):
        raise IbcoreTypeError(f"net must be an ibcore.nets.Convolutional, got {type(net).__name__}")
    if not net.full_width:
        raise IbcoreTypeError(f"frozen frequencies need full-width filters (their DFT has length dim); got {net!r}")
    w = net.init(seed, scale=scale, batch=batch)
    layers = net.unflatten(w)
    return net.flatten([remove_frequencies(layer, frequencies) for layer in layers])


def restricted_fourier_l1_margin(X, y, frequencies) -> Reference:
    r""":math:`\min\|\hat{\boldsymbol\beta}\|_1` s.t. margins :math:`\ge1` *and* :math:`\hat{\boldsymbol\beta}[k]=0` at ``frequencies``.

    Solved as :func:`ibcore.limits.min_fourier_l1_margin` on the projected data
    :math:`\Pi\mathbf x_n` (:func:`remove_frequencies`).  Why that is the same problem: the
    margins only see :math:`\Pi\boldsymbol\beta`, because :math:`\langle\Pi\mathbf x,\boldsymbol\beta\rangle
    = \langle\mathbf x,\Pi\boldsymbol\beta\rangle`, and removing frequencies never increases
    :math:`\|\hat{\boldsymbol\beta}\|_1`; so the minimizer on projected data has
    :math:`\hat{\boldsymbol\beta}[k]=0` and is feasible and optimal for the restricted problem.
    It is the limit that Theorem 2's argument predicts for a run with those frequencies frozen.
    """
    X, y = check_dataset(X, y)
    return min_fourier_l1_margin(remove_frequencies(X, frequencies), y)


# --------------------------------------------------------------------------- counts and comparisons


def active_count(beta, domain: str = "time", threshold: float = 1e-3) -> np.ndarray | int:
    r"""Number of coordinates (``"time"``) or frequencies (``"fourier"``, moduli of the unitary
    DFT, counting :math:`k` and :math:`D-k` separately) with :math:`|v_d| >` ``threshold`` :math:`\cdot\max_d|v_d|`.

    The threshold is relative to the largest entry, so the count does not depend on the
    scale of ``beta``.  ``1e-3`` is :data:`ibcore.limits.SUPPORT_TOL`, the support threshold
    of the certificates; a polished point is exactly zero off its support, so for it the
    count is the same for every threshold between round-off and its smallest entry.
    ``beta`` of shape (B, D) gives B counts.
    """
    beta = as_float_array("beta", beta, ndim=(1, 2))
    check_choice("domain", domain, {"time", "fourier"})
    threshold = check_positive_float("threshold", threshold)
    if threshold >= 1:
        raise IbcoreValueError(f"threshold is relative to the largest entry and must be < 1, got {threshold}")
    mod = np.abs(dft(beta)) if domain == "fourier" else np.abs(beta)
    top = np.max(mod, axis=-1, keepdims=True)
    if np.any(top == 0):
        raise IbcoreValueError("beta contains a zero vector, which has no support to count")
    count = np.sum(mod > threshold * top, axis=-1)
    return int(count) if beta.ndim == 1 else count


def angles_at_equal_loss(reference: GDResult, other: GDResult) -> tuple[np.ndarray, np.ndarray]:
    r"""Angle (degrees) between two unbatched runs' predictor directions at equal loss.

    The loss decreases strictly along gradient flow (:math:`\tfrac{d}{dt}\mathcal L = -\|\nabla\mathcal L\|^2`),
    so it labels the points of the path however fast a schedule moves along it.  It is
    the label to use when :math:`\|\mathbf w\|` is not (rich-regime runs from a small
    initialization first shrink or stall in norm while the filters turn), where
    :func:`ibcore.train.angles_at_equal_norm` would pair unrelated points.  For every
    recorded point of ``reference`` whose log-loss ``other`` also passes, ``other``'s
    direction is interpolated linearly in log-loss between its two bracketing records
    (so record ``other`` densely).  ``other``'s log-loss must be non-increasing.
    Returns ``(log_loss, angles)``.
    """
    for name, r in (("reference", reference), ("other", other)):
        if not isinstance(r, GDResult):
            raise IbcoreTypeError(f"{name} must be a GDResult, got {type(r).__name__}")
        if np.ndim(r.log_loss) != 0:
            raise ShapeError(f"{name} must be an unbatched run (init of shape (P,) or a seed)")
    h, g = reference.history, other.history
    return _angles_at_equal_loss(h["log_loss"], h["beta"], g["log_loss"], g["beta"])


def _angles_at_equal_loss(ref_log_loss, ref_dirs, log_loss, dirs) -> tuple[np.ndarray, np.ndarray]:
    """The interpolation of :func:`angles_at_equal_loss` on recorded arrays: log-losses (K,) and
    directions (K, ...) of the two runs (flattened per record, so any shape of direction works)."""
    from . import angle

    lr_, lo = ref_log_loss, log_loss
    br, bo = ref_dirs.reshape(len(lr_), -1), dirs.reshape(len(lo), -1)
    if np.any(np.diff(lo) > 1e-12 * np.maximum(1.0, np.abs(lo[:-1]))):
        raise IbcoreValueError("other's loss increases somewhere; it is not following a descent path")
    keep = (lr_ <= lo[0]) & (lr_ >= lo[-1])
    if not np.any(keep):
        raise IbcoreValueError("the two runs share no range of the loss")
    x = -lo  # increasing
    q = -lr_[keep]
    j = np.clip(np.searchsorted(x, q), 1, x.size - 1)
    span = np.where(x[j] > x[j - 1], x[j] - x[j - 1], 1.0)
    frac = np.clip((q - x[j - 1]) / span, 0.0, 1.0)[:, None]
    interp = (1 - frac) * bo[j - 1] + frac * bo[j]
    return lr_[keep], np.atleast_1d(angle(br[keep], interp))


# --------------------------------------------------------------------------- Figure 1


def penalty_of(architecture: str, depth: int) -> tuple[float, str, str]:
    r"""``(p, domain, label)`` of the penalty the theorems attach to an architecture.

    Fully connected: the SVM, :math:`p=2` in time, at every depth (Theorem 1).
    Diagonal: :math:`p=2/L` in time; convolutional: :math:`p=2/L` in frequency
    (Theorems 2, 2a); at depth 1 every architecture is :math:`\boldsymbol\beta=\mathbf w`, the SVM.
    """
    check_choice("architecture", architecture, set(ARCHITECTURES))
    depth = check_positive_int("depth", depth)
    if architecture == "fully connected" or depth == 1:
        return 2.0, "time", r"$\|\beta\|_2$"
    p = 2.0 / depth
    q = "1" if depth == 2 else f"2/{depth}"
    if architecture == "diagonal":
        return p, "time", rf"$\|\beta\|_{{{q}}}$"
    return p, "fourier", rf"$\|\hat\beta\|_{{{q}}}$"


def _net(architecture: str, dim: int, depth: int) -> Parameterization:
    return {"fully connected": FullyConnected, "diagonal": Diagonal, "convolutional": Convolutional}[architecture](
        dim, depth
    )


@dataclass
class SweepRun:
    """One architecture at one depth in :func:`figure1_sweep`.

    ``run`` is the batched :class:`~ibcore.train.GDResult`; ``polished`` one
    :class:`~ibcore.limits.Polished` per initialization (``None`` where the refinement
    itself failed); ``p``, ``domain``, ``label`` the penalty (:func:`penalty_of`).
    """

    architecture: str
    depth: int
    net: Parameterization
    run: GDResult
    polished: list
    p: float
    domain: str
    label: str

    def certified(self, tol: float = 1e-8, max_moved_deg: float = 0.5) -> np.ndarray:
        """Per initialization: polish succeeded and its certificate holds (:meth:`Polished.certified`)."""
        return np.array([q is not None and q.certified(tol, max_moved_deg=max_moved_deg) for q in self.polished])

    def supports(self) -> np.ndarray:
        """Per initialization: size of the polished point's support (-1 where polish failed)."""
        return np.array([int(q.support.sum()) if q is not None else -1 for q in self.polished])


def figure1_sweep(
    X,
    y,
    depths=(1, 2, 3, 4),
    *,
    steps: int = 6000,
    lr: float = 0.1,
    T: float = 100.0,
    seed: int = 0,
    batch: int = 4,
    scale: float = 1.0,
    active_tol: float = 1e-2,
) -> dict[tuple[str, int], SweepRun]:
    r"""Gradient descent on one data set for every architecture and depth, each run polished.

    Every (architecture, depth) runs ``batch`` initializations ``net.init(seed, scale, batch)``
    with the ``"angular"`` schedule (``lr``, ``T``: a reparameterization of gradient flow,
    see :mod:`ibcore.train`), and every final direction is polished
    (:func:`ibcore.limits.polish`) for the penalty of :func:`penalty_of`.  Depth 1 is one
    run shared by the three architectures, which are then the same map :math:`\boldsymbol\beta=\mathbf w`.

    ``active_tol`` (default ``1e-2``, looser than the certificates' ``1e-3``): with the
    angular schedule the margins of the support vectors keep zigzagging by about the
    last relative step, ``lr / (1 + steps / T)`` (``1.6e-3`` at the defaults), so a
    tighter threshold can drop a support vector from the active set.  Including a sample
    that is not active is harmless: polishing then finds its multiplier zero, or moves
    far and is not certified.

    Returns ``{(architecture, depth): SweepRun}``.
    """
    X, y = check_dataset(X, y)
    dim = X.shape[1]
    depths = tuple(check_positive_int("depth", d) for d in depths)
    out: dict[tuple[str, int], SweepRun] = {}
    for depth in depths:
        shared = None
        for architecture in ARCHITECTURES:
            p, domain, label = penalty_of(architecture, depth)
            if depth == 1 and shared is not None:
                out[(architecture, depth)] = SweepRun(architecture, depth, shared.net, shared.run,
                                                      shared.polished, p, domain, label)
                continue
            net = _net(architecture, dim, depth)
            run = gradient_descent(net, X, y, steps=steps, lr=lr, schedule="angular", T=T,
                                   init=net.init(seed, scale=scale, batch=batch), record=20, progress=False)
            polished = []
            for beta in run.beta:
                try:
                    polished.append(polish(beta, X, y, p, domain, active_tol=active_tol))
                except IbcoreValueError:  # SolverError, or a direction that does not yet separate the data
                    polished.append(None)
            out[(architecture, depth)] = shared = SweepRun(architecture, depth, net, run, polished, p, domain, label)
    return out
