# Muon's element-wise passes (docs/optimizers.md#muon; torch.optim.Muon).  Between them the
# optimizer orthogonalises each matrix with NumPy matmuls (fastopt/optimizers/muon.py).
# Buffers and scalars: Muon.kernel and Muon.update_kernel in fastopt/optimizers/muon.py.

cdef enum:
    MUON_SCALARS = 12


cdef void muon_momentum_chunk(floating** b, Py_ssize_t n, const floating* s,
                              const double* seg_in, double* out) noexcept nogil:
    # momentum_buffer = lerp(momentum_buffer, g, 1 - momentum); orthogonal = the matrix
    # to orthogonalise: lerp(g, momentum_buffer, momentum) with nesterov, else the buffer
    cdef const floating* g = b[1]
    cdef floating* momentum_buffer = b[2]
    cdef floating* orthogonal = b[3]
    cdef floating gscale = s[0], momentum = s[1], one_minus_momentum = s[2]
    cdef floating nesterov = s[3], gi, mi
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 4, i0, FULL)
        if nesterov != 0:
            for i in range(i0, min(n, i0 + STRIDE)):
                gi = g[i] * gscale
                mi = _lerp(momentum_buffer[i], gi, one_minus_momentum)
                momentum_buffer[i] = mi
                orthogonal[i] = _lerp(gi, mi, momentum)
        else:
            for i in range(i0, min(n, i0 + STRIDE)):
                mi = _lerp(momentum_buffer[i], g[i] * gscale, one_minus_momentum)
                momentum_buffer[i] = mi
                orthogonal[i] = mi


cdef void muon_update_chunk(floating** b, Py_ssize_t n, const floating* s,
                            const double* seg_in, double* out) noexcept nogil:
    # p = p*(1 - lr*weight_decay) - adjusted_lr*orthogonal (adjusted_lr: per tensor)
    cdef floating* p = b[0]
    cdef const floating* orthogonal = b[3]
    cdef floating decay = s[4]
    cdef floating adjusted_lr = <floating>seg_in[0]
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 4, i0, FULL)
        for i in range(i0, min(n, i0 + STRIDE)):
            p[i] = p[i] * decay - adjusted_lr * orthogonal[i]
