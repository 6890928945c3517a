"""Input validation shared by every ibcore module.

Each checker names the offending argument and what was expected, so a reader who
passes the wrong thing learns which argument to fix instead of meeting a NaN
three functions later.
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import IbcoreTypeError, IbcoreValueError, ShapeError


def as_float_array(name: str, value, *, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``value`` as a finite float64 array, or raise naming ``name``."""
    if isinstance(value, (str, bytes)) or value is None:
        raise IbcoreTypeError(f"{name} must be an array of real numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - numpy raises many things
        raise IbcoreTypeError(f"{name} must be an array of real numbers: {exc}") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise IbcoreTypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise IbcoreTypeError(f"{name} must be real, got a complex array")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ShapeError(f"{name} must be {want}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise IbcoreValueError(f"{name} contains NaN or infinite values")
    return arr


def check_positive_int(name: str, value, *, minimum: int = 1) -> int:
    """Return ``value`` as an int >= ``minimum``, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise IbcoreTypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise IbcoreValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_positive_float(name: str, value) -> float:
    """Return ``value`` as a finite float > 0, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise IbcoreTypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise IbcoreValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``, or raise listing them."""
    if not isinstance(value, str) or value not in choices:
        raise IbcoreValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_samples(X, name: str, values, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (N, D) float and one finite value per sample, ``name`` (N,) (``what``: "labels", "targets"), N, D >= 1."""
    X = as_float_array("X", X, ndim=2)
    v = as_float_array(name, values, ndim=1)
    if X.shape[0] != v.shape[0]:
        raise ShapeError(f"X has {X.shape[0]} rows but {name} has {v.shape[0]} {what}; they must match")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ShapeError(f"X must have at least one sample and one feature, got shape {X.shape}")
    return X, v


def check_dataset(X, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate a data set: ``X`` of shape (N, D), ``y`` of shape (N,) in {-1, +1}."""
    X, y = check_samples(X, "y", y, "labels")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        bad = np.unique(y[~np.isin(y, (-1.0, 1.0))])
        raise IbcoreValueError(f"y must contain only labels -1 and +1, got {bad[:5].tolist()}")
    return X, y


def check_params(name: str, w, n_params: int) -> tuple[np.ndarray, bool]:
    """Validate a parameter vector (P,) or batch (B, P); return it 2-D and whether it was batched."""
    w = as_float_array(name, w, ndim=(1, 2))
    if w.shape[-1] != n_params:
        raise ShapeError(f"{name} must have {n_params} parameters in its last axis, got shape {w.shape}")
    batched = w.ndim == 2
    return (w if batched else w[None, :]), batched


def check_vectors(name: str, v, dim: int, batch: int | None = None) -> np.ndarray:
    """Validate vectors of length ``dim`` (D,) or (B, D); return them 2-D, broadcast to ``batch``."""
    v = as_float_array(name, v, ndim=(1, 2))
    if v.shape[-1] != dim:
        raise ShapeError(f"{name} must have length {dim} in its last axis, got shape {v.shape}")
    v2 = v if v.ndim == 2 else v[None, :]
    if batch is not None:
        if v2.shape[0] not in (1, batch):
            raise ShapeError(f"{name} has batch size {v2.shape[0]} but the parameters have {batch}")
        v2 = np.broadcast_to(v2, (batch, dim))
    return v2


def as_rng(name: str, seed) -> np.random.Generator:
    """A Generator from an int seed >= 0, or ``seed`` itself if it is a Generator (so draws chain)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise IbcoreTypeError(f"{name} must be an int >= 0 or a numpy Generator, got {type(seed).__name__}")
    if seed < 0:
        raise IbcoreValueError(f"{name} must be an int >= 0 or a numpy Generator, got {seed}")
    return np.random.default_rng(int(seed))
