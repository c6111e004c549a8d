"""Adamax for numba (the interface: Adamax.kernel in fastopt/optimizers/adamax.py; the math
as in ../cython/adamax.pxi)."""
from numba import njit

from ._common import JIT, buffer, grad, lerp, max_nan


@njit(inline="always", **JIT)
def adamax(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    p = buffer(addrs, chunk, 0, like)
    g = buffer(addrs, chunk, 1, like)
    exp_avg = buffer(addrs, chunk, 2, like)
    exp_inf = buffer(addrs, chunk, 3, like)
    gscale = dt(s[0])
    weight_decay = dt(s[1])
    one_minus_beta1 = dt(s[2])
    beta2 = dt(s[3])
    eps = dt(s[4])
    clr = dt(s[5])
    lerp_rest = dt(1) - one_minus_beta1
    for i in range(p.shape[0]):
        gi = grad(g[i], p[i], gscale, weight_decay)
        mi = lerp(exp_avg[i], gi, one_minus_beta1, lerp_rest)
        exp_avg[i] = mi
        ui = max_nan(beta2 * exp_inf[i], abs(gi) + eps)
        exp_inf[i] = ui
        p[i] = p[i] - (clr * mi) / ui
