r"""Exponential-tailed losses, evaluated without ever forming :math:`e^{-\text{margin}}`.

The engine in :mod:`ibcore.train` keeps the parameters as a scale and a direction,
:math:`\mathbf w = s\,\mathbf u` with :math:`\|\mathbf u\| = 1`, so that the predictor is
:math:`\boldsymbol\beta = s^L \mathcal P(\mathbf u)`.  With unit-direction margins
:math:`m_n = y_n\langle \mathbf x_n, \mathcal P(\mathbf u)\rangle` the arguments of the loss are
:math:`a_n = s^L m_n`, which after a long run are far beyond the range where
:math:`e^{-a_n}` is representable (``exp(-746) == 0.0``).  Everything here is
therefore computed from the *gaps* :math:`a_n - a_{\min} = s^L (m_n - m_{\min}) \ge 0`
and from :math:`\log s`:

- ``log_loss``: :math:`\log \sum_n \ell(a_n)`, finite for any finite ``log_scale``;
- ``weights``: :math:`p_n = |\ell'(a_n)| / \sum_m |\ell'(a_m)|`, a softmax over samples;
- ``log_grad_mass``: :math:`\log \sum_n |\ell'(a_n)|`, so that
  :math:`\nabla_{\boldsymbol\beta}\mathcal L = -e^{\text{log\_grad\_mass}} \sum_n p_n y_n \mathbf x_n`.

For the exponential loss ``log_grad_mass == log_loss``.

:class:`Loss` makes a loss of :data:`LOSSES` an object of the engine's loss contract (the
module docstring of :mod:`ibcore.train`), which a loss over other rows, such as the grouped
cross-entropy of :mod:`ibcore.multiclass`, fulfils too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_choice

__all__ = ["LOSSES", "LOG_SCALE_CAP", "Loss", "LossTerms", "loss_terms", "margins"]

LOSSES = frozenset({"exp", "logistic"})

#: Largest value of L*log(s) used when forming a_n = s^L m_n.  At s^L = e^700
#: (about 1e304) every margin gap above ~1e-301 gives a_n - a_min > 745, whose
#: weight exp(-745) underflows to exactly 0: the weights are already the 0/1
#: indicator of the minimum-margin samples, so a larger scale changes nothing.
LOG_SCALE_CAP = 700.0


@dataclass(frozen=True)
class LossTerms:
    """Loss quantities for a batch: ``log_loss`` (B,), ``weights`` (B, N), ``log_grad_mass`` (B,)."""

    log_loss: np.ndarray
    weights: np.ndarray
    log_grad_mass: np.ndarray


def margins(X: np.ndarray, y: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Unnormalized margins y_n <x_n, beta>: shape (N,) for beta (D,), (B, N) for beta (B, D)."""
    return (beta @ X.T) * y


def _signed_scale(log_s_L: np.ndarray, m: np.ndarray) -> np.ndarray:
    """a = s^L * m computed as sign(m) exp(L log s + log|m|), clipped to the float64 range.

    |m| is floored at the smallest subnormal so that m = 0 needs no log(0): its
    term is then exp(<= -44) times sign(0) = 0, exactly as before the floor.
    """
    logmag = log_s_L[:, None] + np.log(np.maximum(np.abs(m), _TINY))
    return np.sign(m) * np.exp(np.minimum(logmag, 700.0))


_TINY = np.nextafter(0.0, 1.0)  # 5e-324, the smallest positive float64


def _exp_terms(mT: np.ndarray, lsl: np.ndarray, with_log_loss: bool = True):
    """``(log_loss or None, weights)`` of the exp loss for margins ``mT`` laid out (N, B); the training loop's hot path.

    The arithmetic of :func:`loss_terms` (for the exp loss ``log_grad_mass == log_loss``)
    for an already capped ``lsl``, written in place, without re-validating, and with the
    log-loss skipped when the caller does not need it.  Samples run along axis 0 so
    that every per-initialization quantity broadcasts along the contiguous axis.
    ``s^L * gap`` may overflow to +inf (weight exactly 0): call it under
    ``np.errstate(over="ignore")``.
    """
    m_min = np.minimum.reduce(mT, axis=0)
    e = mT - m_min  # gaps >= 0
    e *= np.exp(lsl)
    np.negative(e, out=e)
    np.exp(e, out=e)  # exp(-(a_n - a_min)), 1 at the minimum
    total = np.add.reduce(e, axis=0)
    e /= total
    if not with_log_loss:
        return None, e
    return np.log(total) - _signed_scale(lsl, m_min[:, None])[:, 0], e


