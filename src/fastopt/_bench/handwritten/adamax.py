"""Adamax: torch.optim.Adamax (u = max(b2*u, |g| + eps), eps inside the max)."""
import numpy as np


def adamax(lr=2e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas

    def naive(p, g):
        m, u, t = np.zeros_like(p), np.zeros_like(p), 0

        def step():
            nonlocal m, u, t
            t += 1
            m = b1 * m + (1 - b1) * g
            u = np.maximum(b2 * u, np.abs(g) + eps)
            p[...] = p - lr / (1 - b1 ** t) * m / u
        return step

    def inplace(p, g):
        m, u, tmp, t = np.zeros_like(p), np.zeros_like(p), np.empty_like(p), 0

        def step(m=m, u=u, tmp=tmp, p=p):
            nonlocal t
            t += 1
            m *= b1
            np.multiply(g, 1 - b1, out=tmp)
            m += tmp
            u *= b2
            np.abs(g, out=tmp)
            tmp += eps
            np.maximum(u, tmp, out=u)
            np.divide(m, u, out=tmp)
            tmp *= lr / (1 - b1 ** t)
            p -= tmp
        return step
    return naive, inplace
