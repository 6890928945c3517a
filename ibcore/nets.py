r"""Linear networks as parameterizations :math:`\boldsymbol\beta = \mathcal P(\mathbf w)`.

Every network here represents *all* linear predictors :math:`f(\mathbf x) =
\langle \mathbf x, \boldsymbol\beta\rangle`; the architectures differ only in how
:math:`\boldsymbol\beta` is written in terms of the parameters :math:`\mathbf w`.
Each :math:`\mathcal P` is a homogeneous polynomial of degree ``depth`` (= L, the
number of weight vectors or matrices).

All three classes share one contract:

- ``dim`` (= D), ``depth`` (= L), ``n_params`` (= P);
- ``init(seed_or_rng, scale=1.0, batch=None)``: i.i.d. Gaussian parameters with
  standard deviation ``scale / sqrt(P)`` per entry, so that ``||w(0)|| ≈ scale``
  whatever the architecture; shape ``(P,)`` or ``(batch, P)``;
- ``predictor(w)``: :math:`\mathcal P(\mathbf w)`, shape ``(D,)`` or ``(B, D)``;
- ``vjp(w, g)``: :math:`\nabla_{\mathbf w}\langle \mathbf g, \mathcal P(\mathbf w)\rangle`,
  in closed form, same shape as ``w``; ``g`` of shape ``(D,)`` or ``(B, D)``;
- ``unflatten(w)`` / ``flatten(layers)``: the per-layer weights as the paper writes them.

A leading batch axis on ``w`` evaluates many parameter vectors at once with no
Python loop over the batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ._checks import as_float_array, as_rng, check_params, check_positive_float, check_positive_int, check_vectors
from ._coordinates import _Coordinates, _exclusive_products, _SpectralCoordinates
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError

__all__ = ["Parameterization", "FullyConnected", "Diagonal", "SignedDiagonal", "Convolutional",
           "MultiChannelConvolutional", "Convolutional2D", "GroupConvolutional"]

#: Parameterizations of the "Beyond the paper" chapters that live in their own modules
#: (they import this one, so they are re-exported lazily, on first access).
_ELSEWHERE = {"MultiChannelConvolutional": "local", "Convolutional2D": "conv2d", "GroupConvolutional": "groups"}


def __getattr__(name: str):
    if name in _ELSEWHERE:
        import importlib

        return getattr(importlib.import_module(f"{__package__}.{_ELSEWHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Parameterization(ABC):
    """A homogeneous polynomial map from parameters ``w`` (length P) to predictors (length D)."""

    dim: int
    depth: int
    n_params: int

    def init(self, seed_or_rng=0, scale: float = 1.0, batch: int | None = None) -> np.ndarray:
        """I.i.d. N(0, scale**2 / P) parameters: shape ``(P,)``, or ``(batch, P)`` if ``batch`` is given.

        The per-entry standard deviation ``scale / sqrt(P)`` makes ``E||w||^2 = scale**2``, so
        ``scale`` is the initial norm of the parameters for every architecture and depth
        (the quantity the kernel-versus-rich picture is about). The same seed with ``batch=B`` gives B independent initializations; the
        unbatched call equals the first row of the batched one.
        """
        rng = as_rng("seed_or_rng", seed_or_rng)
        std = check_positive_float("scale", scale) / np.sqrt(self.n_params)
        if batch is None:
            return std * rng.standard_normal(self.n_params)
        batch = check_positive_int("batch", batch)
        return std * rng.standard_normal((batch, self.n_params))

    def predictor(self, w) -> np.ndarray:
        """beta = P(w), shape ``(D,)`` or ``(B, D)``."""
        w2, batched = check_params("w", w, self.n_params)
        beta = self._predictor(w2)
        return beta if batched else beta[0]

    def vjp(self, w, g) -> np.ndarray:
        """The gradient in ``w`` of <g, P(w)>, same shape as ``w``."""
        w2, batched = check_params("w", w, self.n_params)
        g2 = check_vectors("g", g, self.dim, batch=w2.shape[0])
        if not batched and np.ndim(g) == 2 and np.shape(g)[0] != 1:
            raise ShapeError(f"g has a batch axis of {np.shape(g)[0]} but w is a single parameter vector")
        out = self._vjp(w2, np.asarray(g2, dtype=np.float64))
        return out if batched else out[0]

    def unflatten(self, w) -> list[np.ndarray]:
        """The per-layer weights; each layer keeps the batch axis if ``w`` has one."""
        w2, batched = check_params("w", w, self.n_params)
        layers = self._unflatten(w2)
        return layers if batched else [layer[0] for layer in layers]

    def flatten(self, layers) -> np.ndarray:
        """Inverse of :meth:`unflatten`."""
        shapes = self.layer_shapes
        if len(layers) != len(shapes):
            raise ShapeError(f"layers must be a list of {len(shapes)} arrays, got {len(layers)}")
        arrs = [np.asarray(a, dtype=np.float64) for a in layers]
        batched = arrs[0].ndim == len(shapes[0]) + 1
        lead = arrs[0].shape[:1] if batched else ()
        for i, (a, s) in enumerate(zip(arrs, shapes)):
            if a.shape != lead + s:
                raise ShapeError(f"layer {i + 1} must have shape {lead + s}, got {a.shape}")
        return np.concatenate([a.reshape(lead + (-1,)) for a in arrs], axis=-1)

    @property
    @abstractmethod
    def layer_shapes(self) -> list[tuple[int, ...]]:
        """Shape of each layer's weights, in order."""

    def _unflatten(self, w2: np.ndarray) -> list[np.ndarray]:
        out, start = [], 0
        for s in self.layer_shapes:
            size = int(np.prod(s))
            out.append(w2[:, start:start + size].reshape((w2.shape[0],) + s))
            start += size
        return out

    @abstractmethod
    def _predictor(self, w2: np.ndarray) -> np.ndarray: ...

    def _linearize(self, w2: np.ndarray):
        """``(P(w), g -> vjp(w, g))`` for validated 2-D ``w2``, sharing work between the two.

        The training loop calls this once per step; subclasses override it where the
        forward pass already computes what the pullback needs (e.g. the filters' spectra).
        """
        return self._predictor(w2), lambda g2: self._vjp(w2, g2)

    @abstractmethod
    def _vjp(self, w2: np.ndarray, g2: np.ndarray) -> np.ndarray: ...

    def _coordinates(self, Xy: np.ndarray) -> "_Coordinates":
        """The coordinates :func:`ibcore.train.gradient_descent` runs in, for data rows ``Xy`` = y_n x_n."""
        return _Coordinates(self, Xy)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, depth={self.depth})"


