"""RMSprop for numba (the interface: RMSprop.kernel in fastopt/optimizers/rmsprop.py; the
math as in ../cython/rmsprop.pxi)."""
import numpy as np
from numba import carray, njit

from ._common import JIT, grad, lerp


@njit(inline="always", **JIT)
def rmsprop(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    square_avg = carray(b[2], n)
    grad_avg = carray(b[3], n)
    momentum_buffer = carray(b[4], n)
    dt = p.dtype.type
    gscale = s[0]
    weight_decay = s[1]
    alpha = s[2]
    one_minus_alpha = s[3]
    eps = s[4]
    lr = s[5]
    momentum = s[6]
    centered = s[7] != 0
    use_momentum = s[8] != 0
    lerp_rest = dt(1) - one_minus_alpha
    for i in range(p.shape[0]):
        gi = grad(g[i], p[i], gscale, weight_decay)
        v = alpha * square_avg[i] + one_minus_alpha * gi * gi
        square_avg[i] = v
        if centered:
            ga = lerp(grad_avg[i], gi, one_minus_alpha, lerp_rest)
            grad_avg[i] = ga
            a = np.sqrt(v - ga * ga) + eps
        else:
            a = np.sqrt(v) + eps
        if use_momentum:
            bi = momentum * momentum_buffer[i] + gi / a
            momentum_buffer[i] = bi
            p[i] = p[i] - lr * bi
        else:
            p[i] = p[i] - (lr * gi) / a
