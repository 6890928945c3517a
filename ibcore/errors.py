"""Exceptions raised by ibcore.

Every error is a subclass of ``ValueError`` or ``TypeError`` so that callers who
only know the standard library can still catch it; the subclasses let tests and
chapters ask for exactly the failure they expect.
"""

from __future__ import annotations

__all__ = [
    "IbcoreValueError",
    "IbcoreTypeError",
    "ShapeError",
    "NotSeparableError",
    "DivergenceError",
    "SolverError",
]


class IbcoreValueError(ValueError):
    """An argument has the right type but a value ibcore cannot use."""


class IbcoreTypeError(TypeError):
    """An argument has a type ibcore cannot use."""


class ShapeError(IbcoreValueError):
    """An array argument has the wrong shape."""


class NotSeparableError(IbcoreValueError):
    """The data set admits no linear separator, so the theorems do not apply."""


class DivergenceError(IbcoreValueError):
    """Gradient descent blew up: the step size is too large for this problem."""


class SolverError(IbcoreValueError):
    """A convex solver or a least-squares refinement did not reach a solution."""
