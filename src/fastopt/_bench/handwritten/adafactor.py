"""Adafactor: torch.optim.Adafactor (a second moment factored into row and column means
over the last two dimensions of a matrix; a full one for vectors; a relative step size)."""
import math

import numpy as np


def adafactor(lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0):
    eps1_given, eps2 = eps

    def rule(p):
        eps1 = float(np.finfo(p.dtype).eps) if eps1_given is None else eps1_given
        factored = p.ndim >= 2
        return eps1, factored

    def naive(p, g):
        eps1, factored = rule(p)
        row = np.zeros(p.shape[:-1] + (1,), p.dtype) if factored else None
        col = np.zeros(p.shape[:-2] + (1, p.shape[-1]), p.dtype) if factored else None
        var = None if factored else np.zeros_like(p)
        t = 0

        def step():
            nonlocal row, col, var, t
            t += 1
            beta2 = t ** beta2_decay
            rho = min(lr, 1 / math.sqrt(t))
            alpha = max(eps2, np.linalg.norm(p) / math.sqrt(p.size)) * rho
            p[...] = p * (1 - lr * weight_decay)
            if factored:
                row = row + beta2 * ((g * g).mean(axis=-1, keepdims=True) - row)
                col = col + beta2 * ((g * g).mean(axis=-2, keepdims=True) - col)
                v = row * col / np.maximum(row.mean(axis=-2, keepdims=True), eps1)
            else:
                var = var + beta2 * (g * g - var)
                v = var
            u = g / np.sqrt(np.maximum(v, eps1 * eps1))
            p[...] = p - alpha / max(1.0, np.linalg.norm(u) / math.sqrt(p.size) / d) * u
        return step

    def inplace(p, g):
        eps1, factored = rule(p)
        row = np.zeros(p.shape[:-1] + (1,), p.dtype) if factored else None
        col = np.zeros(p.shape[:-2] + (1, p.shape[-1]), p.dtype) if factored else None
        var = None if factored else np.zeros_like(p)
        tmp = np.empty_like(p)
        flat_p, flat_tmp = p.reshape(-1), tmp.reshape(-1)
        t = 0

        def step(p=p, tmp=tmp, row=row, col=col, var=var):
            nonlocal t
            t += 1
            beta2 = t ** beta2_decay
            rho = min(lr, 1 / math.sqrt(t))
            alpha = max(eps2, math.sqrt(float(np.dot(flat_p, flat_p)) / p.size)) * rho
            if weight_decay:
                p *= 1 - lr * weight_decay
            np.multiply(g, g, out=tmp)
            if factored:
                row += beta2 * (tmp.mean(axis=-1, keepdims=True) - row)
                col += beta2 * (tmp.mean(axis=-2, keepdims=True) - col)
                np.multiply(row, col, out=tmp)
                tmp /= np.maximum(row.mean(axis=-2, keepdims=True), eps1)
            else:
                tmp -= var
                tmp *= beta2
                var[...] += tmp
                tmp[...] = var
            np.maximum(tmp, eps1 * eps1, out=tmp)
            np.sqrt(tmp, out=tmp)
            np.divide(g, tmp, out=tmp)
            rms = math.sqrt(float(np.dot(flat_tmp, flat_tmp)) / p.size)
            tmp *= alpha / max(1.0, rms / d)
            p -= tmp
        return step
    return naive, inplace
