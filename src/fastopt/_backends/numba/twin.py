"""The memory-traffic twin for numba (buffers and scalars as in ../cython/twin.pxi):
p += g and s += g for each of the first k state buffers."""
from numba import prange

from ._support import buffer, kernel


def _twin(addrs, chunks, like, s, seg_in, out):
    k = int(s[1])
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, g = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 1, like)
        if k == 0:
            for i in range(p.shape[0]):
                p[i] += g[i]
        elif k == 1:
            s0 = buffer(addrs, chunk, 2, like)
            for i in range(p.shape[0]):
                gi = g[i]
                s0[i] += gi
                p[i] += gi
        elif k == 2:
            s0, s1 = buffer(addrs, chunk, 2, like), buffer(addrs, chunk, 3, like)
            for i in range(p.shape[0]):
                gi = g[i]
                s0[i] += gi
                s1[i] += gi
                p[i] += gi
        else:
            s0, s1 = buffer(addrs, chunk, 2, like), buffer(addrs, chunk, 3, like)
            s2 = buffer(addrs, chunk, 4, like)
            for i in range(p.shape[0]):
                gi = g[i]
                s0[i] += gi
                s1[i] += gi
                s2[i] += gi
                p[i] += gi


KERNEL = kernel(_twin)
