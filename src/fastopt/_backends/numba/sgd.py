"""SGD with momentum, dampening and Nesterov for numba (the interface: SGD.kernel in
fastopt/optimizers/sgd.py; the math as in ../cython/sgd.pxi)."""
from numba import njit

from ._common import JIT, buffer, grad


@njit(inline="always", **JIT)
def sgd(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    p = buffer(addrs, chunk, 0, like)
    g = buffer(addrs, chunk, 1, like)
    momentum_buffer = buffer(addrs, chunk, 2, like)
    gscale = dt(s[0])
    weight_decay = dt(s[1])
    lr = dt(s[2])
    momentum = dt(s[3])
    one_minus_dampening = dt(s[4])
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
