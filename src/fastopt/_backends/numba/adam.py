"""Adam, AdamW and AMSGrad for numba (buffers and scalars as in ../cython/adam.pxi)."""
import numpy as np
from numba import prange

from ._support import buffer, grad, kernel, lerp, max_nan


def _adam(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    gscale, decay, wd = dt(s[0]), dt(s[1]), dt(s[2])
    w1, beta2, w2 = dt(s[3]), dt(s[4]), dt(s[5])
    bc2_sqrt, eps, step_size = dt(s[6]), dt(s[7]), dt(s[8])
    amsgrad = s[9] != 0
    w1_rest = dt(1) - w1
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, g = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 1, like)
        m, v = buffer(addrs, chunk, 2, like), buffer(addrs, chunk, 3, like)
        vmax = buffer(addrs, chunk, 4, like)
        for i in range(p.shape[0]):
            pi = p[i] * decay
            gi = grad(g[i], pi, gscale, wd)
            m[i] = lerp(m[i], gi, w1, w1_rest)
            v[i] = beta2 * v[i] + w2 * gi * gi
            if amsgrad:
                vmax[i] = max_nan(vmax[i], v[i])
                p[i] = pi - step_size * (m[i] / (np.sqrt(vmax[i]) / bc2_sqrt + eps))
            else:
                p[i] = pi - step_size * (m[i] / (np.sqrt(v[i]) / bc2_sqrt + eps))


KERNEL = kernel(_adam)
