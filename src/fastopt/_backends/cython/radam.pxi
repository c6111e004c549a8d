# RAdam (docs/optimizers.md#radam), in torch's order of operations (torch computes
# bias_correction2_sqrt / x as reciprocal(x) * bias_correction2_sqrt); buffers and
# scalars: RAdam.kernel in fastopt/optimizers/radam.py.

cdef enum:
    RADAM_SCALARS = 12


cdef inline void _radam_step(floating** b, Py_ssize_t n, const floating* s,
                        int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* exp_avg = b[2]
    cdef floating* exp_avg_sq = b[3]
    cdef floating gscale = s[0], decay = s[1], weight_decay = s[2], one_minus_beta1 = s[3]
    cdef floating beta2 = s[4], one_minus_beta2 = s[5], bias_correction1 = s[6], lr = s[7]
    cdef floating bias_correction2_sqrt = s[8], eps = s[9], rect = s[10]
    cdef floating pi, gi, mi, vi, one = 1
    cdef bint rectified = s[11] != 0
    cdef Py_ssize_t i, i0
    if rectified:
        for i0 in range(0, n, 64):      # STRIDE
            _prefetch(b, 4, i0, storage)
            for i in range(i0, min(n, i0 + STRIDE)):
                pi = p[i] * decay
                gi = _grad(g[i], pi, gscale, weight_decay)
                mi = _lerp(_load(exp_avg, i, storage), gi, one_minus_beta1)
                _store(exp_avg, i, mi, storage)
                vi = beta2 * _load(exp_avg_sq, i, storage) + one_minus_beta2 * gi * gi
                _store(exp_avg_sq, i, vi, storage)
                p[i] = pi - mi / bias_correction1 * lr * (
                    one / (_sqrt(vi) + eps) * bias_correction2_sqrt) * rect
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
                p[i] = pi - mi / bias_correction1 * lr


cdef void radam_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                      double* out) noexcept nogil:
    _radam_step(b, n, s, FULL)


cdef void radam_chunk_bf16(floating** b, Py_ssize_t n, const floating* s,
                           const double* seg_in, double* out) noexcept nogil:
    _radam_step(b, n, s, BFLOAT16)
