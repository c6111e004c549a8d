# Rprop (docs/optimizers.md#rprop), with torch's sign (NaN counts as 0); buffers and
# scalars: Rprop.kernel in fastopt/optimizers/rprop.py.  A group's first step starts
# from initial_step_size (torch fills the step sizes with lr then).

cdef enum:
    RPROP_SCALARS = 7


cdef void rprop_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                      double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* prev = b[2]
    cdef floating* step_size = b[3]
    cdef floating gscale = s[0], eta_minus = s[1], eta_plus = s[2]
    cdef floating step_size_min = s[3], step_size_max = s[4]
    cdef bint first = s[5] != 0
    cdef floating initial_step_size = s[6]
    cdef floating gi, prod, f, st, zero = 0, one = 1
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 4, i0, FULL)
        for i in range(i0, min(n, i0 + STRIDE)):
            gi = g[i] * gscale
            prod = gi * prev[i]
            f = eta_plus if prod > 0 else (eta_minus if prod < 0 else one)
            st = (initial_step_size if first else step_size[i]) * f
            st = step_size_min if st < step_size_min else st   # torch.clamp: NaN stays NaN
            st = step_size_max if st > step_size_max else st
            step_size[i] = st
            gi = zero if prod < 0 else gi           # where the sign flipped: no step, prev = 0
            p[i] = p[i] - _sign(gi) * st
            prev[i] = gi
