# SparseAdam (docs/optimizers.md#sparseadam; torch.optim.SparseAdam): lazy Adam, one rule for
# each element it touches (_lazy_adam), run two ways:
#   sparse_adam_chunk: a chunk function of the driver, for dense gradients (every row);
#   sparse_adam_rows:  a ``def`` the optimizer calls with the arrays of one parameter and its
#                      coalesced row-sparse gradient (fastopt._backends.cython.sparse_adam_rows).
# The math as in ../numpy/sparse_adam.py.

from libc.stdint cimport int64_t

cdef enum:
    SPARSE_ADAM_SCALARS = 5


cdef inline void _lazy_adam(floating* p, const floating* g, floating* exp_avg,
                            floating* exp_avg_sq, Py_ssize_t n, floating gscale,
                            floating one_minus_beta1, floating one_minus_beta2, floating eps,
                            floating neg_step_size) noexcept nogil:
    cdef floating gc, m0, v0, dm, dv
    cdef Py_ssize_t c
    for c in range(n):
        gc = g[c] * gscale
        m0 = exp_avg[c]
        v0 = exp_avg_sq[c]
        dm = (gc - m0) * one_minus_beta1
        dv = (gc * gc - v0) * one_minus_beta2
        exp_avg[c] = m0 + dm
        exp_avg_sq[c] = v0 + dv
        p[c] = p[c] + neg_step_size * ((dm + m0) / (_sqrt(dv + v0) + eps))


cdef void sparse_adam_chunk(floating** b, Py_ssize_t n, const floating* s,
                            const double* seg_in, double* out) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* exp_avg = b[2]
    cdef floating* exp_avg_sq = b[3]
    cdef floating gscale = s[0], one_minus_beta1 = s[1], one_minus_beta2 = s[2]
    cdef floating eps = s[3], neg_step_size = s[4]
    cdef Py_ssize_t i0
    for i0 in range(0, n, 64):      # STRIDE
        _prefetch(b, 4, i0, FULL)
        _lazy_adam(p + i0, g + i0, exp_avg + i0, exp_avg_sq + i0, min(STRIDE, n - i0),
                   gscale, one_minus_beta1, one_minus_beta2, eps, neg_step_size)


cdef void _sparse_adam_rows(floating* p, floating* exp_avg, floating* exp_avg_sq,
                            const floating* rows, Py_ssize_t cols, const int64_t* order,
                            const int64_t* starts, const int64_t* targets, Py_ssize_t n_runs,
                            floating* g, floating gscale, floating one_minus_beta1,
                            floating one_minus_beta2, floating eps,
                            floating neg_step_size) noexcept nogil:
    cdef Py_ssize_t r, j, c
    cdef const floating* src
    cdef const floating* grow
    for r in range(n_runs):
        grow = rows + order[starts[r]] * cols
        if starts[r + 1] - starts[r] > 1:       # duplicates: summed in g, in a fixed order
            for c in range(cols):
                g[c] = grow[c]
            for j in range(starts[r] + 1, starts[r + 1]):
                src = rows + order[j] * cols
                for c in range(cols):
                    g[c] = g[c] + src[c]
            grow = g
        _lazy_adam(p + targets[r] * cols, grow, exp_avg + targets[r] * cols,
                   exp_avg_sq + targets[r] * cols, cols, gscale, one_minus_beta1,
                   one_minus_beta2, eps, neg_step_size)


def sparse_adam_rows(floating[:, ::1] p, floating[:, ::1] exp_avg, floating[:, ::1] exp_avg_sq,
                     const floating[:, ::1] rows, const int64_t[::1] order,
                     const int64_t[::1] starts, const int64_t[::1] targets,
                     floating[::1] scratch, double gscale, double one_minus_beta1,
                     double one_minus_beta2, double eps, double neg_step_size):
    """See fastopt/_backends/numpy/sparse_adam.py (the arrays are checked by the caller)."""
    cdef Py_ssize_t n_runs = targets.shape[0], cols = p.shape[1]
    if n_runs == 0 or cols == 0:
        return
    with nogil:
        _sparse_adam_rows(&p[0, 0], &exp_avg[0, 0], &exp_avg_sq[0, 0], &rows[0, 0], cols,
                          &order[0], &starts[0], &targets[0], n_runs, &scratch[0],
                          <floating>gscale, <floating>one_minus_beta1,
                          <floating>one_minus_beta2, <floating>eps, <floating>neg_step_size)
