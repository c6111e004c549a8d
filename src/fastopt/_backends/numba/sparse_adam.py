"""SparseAdam over row indices for numba (the math as in ../numpy/sparse_adam.py and
../cython/sparse_adam.pxi).  A plain ``@njit`` function, called with the arrays: its work
is the touched rows only, so it runs on the calling thread."""
import numpy as np
from numba import njit

from ._common import JIT


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
        pt = p[t]
        mt = exp_avg[t]
        vt = exp_avg_sq[t]
        for c in range(cols):
            gc = grow[c] * gscale
            m0 = mt[c]
            v0 = vt[c]
            dm = (gc - m0) * one_minus_beta1
            dv = (gc * gc - v0) * one_minus_beta2
            mt[c] = m0 + dm
            vt[c] = v0 + dv
            pt[c] = pt[c] + neg_step_size * ((dm + m0) / (np.sqrt(dv + v0) + eps))
