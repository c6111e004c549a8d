"""Lion for numba (the interface: Lion.kernel in fastopt/optimizers/lion.py; the math as in
../cython/lion.pxi)."""
from numba import njit

from ._common import JIT, buffer, sign_nan


@njit(inline="always", **JIT)
def lion(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    p = buffer(addrs, chunk, 0, like)
    g = buffer(addrs, chunk, 1, like)
    exp_avg = buffer(addrs, chunk, 2, like)
    gscale = dt(s[0])
    decay = dt(s[1])
    beta1 = dt(s[2])
    one_minus_beta1 = dt(s[3])
    lr = dt(s[4])
    beta2 = dt(s[5])
    one_minus_beta2 = dt(s[6])
    zero, one = dt(0), dt(1)
    for i in range(p.shape[0]):
        gi = g[i] * gscale
        mi = exp_avg[i]
        p[i] = p[i] * decay - lr * sign_nan(beta1 * mi + one_minus_beta1 * gi, zero, one)
        exp_avg[i] = beta2 * mi + one_minus_beta2 * gi
