"""Adagrad for numba (buffers and scalars as in ../cython/adagrad.pxi)."""
import numpy as np
from numba import prange

from ._support import buffer, grad, kernel


def _adagrad(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    gscale, wd, clr, eps = dt(s[0]), dt(s[1]), dt(s[2]), dt(s[3])
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, g = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 1, like)
        acc = buffer(addrs, chunk, 2, like)
        for i in range(p.shape[0]):
            gi = grad(g[i], p[i], gscale, wd)
            si = acc[i] + gi * gi
            acc[i] = si
            p[i] = p[i] - (clr * gi) / (np.sqrt(si) + eps)


KERNEL = kernel(_adagrad)
