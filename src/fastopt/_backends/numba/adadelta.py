"""Adadelta for numba (the interface: Adadelta.kernel in fastopt/optimizers/adadelta.py;
the math as in ../cython/adadelta.pxi)."""
import numpy as np
from numba import carray, njit

from ._common import JIT, grad


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
    for i in range(p.shape[0]):
        gi = grad(g[i], p[i], gscale, weight_decay)
        v = rho * square_avg[i] + one_minus_rho * gi * gi
        square_avg[i] = v
        delta = np.sqrt(acc_delta[i] + eps) / np.sqrt(v + eps) * gi
        acc_delta[i] = rho * acc_delta[i] + one_minus_rho * delta * delta
        p[i] = p[i] - lr * delta
