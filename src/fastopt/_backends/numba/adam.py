"""Adam, AdamW and AMSGrad for numba (the interface: Adam.kernel in
fastopt/optimizers/adam.py; the math as in ../cython/adam.pxi)."""
import numpy as np
from numba import njit

from ._common import JIT, buffer, grad, lerp, max_nan


@njit(inline="always", **JIT)
def adam(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    p = buffer(addrs, chunk, 0, like)
    g = buffer(addrs, chunk, 1, like)
    exp_avg = buffer(addrs, chunk, 2, like)
    exp_avg_sq = buffer(addrs, chunk, 3, like)
    max_exp_avg_sq = buffer(addrs, chunk, 4, like)
    gscale = dt(s[0])
    decay = dt(s[1])
    weight_decay = dt(s[2])
    one_minus_beta1 = dt(s[3])
    beta2 = dt(s[4])
    one_minus_beta2 = dt(s[5])
    bias_correction2_sqrt = dt(s[6])
    eps = dt(s[7])
    step_size = dt(s[8])
    amsgrad = s[9] != 0
    lerp_rest = dt(1) - one_minus_beta1
    for i in range(p.shape[0]):
        pi = p[i] * decay
        gi = grad(g[i], pi, gscale, weight_decay)
        exp_avg[i] = lerp(exp_avg[i], gi, one_minus_beta1, lerp_rest)
        exp_avg_sq[i] = beta2 * exp_avg_sq[i] + one_minus_beta2 * gi * gi
        if amsgrad:
            max_exp_avg_sq[i] = max_nan(max_exp_avg_sq[i], exp_avg_sq[i])
            p[i] = pi - step_size * (exp_avg[i] / (np.sqrt(max_exp_avg_sq[i])
                                                   / bias_correction2_sqrt + eps))
        else:
            p[i] = pi - step_size * (exp_avg[i] / (np.sqrt(exp_avg_sq[i])
                                                   / bias_correction2_sqrt + eps))
