r"""Group-convolutional linear networks over a finite group, and their Fourier blocks.

**Groups.**  A finite group is stored by its multiplication table (:class:`FiniteGroup`):
``table[g, h]`` is the index of :math:`gh`.  :func:`cyclic_group` is
:math:`\mathbb Z_n`; :func:`dihedral_group` is :math:`D_n` of order 2n, the symmetries of a
regular n-gon, with element ``k + n * e`` standing for :math:`r^k s^e` (r the rotation by
:math:`2\pi/n`, s a reflection, :math:`s r s = r^{-1}`), so that
:math:`(r^a s^e)(r^b s^f) = r^{a + (-1)^e b} s^{e+f}`.

**The network** (:class:`GroupConvolutional`).  Signals are functions on the group,
:math:`\mathbf x \in \mathbb R^{G}`; the paper's layer with the shift :math:`d + k` replaced by the
group product :math:`g u`:

.. math::
    \mathbf h_l[g] = \tfrac{1}{\sqrt{|G|}}\sum_{u\in G}\mathbf w_l[u]\,\mathbf h_{l-1}[g u]\ (1\le l\le L-1),
    \qquad f(\mathbf x) = \langle\mathbf h_{L-1}, \mathbf w_L\rangle,

so :math:`\boldsymbol\beta = |G|^{-(L-1)/2}\,\mathbf w_L * \mathbf w_{L-1} * \cdots * \mathbf w_1` with the group
convolution :math:`(\mathbf a * \mathbf b)[h] = \sum_g \mathbf a[g]\,\mathbf b[g^{-1}h]` (the order matters for a
non-abelian group).  For the cyclic group this is :class:`ibcore.nets.Convolutional`.

**Fourier blocks.**  For the real orthogonal irreducible representations :math:`\rho` of
:math:`D_n` (:func:`dihedral_irreps`; all of them are real, of dimension :math:`d_\rho\in\{1,2\}`)
the book's normalization is

.. math::
    \hat{\mathbf f}(\rho) = \sqrt{d_\rho/|G|}\,\sum_{g}\mathbf f[g]\,\rho(g) \in \mathbb R^{d_\rho\times d_\rho},

which makes :math:`\mathbf f \mapsto (\hat{\mathbf f}(\rho))_\rho` an orthogonal map of
:math:`\mathbb R^G` onto the blocks (Parseval, :func:`fourier_matrix`) and turns the network
into :math:`\hat{\boldsymbol\beta}(\rho) = d_\rho^{-(L-1)/2}\,\hat{\mathbf w}_L(\rho)\cdots\hat{\mathbf w}_1(\rho)`.
The representation cost is then
:math:`L\sum_\rho d_\rho^{(L-1)/L}\|\hat{\boldsymbol\beta}(\rho)\|_{S_{2/L}}^{2/L}`, and at depth two
:math:`2\sum_\rho\sqrt{d_\rho}\,\|\hat{\boldsymbol\beta}(\rho)\|_*` (:func:`weighted_nuclear_norm`).

**Reference and certificate.**  :func:`min_weighted_nuclear_margin` solves
:math:`\min\sum_\rho\sqrt{d_\rho}\|\hat{\boldsymbol\beta}(\rho)\|_*` s.t. margins >= 1 (cvxpy,
Clarabel).  Its dual norm is :math:`\max_\rho\sigma_{\max}(\hat{\mathbf z}(\rho))/\sqrt{d_\rho}`
(:func:`dual_weighted_norm`), and :func:`duality_certificate` bounds the suboptimality of
any margin-1 predictor by weak duality with multipliers :math:`\alpha \ge 0`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ._checks import (
    as_float_array,
    check_dataset,
    check_params,
    check_positive_int,
    check_vectors,
)
from .data import check_separable
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError
from .nets import Parameterization
from .references import clarabel_solve

__all__ = [
    "FiniteGroup",
    "GroupConvolutional",
    "GroupDualityCertificate",
    "GroupReference",
    "Irrep",
    "cyclic_group",
    "dihedral_group",
    "dihedral_irreps",
    "dual_weighted_norm",
    "duality_certificate",
    "fourier_matrix",
    "group_convolve",
    "group_fourier",
    "irrep_errors",
    "min_weighted_nuclear_margin",
    "polish_and_certify",
    "symbolic_checks",
    "symbolic_dihedral_irreps",
    "weighted_nuclear_norm",
]


# --------------------------------------------------------------------------- groups


@dataclass(frozen=True, eq=False)
class FiniteGroup:
    """A finite group by its multiplication table: ``table[g, h]`` = index of g h, ``inverse[g]``, ``identity``."""

    name: str
    table: np.ndarray
    inverse: np.ndarray
    identity: int

    @property
    def order(self) -> int:
        return self.table.shape[0]

    def __repr__(self) -> str:
        return self.name


def _finish_group(name: str, table: np.ndarray) -> FiniteGroup:
    identity = int(np.flatnonzero(np.all(table == np.arange(table.shape[0]), axis=1))[0])
    inverse = np.argmax(table == identity, axis=1)
    return FiniteGroup(name, table, inverse, identity)


def cyclic_group(n: int) -> FiniteGroup:
    """The cyclic group Z_n: ``table[g, h] = (g + h) mod n``."""
    n = check_positive_int("n", n)
    g = np.arange(n)
    return _finish_group(f"Z_{n}", (g[:, None] + g[None, :]) % n)


def dihedral_group(n: int) -> FiniteGroup:
    """The dihedral group D_n of order 2n (n >= 3); element ``k + n e`` is r^k s^e (module docstring)."""
    n = check_positive_int("n", n, minimum=3)
    k, e = np.arange(2 * n) % n, np.arange(2 * n) // n
    a, ea = k[:, None], e[:, None]
    b, eb = k[None, :], e[None, :]
    rot = (a + np.where(ea == 1, -b, b)) % n
    return _finish_group(f"D_{n}", rot + n * ((ea + eb) % 2))


def group_convolve(a, b, group: FiniteGroup) -> np.ndarray:
    r""":math:`(\mathbf a * \mathbf b)[h] = \sum_g\mathbf a[g]\,\mathbf b[g^{-1}h]`, batched over a leading axis."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    T = group.table[group.inverse]  # T[g, h] = g^{-1} h
    return np.einsum("...g,...gh->...h", a, b[..., T])


