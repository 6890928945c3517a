"""Reference limits and certificates, under one name.

What the theorems point to (:mod:`ibcore.references`, convex programs) and the proof
that a point is stationary (:mod:`ibcore.certificates`, KKT certificates, and
:mod:`ibcore.polish`, refining GD's output to an exact KKT point) are different ideas and live in different modules; chapters reach both
as ``ibcore.limits.X``.
"""

from __future__ import annotations

from .certificates import (
    ACTIVE_TOL,
    SUPPORT_TOL,
    Certificate,
    KKTCertificate,
    KKTPolished,
    Polished,
    bridge_certificate,
    kkt_certificate,
)
from .polish import polish
from .steepest import MaxMargin, max_margin, max_margin_l1, max_margin_linf
from .references import (
    REFERENCE_TOL,
    Reference,
    hard_margin_svm,
    min_fourier_l1_margin,
    min_l1_margin,
)

__all__ = [
    "ACTIVE_TOL",
    "REFERENCE_TOL",
    "SUPPORT_TOL",
    "Certificate",
    "KKTCertificate",
    "KKTPolished",
    "Polished",
    "Reference",
    "bridge_certificate",
    "hard_margin_svm",
    "kkt_certificate",
    "min_fourier_l1_margin",
    "min_l1_margin",
    "polish",
    "MaxMargin",
    "max_margin",
    "max_margin_l1",
    "max_margin_linf",
]
