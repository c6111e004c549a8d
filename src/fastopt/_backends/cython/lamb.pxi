# LAMB (docs/optimizers.md#lamb; optax.lamb), in two passes per step:
#   lamb_moments: m, v updated; the chunk's partial sums of p*p and u*u (float64) to out;
#                 u kept in the "update" buffer where the tensor has one (a small one in
#                 full precision: Lamb._state_shape);
#   lamb_update:  u read back, or recomputed from the new m, v (the same bits), then
#                 p -= (lr*r) * u, where lr*r, the per-tensor trust ratio times lr, comes
#                 in seg_in[0].
# The optimizer combines the chunks' partial sums into per-tensor norms in between
# (trust_ratios in fastopt._core._native).  Buffers and scalars: Lamb.kernel and
# Lamb.update_kernel in fastopt/optimizers/lamb.py (lr is for the optimizer, which makes
# lr*r; the kernels do not read it).
#
# Partial sums: element i of a chunk is added to lane i % 16 (in element order, so each
# lane is a fixed sequence of float64 additions that GCC can vectorise across lanes);
# the 16 lanes are then added pairwise (math.pxi's _fold_sum).  The NumPy
# reference computes the same sums in the same order, so norms agree bitwise across
# backends, and chunks never depend on the thread count.

cdef enum:
    LAMB_SCALARS = 10
    LAMB_OUTPUTS = 2


cdef inline floating _lamb_u(floating mi, floating vi, floating pi, floating bias_correction1,
                             floating bias_correction2, floating eps,
                             floating weight_decay) noexcept nogil:
    cdef floating u = (mi / bias_correction1) / (_sqrt(vi / bias_correction2) + eps)
    return u + weight_decay * pi if weight_decay != 0 else u


cdef inline void _lamb_moments_step(floating** b, Py_ssize_t n, const floating* s, double* out,
                                    int storage, bint keep) noexcept nogil:
    cdef const floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* exp_avg = b[2]
    cdef floating* exp_avg_sq = b[3]
    cdef floating* update = b[4]
    cdef floating gscale = s[0], one_minus_beta1 = s[1], beta1 = s[2], one_minus_beta2 = s[3]
    cdef floating beta2 = s[4], bias_correction1 = s[5], bias_correction2 = s[6], eps = s[7]
    cdef floating weight_decay = s[8], gi, mi, vi, pi, u
    cdef double pp[LANES]
    cdef double uu[LANES]
    cdef Py_ssize_t i, j, k, block, nfull = n - n % LANES
    for k in range(LANES):
        pp[k] = 0
        uu[k] = 0
    for block in range(nfull // LANES):
        j = block * LANES
        if j % STRIDE == 0:
            _prefetch(b, 4, j, storage)
        for k in range(LANES):
            i = j + k
            gi = g[i] * gscale
            mi = one_minus_beta1 * gi + beta1 * _load(exp_avg, i, storage)
            vi = one_minus_beta2 * (gi * gi) + beta2 * _load(exp_avg_sq, i, storage)
            _store(exp_avg, i, mi, storage)
            _store(exp_avg_sq, i, vi, storage)
            pi = p[i]
            u = _lamb_u(mi, vi, pi, bias_correction1, bias_correction2, eps, weight_decay)
            if keep:
                update[i] = u
            pp[k] = pp[k] + <double>pi * <double>pi
            uu[k] = uu[k] + <double>u * <double>u
    for i in range(nfull, n):
        k = i - nfull
        gi = g[i] * gscale
        mi = one_minus_beta1 * gi + beta1 * _load(exp_avg, i, storage)
        vi = one_minus_beta2 * (gi * gi) + beta2 * _load(exp_avg_sq, i, storage)
        _store(exp_avg, i, mi, storage)
        _store(exp_avg_sq, i, vi, storage)
        pi = p[i]
        u = _lamb_u(mi, vi, pi, bias_correction1, bias_correction2, eps, weight_decay)
        if keep:
            update[i] = u
        pp[k] = pp[k] + <double>pi * <double>pi
        uu[k] = uu[k] + <double>u * <double>u
    out[0] = _fold_sum(pp)
    out[1] = _fold_sum(uu)


cdef inline void _lamb_update_step(floating** b, Py_ssize_t n, const floating* s,
                              const double* seg_in, int storage) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* exp_avg = b[2]
    cdef const floating* exp_avg_sq = b[3]
    cdef const floating* update = b[4]
    cdef floating bias_correction1 = s[5], bias_correction2 = s[6], eps = s[7]
    cdef floating weight_decay = s[8], pi
    cdef floating lr_trust_ratio = <floating>seg_in[0]
    cdef Py_ssize_t i, i0
    if storage == FULL and update != NULL:      # u kept by the moments pass
        for i in range(n):
            p[i] = p[i] - lr_trust_ratio * update[i]
        return
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 4, i0, storage)
        for i in range(i0, min(n, i0 + STRIDE)):
            pi = p[i]
            p[i] = pi - lr_trust_ratio * _lamb_u(
                _load(exp_avg, i, storage), _load(exp_avg_sq, i, storage), pi,
                bias_correction1, bias_correction2, eps, weight_decay)


cdef void lamb_moments_chunk(floating** b, Py_ssize_t n, const floating* s,
                             const double* seg_in, double* out) noexcept nogil:
    cdef floating* update = b[4]
    if update != NULL:
        _lamb_moments_step(b, n, s, out, FULL, True)
    else:
        _lamb_moments_step(b, n, s, out, FULL, False)


cdef void lamb_moments_chunk_bf16(floating** b, Py_ssize_t n, const floating* s,
                                  const double* seg_in, double* out) noexcept nogil:
    _lamb_moments_step(b, n, s, out, BFLOAT16, False)


cdef void lamb_update_chunk(floating** b, Py_ssize_t n, const floating* s,
                            const double* seg_in, double* out) noexcept nogil:
    _lamb_update_step(b, n, s, seg_in, FULL)


cdef void lamb_update_chunk_bf16(floating** b, Py_ssize_t n, const floating* s,
                                 const double* seg_in, double* out) noexcept nogil:
    _lamb_update_step(b, n, s, seg_in, BFLOAT16)
