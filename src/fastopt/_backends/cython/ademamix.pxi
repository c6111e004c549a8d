# AdEMAMix (docs/optimizers.md#ademamix; optax.contrib.ademamix); buffers and scalars:
# AdEMAMix.kernel in fastopt/optimizers/ademamix.py.

cdef enum:
    ADEMAMIX_SCALARS = 13


cdef inline void _ademamix_step(floating** b, Py_ssize_t n, const floating* s,
                                int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* exp_avg_fast = b[2]
    cdef floating* exp_avg_slow = b[3]
    cdef floating* exp_avg_sq = b[4]
    cdef floating gscale = s[0], decay = s[1], one_minus_beta1 = s[2], beta1 = s[3]
    cdef floating one_minus_beta2 = s[4], beta2 = s[5], one_minus_beta3 = s[6], beta3 = s[7]
    cdef floating alpha = s[8], bias_correction1 = s[9], bias_correction2 = s[10]
    cdef floating eps = s[11], lr = s[12], gi, m1, m2, vi
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 5, i0, storage)
        for i in range(i0, min(n, i0 + STRIDE)):
            gi = g[i] * gscale
            m1 = one_minus_beta1 * gi + beta1 * _load(exp_avg_fast, i, storage)
            _store(exp_avg_fast, i, m1, storage)
            m2 = one_minus_beta3 * gi + beta3 * _load(exp_avg_slow, i, storage)
            _store(exp_avg_slow, i, m2, storage)
            vi = one_minus_beta2 * (gi * gi) + beta2 * _load(exp_avg_sq, i, storage)
            _store(exp_avg_sq, i, vi, storage)
            p[i] = p[i] * decay - lr * ((m1 / bias_correction1 + alpha * m2)
                                        / (_sqrt(vi / bias_correction2) + eps))


cdef void ademamix_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                         double* out) noexcept nogil:
    _ademamix_step(b, n, s, FULL)


cdef void ademamix_chunk_bf16(floating** b, Py_ssize_t n, const floating* s,
                              const double* seg_in, double* out) noexcept nogil:
    _ademamix_step(b, n, s, BFLOAT16)
