"""Adam, AdamW and AMSGrad for numba (the interface: Adam.kernel in
fastopt/optimizers/adam.py; the math as in ../cython/adam.pxi)."""
import numpy as np
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, grad, hint, lerp, max_nan


@njit(inline="always", **JIT)
def adam(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    exp_avg = carray(b[2], n)
    exp_avg_sq = carray(b[3], n)
    max_exp_avg_sq = carray(b[4], n)
    dt = p.dtype.type
    gscale = s[0]
    decay = s[1]
    weight_decay = s[2]
    one_minus_beta1 = s[3]
    beta2 = s[4]
    one_minus_beta2 = s[5]
    bias_correction2_sqrt = s[6]
    eps = s[7]
    step_size = s[8]
    amsgrad = s[9] != 0
    lerp_rest = dt(1) - one_minus_beta1
    # Two loops, not one with `if amsgrad` inside: LLVM does not unswitch the inner loop
    # of a nest, and a branch inside keeps it from vectorising.
    if amsgrad:
        for i0 in range(0, n, STRIDE):
            hint(p, i0)
            hint(g, i0)
            hint(exp_avg, i0)
            hint(exp_avg_sq, i0)
            hint(max_exp_avg_sq, i0)
            for k in range(min(STRIDE, n - i0)):
                i = uintp(i0 + k)
                pi = p[i] * decay
                gi = grad(g[i], pi, gscale, weight_decay)
                exp_avg[i] = lerp(exp_avg[i], gi, one_minus_beta1, lerp_rest)
                exp_avg_sq[i] = beta2 * exp_avg_sq[i] + one_minus_beta2 * gi * gi
                max_exp_avg_sq[i] = max_nan(max_exp_avg_sq[i], exp_avg_sq[i])
                p[i] = pi - step_size * (exp_avg[i] / (np.sqrt(max_exp_avg_sq[i])
                                                       / bias_correction2_sqrt + eps))
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
                exp_avg[i] = lerp(exp_avg[i], gi, one_minus_beta1, lerp_rest)
                exp_avg_sq[i] = beta2 * exp_avg_sq[i] + one_minus_beta2 * gi * gi
                p[i] = pi - step_size * (exp_avg[i] / (np.sqrt(exp_avg_sq[i])
                                                       / bias_correction2_sqrt + eps))
