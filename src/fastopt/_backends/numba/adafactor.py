"""Adafactor for numba: the three passes of ../cython/adafactor.pxi over one tensor per
call (a rule for fastopt._core._native.TensorStage, compiled by driver.compile with
``per_tensor``), the same operations in the same order, so the backends agree bitwise."""
import math

import numpy as np
from numba import carray, njit

from ._common import JIT, LANES, fold, lanes, lerp, max_nan

#: The number of scalars the rule reads (Adafactor.kernel's, gscale first).
SCALARS = 8


@njit(inline="always", **JIT)
def _u(gi, v, eps1_sq, one):
    return (one / np.sqrt(max_nan(v, eps1_sq))) * gi


@njit(inline="always", **JIT)
def _row_norm(row_var, start, rows):
    """The mean of a matrix's row_var: its values added in row order, in float64."""
    total = 0.0
    for r in range(rows):
        total = total + np.float64(row_var[start + r])
    return total / rows


@njit(inline="always", **JIT)
def adafactor(b, info, scratch_at, s_at):
    batch = info[0]
    rows = info[1]
    cols = info[2]
    factored = info[3] != 0
    n = batch * rows * cols
    if n == 0:
        return
    p = carray(b[0], n)
    g = carray(b[1], n)
    row_var = carray(b[2], batch * rows if factored else 0)
    col_var = carray(b[3], batch * cols if factored else 0)
    variance = carray(b[4], 0 if factored else n)
    scratch = carray(scratch_at, cols if factored else 0)
    s = carray(s_at, SCALARS)
    dt = p.dtype.type
    one = dt(1)
    gscale = dt(s[0])
    beta2_t = dt(s[2])
    rho_t = s[3]
    eps1 = s[4]
    eps2 = s[5]
    d = s[6]
    decay = dt(s[7])
    if eps1 != eps1:                # NaN: the dtype's machine epsilon
        eps1 = 2.0 ** -23 if p.itemsize == 4 else 2.0 ** -52
    eps1_t = dt(eps1)
    eps1_sq = dt(eps1 * eps1)
    one_minus_w = one - beta2_t
    nfull = cols - cols % LANES
    gg = lanes()
    pp = lanes()
    sum_p2 = 0.0
    sum_u2 = 0.0

    # pass A: the statistics
    for m in range(batch):
        if factored:
            for c in range(cols):
                scratch[c] = 0.0
        for r in range(rows):
            j = (m * rows + r) * cols
            for k in range(LANES):
                gg[k] = 0.0
                pp[k] = 0.0
            if factored:
                for i in range(0, nfull, LANES):
                    for k in range(LANES):
                        gi = g[j + i + k] * gscale
                        sq = np.float64(gi) * np.float64(gi)
                        gg[k] = gg[k] + sq
                        scratch[i + k] = scratch[i + k] + sq
                        x = np.float64(p[j + i + k])
                        pp[k] = pp[k] + x * x
                for i in range(nfull, cols):
                    gi = g[j + i] * gscale
                    sq = np.float64(gi) * np.float64(gi)
                    gg[i - nfull] = gg[i - nfull] + sq
                    scratch[i] = scratch[i] + sq
                    x = np.float64(p[j + i])
                    pp[i - nfull] = pp[i - nfull] + x * x
                at = m * rows + r
                row_var[at] = lerp(row_var[at], dt(fold(gg) / cols), beta2_t, one_minus_w)
            else:
                for i in range(0, nfull, LANES):
                    for k in range(LANES):
                        gi = g[j + i + k] * gscale
                        variance[j + i + k] = lerp(variance[j + i + k], gi * gi, beta2_t,
                                                   one_minus_w)
                        x = np.float64(p[j + i + k])
                        pp[k] = pp[k] + x * x
                for i in range(nfull, cols):
                    gi = g[j + i] * gscale
                    variance[j + i] = lerp(variance[j + i], gi * gi, beta2_t, one_minus_w)
                    x = np.float64(p[j + i])
                    pp[i - nfull] = pp[i - nfull] + x * x
            sum_p2 = sum_p2 + fold(pp)
        if factored:
            for c in range(cols):
                col_var[m * cols + c] = lerp(col_var[m * cols + c], dt(scratch[c] / rows),
                                             beta2_t, one_minus_w)

    # pass B: the RMS of the update
    for m in range(batch):
        denom = one
        if factored:
            denom = max_nan(dt(_row_norm(row_var, m * rows, rows)), eps1_t)
        for r in range(rows):
            j = (m * rows + r) * cols
            rv = row_var[m * rows + r] if factored else one
            for k in range(LANES):
                gg[k] = 0.0
            for i in range(0, nfull, LANES):
                for k in range(LANES):
                    v = (rv * col_var[m * cols + i + k]) / denom if factored \
                        else variance[j + i + k]
                    u = _u(g[j + i + k] * gscale, v, eps1_sq, one)
                    gg[k] = gg[k] + np.float64(u) * np.float64(u)
            for i in range(nfull, cols):
                v = (rv * col_var[m * cols + i]) / denom if factored else variance[j + i]
                u = _u(g[j + i] * gscale, v, eps1_sq, one)
                gg[i - nfull] = gg[i - nfull] + np.float64(u) * np.float64(u)
            sum_u2 = sum_u2 + fold(gg)

    # the step size, in double as the reference (Python's max semantics)
    nd = np.float64(n)
    rms_p = math.sqrt(sum_p2) / math.sqrt(nd)
    rms_u = math.sqrt(sum_u2) / math.sqrt(nd) / d
    alpha = (rms_p if rms_p > eps2 else eps2) * rho_t
    coef = dt(-alpha / (rms_u if rms_u > 1.0 else 1.0))

    # pass C: the update
    for m in range(batch):
        denom = one
        if factored:
            denom = max_nan(dt(_row_norm(row_var, m * rows, rows)), eps1_t)
        for r in range(rows):
            j = (m * rows + r) * cols
            rv = row_var[m * rows + r] if factored else one
            for i in range(cols):
                v = (rv * col_var[m * cols + i]) / denom if factored else variance[j + i]
                u = _u(g[j + i] * gscale, v, eps1_sq, one)
                pi = p[j + i] * decay if decay != one else p[j + i]
                p[j + i] = pi + coef * u
