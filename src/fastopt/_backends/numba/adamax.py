"""Adamax for numba (the interface: Adamax.kernel in fastopt/optimizers/adamax.py; the math
as in ../cython/adamax.pxi)."""
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, grad, hint, lerp, max_nan


@njit(inline="always", **JIT)
def adamax(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    exp_avg = carray(b[2], n)
    exp_inf = carray(b[3], n)
    dt = p.dtype.type
    gscale = s[0]
    weight_decay = s[1]
    one_minus_beta1 = s[2]
    beta2 = s[3]
    eps = s[4]
    clr = s[5]
    lerp_rest = dt(1) - one_minus_beta1
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(g, i0)
        hint(exp_avg, i0)
        hint(exp_inf, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            gi = grad(g[i], p[i], gscale, weight_decay)
            mi = lerp(exp_avg[i], gi, one_minus_beta1, lerp_rest)
            exp_avg[i] = mi
            ui = max_nan(beta2 * exp_inf[i], abs(gi) + eps)
            exp_inf[i] = ui
            p[i] = p[i] - (clr * mi) / ui
