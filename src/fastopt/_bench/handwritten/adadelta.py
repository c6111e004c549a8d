"""Adadelta: torch.optim.Adadelta (eps inside both roots, lr scales the delta)."""
import numpy as np


def adadelta(lr=1.0, rho=0.9, eps=1e-6):
    def naive(p, g):
        sq, acc = np.zeros_like(p), np.zeros_like(p)

        def step():
            nonlocal sq, acc
            sq = rho * sq + (1 - rho) * g * g
            delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * g
            acc = rho * acc + (1 - rho) * delta * delta
            p[...] = p - lr * delta
        return step

    def inplace(p, g):
        sq, acc, t1, t2 = (np.zeros_like(p) for _ in range(4))

        def step(sq=sq, t1=t1, t2=t2, acc=acc, p=p):
            sq *= rho
            np.multiply(g, g, out=t1)
            t1 *= 1 - rho
            sq += t1
            np.add(sq, eps, out=t1)
            np.sqrt(t1, out=t1)
            np.add(acc, eps, out=t2)
            np.sqrt(t2, out=t2)
            t2 /= t1
            t2 *= g                               # delta
            acc *= rho
            np.multiply(t2, t2, out=t1)
            t1 *= 1 - rho
            acc += t1
            t2 *= lr
            p -= t2
        return step
    return naive, inplace
