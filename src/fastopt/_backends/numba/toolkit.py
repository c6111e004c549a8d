"""The training toolkit's kernels for numba: gradient norms, clipping and weight averaging
(the interfaces: the toolkit's kernels in fastopt/_core/kernel.py; lanes and folding order
as in ../cython/toolkit.pxi, so the partial sums are bitwise the same as the Cython
kernels')."""
import numpy as np
from numba import njit

from ._common import JIT, buffer, lerp

LANES = 16


@njit(inline="always", **JIT)
def _fold_sum(acc):
    """Fold the lanes by the fixed pairwise tree of the Cython kernels."""
    w = LANES // 2
    while w > 0:
        for k in range(w):
            acc[k] = acc[k] + acc[k + w]
        w //= 2
    return acc[0]


@njit(inline="always", **JIT)
def sumsq(addrs, chunk, like, s, seg_in, out):
    g = buffer(addrs, chunk, 1, like)
    n = g.shape[0]
    nb = n - n % LANES
    acc = np.zeros(LANES)
    for i in range(0, nb, LANES):
        for k in range(LANES):
            x = np.float64(g[i + k])
            acc[k] += x * x
    for k in range(n - nb):
        x = np.float64(g[nb + k])
        acc[k] += x * x
    total = _fold_sum(acc)
    out[0] = total
    probe = 0.0
    if not total <= 1.7976931348623157e308:
        for i in range(n):
            probe += np.float64(g[i]) * 0.0
    out[1] = probe


@njit(inline="always", **JIT)
def abs_sum(addrs, chunk, like, s, seg_in, out):
    g = buffer(addrs, chunk, 1, like)
    n = g.shape[0]
    nb = n - n % LANES
    acc = np.zeros(LANES)
    for i in range(0, nb, LANES):
        for k in range(LANES):
            acc[k] += np.float64(abs(g[i + k]))
    for k in range(n - nb):
        acc[k] += np.float64(abs(g[nb + k]))
    out[0] = _fold_sum(acc)


@njit(inline="always", **JIT)
def abs_max(addrs, chunk, like, s, seg_in, out):
    g = buffer(addrs, chunk, 1, like)
    m = 0.0
    nan = False
    for i in range(g.shape[0]):
        y = np.float64(abs(g[i]))
        if y > m:
            m = y
        if y != y:
            nan = True
    out[0] = np.nan if nan else m


@njit(inline="always", **JIT)
def pow_sum(addrs, chunk, like, s, seg_in, out):
    g = buffer(addrs, chunk, 1, like)
    norm_type = seg_in[0]
    n = g.shape[0]
    nb = n - n % LANES
    acc = np.zeros(LANES)
    for i in range(0, nb, LANES):
        for k in range(LANES):
            acc[k] += np.float64(abs(g[i + k])) ** norm_type
    for k in range(n - nb):
        acc[k] += np.float64(abs(g[nb + k])) ** norm_type
    out[0] = _fold_sum(acc)


@njit(inline="always", **JIT)
def scale(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    g = buffer(addrs, chunk, 1, like)
    factor = dt(s[0])
    for i in range(g.shape[0]):
        g[i] = g[i] * factor


@njit(inline="always", **JIT)
def clamp(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    g = buffer(addrs, chunk, 1, like)
    clip_value = dt(s[0])
    lo = -clip_value
    for i in range(g.shape[0]):
        x = g[i]
        x = lo if x < lo else x
        g[i] = clip_value if x > clip_value else x


@njit(inline="always", **JIT)
def ema(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    p = buffer(addrs, chunk, 0, like)
    average = buffer(addrs, chunk, 2, like)
    weight = dt(s[0])
    lerp_rest = dt(1) - weight
    for i in range(p.shape[0]):
        average[i] = lerp(average[i], p[i], weight, lerp_rest)


@njit(inline="always", **JIT)
def swap(addrs, chunk, like, s, seg_in, out):
    p = buffer(addrs, chunk, 0, like)
    average = buffer(addrs, chunk, 2, like)
    for i in range(p.shape[0]):
        x = p[i]
        p[i] = average[i]
        average[i] = x


KERNELS = {"sumsq": sumsq, "abs_sum": abs_sum, "abs_max": abs_max, "pow_sum": pow_sum,
           "scale": scale, "clamp": clamp, "ema": ema, "swap": swap}
