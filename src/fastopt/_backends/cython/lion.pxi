# Lion (docs/optimizers.md#lion; optax.lion).  sign(NaN) is NaN, as jnp.sign.
# Buffers: param, grad, exp_avg.
# Scalars: gscale, decay (1 - lr*wd), beta1, 1-beta1, lr, beta2, 1-beta2.

cdef enum:
    LION_SCALARS = 7


cdef void lion_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                     double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* m = b[2]
    cdef floating gscale = s[0], decay = s[1], beta1 = s[2], w1 = s[3], lr = s[4]
    cdef floating beta2 = s[5], w2 = s[6], gi, mi
    cdef Py_ssize_t i
    for i in range(n):
        gi = g[i] * gscale
        mi = m[i]
        p[i] = p[i] * decay - lr * _sign_nan(beta1 * mi + w1 * gi)
        m[i] = beta2 * mi + w2 * gi
