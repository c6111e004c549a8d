# RAdam (docs/optimizers.md#radam), in torch's order of operations (torch computes
# bc2_sqrt / x as reciprocal(x) * bc2_sqrt).
# Buffers: param, grad, exp_avg, exp_avg_sq.
# Scalars: gscale, decay (1 - lr*wd when decoupled, else 1), wd (L2, else 0),
#          1-beta1, beta2, 1-beta2, bias_correction1, lr, sqrt(bias_correction2), eps,
#          rect (the variance rectification r), rectified (1.0 where rho_t > 5, else 0.0).

cdef enum:
    RADAM_SCALARS = 12


cdef void radam_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                      double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* m = b[2]
    cdef floating* v = b[3]
    cdef floating gscale = s[0], decay = s[1], wd = s[2], w1 = s[3], beta2 = s[4], w2 = s[5]
    cdef floating bc1 = s[6], lr = s[7], bc2_sqrt = s[8], eps = s[9], rect = s[10]
    cdef floating pi, gi, mi, vi, one = 1
    cdef bint rectified = s[11] != 0
    cdef Py_ssize_t i
    if rectified:
        for i in range(n):
            pi = p[i] * decay
            gi = _grad(g[i], pi, gscale, wd)
            mi = _lerp(m[i], gi, w1)
            m[i] = mi
            vi = beta2 * v[i] + w2 * gi * gi
            v[i] = vi
            p[i] = pi - mi / bc1 * lr * (one / (_sqrt(vi) + eps) * bc2_sqrt) * rect
    else:
        for i in range(n):
            pi = p[i] * decay
            gi = _grad(g[i], pi, gscale, wd)
            mi = _lerp(m[i], gi, w1)
            m[i] = mi
            v[i] = beta2 * v[i] + w2 * gi * gi
            p[i] = pi - mi / bc1 * lr
