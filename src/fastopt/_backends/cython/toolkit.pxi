# The training toolkit's kernels: gradient norms (fastopt.clip_grad_norm_ and the optimizers'
# max_grad_norm / nonfinite pre-pass), clipping (fastopt.clip_grad_*), and weight
# averaging (fastopt.EMA).
#
# Reductions read the gradient column (b[1]) and write float64 partials, one row per
# chunk.  Inside a chunk, element i goes to accumulator lane i % LANES, each lane adds in
# element order, and the lanes are then folded by a fixed pairwise tree (math.pxi).  Nothing is left
# for the compiler to reassociate, so every CPU level (the lanes become vector registers),
# every backend and every thread count gives bitwise the same partials; the caller
# combines the chunks' partials with an exactly rounded sum (math.fsum), which does not
# depend on their order either.
#
# Buffers, scalars, inputs and outputs: the toolkit's kernels in fastopt/_core/kernel.py.

from libc.math cimport pow as _pow
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy

cdef inline void _sumsq_from(const floating* g, Py_ssize_t start, Py_ssize_t n, double* acc,
                             double* out) noexcept nogil:
    """sumsq_chunk from element ``start`` (a multiple of LANES) on, the lanes ``acc`` holding
    the sums of the elements before it."""
    cdef double x, total, probe = 0
    cdef Py_ssize_t i, nb = n - n % LANES
    cdef int k
    for i in range(start, nb, 16):      # LANES
        for k in range(LANES):
            x = <double>g[i + k]
            acc[k] = acc[k] + x * x
    for k in range(n - nb):
        x = <double>g[nb + k]
        acc[k] = acc[k] + x * x
    total = _fold_sum(acc)
    out[0] = total
    if not (total <= 1.7976931348623157e308):
        for i in range(n):
            probe = probe + <double>g[i] * 0.0
    out[1] = probe


cdef void sumsq_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                      double* out) noexcept nogil:
    """out[0] = sum of g*g in float64; out[1] = sum of g*0, which is NaN iff some g is inf
    or NaN (computed only where out[0] is not finite: for float64 that may also be an
    overflow of finite values)."""
    cdef const floating* g = b[1]
    cdef double acc[LANES]
    cdef int k
    for k in range(LANES):
        acc[k] = 0
    _sumsq_from(g, 0, n, acc, out)


cdef void sumsq_chunks4(floating*** b, const Py_ssize_t* n, double** out) noexcept nogil:
    """sumsq_chunk of four chunks at once: each chunk's own lanes get the same additions
    in the same order (so the same bits), interleaved so that four memory streams are in
    flight.  One stream per thread reads memory at about two thirds of the rate of four."""
    cdef const floating* g0 = b[0][1]
    cdef const floating* g1 = b[1][1]
    cdef const floating* g2 = b[2][1]
    cdef const floating* g3 = b[3][1]
    cdef double a0[LANES]
    cdef double a1[LANES]
    cdef double a2[LANES]
    cdef double a3[LANES]
    cdef double x
    cdef Py_ssize_t i, m = min(min(n[0], n[1]), min(n[2], n[3]))
    cdef int k
    m = m - m % LANES
    for k in range(LANES):
        a0[k] = 0
        a1[k] = 0
        a2[k] = 0
        a3[k] = 0
    for i in range(0, m, 16):      # LANES
        for k in range(LANES):
            x = <double>g0[i + k]
            a0[k] = a0[k] + x * x
            x = <double>g1[i + k]
            a1[k] = a1[k] + x * x
            x = <double>g2[i + k]
            a2[k] = a2[k] + x * x
            x = <double>g3[i + k]
            a3[k] = a3[k] + x * x
    _sumsq_from(g0, m, n[0], a0, out[0])
    _sumsq_from(g1, m, n[1], a1, out[1])
    _sumsq_from(g2, m, n[2], a2, out[2])
    _sumsq_from(g3, m, n[3], a3, out[3])


cdef void abs_sum_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                        double* out) noexcept nogil:
    cdef const floating* g = b[1]
    cdef double acc[LANES]
    cdef Py_ssize_t i, nb = n - n % LANES
    cdef int k
    for k in range(LANES):
        acc[k] = 0
    for i in range(0, nb, 16):      # LANES
        for k in range(LANES):
            acc[k] = acc[k] + <double>_abs(g[i + k])
    for k in range(n - nb):
        acc[k] = acc[k] + <double>_abs(g[nb + k])
    out[0] = _fold_sum(acc)


cdef void abs_max_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                        double* out) noexcept nogil:
    """out[0] = max |g|, NaN if some g is NaN.  Computed as the integer max of the bit
    patterns with the sign bit cleared: for IEEE floats that order is the order of |g|,
    with every NaN above inf, so it is exact, propagates NaN, and vectorises (a
    NaN-propagating float select does not)."""
    cdef const uint32_t* u32
    cdef const uint64_t* u64
    cdef const floating* g = b[1]
    cdef uint32_t m32 = 0, y32
    cdef uint64_t m64 = 0, y64
    cdef float f32
    cdef double f64
    cdef Py_ssize_t i
    if floating is float:
        u32 = <const uint32_t*>g
        for i in range(n):
            y32 = u32[i] & 0x7fffffffu
            m32 = y32 if y32 > m32 else m32
        memcpy(&f32, &m32, 4)
        out[0] = f32
    else:
        u64 = <const uint64_t*>g
        for i in range(n):
            y64 = u64[i] & 0x7fffffffffffffffu
            m64 = y64 if y64 > m64 else m64
        memcpy(&f64, &m64, 8)
        out[0] = f64


cdef void pow_sum_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                        double* out) noexcept nogil:
    cdef const floating* g = b[1]
    cdef double acc[LANES]
    cdef double norm_type = seg_in[0]
    cdef Py_ssize_t i, nb = n - n % LANES
    cdef int k
    for k in range(LANES):
        acc[k] = 0
    for i in range(0, nb, 16):      # LANES
        for k in range(LANES):
            acc[k] = acc[k] + _pow(<double>_abs(g[i + k]), norm_type)
    for k in range(n - nb):
        acc[k] = acc[k] + _pow(<double>_abs(g[nb + k]), norm_type)
    out[0] = _fold_sum(acc)


cdef void scale_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                      double* out) noexcept nogil:
    cdef floating* g = b[1]
    cdef floating factor = s[0]
    cdef Py_ssize_t i
    for i in range(n):
        g[i] = g[i] * factor


cdef void clamp_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                      double* out) noexcept nogil:
    """g = min(max(g, -clip_value), clip_value), NaN kept (torch.clamp)."""
    cdef floating* g = b[1]
    cdef floating clip_value = s[0]
    cdef Py_ssize_t i
    for i in range(n):
        g[i] = _clamp(g[i], clip_value)


cdef void ema_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                    double* out) noexcept nogil:
    """average += weight * (param - average) (weight = 1 - decay), as torch.lerp computes
    it."""
    cdef const floating* p = b[0]
    cdef floating* average = b[2]
    cdef floating weight = s[0]
    cdef Py_ssize_t i
    for i in range(n):
        average[i] = _lerp(average[i], p[i], weight)


cdef void swap_chunk(floating** b, Py_ssize_t n, const floating* s, const double* seg_in,
                     double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef floating* average = b[2]
    cdef floating x
    cdef Py_ssize_t i
    for i in range(n):
        x = p[i]
        p[i] = average[i]
        average[i] = x
