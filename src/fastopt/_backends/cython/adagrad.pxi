# Adagrad (docs/optimizers.md#adagrad); buffers and scalars: Adagrad.kernel in
# fastopt/optimizers/adagrad.py (sum starts at initial_accumulator_value).

cdef enum:
    ADAGRAD_SCALARS = 4


cdef inline void _adagrad_step(floating** b, Py_ssize_t n, const floating* s,
                          int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* sum = b[2]
    cdef floating gscale = s[0], weight_decay = s[1], clr = s[2], eps = s[3], gi, si
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 3, i0, storage)
        for i in range(i0, min(n, i0 + STRIDE)):
            gi = _grad(g[i], p[i], gscale, weight_decay)
            si = _load(sum, i, storage) + gi * gi
            _store(sum, i, si, storage)
            p[i] = p[i] - (clr * gi) / (_sqrt(si) + eps)


cdef void adagrad_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                        double* out) noexcept nogil:
    _adagrad_step(b, n, s, FULL)


cdef void adagrad_chunk_bf16(floating** b, Py_ssize_t n, const floating* s,
                             const double* seg_in, double* out) noexcept nogil:
    _adagrad_step(b, n, s, BFLOAT16)
