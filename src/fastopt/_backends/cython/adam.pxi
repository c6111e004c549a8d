# Adam, AdamW and AMSGrad (docs/optimizers.md#adam).
# Buffers: param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad only).
# Scalars: gscale, decay (1 - lr*wd when decoupled, else 1), wd (L2, else 0),
#          1-beta1, beta2, 1-beta2, sqrt(bias_correction2), eps, lr/bias_correction1, amsgrad.

cdef enum:
    ADAM_SCALARS = 10


cdef void adam_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                     double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* m = b[2]
    cdef floating* v = b[3]
    cdef floating* vmax = b[4]
    cdef floating gscale = s[0], decay = s[1], wd = s[2], w1 = s[3], beta2 = s[4], w2 = s[5]
    cdef floating bc2_sqrt = s[6], eps = s[7], step_size = s[8], pi, gi, d
    cdef bint amsgrad = s[9] != 0
    cdef Py_ssize_t i
    # Two loops, not one with `if amsgrad` inside: GCC if-converts such a branch into
    # masked loads of vmax, and a masked load from an absent (NULL) buffer takes a
    # fault-suppression microcode assist on every vector on Intel CPUs (measured 5-25x
    # slower at AVX-512/AVX2).  So a possibly-absent buffer is only read in its own loop.
    if amsgrad:
        for i in range(n):
            pi = p[i] * decay
            gi = _grad(g[i], pi, gscale, wd)
            m[i] = _lerp(m[i], gi, w1)
            d = beta2 * v[i] + w2 * gi * gi
            v[i] = d
            d = _max_nan(vmax[i], d)
            vmax[i] = d
            p[i] = pi - step_size * (m[i] / (_sqrt(d) / bc2_sqrt + eps))
    else:
        for i in range(n):
            pi = p[i] * decay
            gi = _grad(g[i], pi, gscale, wd)
            m[i] = _lerp(m[i], gi, w1)
            d = beta2 * v[i] + w2 * gi * gi
            v[i] = d
            p[i] = pi - step_size * (m[i] / (_sqrt(d) / bc2_sqrt + eps))
