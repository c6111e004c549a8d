# Adadelta (docs/optimizers.md#adadelta).
# Buffers: param, grad, square_avg, acc_delta.
# Scalars: gscale, wd (L2), rho, 1-rho, eps, lr.

cdef enum:
    ADADELTA_SCALARS = 6


cdef void adadelta_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                         double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* sq = b[2]
    cdef floating* acc = b[3]
    cdef floating gscale = s[0], wd = s[1], rho = s[2], w = s[3], eps = s[4], lr = s[5]
    cdef floating gi, v, delta
    cdef Py_ssize_t i
    for i in range(n):
        gi = _grad(g[i], p[i], gscale, wd)
        v = rho * sq[i] + w * gi * gi
        sq[i] = v
        delta = _sqrt(acc[i] + eps) / _sqrt(v + eps) * gi
        acc[i] = rho * acc[i] + w * delta * delta
        p[i] = p[i] - lr * delta
