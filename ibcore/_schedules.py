r"""Step rules of the engine in :mod:`ibcore.train`: how far one step goes.

The loop of :func:`ibcore.train.gradient_descent` moves the unit direction
:math:`\mathbf u` of :math:`\mathbf w = e^\sigma\mathbf u` by :math:`c` along the unit descent
direction; a *step rule* chooses :math:`c`, in log space.  The rules are the schedules of
the module docstring of :mod:`ibcore.train` (``"constant"``, ``"angular"``, ``"normalized"``,
``"loss-clock"``), made by :func:`make_rule`.

The contract a rule fulfils (the engine reads nothing else):

``name``
    The schedule's name (``GDResult.schedule``, the progress bar).
``lr``
    The step parameter, quoted in error messages.
``fixed``
    True when the step *size* :math:`\eta` is the constant ``lr`` (the paper's gradient
    descent): then the loss must not explode (the engine's divergence test applies), a
    step of more than :math:`e^{700}\|\mathbf w\|` raises ``DivergenceError``, and a
    mini-batch step is computed from the batch alone.  Otherwise :math:`\eta_t` depends
    on the state, and a mini-batch step takes it from the full data (:class:`FullDataStep`).
``uniform``
    True when :meth:`log_step` returns one scalar, the same for every parameter vector and
    independent of the state (``"angular"``); the engine then skips the clipping.
``needs_log_loss``
    Whether :meth:`log_step` reads ``log_loss``: with the exponential loss the loop skips
    computing it at steps where nothing else needs it.
``log_step(t, L, sigma, lsl, log_loss, log_grad_mass, vnorm)``
    :math:`\log c` at iteration ``t`` for depth ``L``, log-scales ``sigma`` (B,),
    ``lsl`` :math:`= L\min(\sigma, 700/L)`, the loss terms of :mod:`ibcore.losses` (B,) and
    ``vnorm`` (B,), the norm of the pullback of the loss weights (the unit-scale gradient).
    Returns an array (B,), or a scalar if ``uniform``.  It may return ``-inf``, ``inf`` or
    NaN for ``vnorm == 0`` (the engine then retakes the step with ``vnorm`` set to 1).

All formulas use :math:`\|\nabla\mathcal L_{\mathcal P}(\mathbf w)\|/\|\mathbf w\| = e^{G + (L-2)\sigma}\|\mathbf v\|`
(:func:`log_mass`), :math:`G` = ``log_grad_mass``.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_choice, check_positive_float
from .errors import IbcoreValueError

__all__ = ["SCHEDULES", "Angular", "Constant", "FullDataStep", "LossClock", "Normalized", "StepRule", "log_mass", "make_rule"]


def log_mass(L, sigma, log_grad_mass, vnorm):
    """log(||grad L_P(w)|| / ||w||): the relative step per unit step size eta."""
    return log_grad_mass + (L - 2) * sigma + np.log(vnorm)


class StepRule:
    """Base of the step rules; see the module docstring for the contract."""

    name = ""
    fixed = False
    uniform = False
    needs_log_loss = True

    def __init__(self, lr: float, T: float = 1000.0, rate: float = 0.02):
        self.lr, self.T, self.rate = lr, T, rate

    def log_step(self, t, L, sigma, lsl, log_loss, log_grad_mass, vnorm):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr}, T={self.T}, rate={self.rate})"


class Constant(StepRule):
    r"""The paper's gradient descent, :math:`\eta = \text{lr}`: :math:`c = \eta\|\nabla\mathcal L_{\mathcal P}\|/\|\mathbf w\|`."""

    name, fixed = "constant", True

    def log_step(self, t, L, sigma, lsl, log_loss, log_grad_mass, vnorm):
        return np.log(self.lr) + log_mass(L, sigma, log_grad_mass, vnorm)


class Angular(StepRule):
    r""":math:`c = \delta_t = \text{lr}/(1 + t/T)`, the same for every parameter vector."""

    name, uniform, needs_log_loss = "angular", True, False

    def log_step(self, t, L, sigma, lsl, log_loss, log_grad_mass, vnorm):
        return np.log(self.lr / (1.0 + t / self.T))


class Normalized(StepRule):
    r""":math:`\eta_t = \text{lr}/(\mathcal L\,\rho^{2-2/L})`, :math:`\rho = \max(\log(1/\mathcal L), 1)`."""

    name = "normalized"

    def log_step(self, t, L, sigma, lsl, log_loss, log_grad_mass, vnorm):
        rho = np.maximum(-log_loss, 1.0)
        return np.log(self.lr) + log_mass(L, sigma, log_grad_mass, vnorm) - log_loss - (2.0 - 2.0 / L) * np.log(rho)


class LossClock(StepRule):
    r""":math:`c = \min(\kappa\rho/\rho', \delta_t)`: :math:`\log(1/\mathcal L)` grows by at most a factor
    :math:`1 + \kappa` per step (to first order), :math:`\kappa` = ``rate``; then the angular step.

    :math:`\rho' = d\log(1/\mathcal L)/dc = e^{G - \log\mathcal L + L\sigma}\|\mathbf v\|`.
    """

    name = "loss-clock"

    def log_step(self, t, L, sigma, lsl, log_loss, log_grad_mass, vnorm):
        rho = np.maximum(-log_loss, 1.0)
        log_rate = log_grad_mass - log_loss + lsl + np.log(vnorm)  # log d(log 1/L)/dc
        return np.minimum(np.log(self.rate) + np.log(rho) - log_rate, np.log(self.lr / (1.0 + t / self.T)))


_RULES = {rule.name: rule for rule in (Constant, Angular, Normalized, LossClock)}

#: The schedules of :func:`ibcore.train.gradient_descent`.
SCHEDULES = frozenset(_RULES)


def make_rule(schedule: str, lr: float, T: float = 1000.0, rate: float = 0.02) -> StepRule:
    """The step rule of ``schedule`` (one of :data:`SCHEDULES`), validating every argument."""
    check_choice("schedule", schedule, SCHEDULES)
    return _RULES[schedule](check_positive_float("lr", lr), check_positive_float("T", T), check_positive_float("rate", rate))


class FullDataStep(StepRule):
    r"""A state-dependent rule on mini-batches: the step size :math:`\eta_t` from the full data, the batch's gradient.

    ``c = eta_t ||grad L_B|| / ||w||``, i.e. :math:`\log c` is the wrapped rule's value on the
    full data plus the batch's :func:`log_mass` minus the full data's.  (Taking the
    relative step from the batch alone would let a batch without support vectors turn the
    direction as much as one with them.)  The engine calls :meth:`set_full` with the full
    data's terms before every step, then :meth:`log_step` with the batch's.
    """

    def __init__(self, rule: StepRule):
        if rule.fixed:
            raise IbcoreValueError(f"rule {rule.name!r} has a fixed step size: it needs no full-data step, use the rule itself")
        super().__init__(rule.lr, rule.T, rule.rate)
        self.rule, self.name = rule, rule.name
        self._log_c = self._log_mass = None

    def set_full(self, t, L, sigma, lsl, log_loss, log_grad_mass, vnorm):
        vnorm = np.where(vnorm == 0, 1.0, vnorm)  # a saddle of P: no gradient, eta_t is then moot
        self._log_c = self.rule.log_step(t, L, sigma, lsl, log_loss, log_grad_mass, vnorm)
        self._log_mass = log_mass(L, sigma, log_grad_mass, vnorm)

    def log_step(self, t, L, sigma, lsl, log_loss, log_grad_mass, vnorm):
        return self._log_c + (log_mass(L, sigma, log_grad_mass, vnorm) - self._log_mass)
