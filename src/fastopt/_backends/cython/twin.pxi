# The memory-traffic twin (src/fastopt/_bench/twin.py): the reads and writes of an optimizer
# with k state buffers and trivial math, p += g and s += g for each state buffer.  Benches
# measure it beside each optimizer: no step can beat the twin with the same k.
# Buffers and scalars: TWIN in fastopt/_core/kernel.py (the first k of s0, s1, s2 in use;
# gscale unused).

cdef enum:
    TWIN_SCALARS = 2


cdef void twin_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                     double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* s0 = b[2]
    cdef floating* s1 = b[3]
    cdef floating* s2 = b[4]
    cdef int k = <int>s[1]
    cdef floating gi
    cdef Py_ssize_t i
    # One loop per k: an absent buffer is never touched, not even by a masked load.
    if k == 0:
        for i in range(n):
            p[i] = p[i] + g[i]
    elif k == 1:
        for i in range(n):
            gi = g[i]
            s0[i] = s0[i] + gi
            p[i] = p[i] + gi
    elif k == 2:
        for i in range(n):
            gi = g[i]
            s0[i] = s0[i] + gi
            s1[i] = s1[i] + gi
            p[i] = p[i] + gi
    else:
        for i in range(n):
            gi = g[i]
            s0[i] = s0[i] + gi
            s1[i] = s1[i] + gi
            s2[i] = s2[i] + gi
            p[i] = p[i] + gi
