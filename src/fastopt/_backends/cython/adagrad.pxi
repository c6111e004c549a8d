# Adagrad (docs/optimizers.md#adagrad); buffers and scalars: Adagrad.kernel in
# fastopt/optimizers/adagrad.py (sum starts at initial_accumulator_value).

cdef enum:
    ADAGRAD_SCALARS = 4


cdef void adagrad_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                        double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* sum = b[2]
    cdef floating gscale = s[0], weight_decay = s[1], clr = s[2], eps = s[3], gi, si
    cdef Py_ssize_t i
    for i in range(n):
        gi = _grad(g[i], p[i], gscale, weight_decay)
        si = sum[i] + gi * gi
        sum[i] = si
        p[i] = p[i] - (clr * gi) / (_sqrt(si) + eps)
