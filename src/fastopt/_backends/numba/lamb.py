"""LAMB for numba: the two passes of ../cython/lamb.pxi (same buffers, scalars, lanes)."""
import numpy as np
from numba import njit, prange

from ._support import JIT, buffer, kernel

LANES = 16


@njit(inline="always", **JIT)
def _u(mi, vi, pi, bc1, bc2, eps, wd):
    u = (mi / bc1) / (np.sqrt(vi / bc2) + eps)
    return u + wd * pi if wd != 0 else u


def _lamb_moments(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    gscale, w1, beta1, w2, beta2 = dt(s[0]), dt(s[1]), dt(s[2]), dt(s[3]), dt(s[4])
    bc1, bc2, eps, wd = dt(s[5]), dt(s[6]), dt(s[7]), dt(s[8])
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, g = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 1, like)
        m, v = buffer(addrs, chunk, 2, like), buffer(addrs, chunk, 3, like)
        n = p.shape[0]
        pp = np.zeros(LANES)
        uu = np.zeros(LANES)
        nfull = n - n % LANES
        for j in range(0, nfull, LANES):
            for k in range(LANES):
                i = j + k
                gi = g[i] * gscale
                mi = w1 * gi + beta1 * m[i]
                vi = w2 * (gi * gi) + beta2 * v[i]
                m[i] = mi
                v[i] = vi
                pi = p[i]
                u = _u(mi, vi, pi, bc1, bc2, eps, wd)
                pp[k] += np.float64(pi) * np.float64(pi)
                uu[k] += np.float64(u) * np.float64(u)
        for i in range(nfull, n):
            k = i - nfull
            gi = g[i] * gscale
            mi = w1 * gi + beta1 * m[i]
            vi = w2 * (gi * gi) + beta2 * v[i]
            m[i] = mi
            v[i] = vi
            pi = p[i]
            u = _u(mi, vi, pi, bc1, bc2, eps, wd)
            pp[k] += np.float64(pi) * np.float64(pi)
            uu[k] += np.float64(u) * np.float64(u)
        w = LANES // 2
        while w >= 1:
            for k in range(w):
                pp[k] = pp[k] + pp[k + w]
                uu[k] = uu[k] + uu[k + w]
            w //= 2
        out[c, 0] = pp[0]
        out[c, 1] = uu[0]


def _lamb_update(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    bc1, bc2, eps, wd = dt(s[5]), dt(s[6]), dt(s[7]), dt(s[8])
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p = buffer(addrs, chunk, 0, like)
        m, v = buffer(addrs, chunk, 2, like), buffer(addrs, chunk, 3, like)
        lr_ratio = dt(seg_in[chunk[0], 0])
        for i in range(p.shape[0]):
            pi = p[i]
            p[i] = pi - lr_ratio * _u(m[i], v[i], pi, bc1, bc2, eps, wd)


MOMENTS = kernel(_lamb_moments)
UPDATE = kernel(_lamb_update)
