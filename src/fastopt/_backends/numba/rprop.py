"""Rprop for numba (the interface: Rprop.kernel in fastopt/optimizers/rprop.py; the math as
in ../cython/rprop.pxi)."""
from numba import njit

from ._common import JIT, buffer, sign


@njit(inline="always", **JIT)
def rprop(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    p = buffer(addrs, chunk, 0, like)
    g = buffer(addrs, chunk, 1, like)
    prev = buffer(addrs, chunk, 2, like)
    step_size = buffer(addrs, chunk, 3, like)
    gscale = dt(s[0])
    eta_minus = dt(s[1])
    eta_plus = dt(s[2])
    step_size_min = dt(s[3])
    step_size_max = dt(s[4])
    first = s[5] != 0
    initial_step_size = dt(s[6])
    zero, one = dt(0), dt(1)
    for i in range(p.shape[0]):
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
