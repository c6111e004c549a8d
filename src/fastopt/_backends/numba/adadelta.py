"""Adadelta for numba (the interface: Adadelta.kernel in fastopt/optimizers/adadelta.py;
the math as in ../cython/adadelta.pxi)."""
import numpy as np
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, grad, hint


@njit(inline="always", **JIT)
def adadelta(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    square_avg = carray(b[2], n)
    acc_delta = carray(b[3], n)
    gscale = s[0]
    weight_decay = s[1]
    rho = s[2]
    one_minus_rho = s[3]
    eps = s[4]
    lr = s[5]
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(g, i0)
        hint(square_avg, i0)
        hint(acc_delta, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            gi = grad(g[i], p[i], gscale, weight_decay)
            v = rho * square_avg[i] + one_minus_rho * gi * gi
            square_avg[i] = v
            delta = np.sqrt(acc_delta[i] + eps) / np.sqrt(v + eps) * gi
            acc_delta[i] = rho * acc_delta[i] + one_minus_rho * delta * delta
            p[i] = p[i] - lr * delta
