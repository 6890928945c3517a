r"""The few figures every chapter reuses: angle to the limit, spectrum, margins.

Matplotlib only.  Each function draws on ``ax`` if given (so chapters can compose
panels and overlay several runs) and otherwise makes a new figure through
``matplotlib.pyplot``, so that notebooks show it; it returns the Figure either way.
No backend is chosen here: that is the caller's business (tests use Agg).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._checks import as_float_array, check_dataset, check_positive_float
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError
from .fourier import dft

__all__ = ["angle_curve", "spectrum_stems", "margins_plot", "time_and_frequency"]


def _axes(ax: Axes | None, **subplots) -> Axes:
    """Return ``ax``, or the single axes of a new pyplot figure."""
    if ax is None:
        return plt.subplots(**subplots)[1]
    if not isinstance(ax, Axes):
        raise IbcoreTypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax


def _labels(labels, count: int) -> list[str | None]:
    """``None``, one string, or ``count`` strings -> a list of ``count`` labels (one per line)."""
    if labels is None or isinstance(labels, str):
        return [labels] * count
    if not isinstance(labels, Sequence) or len(labels) != count:
        raise IbcoreValueError(f"labels must be None, a string, or a sequence of {count} strings, got {labels!r}")
    return [str(label) for label in labels]


def _unit_rows(name: str, vectors) -> np.ndarray:
    """Vectors (D,) or (M, D) as a 2-D array of unit-norm rows; a zero row has no direction."""
    v = as_float_array(name, vectors, ndim=(1, 2))
    v = np.atleast_2d(v)
    if v.shape[-1] == 0:
        raise ShapeError(f"{name} must have at least one entry, got shape {v.shape}")
    scale = np.max(np.abs(v), axis=-1, keepdims=True)
    if np.any(scale == 0):
        raise IbcoreValueError(f"{name} contains a zero vector, which has no direction to plot")
    v = v / scale  # dividing by the largest entry first keeps the norm finite at any scale
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def angle_curve(
    iterations, angles_deg, labels=None, ax: Axes | None = None, *, floor: float = 1e-9
) -> Figure:
    r"""Angle to the reference limit versus iteration, on logarithmic axes.

    ``angles_deg`` is ``(K,)`` for one run or ``(K, B)`` for a batch sampled at the
    ``K`` ``iterations`` (e.g. ``history["iteration"]``, with the batch axis second as
    in ``ibcore.train``).  ``labels`` is one string for the whole call, or ``B`` strings:

    - one label (or ``None``) and ``B > 1``: every run is a faint line in one colour and
      their median is drawn over them, carrying the label; call again on the same
      ``ax`` to overlay another method in the next colour;
    - ``B`` labels: one ordinary line per run.

    The y axis is logarithmic because the angle of plain GD decays like
    :math:`1/\log t` and the fast schedules' like a power; exact zeros (a run that
    lands on the reference to machine precision) would vanish from a log axis, so
    angles are clipped below at ``floor`` degrees.  The x axis is ``symlog`` with a
    linear part below 1, so that step 0 (always in a history) is shown.
    """
    iterations = as_float_array("iterations", iterations, ndim=1)
    angles = as_float_array("angles_deg", angles_deg, ndim=(1, 2))
    floor = check_positive_float("floor", floor)
    if angles.shape[0] != iterations.shape[0]:
        raise ShapeError(
            f"angles_deg must have one row per iteration ({iterations.shape[0]}), got shape {angles.shape}"
        )
    if np.any(iterations < 0):
        raise IbcoreValueError("iterations must be >= 0")
    if np.any(angles < 0):
        raise IbcoreValueError("angles_deg must be >= 0 (angles in degrees)")
    angles = np.maximum(angles.reshape(angles.shape[0], -1), floor)
    n_runs = angles.shape[1]
    ax = _axes(ax)
    names = _labels(labels, n_runs)
    if n_runs == 1 or (labels is not None and not isinstance(labels, str)):
        for run in range(n_runs):
            ax.plot(iterations, angles[:, run], label=names[run])
    else:
        (first,) = ax.plot(iterations, angles[:, 0], alpha=0.3, linewidth=0.8)
        color = first.get_color()
        for run in range(1, n_runs):
            ax.plot(iterations, angles[:, run], color=color, alpha=0.3, linewidth=0.8)
        ax.plot(iterations, np.median(angles, axis=1), color=color, linewidth=2.0, label=names[0])
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_yscale("log")
    ax.set_xlabel("iteration $t$")
    ax.set_ylabel("angle to the limit (degrees)")
    if any(name is not None for name in names):
        ax.legend()
    return ax.figure


def spectrum_stems(betas, labels=None, ax: Axes | None = None) -> Figure:
    r"""Moduli :math:`|\hat{\boldsymbol\beta}[k]|` of the unitary DFT, one stem plot per predictor.

    ``betas`` is ``(D,)`` or ``(M, D)``; each predictor is scaled to unit norm first,
    so by Parseval every spectrum has unit norm too and the stems compare directions,
    not scales.  The ``M`` stem sets are offset side by side within each frequency.
    For a real predictor :math:`|\hat\beta[k]|=|\hat\beta[D-k]|`: the spectrum is
    mirror-symmetric, and all ``D`` frequencies are drawn so that sparsity counts
    match :math:`\|\hat{\boldsymbol\beta}\|_0`.
    """
    betas = _unit_rows("betas", betas)
    n_pred, dim = betas.shape
    names = _labels(labels, n_pred)
    ax = _axes(ax)
    moduli = np.abs(dft(betas))
    width = 0.8 / n_pred
    freqs = np.arange(dim)
    for m in range(n_pred):
        offset = (m - (n_pred - 1) / 2) * width
        ax.stem(
            freqs + offset,
            moduli[m],
            linefmt=f"C{m}-",
            markerfmt=f"C{m}o",
            basefmt=" ",
            label=names[m],
        )
    ax.set_xticks(freqs)
    ax.set_xlabel("frequency $k$")
    ax.set_ylabel(r"$|\hat\beta[k]|$ (unit-norm $\beta$)")
    if any(name is not None for name in names):
        ax.legend()
    return ax.figure


def margins_plot(X, y, beta, ax: Axes | None = None, *, rtol: float = 1e-3) -> Figure:
    r"""Sorted normalized margins :math:`y_n\langle\mathbf x_n,\boldsymbol\beta\rangle/\|\boldsymbol\beta\|`, support vectors highlighted.

    The limit of every theorem is a max-margin predictor whose multipliers live on the
    samples of minimum margin (the support vectors); this picture shows how many there
    are and how far the rest sit.  A sample is highlighted as a support vector when its
    margin is within ``rtol`` times the largest absolute margin of the minimum, a loose
    default because a direction from gradient descent is only close to its limit.
    """
    X, y = check_dataset(X, y)
    beta = as_float_array("beta", beta, ndim=1)
    rtol = check_positive_float("rtol", rtol)
    if beta.shape[0] != X.shape[1]:
        raise ShapeError(f"beta must have length {X.shape[1]} (the columns of X), got {beta.shape[0]}")
    beta = _unit_rows("beta", beta)[0]
    margins = np.sort(y * (X @ beta))
    lowest = margins[0]
    support = margins <= lowest + rtol * np.max(np.abs(margins))
    rank = np.arange(margins.size)
    ax = _axes(ax)
    ax.plot(rank[~support], margins[~support], "o", color="C0", label="other samples")
    ax.plot(rank[support], margins[support], "o", color="C3", label=f"support vectors ({support.sum()})")
    ax.axhline(lowest, color="C3", linestyle="--", linewidth=1.0, label=f"min margin {lowest:.4g}")
    ax.set_xlabel("samples, sorted by margin")
    ax.set_ylabel(r"$y_n\langle x_n,\beta\rangle/\|\beta\|$")
    ax.legend()
    return ax.figure


def time_and_frequency(beta, ax: Sequence[Axes] | None = None) -> Figure:
    r"""One predictor in two panels: :math:`\boldsymbol\beta` in time and :math:`|\hat{\boldsymbol\beta}|` in frequency.

    Side by side they show the point of the book: a diagonal net's limit is sparse in
    the left panel, a conv net's in the right one.  ``beta`` is scaled to unit norm.
    ``ax`` is ``None`` or a pair of Axes (time, frequency).
    """
    beta = _unit_rows("beta", as_float_array("beta", beta, ndim=1))[0]
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    if isinstance(ax, Axes) or not isinstance(ax, (Sequence, np.ndarray)) or len(ax) != 2:
        raise IbcoreTypeError("ax must be None or a pair of matplotlib Axes (time, frequency)")
    time_ax, freq_ax = _axes(ax[0]), _axes(ax[1])
    index = np.arange(beta.size)
    time_ax.stem(index, beta, basefmt="k-")
    time_ax.set_xlabel("coordinate $d$")
    time_ax.set_ylabel(r"$\beta[d]$")
    time_ax.set_title("time")
    spectrum_stems(beta, ax=freq_ax)
    freq_ax.set_title("frequency")
    return time_ax.figure
