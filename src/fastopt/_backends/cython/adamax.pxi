# Adamax (docs/optimizers.md#adamax); buffers and scalars: Adamax.kernel in
# fastopt/optimizers/adamax.py.

cdef enum:
    ADAMAX_SCALARS = 6


cdef void adamax_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                       double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* exp_avg = b[2]
    cdef floating* exp_inf = b[3]
    cdef floating gscale = s[0], weight_decay = s[1], one_minus_beta1 = s[2], beta2 = s[3]
    cdef floating eps = s[4], clr = s[5], gi, mi, ui
    cdef Py_ssize_t i
    for i in range(n):
        gi = _grad(g[i], p[i], gscale, weight_decay)
        mi = _lerp(exp_avg[i], gi, one_minus_beta1)
        exp_avg[i] = mi
        ui = _max_nan(beta2 * exp_inf[i], _abs(gi) + eps)
        exp_inf[i] = ui
        p[i] = p[i] - (clr * mi) / ui
