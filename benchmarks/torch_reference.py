"""The same gradient descent written in PyTorch with autograd, float64 (optional; benchmarks only).

Used by ``throughput.py`` when ``torch`` is importable, to put ibcore's step beside
what a reader would write with an autodiff framework: parameters of shape (B, P),
the predictor written as the paper defines it (the conv net through ``torch.fft``),
the log of the exponential loss by ``logsumexp`` (stable over the short runs timed
here), ``backward()`` and the angular step :math:`\\mathbf w \\leftarrow \\mathbf w -
\\delta_t\\|\\mathbf w\\|\\,\\nabla/\\|\\nabla\\|` per initialization.  The log-loss has the
loss's gradient direction, so the angular step is the same map as ibcore's.  No
input validation, separability check or history: the loop only.
"""

from __future__ import annotations


import numpy as np
import torch


def _predictor(kind: str, w: torch.Tensor, dim: int, depth: int, widths) -> torch.Tensor:
    """beta (B, D) for parameters w (B, P), written directly from the definitions."""
    B = w.shape[0]
    if kind == "diag":
        return torch.prod(w.reshape(B, depth, dim), dim=1)
    if kind == "conv":
        spec = torch.fft.rfft(w.reshape(B, depth, dim), dim=-1)
        return dim ** (-(depth - 1) / 2) * torch.fft.irfft(torch.prod(spec, dim=1), n=dim, dim=-1)
    sizes = [dim, *widths, 1]
    layers, start = [], 0
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers.append(w[:, start:start + a * b].reshape(B, a, b))
        start += a * b
    r = layers[-1]
    for W in reversed(layers[:-1]):
        r = torch.bmm(W, r)
    return r[:, :, 0]


def run(kind: str, dim: int, depth: int, X: np.ndarray, y: np.ndarray, w0: np.ndarray, steps: int,
        lr: float = 0.05, T: float = 1000.0, widths=None) -> np.ndarray:
    """``steps`` angular steps from ``w0`` (B, P); returns the final parameters."""
    widths = [dim] * (depth - 1) if widths is None else widths
    Xy = torch.from_numpy(X * y[:, None])
    w = torch.from_numpy(w0.copy()).requires_grad_(True)
    for t in range(steps):
        beta = _predictor(kind, w, dim, depth, widths)
        log_loss = torch.logsumexp(-(beta @ Xy.T), dim=1)  # (B,)
        (grad,) = torch.autograd.grad(log_loss.sum(), w)  # rows are independent
        with torch.no_grad():
            delta = lr / (1.0 + t / T)
            w -= delta * (w.norm(dim=1, keepdim=True) / grad.norm(dim=1, keepdim=True)) * grad
    return w.detach().numpy()
