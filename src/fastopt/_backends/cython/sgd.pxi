# SGD with momentum, dampening and Nesterov momentum (docs/optimizers.md#sgd); buffers and
# scalars: SGD.kernel in fastopt/optimizers/sgd.py (momentum_buffer is NULL unless the
# group was built with momentum; first: the buffer is still unset, buf = g).

cdef enum:
    SGD_SCALARS = 8


cdef void sgd_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                    double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* momentum_buffer = b[2]
    cdef floating gscale = s[0], weight_decay = s[1], lr = s[2], momentum = s[3]
    cdef floating one_minus_dampening = s[4], gi, bi
    cdef bint use_momentum = s[5] != 0, first = s[6] != 0, nesterov = s[7] != 0
    cdef Py_ssize_t i
    if not use_momentum:
        for i in range(n):
            p[i] = p[i] - lr * _grad(g[i], p[i], gscale, weight_decay)
    elif first:
        for i in range(n):
            gi = _grad(g[i], p[i], gscale, weight_decay)
            momentum_buffer[i] = gi
            if nesterov:
                gi = gi + momentum * gi
            p[i] = p[i] - lr * gi
    else:
        for i in range(n):
            gi = _grad(g[i], p[i], gscale, weight_decay)
            bi = momentum * momentum_buffer[i] + one_minus_dampening * gi
            momentum_buffer[i] = bi
            gi = gi + momentum * bi if nesterov else bi
            p[i] = p[i] - lr * gi
