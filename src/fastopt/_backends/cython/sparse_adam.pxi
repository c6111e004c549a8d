# SparseAdam over row indices (docs/optimizers.md#sparseadam; torch.optim.SparseAdam).  Not a
# chunk function: its work is the touched rows of one parameter, named by index, so it is a
# ``def`` the optimizer calls with the arrays (fastopt._backends.cython.sparse_adam_rows).
# The math as in ../numpy/sparse_adam.py.

from libc.stdint cimport int64_t

cdef void _sparse_adam_rows(floating* p, floating* exp_avg, floating* exp_avg_sq,
                            const floating* rows, Py_ssize_t cols, const int64_t* order,
                            const int64_t* starts, const int64_t* targets, Py_ssize_t n_runs,
                            floating* g, floating gscale, floating one_minus_beta1,
                            floating one_minus_beta2, floating eps,
                            floating neg_step_size) noexcept nogil:
    cdef Py_ssize_t r, j, c
    cdef const floating* src
    cdef const floating* grow
    cdef floating* pt
    cdef floating* mt
    cdef floating* vt
    cdef floating gc, m0, v0, dm, dv
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
        pt = p + targets[r] * cols
        mt = exp_avg + targets[r] * cols
        vt = exp_avg_sq + targets[r] * cols
        for c in range(cols):
            gc = grow[c] * gscale
            m0 = mt[c]
            v0 = vt[c]
            dm = (gc - m0) * one_minus_beta1
            dv = (gc * gc - v0) * one_minus_beta2
            mt[c] = m0 + dm
            vt[c] = v0 + dv
            pt[c] = pt[c] + neg_step_size * ((dm + m0) / (_sqrt(dv + v0) + eps))


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
