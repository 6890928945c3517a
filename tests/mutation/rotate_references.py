"""IPython startup file for the mutation check (tests/test_mutation.py).

It replaces the convex reference limits of ``ibcore.limits`` (and of
``ibcore.references``, where they are defined) by versions whose ``beta`` is rotated
by ROTATION_DEG degrees in a fixed, seeded direction orthogonal to it.  Everything
else (multipliers, values) is left as it was.  A theorem chapter whose asserts still
pass under this mutation is not testing its claim against the reference.
"""

import dataclasses
import functools

import numpy as np

import ibcore.limits
import ibcore.references

ROTATION_DEG = 1.0


def _rotated(beta: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(12345)
    e = rng.standard_normal(beta.shape)
    e -= (e @ beta) / (beta @ beta) * beta  # orthogonal to beta
    e *= np.linalg.norm(beta) / np.linalg.norm(e)
    t = np.radians(ROTATION_DEG)
    return np.cos(t) * beta + np.sin(t) * e


def _mutate(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ref = fn(*args, **kwargs)
        return dataclasses.replace(ref, beta=_rotated(np.asarray(ref.beta, dtype=float)))

    return wrapper


for _name in ("hard_margin_svm", "min_l1_margin", "min_fourier_l1_margin"):
    _mutated = _mutate(getattr(ibcore.references, _name))
    setattr(ibcore.references, _name, _mutated)
    setattr(ibcore.limits, _name, _mutated)

print("mutation: reference limits rotated by", ROTATION_DEG, "degrees")
