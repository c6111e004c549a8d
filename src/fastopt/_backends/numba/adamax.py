"""Adamax for numba (the interface: Adamax.kernel in fastopt/optimizers/adamax.py; the math
as in ../cython/adamax.pxi)."""
from numba import carray, njit

from ._common import JIT, grad, lerp, max_nan


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
    for i in range(p.shape[0]):
        gi = grad(g[i], p[i], gscale, weight_decay)
        mi = lerp(exp_avg[i], gi, one_minus_beta1, lerp_rest)
        exp_avg[i] = mi
        ui = max_nan(beta2 * exp_inf[i], abs(gi) + eps)
        exp_inf[i] = ui
        p[i] = p[i] - (clr * mi) / ui
