"""ADOPT: optax.contrib.adopt (g normalised by the second moment of the steps before it,
clipped, then averaged; the first step only sets v)."""
import numpy as np


def adopt(lr=1e-3, betas=(0.9, 0.9999), eps=1e-6):
    b1, b2 = betas

    def naive(p, g):
        m, v, t = np.zeros_like(p), np.zeros_like(p), 0

        def step():
            nonlocal m, v, t
            t += 1
            if t == 1:
                v = g * g
                return
            c = (t - 1) ** 0.25
            n = np.clip(g / np.maximum(np.sqrt(v), eps), -c, c)
            m = b1 * m + (1 - b1) * n
            v = b2 * v + (1 - b2) * g * g
            p[...] = p - lr * m
        return step

    def inplace(p, g):
        m, v, tmp, t = np.zeros_like(p), np.zeros_like(p), np.empty_like(p), 0

        def step(m=m, v=v, tmp=tmp, p=p):
            nonlocal t
            t += 1
            if t == 1:
                np.multiply(g, g, out=v)
                return
            c = (t - 1) ** 0.25
            np.sqrt(v, out=tmp)
            np.maximum(tmp, eps, out=tmp)
            np.divide(g, tmp, out=tmp)
            np.clip(tmp, -c, c, out=tmp)
            m *= b1
            tmp *= 1 - b1
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            np.multiply(m, lr, out=tmp)
            p -= tmp
        return step
    return naive, inplace
