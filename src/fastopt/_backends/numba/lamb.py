"""LAMB for numba: the two passes of ../cython/lamb.pxi, with u kept between them where
the tensor has an "update" buffer (the interface: Lamb.kernel and Lamb.update_kernel in
fastopt/optimizers/lamb.py; the same lanes).  The per-tensor trust
ratios between them are fastopt._core._native.TrustRatios."""
import numpy as np
from numba import carray, njit, uintp

from ._common import JIT, LANES, STRIDE, fold, hint, lane_count, lanes, present


@njit(inline="always", **JIT)
def _update_direction(mi, vi, pi, bias_correction1, bias_correction2, eps, weight_decay):
    u = (mi / bias_correction1) / (np.sqrt(vi / bias_correction2) + eps)
    return u + weight_decay * pi if weight_decay != 0 else u


@njit(inline="always", **JIT)
def _moments(p, g, exp_avg, exp_avg_sq, update, keep, n, s, out):
    gscale = s[0]
    one_minus_beta1 = s[1]
    beta1 = s[2]
    one_minus_beta2 = s[3]
    beta2 = s[4]
    bias_correction1 = s[5]
    bias_correction2 = s[6]
    eps = s[7]
    weight_decay = s[8]
    pp = lanes()
    uu = lanes()
    nfull = n - n % LANES
    nl = lane_count()
    for j in range(0, nfull, LANES):
        if j % STRIDE == 0:
            hint(p, j)
            hint(g, j)
            hint(exp_avg, j)
            hint(exp_avg_sq, j)
        for k in range(nl):
            i = j + k
            gi = g[i] * gscale
            mi = one_minus_beta1 * gi + beta1 * exp_avg[i]
            vi = one_minus_beta2 * (gi * gi) + beta2 * exp_avg_sq[i]
            exp_avg[i] = mi
            exp_avg_sq[i] = vi
            pi = p[i]
            u = _update_direction(mi, vi, pi, bias_correction1, bias_correction2, eps,
                                  weight_decay)
            if keep:
                update[i] = u
            pp[k] += np.float64(pi) * np.float64(pi)
            uu[k] += np.float64(u) * np.float64(u)
    for i in range(nfull, n):
        k = i - nfull
        gi = g[i] * gscale
        mi = one_minus_beta1 * gi + beta1 * exp_avg[i]
        vi = one_minus_beta2 * (gi * gi) + beta2 * exp_avg_sq[i]
        exp_avg[i] = mi
        exp_avg_sq[i] = vi
        pi = p[i]
        u = _update_direction(mi, vi, pi, bias_correction1, bias_correction2, eps,
                              weight_decay)
        if keep:
            update[i] = u
        pp[k] += np.float64(pi) * np.float64(pi)
        uu[k] += np.float64(u) * np.float64(u)
    out[0] = fold(pp)
    out[1] = fold(uu)


@njit(inline="always", **JIT)
def lamb_moments(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    exp_avg = carray(b[2], n)
    exp_avg_sq = carray(b[3], n)
    update = carray(b[4], n)
    # two inlined copies, each with its own loop: a branch on `keep` inside one loop
    # would keep it from vectorising
    if present(update):
        _moments(p, g, exp_avg, exp_avg_sq, update, True, n, s, out)
    else:
        _moments(p, g, exp_avg, exp_avg_sq, update, False, n, s, out)


@njit(inline="always", **JIT)
def lamb_update(b, n, s, seg_in, out):
    p = carray(b[0], n)
    exp_avg = carray(b[2], n)
    exp_avg_sq = carray(b[3], n)
    update = carray(b[4], n)
    dt = p.dtype.type
    bias_correction1 = s[5]
    bias_correction2 = s[6]
    eps = s[7]
    weight_decay = s[8]
    lr_trust_ratio = dt(seg_in[0])
    if present(update):                 # u kept by the moments pass
        for i in range(n):
            p[i] = p[i] - lr_trust_ratio * update[i]
        return
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(exp_avg, i0)
        hint(exp_avg_sq, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            pi = p[i]
            p[i] = pi - lr_trust_ratio * _update_direction(
                exp_avg[i], exp_avg_sq[i], pi, bias_correction1, bias_correction2, eps,
                weight_decay)
