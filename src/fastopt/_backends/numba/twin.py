"""The memory-traffic twin for numba (the interface: TWIN in fastopt/_core/kernel.py; the
loops as in ../cython/twin.pxi): p += g and s += g for each of the first k state buffers."""
from numba import carray, njit

from ._common import JIT


@njit(inline="always", **JIT)
def twin(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    s0 = carray(b[2], n)
    s1 = carray(b[3], n)
    s2 = carray(b[4], n)
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
