"""Adafactor for numba: the three passes of ../cython/adafactor.pxi over one tensor per
call (a rule for fastopt._core._native.TensorStage, compiled by driver.compile with
``per_tensor``), the same operations in the same order, so the backends agree bitwise.

Each loop reads one row through views (``p[j:j + cols]``) and has one body: whether the
tensor is factored is decided once per tensor, not per element (LLVM does not take a
branch on a loop-invariant flag out of a loop that loads from either side of it, and
such a loop does not vectorise).  The lanes loops run ``lane_count()`` trips (_common.py)."""
import math

import numpy as np
from numba import carray, njit

from ._common import JIT, LANES, fold, lane_count, lanes, lerp, max_nan

#: The number of scalars the rule reads (Adafactor.kernel's, gscale first).
SCALARS = 8


@njit(inline="always", **JIT)
def _u(gi, v, eps1_sq, one):
    return (one / np.sqrt(max_nan(v, eps1_sq))) * gi


@njit(inline="always", **JIT)
def _denom(row_var, eps1_t):
    """max(the mean of a matrix's row_var, eps1): its values added in row order, in
    float64, the mean rounded to the dtype."""
    total = 0.0
    for r in range(row_var.size):
        total = total + np.float64(row_var[r])
    return max_nan(row_var.dtype.type(total / row_var.size), eps1_t)


@njit(inline="always", **JIT)
def _square_sums(pr, gr, gscale, col_sums, gg, pp):
    """Pass A over one row of a factored tensor: g*g and p*p added into the lanes gg and
    pp, g*g also into the row's column sums."""
    cols = pr.size
    nfull = cols - cols % LANES
    nl = lane_count()
    for i in range(0, nfull, LANES):
        for k in range(nl):
            gi = gr[i + k] * gscale
            sq = np.float64(gi) * np.float64(gi)
            gg[k] = gg[k] + sq
            col_sums[i + k] = col_sums[i + k] + sq
            x = np.float64(pr[i + k])
            pp[k] = pp[k] + x * x
    for i in range(nfull, cols):
        gi = gr[i] * gscale
        sq = np.float64(gi) * np.float64(gi)
        gg[i - nfull] = gg[i - nfull] + sq
        col_sums[i] = col_sums[i] + sq
        x = np.float64(pr[i])
        pp[i - nfull] = pp[i - nfull] + x * x


@njit(inline="always", **JIT)
def _variance_row(pr, gr, vr, gscale, beta2_t, one_minus_w, pp):
    """Pass A over one row of a vector: its variance updated, p*p added into the lanes."""
    cols = pr.size
    nfull = cols - cols % LANES
    nl = lane_count()
    for i in range(0, nfull, LANES):
        for k in range(nl):
            gi = gr[i + k] * gscale
            vr[i + k] = lerp(vr[i + k], gi * gi, beta2_t, one_minus_w)
            x = np.float64(pr[i + k])
            pp[k] = pp[k] + x * x
    for i in range(nfull, cols):
        gi = gr[i] * gscale
        vr[i] = lerp(vr[i], gi * gi, beta2_t, one_minus_w)
        x = np.float64(pr[i])
        pp[i - nfull] = pp[i - nfull] + x * x


@njit(inline="always", **JIT)
def _u_squares_factored(gr, cv, rv, denom, gscale, eps1_sq, one, gg):
    """Pass B over one row of a factored tensor: u*u added into the lanes gg."""
    cols = gr.size
    nfull = cols - cols % LANES
    nl = lane_count()
    for i in range(0, nfull, LANES):
        for k in range(nl):
            u = _u(gr[i + k] * gscale, (rv * cv[i + k]) / denom, eps1_sq, one)
            gg[k] = gg[k] + np.float64(u) * np.float64(u)
    for i in range(nfull, cols):
        u = _u(gr[i] * gscale, (rv * cv[i]) / denom, eps1_sq, one)
        gg[i - nfull] = gg[i - nfull] + np.float64(u) * np.float64(u)


