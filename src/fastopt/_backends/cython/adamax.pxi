# Adamax (docs/optimizers.md#adamax).
# Buffers: param, grad, exp_avg, exp_inf.
# Scalars: gscale, wd (L2), 1-beta1, beta2, eps, clr = lr/(1 - beta1**t).

cdef enum:
    ADAMAX_SCALARS = 6


cdef void adamax_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                       double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* m = b[2]
    cdef floating* u = b[3]
    cdef floating gscale = s[0], wd = s[1], w1 = s[2], beta2 = s[3], eps = s[4], clr = s[5]
    cdef floating gi, mi, ui
    cdef Py_ssize_t i
    for i in range(n):
        gi = _grad(g[i], p[i], gscale, wd)
        mi = _lerp(m[i], gi, w1)
        m[i] = mi
        ui = _max_nan(beta2 * u[i], _abs(gi) + eps)
        u[i] = ui
        p[i] = p[i] - (clr * mi) / ui
