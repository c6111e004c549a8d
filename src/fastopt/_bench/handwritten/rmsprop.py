"""RMSprop: torch.optim.RMSprop (eps outside the root, not centered, no momentum)."""
import numpy as np


def rmsprop(lr=1e-2, alpha=0.99, eps=1e-8):
    def naive(p, g):
        sq = np.zeros_like(p)

        def step():
            nonlocal sq
            sq = alpha * sq + (1 - alpha) * g * g
            p[...] = p - lr * g / (np.sqrt(sq) + eps)
        return step

    def inplace(p, g):
        sq, tmp = np.zeros_like(p), np.empty_like(p)

        def step(sq=sq, tmp=tmp, p=p):
            sq *= alpha
            np.multiply(g, g, out=tmp)
            tmp *= 1 - alpha
            sq += tmp
            np.sqrt(sq, out=tmp)
            tmp += eps
            np.divide(g, tmp, out=tmp)
            tmp *= lr
            p -= tmp
        return step
    return naive, inplace
