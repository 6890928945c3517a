r"""The lemmas behind the theorems, as computations.

The paper's theorems rest on a few facts that hold for every parameterization in the
book; this module makes each of them something a chapter can compute and a test can
check.

**Induced regularizers.**  The cheapest way, in :math:`\|\mathbf w\|^2`, to write a
predictor as a network,

.. math::
    \mathcal R_{\mathcal P}(\boldsymbol\beta) = \min\{\|\mathbf w\|^2 : \mathcal P(\mathbf w) = \boldsymbol\beta\}
    = \begin{cases} L\|\boldsymbol\beta\|_2^{2/L} & \text{fully connected,}\\
    L\|\boldsymbol\beta\|_{2/L}^{2/L} & \text{diagonal,}\\
    L\|\hat{\boldsymbol\beta}\|_{2/L}^{2/L} & \text{convolutional,}\end{cases}

by the arithmetic-geometric mean inequality per coordinate (diagonal) or per frequency
(convolutional, after Parseval).  :func:`induced_regularizer` is the closed form,
:func:`balanced_factorization` a minimizer, :func:`min_norm_factorization` a numerical
minimization that does not know the formula, :func:`cost_ratio` the ratio
:math:`\|\mathbf w\|^2/\mathcal R_{\mathcal P}(\mathcal P(\mathbf w))\ge1`.  The fully
connected case is in :mod:`ibcore.alignment`, to which these delegate.

**Gradient directions along a run.**  Gradient descent is
:math:`\mathbf w(t) = \mathbf w(0) - \sum_{s<t}\eta_s\nabla\mathcal L_{\mathcal P}(\mathbf w(s))`,
so the iterate is a running sum of gradients and, by the Stolz-Cesàro theorem, shares
their limit direction when they have one.  :func:`ibcore.train.gradient_descent`
records predictor directions only; :func:`descent_path` runs it in segments and keeps,
at each checkpoint, the parameters, the direction of :math:`-\nabla_{\mathbf w}\mathcal L_{\mathcal P}`
(:func:`gradient_direction`, through ``net.vjp`` and :func:`ibcore.losses.loss_terms`)
and the loss weights.

**The exponential tail.**  :math:`-\nabla_{\mathbf w}\mathcal L_{\mathcal P}(\mathbf w)` is a
positive multiple of :math:`\mathrm{vjp}(\mathbf w, \sum_n p_n y_n\mathbf x_n)` with
:math:`p = \mathrm{softmax}(-\text{margins})` (:func:`loss_weights`): as the loss
vanishes the weights concentrate on the minimum-margin samples.

**Balancedness.**  Gradient flow conserves :math:`W_l^\top W_l - W_{l+1}W_{l+1}^\top`
(fully connected), :math:`\mathbf w_l^2 - \mathbf w_{l+1}^2` (diagonal) and
:math:`|\hat{\mathbf w}_l|^2 - |\hat{\mathbf w}_{l+1}|^2` (convolutional), entrywise;
:func:`balancedness` computes them, :func:`balancedness_drift` how far gradient
descent moved them, and :func:`ibcore.symbolic.fc_balancedness_step` /
:func:`ibcore.symbolic.fourier_balancedness_step` (SymPy builders stand apart) the exact change in one step as SymPy polynomials in the step size: no first-order term
(the flow conserves them), a second-order term (gradient descent drifts by
:math:`O(\eta)` over a fixed time).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from . import alignment
from ._checks import as_float_array, as_rng, check_choice, check_dataset, check_params
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError
from .fourier import bridge, dft
from .losses import LOG_SCALE_CAP, LOSSES, loss_terms
from .nets import Convolutional, Diagonal, FullyConnected, Parameterization
from .train import gradient_descent

__all__ = [
    "DescentPath",
    "balanced_factorization",
    "balancedness",
    "balancedness_drift",
    "cost_ratio",
    "descent_path",
    "gradient_direction",
    "induced_regularizer",
    "loss_weights",
    "min_norm_factorization",
    "random_factorization",
]

_NETS = (FullyConnected, Diagonal, Convolutional)


def _check_net(net) -> Parameterization:
    if not isinstance(net, _NETS):
        raise IbcoreTypeError(
            f"net must be an ibcore.nets FullyConnected, Diagonal or Convolutional network, got {type(net).__name__}"
        )
    if isinstance(net, Convolutional) and not net.full_width:
        raise IbcoreTypeError(f"the lemmas are about the paper's full-width filters; got {net!r} (kernel_size < dim)")
    return net


def _check_beta(net: Parameterization, beta) -> np.ndarray:
    beta = as_float_array("beta", beta, ndim=(1, 2))
    if beta.shape[-1] != net.dim:
        raise ShapeError(f"beta must have length net.dim = {net.dim} in its last axis, got shape {beta.shape}")
    return beta


# --------------------------------------------------------------------------- induced regularizers


def induced_regularizer(net: Parameterization, beta) -> np.ndarray | float:
    r""":math:`\mathcal R_{\mathcal P}(\boldsymbol\beta)=\min\{\|\mathbf w\|^2:\mathcal P(\mathbf w)=\boldsymbol\beta\}` in closed form.

    :math:`L\|\boldsymbol\beta\|_2^{2/L}` (fully connected), :math:`L\|\boldsymbol\beta\|_{2/L}^{2/L}`
    (diagonal), :math:`L\|\hat{\boldsymbol\beta}\|_{2/L}^{2/L}` (convolutional); ``beta`` of
    shape (D,) or (B, D).  The bridge norms are computed by :func:`ibcore.fourier.bridge`,
    which factors out the largest modulus, so no scale under- or overflows.
    """
    net = _check_net(net)
    beta = _check_beta(net, beta)
    L = net.depth
    if isinstance(net, FullyConnected):
        return alignment.factorization_cost(beta, L)
    domain = "fourier" if isinstance(net, Convolutional) else "time"
    out = L * np.asarray(bridge(beta, 2.0 / L, domain)) ** (2.0 / L)
    return float(out) if out.ndim == 0 else out


def balanced_factorization(net: Parameterization, beta) -> np.ndarray:
    r"""Weights ``w`` with :math:`\mathcal P(\mathbf w)=\boldsymbol\beta` and :math:`\|\mathbf w\|^2=\mathcal R_{\mathcal P}(\boldsymbol\beta)`.

    The equality case of the arithmetic-geometric mean inequality: every layer carries the
    same modulus :math:`|\beta_d|^{1/L}` per coordinate (diagonal) or
    :math:`|\hat\beta[k]|^{1/L}` per frequency (convolutional).

    - Diagonal: :math:`\mathbf w_1 = \operatorname{sign}(\boldsymbol\beta)|\boldsymbol\beta|^{1/L}`,
      :math:`\mathbf w_l = |\boldsymbol\beta|^{1/L}` for :math:`l\ge2`.
    - Convolutional: the phase :math:`\phi_k=\arg\hat\beta[k]\in(-\pi,\pi)` is shared equally,
      :math:`\hat{\mathbf w}_l[k]=|\hat\beta[k]|^{1/L}e^{i\phi_k/L}`, which keeps every spectrum
      conjugate symmetric (:math:`\phi_{D-k}=-\phi_k`), so the filters are real.  At the
      self-conjugate frequencies :math:`k=0` and :math:`k=D/2`, where :math:`\hat\beta[k]` is
      real, the sign goes to the first layer alone (a phase :math:`\pi/L` would not be real).
    - Fully connected: :func:`ibcore.alignment.balanced_factorization`.
    """
    net = _check_net(net)
    beta = _check_beta(net, beta)
    if beta.ndim != 1:
        raise ShapeError(f"beta must be a single predictor of shape ({net.dim},), got shape {beta.shape}")
    if isinstance(net, FullyConnected):
        return alignment.balanced_factorization(net, beta)
    L = net.depth
    if isinstance(net, Diagonal):
        r = np.abs(beta) ** (1.0 / L)
        layers = [np.sign(beta) * r] + [r.copy() for _ in range(L - 1)]
        return net.flatten(layers)
    spec = dft(beta)
    modulus = np.abs(spec) ** (1.0 / L)
    D = net.dim
    k = np.arange(D)
    self_conjugate = (k == 0) | (2 * k == D)
    phase = np.where(self_conjugate, 0.0, np.angle(spec) / L)
    mirror = 2 * k > D
    phase[mirror] = -phase[D - k[mirror]]  # conjugate symmetric even where arg = pi exactly
    first_sign = np.where(self_conjugate & (spec.real < 0), -1.0, 1.0)
    layer_spec = modulus * np.exp(1j * phase)
    layers = [np.fft.ifft(layer_spec * (first_sign if l == 0 else 1.0), norm="ortho").real for l in range(L)]
    return net.flatten(layers)


def random_factorization(net: Parameterization, beta, seed=0, batch: int | None = None) -> np.ndarray:
    r"""Random ``w`` with :math:`\mathcal P(\mathbf w)=\boldsymbol\beta` exactly (diagonal or convolutional).

    Layers :math:`2,\dots,L` are seeded Gaussian (``net.init``), and the first layer is
    solved for: :math:`\mathbf w_1=\boldsymbol\beta\oslash(\mathbf w_2\odot\cdots\odot\mathbf w_L)` (diagonal), or
    :math:`\hat{\mathbf w}_1=\hat{\boldsymbol\beta}\oslash(\hat{\mathbf w}_2\odot\cdots\odot\hat{\mathbf w}_L)` (convolutional;
    the quotient of conjugate-symmetric spectra is conjugate symmetric, so :math:`\mathbf w_1` is
    real).  The other layers are non-zero everywhere with probability one.  Finally each
    layer is multiplied by a scalar, the scalars' product being 1, so that all layers have
    the same norm (the product, hence :math:`\mathcal P(\mathbf w)`, is unchanged).  Shape
    ``(P,)``, or ``(batch, P)`` for ``batch`` independent draws.  Used as feasible starting
    points, and to sample the set :math:`\{\mathbf w:\mathcal P(\mathbf w)=\boldsymbol\beta\}`.
    """
    net = _check_net(net)
    if isinstance(net, FullyConnected):
        raise IbcoreTypeError("random_factorization is for Diagonal and Convolutional networks")
    beta = _check_beta(net, beta)
    if beta.ndim != 1:
        raise ShapeError(f"beta must be a single predictor of shape ({net.dim},), got shape {beta.shape}")
    w = net.init(as_rng("seed", seed), batch=1 if batch is None else batch)
    layers = net.unflatten(w)  # each (B, D)
    if net.depth > 1:
        if isinstance(net, Diagonal):
            layers[0] = beta / np.prod(layers[1:], axis=0)
        else:
            others = np.prod([dft(v) for v in layers[1:]], axis=0)
            layers[0] = np.fft.ifft(dft(beta) / others, axis=-1, norm="ortho").real
    else:
        layers[0] = np.broadcast_to(beta, layers[0].shape).copy()
    norms = np.stack([np.linalg.norm(v, axis=-1) for v in layers])  # (L, B)
    target = np.exp(np.mean(np.log(norms), axis=0))
    out = net.flatten([v * (target / n)[:, None] for v, n in zip(layers, norms)])
    return out if batch is not None else out[0]


def min_norm_factorization(net: Parameterization, beta, seed=0, *, tol: float = 1e-12) -> alignment.MinNormFactorization:
    r"""Solve :math:`\min\|\mathbf w\|^2` s.t. :math:`\mathcal P(\mathbf w)=\boldsymbol\beta` numerically (SLSQP), any of the three nets.

    A check of :func:`induced_regularizer` that does not use it: a seeded random
    factorization of :math:`\boldsymbol\beta` as the start (:func:`random_factorization`; a
    feasible start spares SLSQP the crossings of :math:`\{\mathcal P(\mathbf w)_d=0\}` between
    the sign patterns of the layers, where the constraint Jacobian loses rank),
    the constraint Jacobian from ``net.vjp`` (row :math:`d` is
    :math:`\nabla_{\mathbf w}\mathcal P(\mathbf w)[d]`), the predictor scaled to unit norm
    first and the answer scaled back by :math:`\|\boldsymbol\beta\|^{1/L}`.  The problem
    is non-convex, so the answer is a local minimum from that start.  (For the diagonal
    and convolutional networks every feasible stationary point is balanced per
    coordinate or frequency where :math:`\boldsymbol\beta` is non-zero, hence global.)
    Fully connected networks go to :func:`ibcore.alignment.min_norm_factorization`.
    Raises :class:`~ibcore.errors.SolverError` if SLSQP fails or leaves the constraint
    violated by more than ``1e-8`` (relative).
    """
    net = _check_net(net)
    if isinstance(net, FullyConnected):
        return alignment.min_norm_factorization(net, beta, seed, tol=tol)
    beta = _check_beta(net, beta)
    if beta.ndim != 1:
        raise ShapeError(f"beta must be a single predictor of shape ({net.dim},), got shape {beta.shape}")
    nb = float(np.linalg.norm(beta))
    if nb == 0:
        raise IbcoreValueError("beta = 0 has the trivial factorization w = 0; nothing to solve")
    w0 = random_factorization(net, beta / nb, seed)
    return alignment._slsqp_factorization(net, beta, nb, w0, float(induced_regularizer(net, beta)), tol)


def cost_ratio(net: Parameterization, w) -> np.ndarray | float:
    r""":math:`\|\mathbf w\|^2/\mathcal R_{\mathcal P}(\mathcal P(\mathbf w))`: at least 1, equal to 1 iff ``w`` is a minimum-norm factorization.

    Homogeneous of degree 0 (both sides scale as :math:`a^2`), so unit directions from
    gradient descent can be passed as they are; ``w`` of shape (P,) or (B, P).
    """
    net = _check_net(net)
    w2, batched = check_params("w", w, net.n_params)
    top = np.max(np.abs(w2), axis=1, keepdims=True)
    if np.any(top == 0):
        raise IbcoreValueError("w contains a zero parameter vector")
    w2 = w2 / top
    beta = net.predictor(w2)
    if np.any(np.max(np.abs(beta), axis=1) == 0):
        raise IbcoreValueError("P(w) = 0 for some w: no induced regularizer to compare with")
    out = np.sum(w2**2, axis=1) / np.atleast_1d(induced_regularizer(net, beta))
    return out if batched else float(out[0])


# --------------------------------------------------------------------------- gradients and loss weights


def loss_weights(X, y, beta, log_scale=0.0, loss: str = "exp") -> np.ndarray:
    r"""The loss weights :math:`p_n = |\ell'(a_n)|/\sum_m|\ell'(a_m)|` of the predictor :math:`e^{\text{log\_scale}}\boldsymbol\beta`.

    :math:`a_n = y_n\langle\mathbf x_n, e^{\text{log\_scale}}\boldsymbol\beta\rangle`; for the
    exponential loss :math:`p=\mathrm{softmax}(-a)`, and
    :math:`-\nabla_{\boldsymbol\beta}\mathcal L = (\sum_m|\ell'(a_m)|)\sum_n p_n y_n\mathbf x_n`.
    ``beta`` (D,) or (K, D) with ``log_scale`` scalar or (K,): passing a run's unit
    directions and log-norms gives the weights along the run with nothing exponentiated
    outside float64 (:func:`ibcore.losses.loss_terms`).
    """
    X, y = check_dataset(X, y)
    check_choice("loss", loss, LOSSES)
    beta = as_float_array("beta", beta, ndim=(1, 2))
    if beta.shape[-1] != X.shape[1]:
        raise ShapeError(f"beta must have length {X.shape[1]} (the number of features), got shape {beta.shape}")
    b2 = np.atleast_2d(beta)
    s = np.broadcast_to(as_float_array("log_scale", log_scale, ndim=(0, 1)), (b2.shape[0],))
    top = np.max(np.abs(b2), axis=1)
    if np.any(top == 0):
        raise IbcoreValueError("beta contains a zero predictor")
    m = (b2 / top[:, None]) @ (X * y[:, None]).T
    p = loss_terms(m, np.minimum(s + np.log(top), LOG_SCALE_CAP), loss).weights
    return p if beta.ndim == 2 else p[0]


def gradient_direction(net: Parameterization, X, y, w, log_norm_w, loss: str = "exp"):
    r"""The unit direction of :math:`-\nabla_{\mathbf w}\mathcal L_{\mathcal P}(\mathbf w)`, the loss weights, and the log-loss.

    ``w`` is a direction (P,) or (B, P) (it is normalized here) and ``log_norm_w`` the
    log of :math:`\|\mathbf w\|`, as :func:`ibcore.train.gradient_descent` stores them.  By
    the chain rule and homogeneity,

    .. math::
        -\nabla_{\mathbf w}\mathcal L_{\mathcal P}(e^\sigma\mathbf u)
        = \Big(\sum_m|\ell'(a_m)|\Big)\,e^{(L-1)\sigma}\,
          \mathrm{vjp}\Big(\mathbf u,\ \sum_n p_n y_n\mathbf x_n\Big),

    a positive multiple of the vjp, which is therefore all the direction needs.  The
    weights :math:`p` come from :func:`ibcore.losses.loss_terms` at scale
    :math:`e^{L\sigma}`, exactly as the training loop computes them.  Returns
    ``(direction, weights, log_loss)`` with shapes ``(P,)``, ``(N,)``, ``()`` (or batched).
    """
    net = _check_net(net)
    X, y = check_dataset(X, y)
    check_choice("loss", loss, LOSSES)
    if X.shape[1] != net.dim:
        raise ShapeError(f"X has {X.shape[1]} features but net.dim is {net.dim}")
    w2, batched = check_params("w", w, net.n_params)
    norms = np.linalg.norm(w2, axis=1)
    if np.any(norms == 0):
        raise IbcoreValueError("w contains a zero parameter vector, which has no direction")
    u = w2 / norms[:, None]
    sigma = np.broadcast_to(as_float_array("log_norm_w", log_norm_w, ndim=(0, 1)), (u.shape[0],))
    Xy = X * y[:, None]
    m = net.predictor(u) @ Xy.T
    terms = loss_terms(m, net.depth * np.minimum(sigma, LOG_SCALE_CAP / net.depth), loss)
    v = net.vjp(u, terms.weights @ Xy)
    vn = np.linalg.norm(v, axis=1)
    if np.any(vn == 0):
        raise IbcoreValueError("the gradient vanishes at w (a saddle of P, e.g. two zero layers): it has no direction")
    out = (v / vn[:, None], terms.weights, terms.log_loss)
    return out if batched else tuple(a[0] for a in out)


@dataclass(frozen=True)
class DescentPath:
    r"""Gradient descent observed at checkpoints (:func:`descent_path`).

    ``iteration`` (K,); ``w`` (K, P) unit parameter directions and ``log_norm_w`` (K,);
    ``beta`` (K, D) unit predictor directions; ``neg_gradient`` (K, P) unit directions of
    :math:`-\nabla_{\mathbf w}\mathcal L_{\mathcal P}(\mathbf w(t))`; ``weights`` (K, N) the loss
    weights; ``log_loss`` (K,).  A batched ``init`` adds a batch axis after K.
    """

    iteration: np.ndarray
    w: np.ndarray
    log_norm_w: np.ndarray
    beta: np.ndarray
    neg_gradient: np.ndarray
    weights: np.ndarray
    log_loss: np.ndarray
    schedule: str

    def params(self) -> np.ndarray:
        """The parameters :math:`\\mathbf w(t)` themselves at every checkpoint (float64 range permitting)."""
        if np.any(self.log_norm_w > 700):
            raise IbcoreValueError("the parameters' norm exceeds float64 (log_norm_w > 700)")
        return np.exp(self.log_norm_w)[..., None] * self.w

    def at_log_loss(self, log_loss, field: str = "beta") -> np.ndarray:
        r"""``field`` (``"w"``, ``"beta"``, ``"neg_gradient"`` or ``"weights"``) at the given log-losses, by linear interpolation.

        The loss decreases along gradient descent with small enough steps, so it labels the
        points of the path whatever the schedule: two runs are compared *at equal loss*,
        not at equal iteration.  Directions are interpolated between the two bracketing
        checkpoints and renormalized (weights are not), so record densely.  Values outside
        the recorded range raise.  Unbatched paths only.
        """
        check_choice("field", field, {"w", "beta", "neg_gradient", "weights"})
        if self.log_loss.ndim != 1:
            raise ShapeError("at_log_loss needs an unbatched path (init of shape (P,) or a seed)")
        if np.any(np.diff(self.log_loss) > 0):
            raise IbcoreValueError("the loss increases somewhere along this path; it cannot label the points")
        q = np.atleast_1d(as_float_array("log_loss", log_loss, ndim=(0, 1)))
        x = -self.log_loss  # non-decreasing
        if np.any(-q < x[0]) or np.any(-q > x[-1]):
            lo, hi = self.log_loss[-1], self.log_loss[0]
            raise IbcoreValueError(f"log_loss outside the recorded range [{lo:.4g}, {hi:.4g}]")
        values = getattr(self, field)
        j = np.clip(np.searchsorted(x, -q), 1, x.size - 1)
        span = np.where(x[j] > x[j - 1], x[j] - x[j - 1], 1.0)
        frac = np.clip((-q - x[j - 1]) / span, 0.0, 1.0)[:, None]
        out = (1 - frac) * values[j - 1] + frac * values[j]
        if field != "weights":
            out = out / np.linalg.norm(out, axis=1, keepdims=True)
        return out if np.ndim(log_loss) == 1 else out[0]

    def increments(self) -> np.ndarray:
        r""":math:`\mathbf w(t_{k+1})-\mathbf w(t_k) = -\sum_{t_k\le s<t_{k+1}}\eta_s\nabla\mathcal L_{\mathcal P}(\mathbf w(s))`, shape (K-1, ..., P).

        The sum of the gradient steps taken between consecutive checkpoints; their running
        sum is :math:`\mathbf w(t)-\mathbf w(0)`.
        """
        return np.diff(self.params(), axis=0)


def descent_path(
    net: Parameterization,
    X,
    y,
    *,
    checkpoints,
    lr: float,
    schedule: str = "constant",
    loss: str = "exp",
    init=None,
    init_scale: float = 1.0,
) -> DescentPath:
    r"""Run :func:`ibcore.train.gradient_descent` from checkpoint to checkpoint and observe the gradients there.

    ``checkpoints`` are increasing iteration counts (0 is added); each segment restarts
    the engine from the parameters where the previous one stopped, which is the same
    run because the ``"constant"`` and ``"normalized"`` steps depend only on the current
    parameters.  The ``"angular"`` schedule's step depends on the iteration count, so it is
    refused.  The parameters must stay inside float64 (``log_norm_w`` <= 700), which every
    constant-step run does.
    """
    net = _check_net(net)
    check_choice("schedule", schedule, {"constant", "normalized"})
    pts = np.asarray(checkpoints)
    if pts.ndim != 1 or pts.size == 0 or not np.issubdtype(pts.dtype, np.integer):
        raise IbcoreTypeError("checkpoints must be a non-empty 1-D array of iteration counts")
    if np.any(pts < 0):
        raise IbcoreValueError("checkpoints must be >= 0")
    pts = np.unique(np.concatenate([[0], pts]))
    if pts.size < 2:
        raise IbcoreValueError("checkpoints must contain at least one positive iteration count")
    w = _start(net, init, init_scale)
    u = w / np.linalg.norm(w, axis=-1, keepdims=True)
    b0 = net.predictor(u)
    keep = {"w": [u], "log_norm_w": [np.log(np.linalg.norm(w, axis=-1))],
            "beta": [b0 / np.linalg.norm(b0, axis=-1, keepdims=True)]}
    for a, b in pairwise(pts):
        run = gradient_descent(net, X, y, steps=int(b - a), lr=lr, schedule=schedule, loss=loss, init=w,
                               record=2, progress=False)
        w = run.params()
        keep["w"].append(run.w)
        keep["log_norm_w"].append(np.asarray(run.log_norm_w, dtype=np.float64))
        keep["beta"].append(run.beta)
    W = np.stack(keep["w"])
    S = np.stack(keep["log_norm_w"])
    flat_w = W.reshape(-1, net.n_params)
    g, p, ll = gradient_direction(net, X, y, flat_w, S.reshape(-1), loss)
    lead = W.shape[:-1]
    return DescentPath(
        iteration=pts.astype(np.int64),
        w=W,
        log_norm_w=S,
        beta=np.stack(keep["beta"]),
        neg_gradient=g.reshape(lead + (net.n_params,)),
        weights=p.reshape(lead + (p.shape[-1],)),
        log_loss=ll.reshape(lead),
        schedule=schedule,
    )


def _start(net: Parameterization, init, init_scale: float) -> np.ndarray:
    """The engine's starting parameters for ``init`` (the rules of :func:`ibcore.train.gradient_descent`)."""
    if init is None:
        init = 0
    if isinstance(init, (int, np.integer, np.random.Generator)) and not isinstance(init, bool):
        return net.init(init, scale=init_scale)
    w = as_float_array("init", init, ndim=(1, 2))
    if w.shape[-1] != net.n_params:
        raise ShapeError(f"init must have {net.n_params} parameters in its last axis, got shape {w.shape}")
    if np.any(np.linalg.norm(w, axis=-1) == 0):
        raise IbcoreValueError("init contains a zero parameter vector: it has no direction and its gradient vanishes")
    return w.copy()


# --------------------------------------------------------------------------- balancedness


def balancedness(net: Parameterization, w) -> list[np.ndarray]:
    r"""The quantities gradient flow conserves, one array per pair of consecutive layers.

    - Fully connected: :math:`W_l^\top W_l - W_{l+1}W_{l+1}^\top` (:math:`D_l\times D_l`);
    - diagonal: :math:`\mathbf w_l\odot\mathbf w_l - \mathbf w_{l+1}\odot\mathbf w_{l+1}` (D,);
    - convolutional: :math:`|\hat{\mathbf w}_l|^2 - |\hat{\mathbf w}_{l+1}|^2` per frequency (D,).

    ``w`` of shape (P,) or (B, P) (each array then has a leading batch axis).  Every
    other pair :math:`(l, l')` is a sum of consecutive ones.  Depth 1 gives an empty list.
    """
    net = _check_net(net)
    layers = net.unflatten(w)
    if isinstance(net, FullyConnected):
        return [np.swapaxes(A, -1, -2) @ A - B @ np.swapaxes(B, -1, -2) for A, B in pairwise(layers)]
    if isinstance(net, Convolutional):
        sq = [np.abs(dft(v)) ** 2 for v in layers]
    else:
        sq = [v**2 for v in layers]
    return [a - b for a, b in pairwise(sq)]


def balancedness_drift(net: Parameterization, w0, w) -> np.ndarray | float:
    r""":math:`\big(\sum_l\|Q_l(\mathbf w)-Q_l(\mathbf w_0)\|_F^2\big)^{1/2}` for the quantities :math:`Q_l` of :func:`balancedness`.

    Zero along gradient flow; gradient descent with steps :math:`\eta` changes each
    :math:`Q_l` by exactly :math:`\eta^2(\nabla_l^\top\nabla_l-\nabla_{l+1}\nabla_{l+1}^\top)` per
    step (fully connected; the Fourier analogue for conv), so over a fixed time horizon
    the drift is :math:`O(\eta)`.  ``w`` may have a batch axis (B, P), compared with one ``w0``.
    """
    net = _check_net(net)
    q0 = balancedness(net, w0)
    q = balancedness(net, w)
    if not q:
        return 0.0
    total = 0.0
    for a, b in zip(q, q0):
        d = a - b
        total = total + np.sum(d.reshape(d.shape[: d.ndim - b.ndim] + (-1,)) ** 2, axis=-1)
    out = np.sqrt(total)
    return float(out) if np.ndim(out) == 0 else out
