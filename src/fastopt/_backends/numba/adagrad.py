"""Adagrad for numba (the interface: Adagrad.kernel in fastopt/optimizers/adagrad.py; the
math as in ../cython/adagrad.pxi)."""
import numpy as np
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, grad, hint


@njit(inline="always", **JIT)
def adagrad(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    sum = carray(b[2], n)      # noqa: A001 (torch's name for the state)
    gscale = s[0]
    weight_decay = s[1]
    clr = s[2]
    eps = s[3]
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(g, i0)
        hint(sum, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            gi = grad(g[i], p[i], gscale, weight_decay)
            si = sum[i] + gi * gi
            sum[i] = si
            p[i] = p[i] - (clr * gi) / (np.sqrt(si) + eps)
