"""The training toolkit's kernels for numba: gradient norms, clipping and weight averaging
(the interfaces: the toolkit's kernels in fastopt/_core/kernel.py; lanes and folding order
as in ../cython/math.pxi, so the partial sums are bitwise the same as the Cython
kernels')."""
import numpy as np
from numba import carray, njit

from ._common import JIT, LANES, clamp_to, fold, lane_count, lanes, lerp


@njit(inline="always", **JIT)
def sumsq(b, n, s, seg_in, out):
    g = carray(b[1], n)
    nb = n - n % LANES
    acc = lanes()
    nl = lane_count()
    for i in range(0, nb, LANES):
        for k in range(nl):
            x = np.float64(g[i + k])
            acc[k] += x * x
    for k in range(n - nb):
        x = np.float64(g[nb + k])
        acc[k] += x * x
    total = fold(acc)
    out[0] = total
    probe = 0.0
    if not total <= 1.7976931348623157e308:
        for i in range(n):
            probe += np.float64(g[i]) * 0.0
    out[1] = probe


@njit(inline="always", **JIT)
def abs_sum(b, n, s, seg_in, out):
    g = carray(b[1], n)
    nb = n - n % LANES
    acc = lanes()
    nl = lane_count()
    for i in range(0, nb, LANES):
        for k in range(nl):
            acc[k] += np.float64(abs(g[i + k]))
    for k in range(n - nb):
        acc[k] += np.float64(abs(g[nb + k]))
    out[0] = fold(acc)


@njit(inline="always", **JIT)
def abs_max(b, n, s, seg_in, out):
    g = carray(b[1], n)
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
def pow_sum(b, n, s, seg_in, out):
    g = carray(b[1], n)
    norm_type = seg_in[0]
    nb = n - n % LANES
    acc = lanes()
    nl = lane_count()
    for i in range(0, nb, LANES):
        for k in range(nl):
            acc[k] += np.float64(abs(g[i + k])) ** norm_type
    for k in range(n - nb):
        acc[k] += np.float64(abs(g[nb + k])) ** norm_type
    out[0] = fold(acc)


@njit(inline="always", **JIT)
def scale(b, n, s, seg_in, out):
    g = carray(b[1], n)
    factor = s[0]
    for i in range(g.shape[0]):
        g[i] = g[i] * factor


@njit(inline="always", **JIT)
def clamp(b, n, s, seg_in, out):
    g = carray(b[1], n)
    clip_value = s[0]
    for i in range(g.shape[0]):
        g[i] = clamp_to(g[i], clip_value)


@njit(inline="always", **JIT)
def ema(b, n, s, seg_in, out):
    p = carray(b[0], n)
    average = carray(b[2], n)
    dt = p.dtype.type
    weight = s[0]
    lerp_rest = dt(1) - weight
    for i in range(p.shape[0]):
        average[i] = lerp(average[i], p[i], weight, lerp_rest)


@njit(inline="always", **JIT)
def swap(b, n, s, seg_in, out):
    p = carray(b[0], n)
    average = carray(b[2], n)
    for i in range(p.shape[0]):
        x = p[i]
        p[i] = average[i]
        average[i] = x


KERNELS = {"sumsq": sumsq, "abs_sum": abs_sum, "abs_max": abs_max, "pow_sum": pow_sum,
           "scale": scale, "clamp": clamp, "ema": ema, "swap": swap}
