# ADOPT (docs/optimizers.md#adopt; optax.contrib.adopt); buffers and scalars: ADOPT.kernel
# in fastopt/optimizers/adopt.py.  The clip is _clamp (math.pxi): an infinite clip value
# (clip_exponent None) leaves n as it is.

cdef enum:
    ADOPT_SCALARS = 11


cdef inline void _adopt_step(floating** b, Py_ssize_t n, const floating* s,
                             int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* exp_avg = b[2]
    cdef floating* exp_avg_sq = b[3]
    cdef floating gscale = s[0], decay = s[1], weight_decay = s[2], eps = s[3], clip = s[4]
    cdef floating one_minus_beta1 = s[5], beta1 = s[6], one_minus_beta2 = s[7], beta2 = s[8]
    cdef floating lr = s[9]
    cdef bint nesterov = s[10] != 0
    cdef floating gi, vi, ni, mi
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 4, i0, storage)
        for i in range(i0, min(n, i0 + STRIDE)):
            gi = _grad(g[i], p[i], gscale, weight_decay)
            vi = _load(exp_avg_sq, i, storage)
            ni = _clamp(gi / _max_nan(_sqrt(vi), eps), clip)
            mi = one_minus_beta1 * ni + beta1 * _load(exp_avg, i, storage)
            _store(exp_avg, i, mi, storage)
            _store(exp_avg_sq, i, one_minus_beta2 * (gi * gi) + beta2 * vi, storage)
            if nesterov:
                mi = one_minus_beta1 * ni + beta1 * mi
            p[i] = p[i] * decay - lr * mi


cdef void adopt_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                      double* out) noexcept nogil:
    _adopt_step(b, n, s, FULL)


cdef void adopt_chunk_bf16(floating** b, Py_ssize_t n, const floating* s,
                           const double* seg_in, double* out) noexcept nogil:
    _adopt_step(b, n, s, BFLOAT16)
