"""Lion for numba (buffers and scalars as in ../cython/lion.pxi)."""
from numba import prange

from ._support import buffer, kernel, sign_nan


def _lion(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    gscale, decay, beta1, w1 = dt(s[0]), dt(s[1]), dt(s[2]), dt(s[3])
    lr, beta2, w2 = dt(s[4]), dt(s[5]), dt(s[6])
    zero, one = dt(0), dt(1)
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, g = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 1, like)
        m = buffer(addrs, chunk, 2, like)
        for i in range(p.shape[0]):
            gi = g[i] * gscale
            mi = m[i]
            p[i] = p[i] * decay - lr * sign_nan(beta1 * mi + w1 * gi, zero, one)
            m[i] = beta2 * mi + w2 * gi


KERNEL = kernel(_lion)
