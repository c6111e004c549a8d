"""Adamax for numba (buffers and scalars as in ../cython/adamax.pxi)."""
from numba import prange

from ._support import buffer, grad, kernel, lerp, max_nan


def _adamax(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    gscale, wd, w1, beta2 = dt(s[0]), dt(s[1]), dt(s[2]), dt(s[3])
    eps, clr = dt(s[4]), dt(s[5])
    w1_rest = dt(1) - w1
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, g = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 1, like)
        m, u = buffer(addrs, chunk, 2, like), buffer(addrs, chunk, 3, like)
        for i in range(p.shape[0]):
            gi = grad(g[i], p[i], gscale, wd)
            mi = lerp(m[i], gi, w1, w1_rest)
            m[i] = mi
            ui = max_nan(beta2 * u[i], abs(gi) + eps)
            u[i] = ui
            p[i] = p[i] - (clr * mi) / ui


KERNEL = kernel(_adamax)
