"""RAdam for numba (buffers and scalars as in ../cython/radam.pxi)."""
import numpy as np
from numba import prange

from ._support import buffer, grad, kernel, lerp


def _radam(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    gscale, decay, wd = dt(s[0]), dt(s[1]), dt(s[2])
    w1, beta2, w2 = dt(s[3]), dt(s[4]), dt(s[5])
    bc1, lr, bc2_sqrt, eps, rect = dt(s[6]), dt(s[7]), dt(s[8]), dt(s[9]), dt(s[10])
    rectified = s[11] != 0
    w1_rest = dt(1) - w1
    one = dt(1)
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, g = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 1, like)
        m, v = buffer(addrs, chunk, 2, like), buffer(addrs, chunk, 3, like)
        if rectified:
            for i in range(p.shape[0]):
                pi = p[i] * decay
                gi = grad(g[i], pi, gscale, wd)
                mi = lerp(m[i], gi, w1, w1_rest)
                m[i] = mi
                vi = beta2 * v[i] + w2 * gi * gi
                v[i] = vi
                p[i] = pi - mi / bc1 * lr * (one / (np.sqrt(vi) + eps) * bc2_sqrt) * rect
        else:
            for i in range(p.shape[0]):
                pi = p[i] * decay
                gi = grad(g[i], pi, gscale, wd)
                mi = lerp(m[i], gi, w1, w1_rest)
                m[i] = mi
                v[i] = beta2 * v[i] + w2 * gi * gi
                p[i] = pi - mi / bc1 * lr


KERNEL = kernel(_radam)
