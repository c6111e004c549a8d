"""RAdam for numba (the interface: RAdam.kernel in fastopt/optimizers/radam.py; the math as
in ../cython/radam.pxi)."""
import numpy as np
from numba import njit

from ._common import JIT, buffer, grad, lerp


@njit(inline="always", **JIT)
def radam(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    p = buffer(addrs, chunk, 0, like)
    g = buffer(addrs, chunk, 1, like)
    exp_avg = buffer(addrs, chunk, 2, like)
    exp_avg_sq = buffer(addrs, chunk, 3, like)
    gscale = dt(s[0])
    decay = dt(s[1])
    weight_decay = dt(s[2])
    one_minus_beta1 = dt(s[3])
    beta2 = dt(s[4])
    one_minus_beta2 = dt(s[5])
    bias_correction1 = dt(s[6])
    lr = dt(s[7])
    bias_correction2_sqrt = dt(s[8])
    eps = dt(s[9])
    rect = dt(s[10])
    rectified = s[11] != 0
    lerp_rest = dt(1) - one_minus_beta1
    one = dt(1)
    if rectified:
        for i in range(p.shape[0]):
            pi = p[i] * decay
            gi = grad(g[i], pi, gscale, weight_decay)
            mi = lerp(exp_avg[i], gi, one_minus_beta1, lerp_rest)
            exp_avg[i] = mi
            vi = beta2 * exp_avg_sq[i] + one_minus_beta2 * gi * gi
            exp_avg_sq[i] = vi
            p[i] = pi - mi / bias_correction1 * lr * (
                one / (np.sqrt(vi) + eps) * bias_correction2_sqrt) * rect
    else:
        for i in range(p.shape[0]):
            pi = p[i] * decay
            gi = grad(g[i], pi, gscale, weight_decay)
            mi = lerp(exp_avg[i], gi, one_minus_beta1, lerp_rest)
            exp_avg[i] = mi
            exp_avg_sq[i] = beta2 * exp_avg_sq[i] + one_minus_beta2 * gi * gi
            p[i] = pi - mi / bias_correction1 * lr
