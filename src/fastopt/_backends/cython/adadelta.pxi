# Adadelta (docs/optimizers.md#adadelta); buffers and scalars: Adadelta.kernel in
# fastopt/optimizers/adadelta.py.

cdef enum:
    ADADELTA_SCALARS = 6


cdef inline void _adadelta_step(floating** b, Py_ssize_t n, const floating* s,
                           int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* square_avg = b[2]
    cdef floating* acc_delta = b[3]
    cdef floating gscale = s[0], weight_decay = s[1], rho = s[2], one_minus_rho = s[3]
    cdef floating eps = s[4], lr = s[5], gi, v, a, delta
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 4, i0, storage)
        for i in range(i0, min(n, i0 + STRIDE)):
            gi = _grad(g[i], p[i], gscale, weight_decay)
            v = rho * _load(square_avg, i, storage) + one_minus_rho * gi * gi
            _store(square_avg, i, v, storage)
            a = _load(acc_delta, i, storage)
            delta = _sqrt(a + eps) / _sqrt(v + eps) * gi
            _store(acc_delta, i, rho * a + one_minus_rho * delta * delta, storage)
            p[i] = p[i] - lr * delta


cdef void adadelta_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                         double* out) noexcept nogil:
    _adadelta_step(b, n, s, FULL)


cdef void adadelta_chunk_bf16(floating** b, Py_ssize_t n, const floating* s,
                              const double* seg_in, double* out) noexcept nogil:
    _adadelta_step(b, n, s, BFLOAT16)
