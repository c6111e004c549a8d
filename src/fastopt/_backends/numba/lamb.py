"""LAMB for numba: the two passes of ../cython/lamb.pxi (the interface: Lamb.kernel and
Lamb.update_kernel in fastopt/optimizers/lamb.py; the same lanes), and the per-tensor
trust ratios between them."""
import numpy as np
from numba import njit

from ._common import JIT, buffer

LANES = 16


@njit(inline="always", **JIT)
def _update_direction(mi, vi, pi, bias_correction1, bias_correction2, eps, weight_decay):
    u = (mi / bias_correction1) / (np.sqrt(vi / bias_correction2) + eps)
    return u + weight_decay * pi if weight_decay != 0 else u


@njit(inline="always", **JIT)
def lamb_moments(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    p = buffer(addrs, chunk, 0, like)
    g = buffer(addrs, chunk, 1, like)
    exp_avg = buffer(addrs, chunk, 2, like)
    exp_avg_sq = buffer(addrs, chunk, 3, like)
    gscale = dt(s[0])
    one_minus_beta1 = dt(s[1])
    beta1 = dt(s[2])
    one_minus_beta2 = dt(s[3])
    beta2 = dt(s[4])
    bias_correction1 = dt(s[5])
    bias_correction2 = dt(s[6])
    eps = dt(s[7])
    weight_decay = dt(s[8])
    n = p.shape[0]
    pp = np.zeros(LANES)
    uu = np.zeros(LANES)
    nfull = n - n % LANES
    for j in range(0, nfull, LANES):
        for k in range(LANES):
            i = j + k
            gi = g[i] * gscale
            mi = one_minus_beta1 * gi + beta1 * exp_avg[i]
            vi = one_minus_beta2 * (gi * gi) + beta2 * exp_avg_sq[i]
            exp_avg[i] = mi
            exp_avg_sq[i] = vi
            pi = p[i]
            u = _update_direction(mi, vi, pi, bias_correction1, bias_correction2, eps,
                                  weight_decay)
            pp[k] += np.float64(pi) * np.float64(pi)
            uu[k] += np.float64(u) * np.float64(u)
    for i in range(nfull, n):
        k = i - nfull
        gi = g[i] * gscale
        mi = one_minus_beta1 * gi + beta1 * exp_avg[i]
        vi = one_minus_beta2 * (gi * gi) + beta2 * exp_avg_sq[i]
        exp_avg[i] = mi
        exp_avg_sq[i] = vi
        pi = p[i]
        u = _update_direction(mi, vi, pi, bias_correction1, bias_correction2, eps,
                              weight_decay)
        pp[k] += np.float64(pi) * np.float64(pi)
        uu[k] += np.float64(u) * np.float64(u)
    w = LANES // 2
    while w >= 1:
        for k in range(w):
            pp[k] = pp[k] + pp[k + w]
            uu[k] = uu[k] + uu[k + w]
        w //= 2
    out[0] = pp[0]
    out[1] = uu[0]


@njit(inline="always", **JIT)
def lamb_update(addrs, chunk, like, s, seg_in, out):
    dt = like.dtype.type
    p = buffer(addrs, chunk, 0, like)
    exp_avg = buffer(addrs, chunk, 2, like)
    exp_avg_sq = buffer(addrs, chunk, 3, like)
    bias_correction1 = dt(s[5])
    bias_correction2 = dt(s[6])
    eps = dt(s[7])
    weight_decay = dt(s[8])
    lr_trust_ratio = dt(seg_in[0])
    for i in range(p.shape[0]):
        pi = p[i]
        p[i] = pi - lr_trust_ratio * _update_direction(
            exp_avg[i], exp_avg_sq[i], pi, bias_correction1, bias_correction2, eps,
            weight_decay)


@njit(**JIT)
def trust_ratios(chunks, partial, lr, out):
    """As ``trust_ratios`` in fastopt._core._native: for each tensor (row), its chunks'
    partial sums of p*p and u*u (columns 0 and 1 of ``partial``) added in chunk order in
    float64, then ``out[row, 0] = lr * (||p|| / ||u||)``, or ``lr`` where either is 0."""
    if chunks.shape[0] != partial.shape[0] or partial.shape[1] < 2 or out.shape[1] < 1:
        raise ValueError("trust_ratios: chunks, partial and out do not match")
    c = 0
    for row in range(out.shape[0]):
        a = 0.0
        b = 0.0
        while c < chunks.shape[0] and chunks[c, 0] == row:
            a = a + partial[c, 0]
            b = b + partial[c, 1]
            c = c + 1
        a = np.sqrt(a)
        b = np.sqrt(b)
        out[row, 0] = lr if a == 0 or b == 0 else lr * (a / b)
