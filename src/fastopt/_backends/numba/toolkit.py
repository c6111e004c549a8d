"""The training toolkit's kernels for numba: gradient norms, clipping and weight averaging
(buffers, scalars, lanes and folding order as in ../cython/toolkit.pxi, so the partial sums
are bitwise the same as the Cython kernels')."""
import numpy as np
from numba import njit, prange

from ._support import JIT, buffer, kernel, lerp

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


def _sumsq(addrs, chunks, like, s, seg_in, out):
    for c in prange(chunks.shape[0]):
        g = buffer(addrs, chunks[c], 1, like)
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
        out[c, 0] = total
        probe = 0.0
        if not total <= 1.7976931348623157e308:
            for i in range(n):
                probe += np.float64(g[i]) * 0.0
        out[c, 1] = probe


def _abs_sum(addrs, chunks, like, s, seg_in, out):
    for c in prange(chunks.shape[0]):
        g = buffer(addrs, chunks[c], 1, like)
        n = g.shape[0]
        nb = n - n % LANES
        acc = np.zeros(LANES)
        for i in range(0, nb, LANES):
            for k in range(LANES):
                acc[k] += np.float64(abs(g[i + k]))
        for k in range(n - nb):
            acc[k] += np.float64(abs(g[nb + k]))
        out[c, 0] = _fold_sum(acc)


def _abs_max(addrs, chunks, like, s, seg_in, out):
    for c in prange(chunks.shape[0]):
        g = buffer(addrs, chunks[c], 1, like)
        m = 0.0
        nan = False
        for i in range(g.shape[0]):
            y = np.float64(abs(g[i]))
            if y > m:
                m = y
            if y != y:
                nan = True
        out[c, 0] = np.nan if nan else m


def _pow_sum(addrs, chunks, like, s, seg_in, out):
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        g = buffer(addrs, chunk, 1, like)
        p = seg_in[chunk[0], 0]
        n = g.shape[0]
        nb = n - n % LANES
        acc = np.zeros(LANES)
        for i in range(0, nb, LANES):
            for k in range(LANES):
                acc[k] += np.float64(abs(g[i + k])) ** p
        for k in range(n - nb):
            acc[k] += np.float64(abs(g[nb + k])) ** p
        out[c, 0] = _fold_sum(acc)


def _scale(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    factor = dt(s[0])
    for c in prange(chunks.shape[0]):
        g = buffer(addrs, chunks[c], 1, like)
        for i in range(g.shape[0]):
            g[i] = g[i] * factor


def _clamp(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    hi = dt(s[0])
    lo = -hi
    for c in prange(chunks.shape[0]):
        g = buffer(addrs, chunks[c], 1, like)
        for i in range(g.shape[0]):
            x = g[i]
            x = lo if x < lo else x
            g[i] = hi if x > hi else x


def _ema(addrs, chunks, like, s, seg_in, out):
    dt = like.dtype.type
    w = dt(s[0])
    w_rest = dt(1) - w
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, a = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 2, like)
        for i in range(p.shape[0]):
            a[i] = lerp(a[i], p[i], w, w_rest)


def _swap(addrs, chunks, like, s, seg_in, out):
    for c in prange(chunks.shape[0]):
        chunk = chunks[c]
        p, a = buffer(addrs, chunk, 0, like), buffer(addrs, chunk, 2, like)
        for i in range(p.shape[0]):
            x = p[i]
            p[i] = a[i]
            a[i] = x


KERNELS = {
    "sumsq": kernel(_sumsq), "abs_sum": kernel(_abs_sum), "abs_max": kernel(_abs_max),
    "pow_sum": kernel(_pow_sum), "scale": kernel(_scale), "clamp": kernel(_clamp),
    "ema": kernel(_ema), "swap": kernel(_swap),
}
