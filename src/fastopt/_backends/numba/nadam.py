"""NAdam for numba (buffers and scalars as in ../cython/nadam.pxi)."""
import numpy as np
from numba import prange

from ._support import buffer, grad, kernel, lerp


def _nadam(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    gscale, decay, wd = dt(s[0]), dt(s[1]), dt(s[2])
    w1, beta2, w2 = dt(s[3]), dt(s[4]), dt(s[5])
    bc2, eps, c_grad, c_avg = dt(s[6]), dt(s[7]), dt(s[8]), dt(s[9])
    w1_rest = dt(1) - w1
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, g = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 1, like)
        m, v = buffer(addrs, chunk, 2, like), buffer(addrs, chunk, 3, like)
        for i in range(p.shape[0]):
            pi = p[i] * decay
            gi = grad(g[i], pi, gscale, wd)
            mi = lerp(m[i], gi, w1, w1_rest)
            m[i] = mi
            vi = beta2 * v[i] + w2 * gi * gi
            v[i] = vi
            denom = np.sqrt(vi / bc2) + eps
            pi = pi + c_grad * gi / denom
            p[i] = pi + c_avg * mi / denom


KERNEL = kernel(_nadam)
