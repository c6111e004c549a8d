"""LAMB: the reference rule (docs/optimizers.md#lamb; optax.lamb), as the two passes the
compiled kernels make (see ../cython/lamb.pxi): the moments and each chunk's partial sums
of p*p and u*u (u kept where the tensor has an "update" buffer), then the update with lr*r
for the chunk's tensor."""
import math

import numpy as np

from ._common import lane_sums


def _update_direction(p, m, v, bc1, bc2, eps, wd):
    u = (m / bc1) / (np.sqrt(v / bc2) + eps)
    if wd != 0:
        u = u + wd * p
    return u


def _sum_of_squares(x):
    """sum(x*x) in float64 in the kernels' lanes (_common.lane_sums)."""
    return lane_sums(x.astype(np.float64).ravel() ** 2)


def lamb_moments(p, g, exp_avg, exp_avg_sq, update, gscale, one_minus_beta1, beta1,
                 one_minus_beta2, beta2, bias_correction1, bias_correction2, eps,
                 weight_decay, lr, out):
    g = g * gscale                               # -1 for maximize
    exp_avg[...] = one_minus_beta1 * g + beta1 * exp_avg
    exp_avg_sq[...] = one_minus_beta2 * (g * g) + beta2 * exp_avg_sq
    u = _update_direction(p, exp_avg, exp_avg_sq, bias_correction1, bias_correction2, eps,
                          weight_decay)
    if update is not None:                       # kept for the update pass
        update[...] = u
    out[0] = _sum_of_squares(p)
    out[1] = _sum_of_squares(u)


def lamb_update(p, g, exp_avg, exp_avg_sq, update, gscale, one_minus_beta1, beta1,
                one_minus_beta2, beta2, bias_correction1, bias_correction2, eps,
                weight_decay, lr, seg_in):
    lr_ratio = p.dtype.type(seg_in[0])           # lr * trust ratio of this tensor
    if update is None:                           # not kept: recomputed, the same bits
        update = _update_direction(p, exp_avg, exp_avg_sq, bias_correction1,
                                   bias_correction2, eps, weight_decay)
    p -= lr_ratio * update


class TrustRatios:
    """LAMB's step between its two kernels (as fastopt._core._native.TrustRatios): lr
    times each tensor's trust ratio ||p|| / ||u||, into ``out[row, 0]``, lr being the
    step's last scalar: the norms from the partial sums of its chunks (columns 0 and 1 of
    ``partial``, one row per chunk of ``chunks``), added in chunk order in float64; lr
    where either norm is 0 (and for a tensor of size 0, which has no chunks)."""

    def __init__(self, chunks, partial, out):
        if chunks.shape[0] != partial.shape[0] or partial.shape[1] < 2 or out.shape[1] < 1:
            raise ValueError("TrustRatios: chunks, partial and out do not match")
        self.chunks, self.partial, self.out = chunks, partial, out
        self.rows = chunks[:, 0].tolist()

    def __call__(self, scalars):
        lr = scalars[-1]
        for row in range(self.out.shape[0]):
            p_sumsq = u_sumsq = 0.0
            for c, r in enumerate(self.rows):
                if r == row:
                    p_sumsq = p_sumsq + float(self.partial[c, 0])
                    u_sumsq = u_sumsq + float(self.partial[c, 1])
            p_norm, u_norm = math.sqrt(p_sumsq), math.sqrt(u_sumsq)
            self.out[row, 0] = lr if p_norm == 0 or u_norm == 0 else lr * (p_norm / u_norm)
