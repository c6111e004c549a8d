"""Adafactor: the reference rule (docs/optimizers.md#adafactor; torch.optim.Adafactor).

Unlike the element-wise rules, Adafactor's step reads whole tensors: the RMS of the
parameter and of the update, and for a matrix (or a batch of them, the last two
dimensions) the mean square of each row and column of the gradient.  The tensor is seen
as rows of C elements (a matrix batch: batch x R rows; a vector: one row), and every sum
is a float64 sum in a fixed order, the one the compiled kernels make in three passes over
the tensor (../cython/adafactor.pxi):

- a row's sum: its elements in the 16 lanes of _common.lane_sums;
- a column's sum: the rows' terms one after the other, in row order;
- a tensor's sum (of p*p, of u*u) and a matrix's sum of row_var: its rows' values one
  after the other, in row order.

Everything else is in the parameter's dtype, in torch's order of operations.
"""
from __future__ import annotations

import math

import numpy as np

from ._common import lane_sums, lerp, ordered_sum


def adafactor(p, g, row_var, col_var, variance, gscale, lr, beta2_t, rho_t, eps1, eps2, d,
              decay):
    """One step on one tensor: ``row_var``/``col_var`` for a matrix (batch), else
    ``variance`` (the others None); ``eps1`` NaN stands for the dtype's epsilon.  Scalars
    are Python floats; the tensor math runs in p's dtype."""
    n = p.size
    if n == 0:
        return
    t = p.dtype.type
    if eps1 != eps1:
        eps1 = float(np.finfo(p.dtype).eps)
    w = t(beta2_t)
    cols = p.shape[-1] if row_var is not None else n
    g = (g * t(gscale)).reshape(-1, cols)               # gscale: -1 for maximize
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # as torch
        # pass 1: RMS(p) before the decay; the second-moment statistics
        sum_p2 = ordered_sum(lane_sums(p.reshape(-1, cols).astype(np.float64) ** 2))
        if row_var is not None:
            rows = p.shape[-2]
            gsq = g.astype(np.float64) ** 2
            row_mean = (lane_sums(gsq) / cols).astype(p.dtype)
            col_mean = (ordered_sum(gsq.reshape(-1, rows, cols), axis=1) / rows).astype(p.dtype)
            rv = row_var.reshape(-1, rows, 1)
            cv = col_var.reshape(-1, 1, cols)
            rv[...] = lerp(rv, row_mean.reshape(rv.shape), w)
            cv[...] = lerp(cv, col_mean.reshape(cv.shape), w)
            row_norm = (ordered_sum(rv.astype(np.float64), axis=1)[:, :, None]
                        / rows).astype(p.dtype)
            v = ((rv * cv) / np.maximum(row_norm, t(eps1))).reshape(g.shape)
        else:
            flat = variance.reshape(g.shape)
            flat[...] = lerp(flat, g * g, w)
            v = flat
        # pass 2: the update direction and its RMS
        u = t(1) / np.sqrt(np.maximum(v, t(eps1 * eps1))) * g
        sum_u2 = ordered_sum(lane_sums(u.astype(np.float64) ** 2))
    # the step size, in double (Python's max: its first argument unless the second is
    # greater, so a NaN RMS leaves eps2 and 1.0)
    alpha = max(eps2, math.sqrt(sum_p2) / math.sqrt(n)) * rho_t
    denom = max(1.0, math.sqrt(sum_u2) / math.sqrt(n) / d)
    # pass 3: the update (u recomputed bitwise in the compiled kernels)
    flat_p = p.reshape(g.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        if decay != 1.0:
            flat_p *= t(decay)                          # decoupled: 1 - lr*weight_decay
        flat_p += t(-alpha / denom) * u