class FullyConnected(Parameterization):
    r"""Linear fully connected network :math:`\boldsymbol\beta = W_1 W_2 \cdots W_L`.

    :math:`W_l \in \mathbb R^{D_{l-1}\times D_l}` with :math:`D_0 = D`, :math:`D_L = 1`;
    ``widths`` lists the hidden widths :math:`D_1, \dots, D_{L-1}` (default: all D).
    Depth 1 is the linear predictor itself.
    """

    def __init__(self, dim: int, depth: int, widths=None):
        self.dim = check_positive_int("dim", dim)
        self.depth = check_positive_int("depth", depth)
        if widths is None:
            widths = [self.dim] * (self.depth - 1)
        if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__"):
            raise IbcoreTypeError(f"widths must be a list of {self.depth - 1} integers, got {widths!r}")
        if len(widths) != self.depth - 1:
            raise IbcoreValueError(f"widths must have length depth - 1 = {self.depth - 1}, got {len(widths)}")
        self.widths = [check_positive_int(f"widths[{i}]", v) for i, v in enumerate(widths)]
        self._sizes = [self.dim, *self.widths, 1]
        self.n_params = sum(a * b for a, b in zip(self._sizes[:-1], self._sizes[1:]))

    @property
    def layer_shapes(self):
        return [(a, b) for a, b in zip(self._sizes[:-1], self._sizes[1:])]

    def _suffixes(self, layers):
        """``right[l] = W_{l+1} ... W_L`` as (B, D_l, 1) columns (ones for the last layer), and beta = W_1 ... W_L."""
        right = [None] * self.depth
        r = np.ones((layers[0].shape[0], 1, 1))
        for l in range(self.depth - 1, -1, -1):
            right[l] = r
            r = layers[l] @ r
        return right, r[:, :, 0]  # r is now W_1 ... W_L = beta

    def _predictor(self, w2):
        return self._suffixes(self._unflatten(w2))[1]

    def _pullback(self, layers, right, g2):
        # left[l] = g^T W_1 ... W_{l-1} (row of length D_{l-1}); the gradient of layer l is outer(left, right),
        # written straight into its block of the output
        B = g2.shape[0]
        out = np.empty((B, self.n_params))
        left, start = g2[:, :, None], 0
        for l, (a, b) in enumerate(self.layer_shapes):
            np.multiply(left, right[l].transpose(0, 2, 1), out=out[:, start:start + a * b].reshape(B, a, b))
            start += a * b
            if l < self.depth - 1:
                left = layers[l].transpose(0, 2, 1) @ left
        return out

    def _vjp(self, w2, g2):
        layers = self._unflatten(w2)
        return self._pullback(layers, self._suffixes(layers)[0], g2)

    def _linearize(self, w2):
        layers = self._unflatten(w2)
        right, beta = self._suffixes(layers)
        return beta, lambda g2: self._pullback(layers, right, g2)

    def __repr__(self) -> str:
        return f"FullyConnected(dim={self.dim}, depth={self.depth}, widths={self.widths})"


