"""RMSprop for numba (buffers and scalars as in ../cython/rmsprop.pxi)."""
import numpy as np
from numba import prange

from ._support import buffer, grad, kernel, lerp


def _rmsprop(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    gscale, wd, alpha, w = dt(s[0]), dt(s[1]), dt(s[2]), dt(s[3])
    eps, lr, momentum = dt(s[4]), dt(s[5]), dt(s[6])
    centered, use_momentum = s[7] != 0, s[8] != 0
    w_rest = dt(1) - w
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, g = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 1, like)
        sq, gavg = buffer(addrs, chunk, 2, like), buffer(addrs, chunk, 3, like)
        buf = buffer(addrs, chunk, 4, like)
        for i in range(p.shape[0]):
            gi = grad(g[i], p[i], gscale, wd)
            v = alpha * sq[i] + w * gi * gi
            sq[i] = v
            if centered:
                ga = lerp(gavg[i], gi, w, w_rest)
                gavg[i] = ga
                a = np.sqrt(v - ga * ga) + eps
            else:
                a = np.sqrt(v) + eps
            if use_momentum:
                bi = momentum * buf[i] + gi / a
                buf[i] = bi
                p[i] = p[i] - lr * bi
            else:
                p[i] = p[i] - (lr * gi) / a


KERNEL = kernel(_rmsprop)
