# NAdam (docs/optimizers.md#nadam), in torch's order of operations.
# Buffers: param, grad, exp_avg, exp_avg_sq.
# Scalars: gscale, decay (1 - lr*wd when decoupled, else 1), wd (L2, else 0),
#          1-beta1, beta2, 1-beta2, bias_correction2, eps,
#          c_grad = -lr*(1-mu_t)/(1-mu_product), c_avg = -lr*mu_t1/(1-mu_product*mu_t1).

cdef enum:
    NADAM_SCALARS = 10


cdef void nadam_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                      double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* m = b[2]
    cdef floating* v = b[3]
    cdef floating gscale = s[0], decay = s[1], wd = s[2], w1 = s[3], beta2 = s[4], w2 = s[5]
    cdef floating bc2 = s[6], eps = s[7], c_grad = s[8], c_avg = s[9], pi, gi, mi, vi, denom
    cdef Py_ssize_t i
    for i in range(n):
        pi = p[i] * decay
        gi = _grad(g[i], pi, gscale, wd)
        mi = _lerp(m[i], gi, w1)
        m[i] = mi
        vi = beta2 * v[i] + w2 * gi * gi
        v[i] = vi
        denom = _sqrt(vi / bc2) + eps
        pi = pi + c_grad * gi / denom
        p[i] = pi + c_avg * mi / denom
