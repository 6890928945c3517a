"""ibcore: the numerical core of the book *Implicit Bias of Gradient Descent on
Linear Convolutional Networks* (Gunasekar, Lee, Soudry, Srebro, NeurIPS 2018).

Layers, each importing only those before it:
``fourier`` (conventions) -> ``nets`` (parameterizations) -> ``losses`` ->
``train`` (gradient descent) -> ``limits`` (reference limits and certificates)
-> ``plots``.  ``symbolic`` (SymPy builders) and ``data`` stand apart.
"""

from __future__ import annotations

import numpy as np

from . import errors, fourier
from ._checks import as_float_array
from .errors import DivergenceError, NotSeparableError, ShapeError, SolverError

__all__ = ["angle", "errors", "fourier", "DivergenceError", "NotSeparableError", "ShapeError", "SolverError"]

_SUBMODULES = {"nets", "losses", "train", "data", "limits", "references", "certificates", "polish", "symbolic", "plots", "alignment", "experiments", "homogeneous", "lemmas", "depth", "local", "sdp", "signed", "steepest", "conv2d", "groups", "regression", "multiclass", "stochastic", "rates"}


def __getattr__(name: str):
    """Import submodules on first use, so ``import ibcore`` stays light (cvxpy, SymPy and
    matplotlib load only when ``ibcore.limits``, ``ibcore.symbolic`` or ``ibcore.plots`` is used)."""
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'ibcore' has no attribute {name!r}")


def angle(a, b) -> np.ndarray | float:
    """Angle in degrees between ``a`` and ``b`` along the last axis (batched, broadcast).

    Both vectors are divided by their largest entry before the norms are taken, so
    vectors of any scale (1e-200 or 1e200) give the same angle. The result uses
    ``arctan2(|a x b|, a . b)`` in its general-dimension form, which stays accurate
    for angles near 0 and 180 degrees, where ``arccos`` loses half the digits.
    Raises ``ValueError`` for a zero vector, which has no direction.
    """
    a = as_float_array("a", a)
    b = as_float_array("b", b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError("a and b must be vectors (or batches of vectors)")
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"a and b must have the same length, got {a.shape[-1]} and {b.shape[-1]}")
    na = np.max(np.abs(a), axis=-1, keepdims=True)
    nb = np.max(np.abs(b), axis=-1, keepdims=True)
    if np.any(na == 0) or np.any(nb == 0):
        raise errors.IbcoreValueError("angle of a zero vector is undefined (a or b is all zeros)")
    ua = a / na
    ub = b / nb
    ua = ua / np.linalg.norm(ua, axis=-1, keepdims=True)
    ub = ub / np.linalg.norm(ub, axis=-1, keepdims=True)
    ua, ub = np.broadcast_arrays(ua, ub)
    dot = np.sum(ua * ub, axis=-1)
    cross = np.linalg.norm(ua - dot[..., None] * ub, axis=-1)
    deg = np.degrees(np.arctan2(cross, dot))
    return float(deg) if deg.ndim == 0 else deg