class Diagonal(Parameterization):
    r"""Linear diagonal network :math:`\boldsymbol\beta = \mathbf w_1 \odot \cdots \odot \mathbf w_L`."""

    def __init__(self, dim: int, depth: int):
        self.dim = check_positive_int("dim", dim)
        self.depth = check_positive_int("depth", depth)
        self.n_params = self.dim * self.depth

    @property
    def layer_shapes(self):
        return [(self.dim,)] * self.depth

    def _predictor(self, w2):
        return np.prod(w2.reshape(-1, self.depth, self.dim), axis=1)

    def _vjp(self, w2, g2):
        others = _exclusive_products(w2.reshape(-1, self.depth, self.dim))  # (B, L, D)
        return (others * g2[:, None, :]).reshape(w2.shape[0], -1)

    def _linearize(self, w2):
        # beta from the same exclusive products as the gradient: others[:, -1] is the prefix
        # product w_1 ... w_{L-1}, so this is np.prod's own sequence of multiplications
        layers = w2.reshape(-1, self.depth, self.dim)
        if self.depth == 1:
            return layers[:, 0].copy(), lambda g2: self._vjp(w2, g2)
        others = _exclusive_products(layers)
        return others[:, -1] * layers[:, -1], lambda g2: (others * g2[:, None, :]).reshape(w2.shape[0], -1)


class SignedDiagonal(Parameterization):
    r"""Signed diagonal network :math:`\boldsymbol\beta = \mathbf u^{\odot L} - \mathbf v^{\odot L}` (Woodworth et al. 2020; Moroshko et al. 2020).

    Started from :math:`\mathbf u = \mathbf v = \alpha\mathbf 1` (:meth:`uniform_init`), :math:`\boldsymbol\beta(0) = 0`
    whatever the initialization scale :math:`\alpha`; :mod:`ibcore.signed` has the chapter-14 tools built on it.

    Parameters are ``w = (u, v)``, ``n_params = 2 * dim``; ``unflatten(w)`` gives ``[u, v]``.
    ``init(seed, scale, batch)`` is the Gaussian initialization shared by every
    parameterization; :meth:`uniform_init` is the one of the papers, ``u = v = alpha * 1``.
    """

    def __init__(self, dim: int, depth: int):
        self.dim = check_positive_int("dim", dim)
        self.depth = check_positive_int("depth", depth)
        self.n_params = 2 * self.dim

    @property
    def layer_shapes(self):
        return [(self.dim,), (self.dim,)]

    def uniform_init(self, alpha) -> np.ndarray:
        r"""``u = v = alpha * 1``, so that :math:`\boldsymbol\beta(0) = 0`.

        ``alpha`` a number > 0 gives shape ``(2D,)``; a 1-D array of B numbers > 0
        gives a batch ``(B, 2D)``, one initialization scale per row.  Then
        :math:`\|\mathbf w(0)\| = \alpha\sqrt{2D}`.
        """
        a = as_float_array("alpha", alpha, ndim=(0, 1))
        if np.any(a <= 0):
            raise IbcoreValueError(f"alpha must be > 0 (u = v = alpha * 1), got {np.atleast_1d(a)[a.ravel() <= 0][:3]}")
        if a.ndim == 0:
            return np.full(self.n_params, float(a))
        if a.size == 0:
            raise IbcoreValueError("alpha must hold at least one initialization scale")
        return np.repeat(a[:, None], self.n_params, axis=1)

    def _powers(self, w2: np.ndarray):
        u, v = w2[:, : self.dim], w2[:, self.dim:]
        L = self.depth
        if L == 1:
            ones = np.ones_like(u)
            return u, v, ones, ones
        return u**L, v**L, u ** (L - 1), v ** (L - 1)

    def _predictor(self, w2):
        uL, vL, _, _ = self._powers(w2)
        return uL - vL

    def _pullback(self, du, dv, g2):
        return self.depth * np.concatenate([du * g2, -dv * g2], axis=1)

    def _vjp(self, w2, g2):
        _, _, du, dv = self._powers(w2)
        return self._pullback(du, dv, g2)

    def _linearize(self, w2):
        uL, vL, du, dv = self._powers(w2)
        return uL - vL, lambda g2: self._pullback(du, dv, g2)


