# Adafactor (docs/optimizers.md#adafactor; torch.optim.Adafactor), one tensor per call: not
# a chunk function, since a step reads whole rows, columns and tensors.  The tensor is
# batch x R rows of C elements (a vector: one row), and the step three passes over it:
#   A (p, g):  per row, the float64 sums of g*g and p*p in LANES lanes; row_var of the row
#              from its sum; the columns' sums of g*g added row by row in ``scratch`` (C
#              values); then col_var of each column.  (A vector updates variance here.)
#   B (g):     u = g / sqrt(max(v, eps1**2)) and the float64 sum of u*u per row in lanes.
#   C (p, g):  p = p*decay + coef*u, u recomputed with the same operations (the same bits).
# Tensor sums add the rows' sums in row order; the step size between B and C in double.
# The same operations in the same order as ../numpy/adafactor.py, so the backends agree
# bitwise.  The interface: Adafactor.kernel in fastopt/optimizers/adafactor.py; ``info``
# holds (batch, R, C, factored), ``s`` the step's scalars as doubles (s[1], lr, is already
# in decay).

from libc.float cimport DBL_EPSILON, FLT_EPSILON

cdef enum:
    ADAFACTOR_SCALARS = 8


cdef inline floating _adafactor_u(floating gi, floating v, floating eps1_sq) noexcept nogil:
    return (<floating>1 / _sqrt(_max_nan(v, eps1_sq))) * gi


cdef inline floating _adafactor_denom(const floating* row_var, Py_ssize_t rows,
                                      floating eps1) noexcept nogil:
    """max(the mean of a matrix's row_var, eps1): its values added in row order, in
    float64, the mean rounded to the dtype."""
    cdef double total = 0
    cdef Py_ssize_t r
    for r in range(rows):
        total = total + <double>row_var[r]
    return _max_nan(<floating>(total / rows), eps1)


cdef void adafactor_tensor(floating** b, const int64_t* info, double* scratch,
                           const double* s) noexcept nogil:
    cdef floating* p = b[0]
    cdef const floating* g = b[1]
    cdef floating* row_var = b[2]
    cdef floating* col_var = b[3]
    cdef floating* variance = b[4]
    cdef Py_ssize_t batch = info[0], rows = info[1], cols = info[2]
    cdef bint factored = info[3] != 0
    if batch * rows * cols == 0:
        return
    cdef floating gscale = <floating>s[0]
    cdef floating beta2_t = <floating>s[2]
    cdef double rho_t = s[3], eps1 = s[4], eps2 = s[5], d = s[6]
    cdef floating decay = <floating>s[7]
    if eps1 != eps1:                # NaN: the dtype's machine epsilon
        eps1 = FLT_EPSILON if floating is float else DBL_EPSILON
    cdef floating eps1_t = <floating>eps1, eps1_sq = <floating>(eps1 * eps1)
    cdef floating one_minus_w = <floating>1 - beta2_t
    cdef Py_ssize_t m, r, c, k, i, j, nfull = cols - cols % LANES
    cdef double gg[LANES]
    cdef double pp[LANES]
    cdef double sum_p2 = 0, sum_u2 = 0, sq, x
    cdef floating gi, pi, u, v, rv, denom, coef
    cdef floating* row_p
    cdef const floating* row_g
    cdef floating* cv

    # ---- pass A: the statistics ---------------------------------------------------------
    for m in range(batch):
        cv = col_var + m * cols
        if factored:
            for c in range(cols):
                scratch[c] = 0
        for r in range(rows):
            j = (m * rows + r) * cols
            row_p = p + j
            row_g = g + j
            for k in range(LANES):
                gg[k] = 0
                pp[k] = 0
            if factored:
                for i in range(0, nfull, 16):    # LANES
                    for k in range(LANES):
                        gi = row_g[i + k] * gscale
                        sq = <double>gi * <double>gi
                        gg[k] = gg[k] + sq
                        scratch[i + k] = scratch[i + k] + sq
                        x = <double>row_p[i + k]
                        pp[k] = pp[k] + x * x
                for i in range(nfull, cols):
                    gi = row_g[i] * gscale
                    sq = <double>gi * <double>gi
                    gg[i - nfull] = gg[i - nfull] + sq
                    scratch[i] = scratch[i] + sq
                    x = <double>row_p[i]
                    pp[i - nfull] = pp[i - nfull] + x * x
                row_var[m * rows + r] = _lerp(row_var[m * rows + r],
                                              <floating>(_fold_sum(gg) / cols), beta2_t)
            else:
                for i in range(0, nfull, 16):    # LANES
                    for k in range(LANES):
                        gi = row_g[i + k] * gscale
                        variance[j + i + k] = _lerp(variance[j + i + k], gi * gi, beta2_t)
                        x = <double>row_p[i + k]
                        pp[k] = pp[k] + x * x
                for i in range(nfull, cols):
                    gi = row_g[i] * gscale
                    variance[j + i] = _lerp(variance[j + i], gi * gi, beta2_t)
                    x = <double>row_p[i]
                    pp[i - nfull] = pp[i - nfull] + x * x
            sum_p2 = sum_p2 + _fold_sum(pp)
        if factored:
            for c in range(cols):
                cv[c] = _lerp(cv[c], <floating>(scratch[c] / rows), beta2_t)

    # ---- pass B: the RMS of the update --------------------------------------------------
    for m in range(batch):
        cv = col_var + m * cols
        denom = 1
        if factored:
            denom = _adafactor_denom(row_var + m * rows, rows, eps1_t)
        for r in range(rows):
            j = (m * rows + r) * cols
            row_g = g + j
            rv = row_var[m * rows + r] if factored else 0
            for k in range(LANES):
                gg[k] = 0
            for i in range(0, nfull, 16):    # LANES
                for k in range(LANES):
                    v = (rv * cv[i + k]) / denom if factored else variance[j + i + k]
                    u = _adafactor_u(row_g[i + k] * gscale, v, eps1_sq)
                    gg[k] = gg[k] + <double>u * <double>u
            for i in range(nfull, cols):
                v = (rv * cv[i]) / denom if factored else variance[j + i]
                u = _adafactor_u(row_g[i] * gscale, v, eps1_sq)
                gg[i - nfull] = gg[i - nfull] + <double>u * <double>u
            sum_u2 = sum_u2 + _fold_sum(gg)

    # ---- the step size, in double as the reference (Python's max: the first argument
    # unless the second is greater, so a NaN RMS leaves eps2 and 1.0) -------------------
    cdef double n = <double>(batch * rows * cols)
    cdef double rms_p = sqrt(sum_p2) / sqrt(n), rms_u = sqrt(sum_u2) / sqrt(n) / d
    cdef double alpha = (rms_p if rms_p > eps2 else eps2) * rho_t
    coef = <floating>(-alpha / (rms_u if rms_u > 1.0 else 1.0))

    # ---- pass C: the update -------------------------------------------------------------
    for m in range(batch):
        cv = col_var + m * cols
        denom = 1
        if factored:
            denom = _adafactor_denom(row_var + m * rows, rows, eps1_t)
        for r in range(rows):
            j = (m * rows + r) * cols
            row_p = p + j
            row_g = g + j
            rv = row_var[m * rows + r] if factored else 0
            for i in range(cols):
                v = (rv * cv[i]) / denom if factored else variance[j + i]
                u = _adafactor_u(row_g[i] * gscale, v, eps1_sq)
                pi = row_p[i] * decay if decay != 1 else row_p[i]
                row_p[i] = pi + coef * u
