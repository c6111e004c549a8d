# Adamax (docs/optimizers.md#adamax); buffers and scalars: Adamax.kernel in
# fastopt/optimizers/adamax.py.

cdef enum:
    ADAMAX_SCALARS = 6


cdef inline void _adamax_step(floating** b, Py_ssize_t n, const floating* s,
                         int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* exp_avg = b[2]
    cdef floating* exp_inf = b[3]
    cdef floating gscale = s[0], weight_decay = s[1], one_minus_beta1 = s[2], beta2 = s[3]
    cdef floating eps = s[4], clr = s[5], gi, mi, ui
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 4, i0, storage)
        for i in range(i0, min(n, i0 + STRIDE)):
            gi = _grad(g[i], p[i], gscale, weight_decay)
            mi = _lerp(_load(exp_avg, i, storage), gi, one_minus_beta1)
            _store(exp_avg, i, mi, storage)
            ui = _max_nan(beta2 * _load(exp_inf, i, storage), _abs(gi) + eps)
            _store(exp_inf, i, ui, storage)
            p[i] = p[i] - (clr * mi) / ui


cdef void adamax_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                       double* out) noexcept nogil:
    _adamax_step(b, n, s, FULL)


cdef void adamax_chunk_bf16(floating** b, Py_ssize_t n, const floating* s,
                            const double* seg_in, double* out) noexcept nogil:
    _adamax_step(b, n, s, BFLOAT16)