# --------------------------------------------------------------------------- irreps


@dataclass(frozen=True, eq=False)
class Irrep:
    """A real orthogonal irreducible representation: ``name``, ``dim`` (d), ``matrices`` (|G|, d, d)."""

    name: str
    dim: int
    matrices: np.ndarray


def _rotation(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def dihedral_irreps(n: int) -> list[Irrep]:
    r"""All irreducible representations of :math:`D_n`, real and orthogonal, one of each class.

    One-dimensional: trivial; ``sign`` (:math:`s\mapsto-1`); for even n also :math:`r\mapsto-1`
    with :math:`s\mapsto\pm1`.  Two-dimensional, :math:`j = 1,\dots,\lceil n/2\rceil - 1`:
    :math:`r\mapsto` rotation by :math:`2\pi j/n`, :math:`s\mapsto\operatorname{diag}(1,-1)`.
    :math:`\sum_\rho d_\rho^2 = 2n`.
    """
    n = check_positive_int("n", n, minimum=3)
    k, e = np.arange(2 * n) % n, np.arange(2 * n) // n
    ones = lambda v: v.astype(np.float64).reshape(-1, 1, 1)
    out = [Irrep("trivial", 1, ones(np.ones(2 * n))), Irrep("sign", 1, ones((-1.0) ** e))]
    if n % 2 == 0:
        out += [Irrep("r->-1, s->1", 1, ones((-1.0) ** k)), Irrep("r->-1, s->-1", 1, ones((-1.0) ** (k + e)))]
    S = np.diag([1.0, -1.0])
    for j in range(1, (n + 1) // 2):
        mats = _rotation(2 * np.pi * j * k / n) @ np.where(e[:, None, None] == 1, S, np.eye(2))
        out.append(Irrep(f"rho_{j}", 2, mats))
    return out


def irrep_errors(group: FiniteGroup, irreps: list[Irrep]) -> dict[str, float]:
    r"""Largest violations of: the homomorphism :math:`\rho(g)\rho(h) = \rho(gh)`; Schur's orthogonality
    :math:`\sum_g\rho(g)_{ij}\sigma(g)_{kl} = \tfrac{|G|}{d_\rho}\delta_{\rho\sigma}\delta_{ik}\delta_{jl}`;
    and completeness :math:`\sum_\rho d_\rho^2 = |G|` (as a difference)."""
    G = group.order
    hom = max(float(np.max(np.abs(r.matrices[:, None] @ r.matrices[None, :] - r.matrices[group.table])))
              for r in irreps)
    U = fourier_matrix(irreps)
    orth = float(np.max(np.abs(U @ U.T - np.eye(U.shape[0])))) if U.shape[0] == G else np.inf
    return {"homomorphism": hom, "orthogonality": orth, "completeness": float(sum(r.dim**2 for r in irreps) - G)}


def symbolic_dihedral_irreps(n: int):
    """The irreps of D_n as exact SymPy matrices: a list of lists (one matrix per group element)."""
    import sympy as sp

    n = check_positive_int("n", n, minimum=3)
    S = sp.diag(1, -1)
    out = [[sp.Matrix([[1]]) for _ in range(2 * n)], [sp.Matrix([[(-1) ** (g // n)]]) for g in range(2 * n)]]
    if n % 2 == 0:
        out += [[sp.Matrix([[(-1) ** (g % n)]]) for g in range(2 * n)],
                [sp.Matrix([[(-1) ** (g % n + g // n)]]) for g in range(2 * n)]]
    for j in range(1, (n + 1) // 2):
        mats = []
        for g in range(2 * n):
            t = 2 * sp.pi * j * (g % n) / n
            R = sp.Matrix([[sp.cos(t), -sp.sin(t)], [sp.sin(t), sp.cos(t)]])
            mats.append(R * S if g // n else R)
        out.append(mats)
    return out


def fourier_matrix(irreps: list[Irrep]) -> np.ndarray:
    r"""The real matrix U with rows :math:`\sqrt{d_\rho/|G|}\,\rho(\cdot)_{ij}`, block after block (row-major in
    (i, j)): ``U @ f`` stacks the flattened blocks :math:`\hat{\mathbf f}(\rho)`.  Orthogonal when the irreps
    are a complete set (Schur orthogonality and :math:`\sum d_\rho^2 = |G|`)."""
    G = irreps[0].matrices.shape[0]
    return np.concatenate([np.sqrt(r.dim / G) * r.matrices.reshape(G, -1).T for r in irreps], axis=0)


def group_fourier(f, irreps: list[Irrep]) -> list[np.ndarray]:
    r"""The blocks :math:`\hat{\mathbf f}(\rho) = \sqrt{d_\rho/|G|}\sum_g\mathbf f[g]\rho(g)`; ``f`` of shape (|G|,) or (B, |G|)."""
    f = as_float_array("f", f, ndim=(1, 2))
    G = irreps[0].matrices.shape[0]
    if f.shape[-1] != G:
        raise ShapeError(f"f must have |G| = {G} entries in its last axis, got shape {f.shape}")
    return [np.sqrt(r.dim / G) * np.einsum("...g,gij->...ij", f, r.matrices) for r in irreps]


# --------------------------------------------------------------------------- the network


class GroupConvolutional(Parameterization):
    r"""Linear group-convolutional network of depth L over a finite group (module docstring).

    Parameters: L filters in :math:`\mathbb R^{G}`, one after the other; ``dim`` = |G|,
    ``n_params`` = L |G|.  Predictor and gradient by explicit group convolutions
    (O(L |G|^2) per parameter vector): with :math:`A_l = \mathbf w_L*\cdots*\mathbf w_{l+1}` and
    :math:`C_l = \mathbf w_{l-1}*\cdots*\mathbf w_1`,
    :math:`\nabla_{\mathbf w_l[u]}\langle\mathbf g,\boldsymbol\beta\rangle =
    |G|^{-(L-1)/2}\sum_{a,c}A_l[a]\,C_l[c]\,\mathbf g[a u c]`.
    """

    def __init__(self, group: FiniteGroup, depth: int):
        if not isinstance(group, FiniteGroup):
            raise IbcoreTypeError(f"group must be an ibcore.groups.FiniteGroup, got {type(group).__name__}")
        self.group = group
        self.depth = check_positive_int("depth", depth)
        self.dim = group.order
        self.n_params = self.dim * self.depth
        self._norm = self.dim ** (-(self.depth - 1) / 2)

    @property
    def layer_shapes(self):
        return [(self.dim,)] * self.depth

    def _layers(self, w2):
        return w2.reshape(-1, self.depth, self.dim)

    def _delta(self, B):
        d = np.zeros((B, self.dim))
        d[:, self.group.identity] = 1.0
        return d

    def _predictor(self, w2):
        ws = self._layers(w2)
        acc = ws[:, -1]
        for l in range(self.depth - 2, -1, -1):
            acc = group_convolve(acc, ws[:, l], self.group)
        return self._norm * acc

    def _vjp(self, w2, g2):
        ws, B, table = self._layers(w2), w2.shape[0], self.group.table
        L = self.depth
        A = [None] * L  # A[l] = w_L * ... * w_{l+1} (0-based l: layers l+1..L-1)
        acc = self._delta(B)
        for l in range(L - 1, -1, -1):
            A[l] = acc
            acc = group_convolve(acc, ws[:, l], self.group)
        grads, C = [], self._delta(B)  # C = w_{l-1} * ... * w_1
        for l in range(L):
            r = np.einsum("bc,bxc->bx", C, g2[:, table])  # r[x] = sum_c C[c] g[x c]
            grads.append(np.einsum("ba,bau->bu", A[l], r[:, table]))  # sum_a A[a] r[a u]
            C = group_convolve(ws[:, l], C, self.group)
        return self._norm * np.concatenate(grads, axis=1)

    def layerwise_output(self, w, x) -> np.ndarray:
        """f(x) from the layer definition with explicit group products (slow; for checks)."""
        w2, batched = check_params("w", w, self.n_params)
        if batched:
            raise ShapeError("layerwise_output takes a single parameter vector w of shape (P,)")
        x2 = check_vectors("x", x, self.dim)
        layers = self._layers(w2)[0]
        h = x2
        for l in range(self.depth - 1):
            h = np.einsum("u,ngu->ng", layers[l], h[:, self.group.table]) / np.sqrt(self.dim)
        out = h @ layers[-1]
        return out if np.ndim(x) == 2 else out[0]

    def __repr__(self) -> str:
        return f"GroupConvolutional(group={self.group.name}, depth={self.depth})"


# --------------------------------------------------------------------------- norms and reference


def _check_irreps(irreps, dim: int) -> list[Irrep]:
    if not isinstance(irreps, (list, tuple)) or not irreps or not all(isinstance(r, Irrep) for r in irreps):
        raise IbcoreTypeError("irreps must be a non-empty list of ibcore.groups.Irrep")
    if irreps[0].matrices.shape[0] != dim:
        raise ShapeError(f"the irreps are of a group of order {irreps[0].matrices.shape[0]}, but the data have {dim} columns")
    return list(irreps)


def weighted_nuclear_norm(beta, irreps: list[Irrep], weights: str = "sqrt_dim") -> float:
    r""":math:`\sum_\rho\sqrt{d_\rho}\,\|\hat{\boldsymbol\beta}(\rho)\|_*` (half the depth-two representation cost);
    ``weights="none"`` drops the :math:`\sqrt{d_\rho}` (for comparison only)."""
    beta = as_float_array("beta", beta, ndim=1)
    irreps = _check_irreps(irreps, beta.size)
    if weights not in ("sqrt_dim", "none"):
        raise IbcoreValueError(f"weights must be 'sqrt_dim' or 'none', got {weights!r}")
    blocks = group_fourier(beta, irreps)
    return float(sum((np.sqrt(r.dim) if weights == "sqrt_dim" else 1.0) * np.linalg.norm(b, "nuc")
                     for r, b in zip(irreps, blocks)))


def dual_weighted_norm(z, irreps: list[Irrep]) -> float:
    r"""The dual norm :math:`\max_\rho\sigma_{\max}(\hat{\mathbf z}(\rho))/\sqrt{d_\rho}` of :func:`weighted_nuclear_norm`."""
    z = as_float_array("z", z, ndim=1)
    irreps = _check_irreps(irreps, z.size)
    return float(max(np.linalg.norm(b, 2) / np.sqrt(r.dim) for r, b in zip(irreps, group_fourier(z, irreps))))


@dataclass(frozen=True)
class GroupReference:
    """Margin-1 minimizer ``beta`` of the weighted nuclear norm, ``alpha`` (duals, >= 0), ``value``, ``status``."""

    beta: np.ndarray
    alpha: np.ndarray
    value: float
    status: str


def min_weighted_nuclear_margin(X, y, irreps: list[Irrep], weights: str = "sqrt_dim") -> GroupReference:
    r""":math:`\min\sum_\rho w_\rho\|\hat{\boldsymbol\beta}(\rho)\|_*` s.t. :math:`y_n\langle\mathbf x_n,\boldsymbol\beta\rangle\ge1`
    (an SDP; cvxpy + Clarabel, tolerance 1e-8, status ``optimal`` required); :math:`w_\rho = \sqrt{d_\rho}`,
    or 1 with ``weights="none"``."""
    X, y = check_dataset(X, y)
    irreps = _check_irreps(irreps, X.shape[1])
    if weights not in ("sqrt_dim", "none"):
        raise IbcoreValueError(f"weights must be 'sqrt_dim' or 'none', got {weights!r}")
    check_separable(X, y)
    G = X.shape[1]
    beta = cp.Variable(G)
    margins = cp.multiply(y, X @ beta) >= 1
    terms = []
    for r in irreps:
        U = np.sqrt(r.dim / G) * r.matrices.reshape(G, -1).T
        wt = np.sqrt(r.dim) if weights == "sqrt_dim" else 1.0
        terms.append(wt * (cp.abs(U @ beta)[0] if r.dim == 1 else cp.normNuc(cp.reshape(U @ beta, (r.dim, r.dim), order="C"))))
    problem = cp.Problem(cp.Minimize(cp.sum(cp.hstack(terms))), [margins])
    clarabel_solve("min_weighted_nuclear_margin", problem)
    b = np.asarray(beta.value, dtype=np.float64)
    alpha = np.maximum(np.asarray(margins.dual_value, dtype=np.float64), 0.0)
    return GroupReference(b, alpha, float(problem.value), problem.status)


# --------------------------------------------------------------------------- certificate


@dataclass(frozen=True)
class GroupDualityCertificate:
    r"""Weak-duality bound for a margin-1 predictor ``beta``: ``primal`` = its weighted nuclear norm,
    ``dual`` = :math:`\sum\alpha/\max_\rho(\sigma_{\max}(\hat{\mathbf z}(\rho))/\sqrt{d_\rho})` (a lower bound on
    the optimum), ``gap`` = primal/dual - 1 (bounds the relative suboptimality), ``alpha``."""

    beta: np.ndarray
    alpha: np.ndarray
    primal: float
    dual: float
    gap: float

    def certified(self, tol: float = 1e-8) -> bool:
        return bool(self.gap <= tol and np.all(self.alpha >= 0))


def duality_certificate(beta, alpha, X, y, irreps: list[Irrep]) -> GroupDualityCertificate:
    r"""For any :math:`\alpha\ge0` and :math:`\mathbf z = \sum\alpha_ny_n\mathbf x_n`, every margin-1 feasible β has
    :math:`\sum\alpha_n\le\langle\mathbf z,\boldsymbol\beta\rangle\le N^*(\mathbf z)\,N(\boldsymbol\beta)`; so the optimum is
    at least :math:`\sum\alpha/N^*(\mathbf z)`.  ``beta`` is rescaled to margin 1 (it must separate)."""
    X, y = check_dataset(X, y)
    irreps = _check_irreps(irreps, X.shape[1])
    beta = as_float_array("beta", beta, ndim=1)
    alpha = as_float_array("alpha", alpha, ndim=1)
    if alpha.shape != (X.shape[0],):
        raise ShapeError(f"alpha must have one entry per sample, shape ({X.shape[0]},), got {alpha.shape}")
    if np.any(alpha < 0) or alpha.sum() <= 0:
        raise IbcoreValueError("alpha must be non-negative and not all zero")
    gamma = float(np.min(y * (X @ beta)))
    if gamma <= 0:
        raise IbcoreValueError(f"beta does not separate the data (minimum margin {gamma:.3g} <= 0)")
    beta = beta / gamma
    primal = weighted_nuclear_norm(beta, irreps)
    dual = float(alpha.sum() / dual_weighted_norm(X.T @ (alpha * y), irreps))
    return GroupDualityCertificate(beta, alpha, primal, dual, primal / dual - 1.0)


def polish_and_certify(net: GroupConvolutional, w, X, y, irreps: list[Irrep], *, active_tol: float = 1e-3):
    r"""Polish GD's weights to a nearby KKT point of Theorem 3's problem (``ibcore.limits.polish(net, w)``)
    and certify its predictor by :func:`duality_certificate` with the KKT multipliers (depth two).

    Returns ``(kkt, certificate, moved_deg)``, ``moved_deg`` the predictor-space angle between GD
    and the polished point; ``w`` of shape (B, P) gives a list.
    """
    from . import angle
    from .polish import polish

    if not isinstance(net, GroupConvolutional) or net.depth != 2:
        raise IbcoreTypeError("net must be a GroupConvolutional of depth two")
    w = as_float_array("w", w, ndim=(1, 2))
    if w.ndim == 2:
        return [polish_and_certify(net, wi, X, y, irreps, active_tol=active_tol) for wi in w]
    kkt = polish(net, w, X, y, active_tol=active_tol)
    cert = duality_certificate(kkt.beta, kkt.alpha, X, y, irreps)
    return kkt, cert, float(angle(net.predictor(w), kkt.beta))


def symbolic_checks(n: int) -> dict[str, bool]:
    r"""Exact SymPy checks for :math:`D_n` (small n; cost grows quickly): the homomorphism
    :math:`\rho(g)\rho(h) = \rho(gh)` for every irrep and pair; Schur orthogonality
    :math:`\sum_g\rho(g)_{ij}\sigma(g)_{kl} = \tfrac{2n}{d_\rho}\delta_{\rho\sigma}\delta_{ik}\delta_{jl}`;
    completeness :math:`\sum d_\rho^2 = 2n`; and, with symbolic filters, the depth-two network's
    blocks :math:`\hat{\boldsymbol\beta}(\rho) = d_\rho^{-1/2}\hat{\mathbf w}_2(\rho)\hat{\mathbf w}_1(\rho)` for
    :math:`\boldsymbol\beta = (2n)^{-1/2}\mathbf w_2 * \mathbf w_1`, the group convolution taken from the table."""
    import sympy as sp

    group = dihedral_group(n)
    reps = symbolic_dihedral_irreps(n)
    G = group.order
    simp = lambda e: sp.simplify(sp.expand(e)) == 0
    hom = all(simp(e) for rep in reps for g in range(G) for h in range(G)
              for e in rep[g] * rep[h] - rep[int(group.table[g, h])])
    orth = True
    for a, ra in enumerate(reps):
        for b, rb in enumerate(reps):
            da, db = ra[0].shape[0], rb[0].shape[0]
            for i in range(da):
                for j in range(da):
                    for k in range(db):
                        for m in range(db):
                            s = sum(ra[g][i, j] * rb[g][k, m] for g in range(G))
                            target = sp.Rational(G, da) if (a == b and i == k and j == m) else 0
                            orth = orth and simp(s - target)
    complete = sum(r[0].shape[0] ** 2 for r in reps) == G
    w1 = sp.symbols(f"u0:{G}", real=True)
    w2 = sp.symbols(f"v0:{G}", real=True)
    beta = [sum(w2[g] * w1[int(group.table[group.inverse[g], h])] for g in range(G)) / sp.sqrt(G) for h in range(G)]

    def hat(f, rep):
        d = rep[0].shape[0]
        return sp.sqrt(sp.Rational(d, G)) * sum((f[g] * rep[g] for g in range(G)), sp.zeros(d, d))

    conv = all(simp(e) for rep in reps
               for e in hat(beta, rep) - hat(w2, rep) * hat(w1, rep) / sp.sqrt(rep[0].shape[0]))
    return {"homomorphism": bool(hom), "orthogonality": bool(orth), "completeness": bool(complete),
            "convolution theorem": bool(conv)}
