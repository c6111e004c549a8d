# Rprop (docs/optimizers.md#rprop), with torch's sign (NaN counts as 0).
# Buffers: param, grad, prev, step_size.
# Scalars: gscale, eta_minus, eta_plus, step_size_min, step_size_max.

cdef enum:
    RPROP_SCALARS = 5


cdef void rprop_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                      double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* prev = b[2]
    cdef floating* step = b[3]
    cdef floating gscale = s[0], eta_minus = s[1], eta_plus = s[2], lo = s[3], hi = s[4]
    cdef floating gi, prod, f, st, zero = 0, one = 1
    cdef Py_ssize_t i
    for i in range(n):
        gi = g[i] * gscale
        prod = gi * prev[i]
        f = eta_plus if prod > 0 else (eta_minus if prod < 0 else one)
        st = step[i] * f
        st = lo if st < lo else st              # torch.clamp: NaN stays NaN
        st = hi if st > hi else st
        step[i] = st
        gi = zero if prod < 0 else gi           # where the sign flipped: no step, prev = 0
        p[i] = p[i] - _sign(gi) * st
        prev[i] = gi
