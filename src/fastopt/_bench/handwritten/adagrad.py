"""Adagrad: torch.optim.Adagrad (the lr decays as lr / (1 + (t-1)*lr_decay))."""
import numpy as np


def adagrad(lr=1e-2, lr_decay=0.0, eps=1e-10):
    def naive(p, g):
        total, t = np.zeros_like(p), 0

        def step():
            nonlocal total, t
            t += 1
            total = total + g * g
            clr = lr / (1 + (t - 1) * lr_decay)
            p[...] = p - clr * g / (np.sqrt(total) + eps)
        return step

    def inplace(p, g):
        acc, tmp, t = np.zeros_like(p), np.empty_like(p), 0

        def step(acc=acc, tmp=tmp, p=p):
            nonlocal t
            t += 1
            np.multiply(g, g, out=tmp)
            acc += tmp
            np.sqrt(acc, out=tmp)
            tmp += eps
            np.divide(g, tmp, out=tmp)
            tmp *= lr / (1 + (t - 1) * lr_decay)
            p -= tmp
        return step
    return naive, inplace
