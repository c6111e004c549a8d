"""Adagrad for numba (the interface: Adagrad.kernel in fastopt/optimizers/adagrad.py; the
math as in ../cython/adagrad.pxi)."""
import numpy as np
from numba import carray, njit

from ._common import JIT, grad


@njit(inline="always", **JIT)
def adagrad(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    sum = carray(b[2], n)      # noqa: A001 (torch's name for the state)
    gscale = s[0]
    weight_decay = s[1]
    clr = s[2]
    eps = s[3]
    for i in range(p.shape[0]):
        gi = grad(g[i], p[i], gscale, weight_decay)
        si = sum[i] + gi * gi
        sum[i] = si
        p[i] = p[i] - (clr * gi) / (np.sqrt(si) + eps)
