# SGD with momentum, dampening and Nesterov momentum (docs/optimizers.md#sgd).
# Buffers: param, grad, momentum_buffer (only where the group was built with momentum).
# Scalars: gscale, wd (L2), lr, momentum, 1-dampening,
#          use_momentum (momentum != 0), first (the buffer is still unset: buf = g),
#          nesterov.

cdef enum:
    SGD_SCALARS = 8


cdef void sgd_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                    double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* buf = b[2]
    cdef floating gscale = s[0], wd = s[1], lr = s[2], momentum = s[3], damp = s[4], gi, bi
    cdef bint use_momentum = s[5] != 0, first = s[6] != 0, nesterov = s[7] != 0
    cdef Py_ssize_t i
    if not use_momentum:
        for i in range(n):
            p[i] = p[i] - lr * _grad(g[i], p[i], gscale, wd)
    elif first:
        for i in range(n):
            gi = _grad(g[i], p[i], gscale, wd)
            buf[i] = gi
            if nesterov:
                gi = gi + momentum * gi
            p[i] = p[i] - lr * gi
    else:
        for i in range(n):
            gi = _grad(g[i], p[i], gscale, wd)
            bi = momentum * buf[i] + damp * gi
            buf[i] = bi
            gi = gi + momentum * bi if nesterov else bi
            p[i] = p[i] - lr * gi
