"""Adagrad for numba (the interface: Adagrad.kernel in fastopt/optimizers/adagrad.py; the
math as in ../cython/adagrad.pxi)."""
import numpy as np
from numba import njit

from ._common import JIT, buffer, grad


@njit(inline="always", **JIT)
def adagrad(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    p = buffer(addrs, chunk, 0, like)
    g = buffer(addrs, chunk, 1, like)
    sum = buffer(addrs, chunk, 2, like)      # noqa: A001 (torch's name for the state)
    gscale = dt(s[0])
    weight_decay = dt(s[1])
    clr = dt(s[2])
    eps = dt(s[3])
    for i in range(p.shape[0]):
        gi = grad(g[i], p[i], gscale, weight_decay)
        si = sum[i] + gi * gi
        sum[i] = si
        p[i] = p[i] - (clr * gi) / (np.sqrt(si) + eps)
