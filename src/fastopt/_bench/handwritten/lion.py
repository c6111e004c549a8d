"""Lion: optax.lion / keras Lion (decoupled weight decay, the sign of an interpolation)."""
import numpy as np


def lion(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
    b1, b2 = betas
    wd = weight_decay

    def naive(p, g):
        m = np.zeros_like(p)

        def step():
            nonlocal m
            if wd:
                p[...] = p * (1 - lr * wd)
            c = b1 * m + (1 - b1) * g
            p[...] = p - lr * np.sign(c)
            m = b2 * m + (1 - b2) * g
        return step

    def inplace(p, g):
        m, tmp = np.zeros_like(p), np.empty_like(p)

        def step(p=p, tmp=tmp, m=m):
            if wd:
                p *= 1 - lr * wd
            np.subtract(g, m, out=tmp)
            tmp *= 1 - b1
            tmp += m
            np.sign(tmp, out=tmp)
            tmp *= lr
            p -= tmp
            np.subtract(g, m, out=tmp)
            tmp *= 1 - b2
            m += tmp
        return step
    return naive, inplace
