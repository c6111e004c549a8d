# Lion (docs/optimizers.md#lion; optax.lion).  sign(NaN) is NaN, as jnp.sign.  Buffers and
# scalars: Lion.kernel in fastopt/optimizers/lion.py.

cdef enum:
    LION_SCALARS = 7


cdef void lion_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                     double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* exp_avg = b[2]
    cdef floating gscale = s[0], decay = s[1], beta1 = s[2], one_minus_beta1 = s[3]
    cdef floating lr = s[4], beta2 = s[5], one_minus_beta2 = s[6], gi, mi
    cdef Py_ssize_t i
    for i in range(n):
        gi = g[i] * gscale
        mi = exp_avg[i]
        p[i] = p[i] * decay - lr * _sign_nan(beta1 * mi + one_minus_beta1 * gi)
        exp_avg[i] = beta2 * mi + one_minus_beta2 * gi
