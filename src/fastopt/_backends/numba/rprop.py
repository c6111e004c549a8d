"""Rprop for numba (buffers and scalars as in ../cython/rprop.pxi)."""
from numba import prange

from ._support import buffer, kernel, sign


def _rprop(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    gscale, eta_minus, eta_plus, lo, hi = dt(s[0]), dt(s[1]), dt(s[2]), dt(s[3]), dt(s[4])
    zero, one = dt(0), dt(1)
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, g = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 1, like)
        prev, step = buffer(addrs, chunk, 2, like), buffer(addrs, chunk, 3, like)
        for i in range(p.shape[0]):
            gi = g[i] * gscale
            prod = gi * prev[i]
            f = eta_plus if prod > zero else (eta_minus if prod < zero else one)
            st = step[i] * f
            st = lo if st < lo else st
            st = hi if st > hi else st
            step[i] = st
            gi = zero if prod < zero else gi
            p[i] = p[i] - sign(gi, zero, one) * st
            prev[i] = gi


KERNEL = kernel(_rprop)