def _check_kernel_size(kernel_size, dim: int) -> int:
    """``kernel_size`` as an int in 1..dim, or a clear error naming it."""
    k = check_positive_int("kernel_size", kernel_size)
    if k > dim:
        raise IbcoreValueError(f"kernel_size must be between 1 and dim = {dim}, got {k}")
    return k


class Convolutional(Parameterization):
    r"""The paper's linear convolutional network (indices mod D), optionally with local filters.

    .. math::
        \mathbf h_0 = \mathbf x,\quad
        \mathbf h_l[d] = \tfrac{1}{\sqrt D}\sum_{k=0}^{K-1} \mathbf w_l[k]\,\mathbf h_{l-1}[(d+k) \bmod D]
        \ (1 \le l \le L-1),\quad f(\mathbf x) = \langle \mathbf h_{L-1}, \mathbf w_L\rangle,

    so that :math:`\boldsymbol\beta = D^{-(L-1)/2}\, \mathbf w_1 \circledast \cdots \circledast \mathbf w_L`
    and, with the unitary DFT, :math:`\hat{\boldsymbol\beta} = \hat{\mathbf w}_1 \odot \cdots \odot \hat{\mathbf w}_L`.

    ``kernel_size`` = K (default D, the paper's full-width filters) is the number of taps
    of the convolutional filters :math:`\mathbf w_1, \dots, \mathbf w_{L-1}`; the factor
    :math:`1/\sqrt D` is the same at every K.  The readout :math:`\mathbf w_L` is an inner
    product, not a convolution, and keeps its D entries (with a K-tap readout as well, the
    net could only represent predictors supported on :math:`L(K-1)+1` taps).  Parameters,
    in order: :math:`\mathbf w_1, \dots, \mathbf w_{L-1} \in \mathbb R^K`, :math:`\mathbf w_L \in \mathbb R^D`,
    so ``n_params`` = (L-1) K + D.  The formulas above hold with each local filter
    zero-padded to length D (:meth:`padded`); the gradient of a local filter is the
    full-width gradient restricted to its K taps (the padding is a linear map whose
    adjoint is that restriction).  Only the full-width net has the closed-form induced
    regularizer of the paper (:attr:`full_width`); the depth-two cost at K < D is the
    semidefinite program of :mod:`ibcore.sdp`.

    Both :meth:`predictor` and :meth:`vjp` work in the Fourier domain with real FFTs:
    O(L D log D) per parameter vector instead of the O(L D^2) of circulant matrices.
    The gradient uses :math:`\nabla_{\mathbf w_l}\langle \mathbf g, \boldsymbol\beta\rangle =
    D^{-(L-1)/2}\, \mathbf g \star (\circledast_{l' \ne l} \mathbf w_{l'})` (a circular
    cross-correlation), i.e. :math:`F\nabla_{\mathbf w_l} = \hat{\mathbf g} \odot
    \overline{\prod_{l'\ne l}\hat{\mathbf w}_{l'}}`.  For full-width filters
    :func:`ibcore.train.gradient_descent` goes further and keeps the spectra themselves as
    its state (:class:`_SpectralCoordinates`).
    """

    def __init__(self, dim: int, depth: int, kernel_size: int | None = None):
        self.dim = check_positive_int("dim", dim)
        self.depth = check_positive_int("depth", depth)
        self.kernel_size = self.dim if kernel_size is None else _check_kernel_size(kernel_size, self.dim)
        self.n_params = (self.depth - 1) * self.kernel_size + self.dim
        self._norm = self.dim ** (-(self.depth - 1) / 2)

    @property
    def full_width(self) -> bool:
        """True for the paper's net (K = D, or depth 1 where there is no filter): the closed-form theory applies."""
        return self.kernel_size == self.dim or self.depth == 1

    @property
    def layer_shapes(self):
        return [(self.kernel_size,)] * (self.depth - 1) + [(self.dim,)]

    def padded(self, w) -> np.ndarray:
        """The filters zero-padded to length D: parameters of ``Convolutional(dim, depth)`` with the same predictor."""
        w2, batched = check_params("w", w, self.n_params)
        full = self._padded(w2).reshape(w2.shape[0], -1)
        return full if batched else full[0]

    def _padded(self, w2):
        """(B, L, D) filters; a view of ``w2`` for full-width nets."""
        B, K, D = w2.shape[0], self.kernel_size, self.dim
        if K == D:
            return w2.reshape(B, self.depth, D)
        out = np.zeros((B, self.depth, D))
        out[:, :-1, :K] = w2[:, : (self.depth - 1) * K].reshape(B, self.depth - 1, K)
        out[:, -1, :] = w2[:, (self.depth - 1) * K:]
        return out

    def _spectra(self, w2):
        return np.fft.rfft(self._padded(w2), axis=-1)  # (B, L, D//2+1)

    def _predictor(self, w2):
        return self._norm * np.fft.irfft(np.prod(self._spectra(w2), axis=1), n=self.dim, axis=-1)

    def _pullback(self, spec, g2):
        others = np.conj(_exclusive_products(spec))  # (B, L, D//2+1)
        G = np.fft.rfft(g2, axis=-1)[:, None, :]
        grads = np.fft.irfft(G * others, n=self.dim, axis=-1)
        B, K = g2.shape[0], self.kernel_size
        if K == self.dim:
            return self._norm * grads.reshape(B, -1)
        # the full-width gradient restricted to each local filter's K taps
        return self._norm * np.concatenate([grads[:, :-1, :K].reshape(B, -1), grads[:, -1, :]], axis=1)

    def _vjp(self, w2, g2):
        return self._pullback(self._spectra(w2), g2)

    def _linearize(self, w2):
        spec = self._spectra(w2)
        beta = self._norm * np.fft.irfft(np.prod(spec, axis=1), n=self.dim, axis=-1)
        return beta, lambda g2: self._pullback(spec, g2)

    def _coordinates(self, Xy):
        # spectra are an isometric state only when every filter has all D taps
        if self.kernel_size == self.dim:
            return _SpectralCoordinates(self, Xy)
        return super()._coordinates(Xy)

    def layerwise_output(self, w, x) -> np.ndarray:
        """f(x) computed layer by layer from the definition, with explicit indices (slow; for checks).

        ``x`` of shape ``(D,)`` or ``(N, D)``; ``w`` a single parameter vector.
        """
        w2, batched = check_params("w", w, self.n_params)
        if batched:
            raise ShapeError("layerwise_output takes a single parameter vector w of shape (P,)")
        x2 = check_vectors("x", x, self.dim)
        layers = self._unflatten(w2)
        # idx[d, k] = (d + k) mod D: the input entry filter tap k sees at output d
        idx = (np.arange(self.dim)[:, None] + np.arange(self.kernel_size)[None, :]) % self.dim
        h = x2
        for l in range(self.depth - 1):
            h = np.einsum("k,ndk->nd", layers[l][0], h[:, idx]) / np.sqrt(self.dim)
        out = h @ layers[-1][0]
        return out if np.ndim(x) == 2 else out[0]

    def __repr__(self) -> str:
        if self.kernel_size == self.dim:
            return f"Convolutional(dim={self.dim}, depth={self.depth})"
        return f"Convolutional(dim={self.dim}, depth={self.depth}, kernel_size={self.kernel_size})"
