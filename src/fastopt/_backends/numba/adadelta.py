"""Adadelta for numba (the interface: Adadelta.kernel in fastopt/optimizers/adadelta.py;
the math as in ../cython/adadelta.pxi)."""
import numpy as np
from numba import njit

from ._common import JIT, buffer, grad


@njit(inline="always", **JIT)
def adadelta(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    p = buffer(addrs, chunk, 0, like)
    g = buffer(addrs, chunk, 1, like)
    square_avg = buffer(addrs, chunk, 2, like)
    acc_delta = buffer(addrs, chunk, 3, like)
    gscale = dt(s[0])
    weight_decay = dt(s[1])
    rho = dt(s[2])
    one_minus_rho = dt(s[3])
    eps = dt(s[4])
    lr = dt(s[5])
    for i in range(p.shape[0]):
        gi = grad(g[i], p[i], gscale, weight_decay)
        v = rho * square_avg[i] + one_minus_rho * gi * gi
        square_avg[i] = v
        delta = np.sqrt(acc_delta[i] + eps) / np.sqrt(v + eps) * gi
        acc_delta[i] = rho * acc_delta[i] + one_minus_rho * delta * delta
        p[i] = p[i] - lr * delta
