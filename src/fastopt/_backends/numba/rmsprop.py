"""RMSprop for numba (the interface: RMSprop.kernel in fastopt/optimizers/rmsprop.py; the
math as in ../cython/rmsprop.pxi)."""
import numpy as np
from numba import njit

from ._common import JIT, buffer, grad, lerp


@njit(inline="always", **JIT)
def rmsprop(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    p = buffer(addrs, chunk, 0, like)
    g = buffer(addrs, chunk, 1, like)
    square_avg = buffer(addrs, chunk, 2, like)
    grad_avg = buffer(addrs, chunk, 3, like)
    momentum_buffer = buffer(addrs, chunk, 4, like)
    gscale = dt(s[0])
    weight_decay = dt(s[1])
    alpha = dt(s[2])
    one_minus_alpha = dt(s[3])
    eps = dt(s[4])
    lr = dt(s[5])
    momentum = dt(s[6])
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
