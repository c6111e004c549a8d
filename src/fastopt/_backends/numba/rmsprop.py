"""RMSprop for numba (the interface: RMSprop.kernel in fastopt/optimizers/rmsprop.py; the
math as in ../cython/rmsprop.pxi)."""
import numpy as np
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, grad, hint, lerp


@njit(inline="always", **JIT)
def _loop(p, g, square_avg, grad_avg, momentum_buffer, n, gscale, weight_decay, alpha,
          one_minus_alpha, eps, lr, momentum, lerp_rest, centered, use_momentum):
    # Called with constant flags, so that each of the four versions is its own loop over
    # only the buffers it uses, with no branch inside to keep it from vectorising.
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(g, i0)
        hint(square_avg, i0)
        if centered:
            hint(grad_avg, i0)
        if use_momentum:
            hint(momentum_buffer, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
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
    if centered:
        if use_momentum:
            _loop(p, g, square_avg, grad_avg, momentum_buffer, n, gscale, weight_decay,
                  alpha, one_minus_alpha, eps, lr, momentum, lerp_rest, True, True)
        else:
            _loop(p, g, square_avg, grad_avg, momentum_buffer, n, gscale, weight_decay,
                  alpha, one_minus_alpha, eps, lr, momentum, lerp_rest, True, False)
    elif use_momentum:
        _loop(p, g, square_avg, grad_avg, momentum_buffer, n, gscale, weight_decay,
              alpha, one_minus_alpha, eps, lr, momentum, lerp_rest, False, True)
    else:
        _loop(p, g, square_avg, grad_avg, momentum_buffer, n, gscale, weight_decay,
              alpha, one_minus_alpha, eps, lr, momentum, lerp_rest, False, False)
