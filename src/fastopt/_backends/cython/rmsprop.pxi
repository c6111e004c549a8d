# RMSprop, centered or not, with or without momentum (docs/optimizers.md#rmsprop).
# Buffers: param, grad, square_avg, grad_avg (centered only), momentum_buffer (momentum only).
# Scalars: gscale, wd (L2), alpha, 1-alpha, eps, lr, momentum, centered, use_momentum.

cdef enum:
    RMSPROP_SCALARS = 9


cdef inline void _rmsprop_loop(floating* p, const floating* g, floating* sq, floating* gavg,
                               floating* buf, Py_ssize_t n, const floating* s,
                               bint centered, bint use_momentum) noexcept nogil:
    # Called with constant flags, so that each of the four versions is its own loop over
    # only the buffers it uses (one loop over all five, with the flags inside, is not
    # vectorised by GCC 12).
    cdef floating gscale = s[0], wd = s[1], alpha = s[2], w = s[3], eps = s[4], lr = s[5]
    cdef floating momentum = s[6], gi, v, ga, a, bi
    cdef Py_ssize_t i
    for i in range(n):
        gi = _grad(g[i], p[i], gscale, wd)
        v = alpha * sq[i] + w * gi * gi
        sq[i] = v
        if centered:
            ga = _lerp(gavg[i], gi, w)
            gavg[i] = ga
            a = _sqrt(v - ga * ga) + eps
        else:
            a = _sqrt(v) + eps
        if use_momentum:
            bi = momentum * buf[i] + gi / a
            buf[i] = bi
            p[i] = p[i] - lr * bi
        else:
            p[i] = p[i] - (lr * gi) / a


cdef void rmsprop_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                        double* out) noexcept nogil:
    cdef bint centered = s[7] != 0, use_momentum = s[8] != 0
    if centered:
        if use_momentum:
            _rmsprop_loop(b[0], b[1], b[2], b[3], b[4], n, s, True, True)
        else:
            _rmsprop_loop(b[0], b[1], b[2], b[3], NULL, n, s, True, False)
    elif use_momentum:
        _rmsprop_loop(b[0], b[1], b[2], NULL, b[4], n, s, False, True)
    else:
        _rmsprop_loop(b[0], b[1], b[2], NULL, NULL, n, s, False, False)
