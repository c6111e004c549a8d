# Lion (docs/optimizers.md#lion; optax.lion).  sign(NaN) is NaN, as jnp.sign.  Buffers and
# scalars: Lion.kernel in fastopt/optimizers/lion.py.

cdef enum:
    LION_SCALARS = 7


cdef inline void _lion_step(floating** b, Py_ssize_t n, const floating* s,
                           int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* exp_avg = b[2]
    cdef floating gscale = s[0], decay = s[1], beta1 = s[2], one_minus_beta1 = s[3]
    cdef floating lr = s[4], beta2 = s[5], one_minus_beta2 = s[6], gi, mi
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 3, i0, storage)
        for i in range(i0, min(n, i0 + STRIDE)):
            gi = g[i] * gscale
            mi = _load(exp_avg, i, storage)
            p[i] = p[i] * decay - lr * _sign_nan(beta1 * mi + one_minus_beta1 * gi)
            _store(exp_avg, i, beta2 * mi + one_minus_beta2 * gi, storage)


cdef void lion_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                     double* out) noexcept nogil:
    _lion_step(b, n, s, FULL)


cdef void lion_chunk_bf16(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                          double* out) noexcept nogil:
    _lion_step(b, n, s, BFLOAT16)
