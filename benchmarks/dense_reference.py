"""Explicit-matrix versions of the conv and diagonal nets (benchmarks only, not part of ibcore).

The same parameterizations as :class:`ibcore.nets.Convolutional` and
:class:`ibcore.nets.Diagonal`, written the way the definitions read: every layer an
explicit D x D matrix (a circulant :math:`C_l[d, j] = \\mathbf w_l[(j - d) \\bmod D]`, or
:math:`\\mathrm{diag}(\\mathbf w_l)`), the predictor and the pullback as chains of
matrix-vector products, O(L D^2) per parameter vector.  They subclass
:class:`ibcore.nets.Parameterization`, so ``gradient_descent`` runs them with the very
same engine (validation, loss, schedule, records): the timings differ only in how the
network is evaluated.  ``check()`` compares them with ibcore's nets.
"""

from __future__ import annotations

import numpy as np

from ibcore.nets import Convolutional, Diagonal, Parameterization


class _Dense(Parameterization):
    """beta = D^{-(L-1)/2} C_1^T ... C_{L-1}^T w_L with explicit matrices C_l (B, D, D)."""

    def __init__(self, dim: int, depth: int, norm: float):
        self.dim, self.depth, self.n_params, self._norm = dim, depth, dim * depth, norm

    @property
    def layer_shapes(self):
        return [(self.dim,)] * self.depth

    def _matrix(self, wl):  # (B, D) -> (B, D, D)
        raise NotImplementedError

    def _chain(self, w2):
        """The matrices C_1..C_{L-1} and a_l = C_{l+1}^T ... C_{L-1}^T w_L for l = 0..L-1 (a_{L-1} = w_L)."""
        layers = self._unflatten(w2)
        mats = [self._matrix(wl) for wl in layers[:-1]]
        a = [None] * self.depth
        a[-1] = layers[-1]
        for l in range(self.depth - 2, -1, -1):
            a[l] = np.einsum("bjd,bj->bd", mats[l], a[l + 1])  # C_l^T a_{l+1}
        return mats, a

    def _predictor(self, w2):
        return self._norm * self._chain(w2)[1][0]

    def _pullback(self, mats, a, g2):
        # <g, beta> = norm * a_{l+1}^T C_l b_l with b_l = C_{l-1} ... C_1 g; its gradient in C_l is
        # norm * outer(a_{l+1}, b_l), gathered back onto the weights the matrix is built from
        grads, b = [], g2
        for l in range(self.depth - 1):
            grads.append(self._norm * self._gather(np.einsum("bd,bj->bdj", a[l + 1], b)))
            b = np.einsum("bdj,bj->bd", mats[l], b)
        grads.append(self._norm * b)
        return np.concatenate(grads, axis=1)

    def _vjp(self, w2, g2):
        mats, a = self._chain(w2)
        return self._pullback(mats, a, g2)

    def _linearize(self, w2):
        mats, a = self._chain(w2)
        return self._norm * a[0], lambda g2: self._pullback(mats, a, g2)


class DenseConvolutional(_Dense):
    """:class:`ibcore.nets.Convolutional` with explicit circulant layers."""

    def __init__(self, dim: int, depth: int):
        super().__init__(dim, depth, dim ** (-(depth - 1) / 2))
        d = np.arange(dim)
        self._idx = (d[None, :] - d[:, None]) % dim  # [d, j] -> j - d
        self._rows, self._cols = d[:, None], (d[:, None] + d[None, :]) % dim  # [d, k] -> (d, d + k)

    def _matrix(self, wl):
        return wl[:, self._idx]

    def _gather(self, outer):  # d/dw[k] of sum_{d,j} outer[d, j] w[(j - d) mod D]: the k-th wrapped diagonal
        return outer[:, self._rows, self._cols].sum(axis=1)


class DenseDiagonal(_Dense):
    """:class:`ibcore.nets.Diagonal` with explicit diagonal matrices."""

    def __init__(self, dim: int, depth: int):
        super().__init__(dim, depth, 1.0)

    def _matrix(self, wl):
        B, D = wl.shape
        out = np.zeros((B, D, D))
        out[:, np.arange(D), np.arange(D)] = wl
        return out

    def _gather(self, outer):
        return np.einsum("bdd->bd", outer)


def check(dim: int = 8, depth: int = 3, seed: int = 0) -> None:
    """Assert that the dense nets equal ibcore's (predictor and vjp, batched)."""
    rng = np.random.default_rng(seed)
    for dense, fast in ((DenseConvolutional(dim, depth), Convolutional(dim, depth)), (DenseDiagonal(dim, depth), Diagonal(dim, depth))):
        W, G = fast.init(seed, batch=3), rng.standard_normal((3, dim))
        np.testing.assert_allclose(dense.predictor(W), fast.predictor(W), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(dense.vjp(W, G), fast.vjp(W, G), rtol=1e-10, atol=1e-13)


if __name__ == "__main__":
    for d, l in ((5, 1), (6, 2), (7, 3), (8, 4)):
        check(d, l)
    print("dense references agree with ibcore.nets")
