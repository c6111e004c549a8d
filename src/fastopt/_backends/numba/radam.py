"""RAdam for numba (the interface: RAdam.kernel in fastopt/optimizers/radam.py; the math as
in ../cython/radam.pxi)."""
import numpy as np
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, grad, hint, lerp


@njit(inline="always", **JIT)
def radam(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    exp_avg = carray(b[2], n)
    exp_avg_sq = carray(b[3], n)
    dt = p.dtype.type
    gscale = s[0]
    decay = s[1]
    weight_decay = s[2]
    one_minus_beta1 = s[3]
    beta2 = s[4]
    one_minus_beta2 = s[5]
    bias_correction1 = s[6]
    lr = s[7]
    bias_correction2_sqrt = s[8]
    eps = s[9]
    rect = s[10]
    rectified = s[11] != 0
    lerp_rest = dt(1) - one_minus_beta1
    one = dt(1)
    if rectified:
        for i0 in range(0, n, STRIDE):
            hint(p, i0)
            hint(g, i0)
            hint(exp_avg, i0)
            hint(exp_avg_sq, i0)
            for k in range(min(STRIDE, n - i0)):
                i = uintp(i0 + k)
                pi = p[i] * decay
                gi = grad(g[i], pi, gscale, weight_decay)
                mi = lerp(exp_avg[i], gi, one_minus_beta1, lerp_rest)
                exp_avg[i] = mi
                vi = beta2 * exp_avg_sq[i] + one_minus_beta2 * gi * gi
                exp_avg_sq[i] = vi
                p[i] = pi - mi / bias_correction1 * lr * (
                    one / (np.sqrt(vi) + eps) * bias_correction2_sqrt) * rect
    else:
        for i0 in range(0, n, STRIDE):
            hint(p, i0)
            hint(g, i0)
            hint(exp_avg, i0)
            hint(exp_avg_sq, i0)
            for k in range(min(STRIDE, n - i0)):
                i = uintp(i0 + k)
                pi = p[i] * decay
                gi = grad(g[i], pi, gscale, weight_decay)
                mi = lerp(exp_avg[i], gi, one_minus_beta1, lerp_rest)
                exp_avg[i] = mi
                exp_avg_sq[i] = beta2 * exp_avg_sq[i] + one_minus_beta2 * gi * gi
                p[i] = pi - mi / bias_correction1 * lr
