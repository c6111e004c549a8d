# Adam, AdamW and AMSGrad (docs/optimizers.md#adam); buffers and scalars: Adam.kernel in
# fastopt/optimizers/adam.py (max_exp_avg_sq is NULL unless amsgrad).

cdef enum:
    ADAM_SCALARS = 10


cdef inline void _adam_step(floating** b, Py_ssize_t n, const floating* s,
                           int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* exp_avg = b[2]
    cdef floating* exp_avg_sq = b[3]
    cdef floating* max_exp_avg_sq = b[4]
    cdef floating gscale = s[0], decay = s[1], weight_decay = s[2], one_minus_beta1 = s[3]
    cdef floating beta2 = s[4], one_minus_beta2 = s[5], bias_correction2_sqrt = s[6]
    cdef floating eps = s[7], step_size = s[8], pi, gi, mi, vi
    cdef bint amsgrad = s[9] != 0
    cdef Py_ssize_t i, i0
    # Two loops, not one with `if amsgrad` inside: GCC if-converts such a branch into
    # masked loads of max_exp_avg_sq, and a masked load from an absent (NULL) buffer takes
    # a fault-suppression microcode assist on every vector on Intel CPUs (measured 5-25x
    # slower at AVX-512/AVX2).  So a possibly-absent buffer is only read in its own loop.
    if amsgrad:
        for i0 in range(0, n, 64):      # STRIDE
            _prefetch(b, 5, i0, storage)
            for i in range(i0, min(n, i0 + STRIDE)):
                pi = p[i] * decay
                gi = _grad(g[i], pi, gscale, weight_decay)
                mi = _lerp(_load(exp_avg, i, storage), gi, one_minus_beta1)
                _store(exp_avg, i, mi, storage)
                vi = beta2 * _load(exp_avg_sq, i, storage) + one_minus_beta2 * gi * gi
                _store(exp_avg_sq, i, vi, storage)
                vi = _max_nan(_load(max_exp_avg_sq, i, storage), vi)
                _store(max_exp_avg_sq, i, vi, storage)
                p[i] = pi - step_size * (mi / (_sqrt(vi) / bias_correction2_sqrt + eps))
    else:
        for i0 in range(0, n, 64):      # STRIDE
            _prefetch(b, 4, i0, storage)
            for i in range(i0, min(n, i0 + STRIDE)):
                pi = p[i] * decay
                gi = _grad(g[i], pi, gscale, weight_decay)
                mi = _lerp(_load(exp_avg, i, storage), gi, one_minus_beta1)
                _store(exp_avg, i, mi, storage)
                vi = beta2 * _load(exp_avg_sq, i, storage) + one_minus_beta2 * gi * gi
                _store(exp_avg_sq, i, vi, storage)
                p[i] = pi - step_size * (mi / (_sqrt(vi) / bias_correction2_sqrt + eps))


cdef void adam_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                     double* out) noexcept nogil:
    _adam_step(b, n, s, FULL)


cdef void adam_chunk_bf16(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                          double* out) noexcept nogil:
    _adam_step(b, n, s, BFLOAT16)
