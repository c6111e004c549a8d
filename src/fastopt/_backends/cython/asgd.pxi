# ASGD (docs/optimizers.md#asgd), in torch's order of operations; buffers and scalars:
# ASGD.kernel in fastopt/optimizers/asgd.py.  While mu is 1 (before t0), ax is a copy of
# the parameters, as in torch.

cdef enum:
    ASGD_SCALARS = 5


cdef inline void _asgd_step(floating** b, Py_ssize_t n, const floating* s,
                            int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* ax = b[2]
    cdef floating gscale = s[0], weight_decay = s[1], decay = s[2], eta = s[3], mu = s[4]
    cdef floating gi, pi, ai
    cdef bint copy = mu == 1
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 3, i0, storage)
        for i in range(i0, min(n, i0 + STRIDE)):
            gi = _grad(g[i], p[i], gscale, weight_decay)
            pi = p[i] * decay - eta * gi
            p[i] = pi
            if copy:
                _store(ax, i, pi, storage)
            else:
                ai = _load(ax, i, storage)
                _store(ax, i, ai + (pi - ai) * mu, storage)


cdef void asgd_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                     double* out) noexcept nogil:
    _asgd_step(b, n, s, FULL)
