"""SparseAdam for numba (the math as in ../numpy/sparse_adam.py and
../cython/sparse_adam.pxi): one rule per element (``_lazy_adam``), run by the chunk
function ``sparse_adam`` for dense gradients and by ``sparse_adam_rows``, a plain ``@njit``
function called with the arrays, for the touched rows of a row-sparse gradient (its work
is those rows only, so it runs on the calling thread)."""
import numpy as np
from numba import carray, njit

from ._common import JIT, STRIDE, hint


@njit(inline="always", **JIT)
def _lazy_adam(p, g, exp_avg, exp_avg_sq, gscale, one_minus_beta1, one_minus_beta2, eps,
               neg_step_size):
    for c in range(p.shape[0]):
        gc = g[c] * gscale
        m0 = exp_avg[c]
        v0 = exp_avg_sq[c]
        dm = (gc - m0) * one_minus_beta1
        dv = (gc * gc - v0) * one_minus_beta2
        exp_avg[c] = m0 + dm
        exp_avg_sq[c] = v0 + dv
        p[c] = p[c] + neg_step_size * ((dm + m0) / (np.sqrt(dv + v0) + eps))


@njit(inline="always", **JIT)
def sparse_adam(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    exp_avg = carray(b[2], n)
    exp_avg_sq = carray(b[3], n)
    gscale = s[0]
    one_minus_beta1 = s[1]
    one_minus_beta2 = s[2]
    eps = s[3]
    neg_step_size = s[4]
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(g, i0)
        hint(exp_avg, i0)
        hint(exp_avg_sq, i0)
        i1 = min(n, i0 + STRIDE)
        _lazy_adam(p[i0:i1], g[i0:i1], exp_avg[i0:i1], exp_avg_sq[i0:i1], gscale,
                   one_minus_beta1, one_minus_beta2, eps, neg_step_size)


@njit(**JIT)
def sparse_adam_rows(p, exp_avg, exp_avg_sq, rows, order, starts, targets, scratch, gscale,
                     one_minus_beta1, one_minus_beta2, eps, neg_step_size):
    dt = p.dtype.type
    gscale = dt(gscale)
    one_minus_beta1 = dt(one_minus_beta1)
    one_minus_beta2 = dt(one_minus_beta2)
    eps = dt(eps)
    neg_step_size = dt(neg_step_size)
    cols = p.shape[1]
    g = scratch
    for r in range(targets.shape[0]):
        grow = rows[order[starts[r]]]
        if starts[r + 1] - starts[r] > 1:       # duplicates: summed in g, in a fixed order
            for c in range(cols):
                g[c] = grow[c]
            for j in range(starts[r] + 1, starts[r + 1]):
                src = rows[order[j]]
                for c in range(cols):
                    g[c] = g[c] + src[c]
            grow = g
        t = targets[r]
        _lazy_adam(p[t], grow, exp_avg[t], exp_avg_sq[t], gscale, one_minus_beta1,
                   one_minus_beta2, eps, neg_step_size)
