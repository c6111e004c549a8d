"""SparseAdam: the reference rule (docs/optimizers.md#sparseadam; torch.optim.SparseAdam),
one rule for the elements a step touches: every element for a dense gradient
(``sparse_adam``, a chunk at a time), the named rows for a row-sparse one
(``sparse_adam_rows``)."""
import numpy as np


def _lazy_adam(p, g, exp_avg, exp_avg_sq, gscale, one_minus_beta1, one_minus_beta2, eps,
               neg_step_size):
    g = g * gscale                               # -1 for maximize, the clipping factor
    m0 = exp_avg.copy()
    v0 = exp_avg_sq.copy()
    dm = (g - m0) * one_minus_beta1              # torch: old += (1 - b)*(new - old)
    dv = (g * g - v0) * one_minus_beta2
    exp_avg[...] = m0 + dm
    exp_avg_sq[...] = v0 + dv
    denom = np.sqrt(dv + v0) + eps               # epsilon hat: sqrt(v) + eps, uncorrected
    p[...] = p + neg_step_size * ((dm + m0) / denom)


def sparse_adam(p, g, exp_avg, exp_avg_sq, gscale, one_minus_beta1, one_minus_beta2, eps,
                neg_step_size):
    _lazy_adam(p, g, exp_avg, exp_avg_sq, gscale, one_minus_beta1, one_minus_beta2, eps,
               neg_step_size)


def sparse_adam_rows(p, exp_avg, exp_avg_sq, rows, order, starts, targets, scratch, gscale,
                     one_minus_beta1, one_minus_beta2, eps, neg_step_size):
    """Update rows ``targets[r]`` of the 2-D ``p``, ``exp_avg`` and ``exp_avg_sq`` with the
    coalesced gradient rows: row r of it is ``rows[order[starts[r]]] + ... +
    rows[order[starts[r+1] - 1]]``, summed left to right (so every backend sums duplicates
    alike).  ``scratch`` holds one row (for duplicates); the scalars are in the buffers' dtype."""
    for r in range(len(targets)):
        g = rows[order[starts[r]]]
        if starts[r + 1] - starts[r] > 1:            # duplicates: summed in order
            g = scratch
            g[...] = rows[order[starts[r]]]
            for j in range(starts[r] + 1, starts[r + 1]):
                g += rows[order[j]]
        t = targets[r]
        _lazy_adam(p[t], g, exp_avg[t], exp_avg_sq[t], gscale, one_minus_beta1,
                   one_minus_beta2, eps, neg_step_size)