@njit(inline="always", **JIT)
def _u_squares_vector(gr, vr, gscale, eps1_sq, one, gg):
    """Pass B over one row of a vector: u*u added into the lanes gg."""
    cols = gr.size
    nfull = cols - cols % LANES
    nl = lane_count()
    for i in range(0, nfull, LANES):
        for k in range(nl):
            u = _u(gr[i + k] * gscale, vr[i + k], eps1_sq, one)
            gg[k] = gg[k] + np.float64(u) * np.float64(u)
    for i in range(nfull, cols):
        u = _u(gr[i] * gscale, vr[i], eps1_sq, one)
        gg[i - nfull] = gg[i - nfull] + np.float64(u) * np.float64(u)


@njit(inline="always", **JIT)
def _decayed(x, decay, one):
    return x * decay if decay != one else x


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
    col_sums = carray(scratch_at, cols if factored else 0)
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
    gg = lanes()
    pp = lanes()
    sum_p2 = 0.0
    sum_u2 = 0.0

    # pass A: the statistics
    for m in range(batch):
        if factored:
            for c in range(cols):
                col_sums[c] = 0.0
        for r in range(rows):
            j = (m * rows + r) * cols
            for k in range(LANES):
                gg[k] = 0.0
                pp[k] = 0.0
            if factored:
                _square_sums(p[j:j + cols], g[j:j + cols], gscale, col_sums, gg, pp)
                at = m * rows + r
                row_var[at] = lerp(row_var[at], dt(fold(gg) / cols), beta2_t, one_minus_w)
            else:
                _variance_row(p[j:j + cols], g[j:j + cols], variance[j:j + cols], gscale,
                              beta2_t, one_minus_w, pp)
            sum_p2 = sum_p2 + fold(pp)
        if factored:
            cv = col_var[m * cols:(m + 1) * cols]
            for c in range(cols):
                cv[c] = lerp(cv[c], dt(col_sums[c] / rows), beta2_t, one_minus_w)

    # pass B: the RMS of the update
    for m in range(batch):
        cv = col_var[m * cols:(m + 1) * cols] if factored else col_var
        denom = _denom(row_var[m * rows:(m + 1) * rows], eps1_t) if factored else one
        for r in range(rows):
            j = (m * rows + r) * cols
            for k in range(LANES):
                gg[k] = 0.0
            if factored:
                _u_squares_factored(g[j:j + cols], cv, row_var[m * rows + r], denom, gscale,
                                    eps1_sq, one, gg)
            else:
                _u_squares_vector(g[j:j + cols], variance[j:j + cols], gscale, eps1_sq, one,
                                  gg)
            sum_u2 = sum_u2 + fold(gg)

    # the step size, in double as the reference (Python's max semantics)
    nd = np.float64(n)
    rms_p = math.sqrt(sum_p2) / math.sqrt(nd)
    rms_u = math.sqrt(sum_u2) / math.sqrt(nd) / d
    alpha = (rms_p if rms_p > eps2 else eps2) * rho_t
    coef = dt(-alpha / (rms_u if rms_u > 1.0 else 1.0))

    # pass C: the update
    for m in range(batch):
        cv = col_var[m * cols:(m + 1) * cols] if factored else col_var
        denom = _denom(row_var[m * rows:(m + 1) * rows], eps1_t) if factored else one
        for r in range(rows):
            j = (m * rows + r) * cols
            pr = p[j:j + cols]
            gr = g[j:j + cols]
            if factored:
                rv = row_var[m * rows + r]
                for i in range(cols):
                    u = _u(gr[i] * gscale, (rv * cv[i]) / denom, eps1_sq, one)
                    pr[i] = _decayed(pr[i], decay, one) + coef * u
            else:
                vr = variance[j:j + cols]
                for i in range(cols):
                    u = _u(gr[i] * gscale, vr[i], eps1_sq, one)
                    pr[i] = _decayed(pr[i], decay, one) + coef * u
