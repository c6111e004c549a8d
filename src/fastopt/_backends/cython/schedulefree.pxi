# Schedule-Free AdamW and SGD (docs/optimizers.md#schedulefreeadamw; the schedulefree package),
# and the train/eval switch; buffers and scalars: the kernels of ScheduleFreeAdamW,
# ScheduleFreeSGD and _ScheduleFree in fastopt/optimizers/schedulefree.py.  p holds y in
# train mode; z is set to y on the first step (first != 0), as the package clones it then.

cdef enum:
    SCHEDULEFREE_ADAMW_SCALARS = 10
    SCHEDULEFREE_SGD_SCALARS = 6


cdef inline void _schedulefree_update(floating* p, floating* z, Py_ssize_t i, floating u,
                                      floating ckp1, floating y_step, floating lr,
                                      bint first) noexcept nogil:
    cdef floating yi = p[i]
    cdef floating zi = yi if first else z[i]
    p[i] = _lerp(yi, zi, ckp1) + y_step * u
    z[i] = zi - lr * u


cdef inline void _schedulefree_adamw_step(floating** b, Py_ssize_t n, const floating* s,
                                          int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* z = b[2]
    cdef floating* exp_avg_sq = b[3]
    cdef floating gscale = s[0], one_minus_beta2 = s[1], beta2 = s[2], bias_correction2 = s[3]
    cdef floating eps = s[4], weight_decay = s[5], ckp1 = s[6], y_step = s[7], lr = s[8]
    cdef bint first = s[9] != 0
    cdef floating gi, vi, u
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 4, i0, storage)
        for i in range(i0, min(n, i0 + STRIDE)):
            gi = g[i] * gscale
            vi = beta2 * _load(exp_avg_sq, i, storage) + one_minus_beta2 * gi * gi
            _store(exp_avg_sq, i, vi, storage)
            u = gi / (_sqrt(vi / bias_correction2) + eps)
            if weight_decay != 0:
                u = u + weight_decay * p[i]
            _schedulefree_update(p, z, i, u, ckp1, y_step, lr, first)


cdef void schedulefree_adamw_chunk(floating** b, Py_ssize_t n, const floating* s,
                                   const double* seg_in, double* out) noexcept nogil:
    _schedulefree_adamw_step(b, n, s, FULL)


cdef void schedulefree_sgd_chunk(floating** b, Py_ssize_t n, const floating* s,
                                 const double* seg_in, double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* z = b[2]
    cdef floating gscale = s[0], weight_decay = s[1], ckp1 = s[2], y_step = s[3], lr = s[4]
    cdef bint first = s[5] != 0
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 3, i0, FULL)
        for i in range(i0, min(n, i0 + STRIDE)):
            _schedulefree_update(p, z, i, _grad(g[i], p[i], gscale, weight_decay), ckp1,
                                 y_step, lr, first)


cdef void schedulefree_swap_chunk(floating** b, Py_ssize_t n, const floating* s,
                                  const double* seg_in, double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* z = b[2]
    cdef floating weight = s[0]
    cdef Py_ssize_t i
    for i in range(n):
        p[i] = _lerp(p[i], z[i], weight)
