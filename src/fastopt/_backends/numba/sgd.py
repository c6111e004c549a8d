"""SGD with momentum, dampening and Nesterov for numba (the interface: SGD.kernel in
fastopt/optimizers/sgd.py; the math as in ../cython/sgd.pxi)."""
from numba import carray, njit

from ._common import JIT, grad


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
        for i in range(p.shape[0]):
            p[i] = p[i] - lr * grad(g[i], p[i], gscale, weight_decay)
    elif first:
        for i in range(p.shape[0]):
            gi = grad(g[i], p[i], gscale, weight_decay)
            momentum_buffer[i] = gi
            if nesterov:
                gi = gi + momentum * gi
            p[i] = p[i] - lr * gi
    else:
        for i in range(p.shape[0]):
            gi = grad(g[i], p[i], gscale, weight_decay)
            bi = momentum * momentum_buffer[i] + one_minus_dampening * gi
            momentum_buffer[i] = bi
            gi = gi + momentum * bi if nesterov else bi
            p[i] = p[i] - lr * gi
