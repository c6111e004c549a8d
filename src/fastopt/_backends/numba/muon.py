"""Muon's element-wise passes for numba (the interface: Muon.kernel and Muon.update_kernel
in fastopt/optimizers/muon.py; the math as in ../cython/muon.pxi)."""
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, hint, lerp


@njit(inline="always", **JIT)
def muon_momentum(b, n, s, seg_in, out):
    g = carray(b[1], n)
    momentum_buffer = carray(b[2], n)
    orthogonal = carray(b[3], n)
    dt = momentum_buffer.dtype.type
    gscale = s[0]
    momentum = s[1]
    one_minus_momentum = s[2]
    nesterov = s[3] != 0
    one_minus_m = dt(1) - momentum          # lerp's 1 - w for either weight
    m = one_minus_momentum
    one_minus_w = dt(1) - m
    for i0 in range(0, n, STRIDE):
        hint(g, i0)
        hint(momentum_buffer, i0)
        hint(orthogonal, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            gi = g[i] * gscale
            mi = lerp(momentum_buffer[i], gi, m, one_minus_w)
            momentum_buffer[i] = mi
            orthogonal[i] = lerp(gi, mi, momentum, one_minus_m) if nesterov else mi


@njit(inline="always", **JIT)
def muon_update(b, n, s, seg_in, out):
    p = carray(b[0], n)
    orthogonal = carray(b[3], n)
    dt = p.dtype.type
    decay = s[4]
    adjusted_lr = dt(seg_in[0])
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(orthogonal, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            p[i] = p[i] * decay - adjusted_lr * orthogonal[i]
