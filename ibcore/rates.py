r"""Measured directional convergence rates: angle-to-limit curves and their fitted exponents.

The theorems say *where* gradient descent goes; this module measures *how fast* its
direction gets there.  From a :class:`~ibcore.train.GDResult` it takes the angle
:math:`\theta(t)` between the recorded predictor directions and a reference limit, and fits
straight lines in log–log coordinates,

.. math::
    \log\theta = s\,\log x + c,\qquad x \in \{t,\ \log t,\ \|\mathbf w(t)\|\},

by ordinary least squares, reporting the exponent :math:`s` with the coefficient of
determination :math:`R^2` of the fit.  Three clocks, because the schedules move along the
gradient-flow path at different speeds:

``"t"``
    the iteration count, for the fast schedules (``"angular"``, ``"normalized"``), whose
    angles fall like powers of :math:`t`;
``"log t"``
    :math:`\log t`, for constant steps, whose angles fall like powers of :math:`\log t`
    (Soudry et al. 2018 for the linear predictor): the fit is of :math:`\log\theta` against
    :math:`\log\log t`;
``"norm"``
    the parameter norm :math:`\|\mathbf w(t)\|`, the schedule-free clock: a bounded residual
    :math:`\boldsymbol\rho` in :math:`\mathbf w = \hat{\mathbf w}\,s + \boldsymbol\rho` gives
    :math:`\theta\approx\|P_\perp\boldsymbol\rho\|/\|\mathbf w\|`, exponent :math:`-1`.

A power law fitted over a finite range is only as good as its range: for
:math:`\theta = a/(\log t + b)` the *local* exponent against :math:`\log\log t` is
:math:`-\log t/(\log t + b)`, which tends to :math:`-1` only as :math:`\log t\gg|b|`.
:func:`inverse_log_fit` fits that two-parameter model (:math:`\cot\theta` is linear in
:math:`\log t`) so that a chapter can say how much of a fitted exponent is the offset :math:`b`.

Every function validates its inputs and raises :mod:`ibcore.errors` exceptions; none
returns NaN: a zero angle (a run at its limit to round-off), a non-positive clock or a
constant clock over the fit range is an error, not a slope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_float_array, check_choice, check_positive_float
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError
from .train import GDResult, unbatch

__all__ = [
    "CLOCKS",
    "InverseLogFit",
    "PowerFit",
    "angle_curves",
    "angular_step_deg",
    "fit_power",
    "fit_rates",
    "inverse_log_fit",
    "local_exponent",
    "markdown_table",
    "unbatch",
]

CLOCKS = frozenset({"t", "log t", "norm"})

#: Fewest points a fit accepts: two points always lie on a line (R^2 = 1 says nothing).
MIN_POINTS = 3


@dataclass(frozen=True)
class PowerFit:
    r"""A least-squares line :math:`\log y = \text{slope}\cdot\log x + \text{intercept}`.

    ``r2`` is the coefficient of determination of the fit in log–log coordinates (1 for
    points exactly on a line), ``n_points`` the number of points used and ``log_x_range``
    the smallest and largest :math:`\log x` fitted.
    """

    slope: float
    intercept: float
    r2: float
    n_points: int
    log_x_range: tuple[float, float]

    def predict(self, x) -> np.ndarray:
        """The fitted power law :math:`e^{\\text{intercept}}x^{\\text{slope}}` at ``x`` > 0."""
        x = as_float_array("x", x)
        if np.any(x <= 0):
            raise IbcoreValueError("x must be > 0 to evaluate a power law")
        return np.exp(self.intercept + self.slope * np.log(x))


def _fit_logs(log_x: np.ndarray, log_y: np.ndarray) -> PowerFit:
    """Least-squares line through (log_x, log_y); both 1-D, finite, same length."""
    if log_x.shape != log_y.shape or log_x.ndim != 1:
        raise ShapeError(f"x and y must be 1-D of the same length, got shapes {log_x.shape} and {log_y.shape}")
    n = log_x.size
    if n < MIN_POINTS:
        raise IbcoreValueError(f"a fit needs at least {MIN_POINTS} points, got {n}")
    xc = log_x - log_x.mean()
    sxx = float(xc @ xc)
    if not sxx > 1e-24 * max(1.0, float(np.max(np.abs(log_x))) ** 2):
        raise IbcoreValueError("x is constant over the fit range: no slope can be fitted")
    yc = log_y - log_y.mean()
    slope = float(xc @ yc) / sxx
    intercept = float(log_y.mean() - slope * log_x.mean())
    syy = float(yc @ yc)
    residual = log_y - (intercept + slope * log_x)
    # y constant: the line y = const fits exactly (R^2 = 1 by convention, slope 0)
    r2 = 1.0 if syy == 0 else float(1.0 - (residual @ residual) / syy)
    return PowerFit(slope, intercept, r2, int(n), (float(log_x.min()), float(log_x.max())))


def fit_power(x, y) -> PowerFit:
    r"""Fit :math:`y \approx e^{c}x^{s}` by least squares on :math:`(\log x, \log y)`.

    ``x`` and ``y`` are 1-D, of equal length (at least 3), finite and > 0, and ``x`` is not
    constant.  Raises :class:`~ibcore.errors.IbcoreValueError` otherwise (a zero angle has no
    logarithm: it means the run reached its limit to round-off, and there is no rate to fit).
    """
    x = as_float_array("x", x, ndim=1)
    y = as_float_array("y", y, ndim=1)
    if x.shape != y.shape:
        raise ShapeError(f"x and y must have the same length, got {x.size} and {y.size}")
    if np.any(x <= 0) or np.any(y <= 0):
        raise IbcoreValueError("x and y must be > 0 for a log-log fit")
    return _fit_logs(np.log(x), np.log(y))


def angle_curves(result: GDResult, reference) -> tuple[np.ndarray, np.ndarray]:
    """Recorded iterations (K,) and angles in degrees (K,) or (K, B) between a run's predictor
    directions and ``reference`` (a predictor (D,), or a :class:`~ibcore.references.Reference`).

    A record where the predictor is the zero vector (the saddle :math:`\\mathcal P(\\mathbf w) = 0`,
    which ``gradient_descent`` records as zeros) has no direction: it raises rather than
    returning NaN.
    """
    from . import angle

    if not isinstance(result, GDResult):
        raise IbcoreTypeError(f"result must be a GDResult, got {type(result).__name__}")
    ref = getattr(reference, "beta", reference)
    ref = as_float_array("reference", ref, ndim=1)
    beta = result.history["beta"]
    if beta.shape[-1] != ref.size:
        raise ShapeError(f"reference has length {ref.size} but the run's predictors have {beta.shape[-1]}")
    if np.any(np.max(np.abs(beta), axis=-1) == 0):
        raise IbcoreValueError("a recorded predictor is zero (P(w) = 0): it has no direction, so no angle")
    return result.history["iteration"].copy(), np.asarray(angle(beta, ref), dtype=np.float64)


def _clock(result: GDResult, clock: str) -> np.ndarray:
    """log of the clock at each record, (K,) or (K, B) like the history."""
    it = result.history["iteration"].astype(np.float64)
    if clock == "norm":
        return np.asarray(result.history["log_norm_w"], dtype=np.float64)
    log_t = np.log(np.where(it > 0, it, np.nan))
    if clock == "t":
        return log_t
    return np.log(np.where(it > 1, log_t, np.nan))  # "log t": log log t, t > 1 only


def fit_rates(result: GDResult, reference, *, clock: str, t_min: int, t_max: int | None = None) -> list[PowerFit]:
    r"""Fit :math:`\log\theta` against the log of ``clock`` over the records with
    ``t_min <= iteration <= t_max``; one :class:`PowerFit` per run (a list of length B for a
    batched run, of length 1 otherwise).

    ``clock`` is ``"t"`` (exponent of the iteration count), ``"log t"`` (exponent of
    :math:`\log t`: the fit is against :math:`\log\log t`, so ``t_min`` must be at least 2) or
    ``"norm"`` (exponent of :math:`\|\mathbf w(t)\|`).  Raises if the range holds fewer
    than 3 records, if an angle in it is zero, or if the clock is constant over it.
    """
    check_choice("clock", clock, CLOCKS)
    if isinstance(t_min, bool) or not isinstance(t_min, (int, np.integer)):
        raise IbcoreTypeError(f"t_min must be an integer, got {type(t_min).__name__}")
    lowest = 2 if clock == "log t" else 1
    if t_min < lowest:
        raise IbcoreValueError(f"t_min must be >= {lowest} for clock {clock!r} (its logarithm must exist), got {t_min}")
    it, angles = angle_curves(result, reference)
    hi = it.max() if t_max is None else t_max
    if hi < t_min:
        raise IbcoreValueError(f"t_max={t_max} is below t_min={t_min}")
    keep = (it >= t_min) & (it <= hi)
    if keep.sum() < MIN_POINTS:
        raise IbcoreValueError(
            f"only {int(keep.sum())} records lie in [{t_min}, {hi}]; a fit needs {MIN_POINTS} (record more densely)"
        )
    log_x = _clock(result, clock)[keep]
    a = angles[keep]
    if np.any(a <= 0):
        raise IbcoreValueError("an angle in the fit range is zero (the run is at its limit to round-off): no rate to fit")
    log_a = np.log(a)
    if log_a.ndim == 1:
        return [_fit_logs(log_x, log_a)]
    if log_x.ndim == 1:
        log_x = np.broadcast_to(log_x[:, None], log_a.shape)
    return [_fit_logs(np.ascontiguousarray(log_x[:, b]), np.ascontiguousarray(log_a[:, b])) for b in range(log_a.shape[1])]


@dataclass(frozen=True)
class InverseLogFit:
    r"""The fit :math:`\cot\theta(t) = A\log t + B`, i.e. :math:`\theta \approx \arctan\!\big(1/(A\log t + B)\big)`.

    ``offset`` :math:`b = B/A` is the shift of the clock, :math:`\theta\approx 1/(A(\log t + b))`;
    ``max_misfit`` the largest relative error :math:`|\text{fit}/\cot\theta - 1|` over the fitted points.
    """

    A: float
    B: float
    max_misfit: float
    n_points: int

    @property
    def offset(self) -> float:
        return self.B / self.A

    def local_exponent(self, t) -> np.ndarray:
        r"""The exponent :math:`d\log\theta/d\log\log t` of the fitted model at ``t`` (> 1), for small angles."""
        return local_exponent(t, self.offset)


def local_exponent(t, offset: float) -> np.ndarray | float:
    r""":math:`-\log t/(\log t + b)`: the local exponent against :math:`\log\log t` of
    :math:`\theta = a/(\log t + b)`, at ``t`` > 1 with :math:`\log t + b > 0`."""
    t = as_float_array("t", t)
    b = float(as_float_array("offset", offset, ndim=0))
    if np.any(t <= 1):
        raise IbcoreValueError("t must be > 1 (log t > 0)")
    log_t = np.log(t)
    if np.any(log_t + b <= 0):
        raise IbcoreValueError("log t + offset must be > 0: the model has no positive angle there")
    out = -log_t / (log_t + b)
    return float(out) if out.ndim == 0 else out


def inverse_log_fit(iterations, angles_deg, *, t_min: int) -> InverseLogFit:
    r"""Fit :math:`\cot\theta = A\log t + B` by least squares over the records ``t >= t_min``.

    This is the shape :math:`\theta\approx c/(\log t + b)` of the linear predictor's
    constant-step angle (chapter 1): :math:`\cot\theta` is then a straight line in
    :math:`\log t`.  ``angles_deg`` are in (0, 90) degrees, 1-D, aligned with ``iterations``.
    """
    it = as_float_array("iterations", iterations, ndim=1)
    a = as_float_array("angles_deg", angles_deg, ndim=1)
    if it.shape != a.shape:
        raise ShapeError(f"iterations and angles_deg must have the same length, got {it.size} and {a.size}")
    if isinstance(t_min, bool) or not isinstance(t_min, (int, np.integer)) or t_min < 2:
        raise IbcoreValueError(f"t_min must be an integer >= 2, got {t_min!r}")
    keep = it >= t_min
    if keep.sum() < MIN_POINTS:
        raise IbcoreValueError(f"only {int(keep.sum())} records have t >= {t_min}; a fit needs {MIN_POINTS}")
    if np.any(a[keep] <= 0) or np.any(a[keep] >= 90):
        raise IbcoreValueError("angles must lie strictly between 0 and 90 degrees for cot(theta) to be finite and > 0")
    log_t = np.log(it[keep])
    cot = 1.0 / np.tan(np.radians(a[keep]))
    design = np.vstack([log_t, np.ones_like(log_t)]).T
    (A, B), *_ = np.linalg.lstsq(design, cot, rcond=None)
    if not A > 0:
        raise IbcoreValueError(f"cot(theta) does not grow with log t over the range (slope {A:.3g}): not a 1/log t decay")
    misfit = float(np.max(np.abs((A * log_t + B) / cot - 1.0)))
    return InverseLogFit(float(A), float(B), misfit, int(keep.sum()))


def angular_step_deg(iterations, lr: float, T: float) -> np.ndarray:
    r"""The angular schedule's relative step :math:`\delta_t = \text{lr}/(1 + t/T)`, as an angle in degrees.

    A step of relative size :math:`\delta` along a direction orthogonal to :math:`\mathbf w`
    turns it by :math:`\arctan\delta`; near the limit the schedule zigzags between support
    vectors by about that much, so :math:`\arctan\delta_t` is the scale of its late angles.
    """
    it = as_float_array("iterations", iterations)
    if np.any(it < 0):
        raise IbcoreValueError("iterations must be >= 0")
    lr = check_positive_float("lr", lr)
    T = check_positive_float("T", T)
    return np.degrees(np.arctan(lr / (1.0 + it / T)))


def markdown_table(headers, rows) -> str:
    """A GitHub/MyST markdown table from ``headers`` (strings) and ``rows`` (sequences of cells,
    each already formatted as a string, one per header)."""
    headers = [str(h) for h in headers]
    if not headers:
        raise IbcoreValueError("a table needs at least one column")
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for i, row in enumerate(rows):
        cells = [str(c) for c in row]
        if len(cells) != len(headers):
            raise ShapeError(f"row {i} has {len(cells)} cells but there are {len(headers)} columns")
        if any("|" in c or "\n" in c for c in cells):
            raise IbcoreValueError(f"row {i} has a cell containing '|' or a newline, which would break the table")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
