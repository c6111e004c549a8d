# Adam, AdamW and AMSGrad (docs/optimizers.md#adam); buffers and scalars: Adam.kernel in
# fastopt/optimizers/adam.py (max_exp_avg_sq is NULL unless amsgrad).

cdef enum:
    ADAM_SCALARS = 10


cdef void adam_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                     double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* exp_avg = b[2]
    cdef floating* exp_avg_sq = b[3]
    cdef floating* max_exp_avg_sq = b[4]
    cdef floating gscale = s[0], decay = s[1], weight_decay = s[2], one_minus_beta1 = s[3]
    cdef floating beta2 = s[4], one_minus_beta2 = s[5], bias_correction2_sqrt = s[6]
    cdef floating eps = s[7], step_size = s[8], pi, gi, d
    cdef bint amsgrad = s[9] != 0
    cdef Py_ssize_t i
    # Two loops, not one with `if amsgrad` inside: GCC if-converts such a branch into
    # masked loads of max_exp_avg_sq, and a masked load from an absent (NULL) buffer takes
    # a fault-suppression microcode assist on every vector on Intel CPUs (measured 5-25x
    # slower at AVX-512/AVX2).  So a possibly-absent buffer is only read in its own loop.
    if amsgrad:
        for i in range(n):
            pi = p[i] * decay
            gi = _grad(g[i], pi, gscale, weight_decay)
            exp_avg[i] = _lerp(exp_avg[i], gi, one_minus_beta1)
            d = beta2 * exp_avg_sq[i] + one_minus_beta2 * gi * gi
            exp_avg_sq[i] = d
            d = _max_nan(max_exp_avg_sq[i], d)
            max_exp_avg_sq[i] = d
            p[i] = pi - step_size * (exp_avg[i] / (_sqrt(d) / bias_correction2_sqrt + eps))
    else:
        for i in range(n):
            pi = p[i] * decay
            gi = _grad(g[i], pi, gscale, weight_decay)
            exp_avg[i] = _lerp(exp_avg[i], gi, one_minus_beta1)
            d = beta2 * exp_avg_sq[i] + one_minus_beta2 * gi * gi
            exp_avg_sq[i] = d
            p[i] = pi - step_size * (exp_avg[i] / (_sqrt(d) / bias_correction2_sqrt + eps))
