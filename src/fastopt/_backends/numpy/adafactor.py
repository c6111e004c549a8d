"""Adafactor: the reference rule (docs/optimizers.md#adafactor; torch.optim.Adafactor).

Unlike the element-wise rules, Adafactor's step reads whole tensors: the RMS of the
parameter and of the update, and for a matrix (or a batch of them, the last two
dimensions) the mean square of each row and column of the gradient.  Sums are taken in
float64 (NumPy's pairwise order, which does not depend on threads); everything else is in
the parameter's dtype, in torch's order of operations.
"""
from __future__ import annotations

import math

import numpy as np


def _lerp(start, end, weight):
    """torch.lerp's formula (exact at weight 1, the first step)."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (weight.dtype.type(1) - weight)


def _rms(x: np.ndarray) -> float:
    x64 = x.astype(np.float64).ravel()
    return math.sqrt(float(np.sum(x64 * x64))) / math.sqrt(x.size)


def adafactor(p, g, row_var, col_var, variance, gscale, lr, beta2_t, rho_t, eps1, eps2, d,
              decay):
    """One step on one tensor: ``row_var``/``col_var`` for a matrix (batch), else
    ``variance`` (the others None); ``eps1`` is already the dtype's epsilon where None
    was given.  Scalars are Python floats; the tensor math runs in p's dtype."""
    if p.size == 0:
        return
    t = p.dtype.type
    g = g * t(gscale)                                   # -1 for maximize
    alpha = max(eps2, _rms(p)) * rho_t                  # RMS of p before the decay
    if decay != 1.0:
        p *= t(decay)                                   # decoupled: 1 - lr*weight_decay
    w = t(beta2_t)
    gsq = g.astype(np.float64) ** 2
    if row_var is not None:
        row_mean = (np.sum(gsq, axis=-1, keepdims=True) / g.shape[-1]).astype(p.dtype)
        col_mean = (np.sum(gsq, axis=-2, keepdims=True) / g.shape[-2]).astype(p.dtype)
        row_var[...] = _lerp(row_var, row_mean, w)
        col_var[...] = _lerp(col_var, col_mean, w)
        row_norm = (np.sum(row_var.astype(np.float64), axis=-2, keepdims=True)
                    / row_var.shape[-2]).astype(p.dtype)
        var_estimate = (row_var * col_var) / np.maximum(row_norm, t(eps1))
    else:
        variance[...] = _lerp(variance, (g * g), w)
        var_estimate = variance.copy()
    with np.errstate(divide="ignore", invalid="ignore"):    # 0/0 gives NaN, as torch
        update = t(1) / np.sqrt(np.maximum(var_estimate, t(eps1 * eps1))) * g
    denom = max(1.0, _rms(update) / d)
    p += t(-alpha / denom) * update
