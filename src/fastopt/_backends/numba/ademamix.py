"""AdEMAMix for numba (the interface: AdEMAMix.kernel in fastopt/optimizers/ademamix.py; the
math as in ../cython/ademamix.pxi)."""
import numpy as np
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, hint


@njit(inline="always", **JIT)
def ademamix(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    exp_avg_fast = carray(b[2], n)
    exp_avg_slow = carray(b[3], n)
    exp_avg_sq = carray(b[4], n)
    gscale = s[0]
    decay = s[1]
    one_minus_beta1 = s[2]
    beta1 = s[3]
    one_minus_beta2 = s[4]
    beta2 = s[5]
    one_minus_beta3 = s[6]
    beta3 = s[7]
    alpha = s[8]
    bias_correction1 = s[9]
    bias_correction2 = s[10]
    eps = s[11]
    lr = s[12]
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(g, i0)
        hint(exp_avg_fast, i0)
        hint(exp_avg_slow, i0)
        hint(exp_avg_sq, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            gi = g[i] * gscale
            m1 = one_minus_beta1 * gi + beta1 * exp_avg_fast[i]
            exp_avg_fast[i] = m1
            m2 = one_minus_beta3 * gi + beta3 * exp_avg_slow[i]
            exp_avg_slow[i] = m2
            vi = one_minus_beta2 * (gi * gi) + beta2 * exp_avg_sq[i]
            exp_avg_sq[i] = vi
            p[i] = p[i] * decay - lr * ((m1 / bias_correction1 + alpha * m2)
                                        / (np.sqrt(vi / bias_correction2) + eps))
