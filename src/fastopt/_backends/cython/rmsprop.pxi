# RMSprop, centered or not, with or without momentum (docs/optimizers.md#rmsprop); buffers
# and scalars: RMSprop.kernel in fastopt/optimizers/rmsprop.py (grad_avg is NULL unless
# centered, momentum_buffer unless the group has momentum).

cdef enum:
    RMSPROP_SCALARS = 9


cdef inline void _rmsprop_loop(floating** b, Py_ssize_t n, const floating* s, bint centered,
                               bint use_momentum, int storage) noexcept nogil:
    # Called with constant flags, so that each of the four versions is its own loop over
    # only the buffers it uses (one loop over all five, with the flags inside, is not
    # vectorised by GCC 12): grad_avg is read only where centered, momentum_buffer only
    # where use_momentum.  (Read last to first, the addresses get the registers they had
    # when the caller passed b[0]..b[4].)
    cdef floating* momentum_buffer = b[4]
    cdef floating* grad_avg = b[3]
    cdef floating* square_avg = b[2]
    cdef const floating* g = b[1]
    cdef floating* p = b[0]
    cdef floating gscale = s[0], weight_decay = s[1], alpha = s[2], one_minus_alpha = s[3]
    cdef floating eps = s[4], lr = s[5], momentum = s[6], gi, v, ga, a, bi
    cdef Py_ssize_t i, i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 5, i0, storage)
        for i in range(i0, min(n, i0 + STRIDE)):
            gi = _grad(g[i], p[i], gscale, weight_decay)
            v = alpha * _load(square_avg, i, storage) + one_minus_alpha * gi * gi
            _store(square_avg, i, v, storage)
            if centered:
                ga = _lerp(_load(grad_avg, i, storage), gi, one_minus_alpha)
                _store(grad_avg, i, ga, storage)
                a = _sqrt(v - ga * ga) + eps
            else:
                a = _sqrt(v) + eps
            if use_momentum:
                bi = momentum * _load(momentum_buffer, i, storage) + gi / a
                _store(momentum_buffer, i, bi, storage)
                p[i] = p[i] - lr * bi
            else:
                p[i] = p[i] - (lr * gi) / a


cdef inline void _rmsprop_step(floating** b, Py_ssize_t n, const floating* s,
                          int storage) noexcept nogil:
    cdef bint centered = s[7] != 0, use_momentum = s[8] != 0
    if centered:
        if use_momentum:
            _rmsprop_loop(b, n, s, True, True, storage)
        else:
            _rmsprop_loop(b, n, s, True, False, storage)
    elif use_momentum:
        _rmsprop_loop(b, n, s, False, True, storage)
    else:
        _rmsprop_loop(b, n, s, False, False, storage)


cdef void rmsprop_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                        double* out) noexcept nogil:
    _rmsprop_step(b, n, s, FULL)


cdef void rmsprop_chunk_bf16(floating** b, Py_ssize_t n, const floating* s,
                             const double* seg_in, double* out) noexcept nogil:
    _rmsprop_step(b, n, s, BFLOAT16)
