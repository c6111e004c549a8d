# SGD with momentum, dampening and Nesterov momentum (docs/optimizers.md#sgd); buffers and
# scalars: SGD.kernel in fastopt/optimizers/sgd.py (momentum_buffer is NULL unless the
# group was built with momentum; first: the buffer is still unset, buf = g).

cdef enum:
    SGD_SCALARS = 8


cdef inline void _sgd_step(floating** b, Py_ssize_t n, const floating* s,
                          int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* momentum_buffer = b[2]
    cdef floating gscale = s[0], weight_decay = s[1], lr = s[2], momentum = s[3]
    cdef floating one_minus_dampening = s[4], gi, bi
    cdef bint use_momentum = s[5] != 0, first = s[6] != 0, nesterov = s[7] != 0
    cdef Py_ssize_t i, i0
    if not use_momentum:
        for i0 in range(0, n, 64):      # STRIDE
            _prefetch(b, 2, i0, storage)
            for i in range(i0, min(n, i0 + STRIDE)):
                p[i] = p[i] - lr * _grad(g[i], p[i], gscale, weight_decay)
    elif first:
        for i0 in range(0, n, 64):      # STRIDE
            _prefetch(b, 3, i0, storage)
            for i in range(i0, min(n, i0 + STRIDE)):
                gi = _grad(g[i], p[i], gscale, weight_decay)
                _store(momentum_buffer, i, gi, storage)
                if nesterov:
                    gi = gi + momentum * gi
                p[i] = p[i] - lr * gi
    else:
        for i0 in range(0, n, 64):      # STRIDE
            _prefetch(b, 3, i0, storage)
            for i in range(i0, min(n, i0 + STRIDE)):
                gi = _grad(g[i], p[i], gscale, weight_decay)
                bi = momentum * _load(momentum_buffer, i, storage) + one_minus_dampening * gi
                _store(momentum_buffer, i, bi, storage)
                gi = gi + momentum * bi if nesterov else bi
                p[i] = p[i] - lr * gi


cdef void sgd_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                    double* out) noexcept nogil:
    _sgd_step(b, n, s, FULL)


cdef void sgd_chunk_bf16(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                         double* out) noexcept nogil:
    _sgd_step(b, n, s, BFLOAT16)
