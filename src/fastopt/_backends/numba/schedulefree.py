"""Schedule-Free AdamW and SGD, and the train/eval switch, for numba (the interfaces: the
kernels in fastopt/optimizers/schedulefree.py; the math as in ../cython/schedulefree.pxi)."""
import numpy as np
from numba import carray, njit, uintp

from ._common import JIT, STRIDE, grad, hint, lerp


@njit(inline="always", **JIT)
def update(p, z, i, u, ckp1, one_minus_ckp1, y_step, lr, first):
    yi = p[i]
    zi = yi if first else z[i]
    p[i] = lerp(yi, zi, ckp1, one_minus_ckp1) + y_step * u
    z[i] = zi - lr * u


@njit(inline="always", **JIT)
def schedulefree_adamw(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    z = carray(b[2], n)
    exp_avg_sq = carray(b[3], n)
    dt = p.dtype.type
    gscale = s[0]
    one_minus_beta2 = s[1]
    beta2 = s[2]
    bias_correction2 = s[3]
    eps = s[4]
    weight_decay = s[5]
    ckp1 = s[6]
    y_step = s[7]
    lr = s[8]
    first = s[9] != 0
    one_minus_ckp1 = dt(1) - ckp1
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(g, i0)
        hint(z, i0)
        hint(exp_avg_sq, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            gi = g[i] * gscale
            vi = beta2 * exp_avg_sq[i] + one_minus_beta2 * gi * gi
            exp_avg_sq[i] = vi
            u = gi / (np.sqrt(vi / bias_correction2) + eps)
            if weight_decay != 0:
                u = u + weight_decay * p[i]
            update(p, z, i, u, ckp1, one_minus_ckp1, y_step, lr, first)


@njit(inline="always", **JIT)
def schedulefree_sgd(b, n, s, seg_in, out):
    p = carray(b[0], n)
    g = carray(b[1], n)
    z = carray(b[2], n)
    dt = p.dtype.type
    gscale = s[0]
    weight_decay = s[1]
    ckp1 = s[2]
    y_step = s[3]
    lr = s[4]
    first = s[5] != 0
    one_minus_ckp1 = dt(1) - ckp1
    for i0 in range(0, n, STRIDE):
        hint(p, i0)
        hint(g, i0)
        hint(z, i0)
        for k in range(min(STRIDE, n - i0)):
            i = uintp(i0 + k)
            update(p, z, i, grad(g[i], p[i], gscale, weight_decay), ckp1, one_minus_ckp1,
                   y_step, lr, first)


@njit(inline="always", **JIT)
def schedulefree_swap(b, n, s, seg_in, out):
    p = carray(b[0], n)
    z = carray(b[2], n)
    dt = p.dtype.type
    weight = s[0]
    one_minus_weight = dt(1) - weight
    for i in range(n):
        p[i] = lerp(p[i], z[i], weight, one_minus_weight)
