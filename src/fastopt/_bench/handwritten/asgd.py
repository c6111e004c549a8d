"""ASGD: torch.optim.ASGD (SGD with a decaying step size and an averaged iterate)."""
import numpy as np


def asgd(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6):

    def naive(p, g):
        ax, eta, mu, t = np.zeros_like(p), lr, 1.0, 0

        def step():
            nonlocal ax, eta, mu, t
            t += 1
            p[...] = p * (1 - lambd * eta) - eta * g
            ax = ax + (p - ax) * mu if mu != 1 else p.copy()
            eta = lr / (1 + lambd * lr * t) ** alpha
            mu = 1 / max(1, t - t0)
        return step

    def inplace(p, g):
        ax, tmp = np.zeros_like(p), np.empty_like(p)
        eta, mu, t = lr, 1.0, 0

        def step(ax=ax, tmp=tmp, p=p):
            nonlocal eta, mu, t
            t += 1
            p *= 1 - lambd * eta
            np.multiply(g, eta, out=tmp)
            p -= tmp
            if mu != 1:
                np.subtract(p, ax, out=tmp)
                tmp *= mu
                ax += tmp
            else:
                np.copyto(ax, p)
            eta = lr / (1 + lambd * lr * t) ** alpha
            mu = 1 / max(1, t - t0)
        return step
    return naive, inplace
