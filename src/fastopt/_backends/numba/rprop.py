"""Rprop for numba (the interface: Rprop.kernel in fastopt/optimizers/rprop.py; the math as
in ../cython/rprop.pxi)."""
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, hint, sign


@njit(inline="always", **JIT)
def rprop(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    prev = carray(b[2], n)
    step_size = carray(b[3], n)
    dt = p.dtype.type
    gscale = s[0]
    eta_minus = s[1]
    eta_plus = s[2]
    step_size_min = s[3]
    step_size_max = s[4]
    first = s[5] != 0
    initial_step_size = s[6]
    zero, one = dt(0), dt(1)
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(g, i0)
        hint(prev, i0)
        hint(step_size, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            gi = g[i] * gscale
            prod = gi * prev[i]
            f = eta_plus if prod > zero else (eta_minus if prod < zero else one)
            st = (initial_step_size if first else step_size[i]) * f
            st = step_size_min if st < step_size_min else st
            st = step_size_max if st > step_size_max else st
            step_size[i] = st
            gi = zero if prod < zero else gi
            p[i] = p[i] - sign(gi, zero, one) * st
            prev[i] = gi
