"""NAdam for numba (the interface: NAdam.kernel in fastopt/optimizers/nadam.py; the math as
in ../cython/nadam.pxi)."""
import numpy as np
from numba import njit

from ._common import JIT, buffer, grad, lerp


@njit(inline="always", **JIT)
def nadam(addrs, chunk, like, s, seg_in, out):
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
    bias_correction2 = dt(s[6])
    eps = dt(s[7])
    c_grad = dt(s[8])
    c_avg = dt(s[9])
    lerp_rest = dt(1) - one_minus_beta1
    for i in range(p.shape[0]):
        pi = p[i] * decay
        gi = grad(g[i], pi, gscale, weight_decay)
        mi = lerp(exp_avg[i], gi, one_minus_beta1, lerp_rest)
        exp_avg[i] = mi
        vi = beta2 * exp_avg_sq[i] + one_minus_beta2 * gi * gi
        exp_avg_sq[i] = vi
        denom = np.sqrt(vi / bias_correction2) + eps
        pi = pi + c_grad * gi / denom
        p[i] = pi + c_avg * mi / denom