def loss_terms(m: np.ndarray, log_scale_L: np.ndarray, loss: str = "exp") -> LossTerms:
    """Loss terms for unit-direction margins ``m`` (B, N) at scale ``s^L = exp(log_scale_L)`` (B,).

    ``log_scale_L`` is capped at :data:`LOG_SCALE_CAP` (see there for why that is exact
    in float64 for the weights).
    """
    check_choice("loss", loss, LOSSES)
    lsl = np.minimum(np.asarray(log_scale_L, dtype=np.float64), LOG_SCALE_CAP)
    # s^L * gap >= 0: s^L <= e^700 is finite, so the product is finite or +inf (weight exactly 0), never NaN.
    if loss == "exp":
        # log sum exp(-a_n) = -a_min + log sum exp(-(a_n - a_min)); the sum is >= 1 (the minimum's term)
        with np.errstate(over="ignore"):
            log_loss, weights = _exp_terms(np.asarray(m, dtype=np.float64).T, lsl)
        return LossTerms(log_loss, np.ascontiguousarray(weights.T), log_loss)
    m_min = np.min(m, axis=1)
    gap = m - m_min[:, None]  # >= 0 exactly, 0 at the minimum
    with np.errstate(over="ignore"):
        rel = np.exp(lsl)[:, None] * gap
    a_min = _signed_scale(lsl, m_min[:, None])[:, 0]
    # logistic: l(a) = softplus(-a), |l'(a)| = sigmoid(-a) = exp(-softplus(a)).
    a = np.where(gap > 0, a_min[:, None] + rel, a_min[:, None])
    # log l(a): for a >= 0, log(log1p(x)) with x = e^{-a} = -a + log(log1p(x)/x); the ratio -> 1 as x -> 0.
    x = np.exp(-np.clip(a, 0.0, 700.0))
    ratio = np.where(x > 1e-300, np.log1p(x) / np.where(x > 1e-300, x, 1.0), 1.0)
    pos = -np.maximum(a, 0.0) + np.log(ratio)
    neg = np.log(np.logaddexp(0.0, -np.minimum(a, 0.0)))  # a < 0: log softplus(-a), moderate numbers
    log_l = np.where(a >= 0, pos, neg)
    # shift by the largest term before exponentiating
    top = np.max(log_l, axis=1)
    log_loss = top + np.log(np.sum(np.exp(log_l - top[:, None]), axis=1))
    # log |l'(a)| = -softplus(a) = -(max(a,0) + log1p(e^{-|a|})); relative to the minimum-margin sample:
    # -(softplus(a_n) - softplus(a_min)), with max(a_n,0) - max(a_min,0) = rel when a_min >= 0.
    lead = np.where(a_min[:, None] >= 0, rel, np.maximum(a, 0.0) - np.maximum(a_min, 0.0)[:, None])
    tail = np.log1p(np.exp(-np.abs(a))) - np.log1p(np.exp(-np.abs(a_min)))[:, None]
    log_w = -(lead + tail)
    wmax = np.max(log_w, axis=1)
    unnorm = np.exp(log_w - wmax[:, None])
    mass = np.sum(unnorm, axis=1)
    weights = unnorm / mass[:, None]
    log_grad_mass = -(np.maximum(a_min, 0.0) + np.log1p(np.exp(-np.abs(a_min)))) + wmax + np.log(mass)
    return LossTerms(log_loss, weights, log_grad_mass)


class Loss:
    """The loss ``name`` (one of :data:`LOSSES`) as a loss object of the engine (module docstring of :mod:`ibcore.train`).

    ``Loss(name)(m, log_scale_L)`` is ``loss_terms(m, log_scale_L, name)``; passing it to the
    training loop instead of the string gives the same run, without the string ``"exp"``'s fast path.
    """

    def __init__(self, name: str):
        self.name = check_choice("loss", name, LOSSES)

    def __call__(self, m: np.ndarray, log_scale_L: np.ndarray) -> LossTerms:
        return loss_terms(m, log_scale_L, self.name)

    def __repr__(self) -> str:
        return f"Loss({self.name!r})"
