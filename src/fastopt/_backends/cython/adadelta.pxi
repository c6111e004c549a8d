# Adadelta (docs/optimizers.md#adadelta); buffers and scalars: Adadelta.kernel in
# fastopt/optimizers/adadelta.py.

cdef enum:
    ADADELTA_SCALARS = 6


cdef void adadelta_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                         double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* square_avg = b[2]
    cdef floating* acc_delta = b[3]
    cdef floating gscale = s[0], weight_decay = s[1], rho = s[2], one_minus_rho = s[3]
    cdef floating eps = s[4], lr = s[5], gi, v, delta
    cdef Py_ssize_t i
    for i in range(n):
        gi = _grad(g[i], p[i], gscale, weight_decay)
        v = rho * square_avg[i] + one_minus_rho * gi * gi
        square_avg[i] = v
        delta = _sqrt(acc_delta[i] + eps) / _sqrt(v + eps) * gi
        acc_delta[i] = rho * acc_delta[i] + one_minus_rho * delta * delta
        p[i] = p[i] - lr * delta
