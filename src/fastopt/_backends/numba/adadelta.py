"""Adadelta for numba (buffers and scalars as in ../cython/adadelta.pxi)."""
import numpy as np
from numba import prange

from ._support import buffer, grad, kernel


def _adadelta(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    gscale, wd, rho, w = dt(s[0]), dt(s[1]), dt(s[2]), dt(s[3])
    eps, lr = dt(s[4]), dt(s[5])
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, g = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 1, like)
        sq, acc = buffer(addrs, chunk, 2, like), buffer(addrs, chunk, 3, like)
        for i in range(p.shape[0]):
            gi = grad(g[i], p[i], gscale, wd)
            v = rho * sq[i] + w * gi * gi
            sq[i] = v
            delta = np.sqrt(acc[i] + eps) / np.sqrt(v + eps) * gi
            acc[i] = rho * acc[i] + w * delta * delta
            p[i] = p[i] - lr * delta


KERNEL = kernel(_adadelta)
