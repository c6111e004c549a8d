"""Lion for numba (the interface: Lion.kernel in fastopt/optimizers/lion.py; the math as in
../cython/lion.pxi)."""
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, hint, sign_nan


@njit(inline="always", **JIT)
def lion(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    exp_avg = carray(b[2], n)
    dt = p.dtype.type
    gscale = s[0]
    decay = s[1]
    beta1 = s[2]
    one_minus_beta1 = s[3]
    lr = s[4]
    beta2 = s[5]
    one_minus_beta2 = s[6]
    zero, one = dt(0), dt(1)
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(g, i0)
        hint(exp_avg, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            gi = g[i] * gscale
            mi = exp_avg[i]
            p[i] = p[i] * decay - lr * sign_nan(beta1 * mi + one_minus_beta1 * gi, zero, one)
            exp_avg[i] = beta2 * mi + one_minus_beta2 * gi
