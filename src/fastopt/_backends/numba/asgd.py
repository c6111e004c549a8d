"""ASGD for numba (the interface: ASGD.kernel in fastopt/optimizers/asgd.py; the math as in
../cython/asgd.pxi)."""
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, grad, hint


@njit(inline="always", **JIT)
def asgd(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    ax = carray(b[2], n)
    gscale = s[0]
    weight_decay = s[1]
    decay = s[2]
    eta = s[3]
    mu = s[4]
    copy = mu == 1
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(g, i0)
        hint(ax, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            gi = grad(g[i], p[i], gscale, weight_decay)
            pi = p[i] * decay - eta * gi
            p[i] = pi
            if copy:
                ax[i] = pi
            else:
                ai = ax[i]
                ax[i] = ai + (pi - ai) * mu
