# NAdam (docs/optimizers.md#nadam), in torch's order of operations; buffers and scalars:
# NAdam.kernel in fastopt/optimizers/nadam.py.

cdef enum:
    NADAM_SCALARS = 10


cdef inline void _nadam_step(floating** b, Py_ssize_t n, const floating* s,
                        int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* exp_avg = b[2]
    cdef floating* exp_avg_sq = b[3]
    cdef floating gscale = s[0], decay = s[1], weight_decay = s[2], one_minus_beta1 = s[3]
    cdef floating beta2 = s[4], one_minus_beta2 = s[5], bias_correction2 = s[6], eps = s[7]
    cdef floating c_grad = s[8], c_avg = s[9], pi, gi, mi, vi, denom
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 4, i0, storage)
        for i in range(i0, min(n, i0 + STRIDE)):
            pi = p[i] * decay
            gi = _grad(g[i], pi, gscale, weight_decay)
            mi = _lerp(_load(exp_avg, i, storage), gi, one_minus_beta1)
            _store(exp_avg, i, mi, storage)
            vi = beta2 * _load(exp_avg_sq, i, storage) + one_minus_beta2 * gi * gi
            _store(exp_avg_sq, i, vi, storage)
            denom = _sqrt(vi / bias_correction2) + eps
            pi = pi + c_grad * gi / denom
            p[i] = pi + c_avg * mi / denom


cdef void nadam_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                      double* out) noexcept nogil:
    _nadam_step(b, n, s, FULL)


cdef void nadam_chunk_bf16(floating** b, Py_ssize_t n, const floating* s,
                           const double* seg_in, double* out) noexcept nogil:
    _nadam_step(b, n, s, BFLOAT16)
