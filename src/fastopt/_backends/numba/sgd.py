"""SGD with momentum, dampening and Nesterov for numba (buffers and scalars as in
../cython/sgd.pxi)."""
from numba import prange

from ._support import buffer, grad, kernel


def _sgd(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    gscale, wd, lr = dt(s[0]), dt(s[1]), dt(s[2])
    momentum, damp = dt(s[3]), dt(s[4])
    use_momentum, first, nesterov = s[5] != 0, s[6] != 0, s[7] != 0
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, g = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 1, like)
        buf = buffer(addrs, chunk, 2, like)
        if not use_momentum:
            for i in range(p.shape[0]):
                p[i] = p[i] - lr * grad(g[i], p[i], gscale, wd)
        elif first:
            for i in range(p.shape[0]):
                gi = grad(g[i], p[i], gscale, wd)
                buf[i] = gi
                if nesterov:
                    gi = gi + momentum * gi
                p[i] = p[i] - lr * gi
        else:
            for i in range(p.shape[0]):
                gi = grad(g[i], p[i], gscale, wd)
                bi = momentum * buf[i] + damp * gi
                buf[i] = bi
                gi = gi + momentum * bi if nesterov else bi
                p[i] = p[i] - lr * gi


KERNEL = kernel(_sgd)
