"""The memory-traffic twin for numba (the interface: TWIN in fastopt/_core/kernel.py; the
loops as in ../cython/twin.pxi): p += g and s += g for each of the first k state buffers."""
from numba import njit

from ._common import JIT, buffer


@njit(inline="always", **JIT)
def twin(addrs, chunk, like, s, seg_in, out):
    p = buffer(addrs, chunk, 0, like)
    g = buffer(addrs, chunk, 1, like)
    s0 = buffer(addrs, chunk, 2, like)
    s1 = buffer(addrs, chunk, 3, like)
    s2 = buffer(addrs, chunk, 4, like)
    k = int(s[1])
    # One loop per k: an absent buffer is never touched.
    if k == 0:
        for i in range(p.shape[0]):
            p[i] += g[i]
    elif k == 1:
        for i in range(p.shape[0]):
            gi = g[i]
            s0[i] += gi
            p[i] += gi
    elif k == 2:
        for i in range(p.shape[0]):
            gi = g[i]
            s0[i] += gi
            s1[i] += gi
            p[i] += gi
    else:
        for i in range(p.shape[0]):
            gi = g[i]
            s0[i] += gi
            s1[i] += gi
            s2[i] += gi
            p[i] += gi
