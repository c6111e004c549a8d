# Adagrad (docs/optimizers.md#adagrad).
# Buffers: param, grad, sum (starts at initial_accumulator_value).
# Scalars: gscale, wd (L2), clr = lr/(1 + (t-1)*lr_decay), eps.

cdef enum:
    ADAGRAD_SCALARS = 4


cdef void adagrad_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                        double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* acc = b[2]
    cdef floating gscale = s[0], wd = s[1], clr = s[2], eps = s[3], gi, si
    cdef Py_ssize_t i
    for i in range(n):
        gi = _grad(g[i], p[i], gscale, wd)
        si = acc[i] + gi * gi
        acc[i] = si
        p[i] = p[i] - (clr * gi) / (_sqrt(si) + eps)
