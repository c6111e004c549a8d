"""ADOPT for numba (the interface: ADOPT.kernel in fastopt/optimizers/adopt.py; the math as
in ../cython/adopt.pxi)."""
import numpy as np
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, clamp_to, grad, hint, max_nan


@njit(inline="always", **JIT)
def adopt(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    exp_avg = carray(b[2], n)
    exp_avg_sq = carray(b[3], n)
    gscale = s[0]
    decay = s[1]
    weight_decay = s[2]
    eps = s[3]
    clip = s[4]
    one_minus_beta1 = s[5]
    beta1 = s[6]
    one_minus_beta2 = s[7]
    beta2 = s[8]
    lr = s[9]
    nesterov = s[10] != 0
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(g, i0)
        hint(exp_avg, i0)
        hint(exp_avg_sq, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            gi = grad(g[i], p[i], gscale, weight_decay)
            vi = exp_avg_sq[i]
            ni = clamp_to(gi / max_nan(np.sqrt(vi), eps), clip)
            mi = one_minus_beta1 * ni + beta1 * exp_avg[i]
            exp_avg[i] = mi
            exp_avg_sq[i] = one_minus_beta2 * (gi * gi) + beta2 * vi
            if nesterov:
                mi = one_minus_beta1 * ni + beta1 * mi
            p[i] = p[i] * decay - lr * mi
