"""SGD with momentum, dampening and Nesterov for numba (the interface: SGD.kernel in
fastopt/optimizers/sgd.py; the math as in ../cython/sgd.pxi)."""
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, grad, hint


@njit(inline="always", **JIT)
def sgd(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    momentum_buffer = carray(b[2], n)
    gscale = s[0]
    weight_decay = s[1]
    lr = s[2]
    momentum = s[3]
    one_minus_dampening = s[4]
    use_momentum = s[5] != 0
    first = s[6] != 0
    nesterov = s[7] != 0
    if not use_momentum:
        for i0 in range(0, n, STRIDE):
            hint(p, i0)
            hint(g, i0)
            for k in range(min(STRIDE, n - i0)):
                i = uintp(i0 + k)
                p[i] = p[i] - lr * grad(g[i], p[i], gscale, weight_decay)
    elif first:
        for i0 in range(0, n, STRIDE):
            hint(p, i0)
            hint(g, i0)
            hint(momentum_buffer, i0)
            for k in range(min(STRIDE, n - i0)):
                i = uintp(i0 + k)
                gi = grad(g[i], p[i], gscale, weight_decay)
                momentum_buffer[i] = gi
                if nesterov:
                    gi = gi + momentum * gi
                p[i] = p[i] - lr * gi
    else:
        for i0 in range(0, n, STRIDE):
            hint(p, i0)
            hint(g, i0)
            hint(momentum_buffer, i0)
            for k in range(min(STRIDE, n - i0)):
                i = uintp(i0 + k)
                gi = grad(g[i], p[i], gscale, weight_decay)
                bi = momentum * momentum_buffer[i] + one_minus_dampening * gi
                momentum_buffer[i] = bi
                gi = gi + momentum * bi if nesterov else bi
                p[i] = p[i] - lr * gi
