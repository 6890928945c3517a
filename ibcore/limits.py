"""Reference limits and certificates, under one name.

What the theorems point to (:mod:`ibcore.references`, convex programs) and the proof
that a point is stationary (:mod:`ibcore.certificates`, KKT certificates, and
:mod:`ibcore.polish`, refining GD's output to an exact KKT point) are different ideas and live in different modules; chapters reach both
as ``ibcore.limits.X``.  The convex references of the "Beyond the paper" chapters are
here too (depth-two local and multi-channel convolutions: :mod:`ibcore.sdp`; 2-D
convolutions: :mod:`ibcore.conv2d`; group convolutions: :mod:`ibcore.groups`).
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
from .conv2d import Fourier2Reference, min_fourier2_l1_margin
from .groups import GroupReference, min_weighted_nuclear_margin
from .polish import polish
from .sdp import ConvReference, min_conv_norm_margin, min_fourier_group_margin, min_nuclear_margin
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
    # beyond the paper: local filters and channels (ibcore.sdp), 2-D convolutions
    # (ibcore.conv2d), group convolutions (ibcore.groups); each module also has its
    # own polish_and_certify and duality certificate
    "ConvReference",
    "min_conv_norm_margin",
    "min_nuclear_margin",
    "min_fourier_group_margin",
    "Fourier2Reference",
    "min_fourier2_l1_margin",
    "GroupReference",
    "min_weighted_nuclear_margin",
]
