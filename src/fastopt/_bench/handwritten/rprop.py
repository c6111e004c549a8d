"""Rprop: torch.optim.Rprop (step sizes start at lr; the step's scalars in p's dtype, as
torch computes with them)."""
import numpy as np


def rprop(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50)):
    def scalars(p):
        """(eta_minus, eta_plus, smallest step size, largest) in p's dtype."""
        dt = p.dtype.type
        return dt(etas[0]), dt(etas[1]), dt(step_sizes[0]), dt(step_sizes[1])

    def naive(p, g):
        eta_minus, eta_plus, lo, hi = scalars(p)
        one = p.dtype.type(1)
        prev, size = np.zeros_like(p), np.full_like(p, lr)

        def step():
            nonlocal prev, size
            sign = np.sign(g * prev)
            factor = np.where(sign > 0, eta_plus, np.where(sign < 0, eta_minus, one))
            size = np.clip(size * factor, lo, hi)
            grad = np.where(sign < 0, p.dtype.type(0), g)
            p[...] = p - np.sign(grad) * size
            prev = grad
        return step

    def inplace(p, g):
        eta_minus, eta_plus, lo, hi = scalars(p)
        prev, size = np.zeros_like(p), np.full_like(p, lr)
        t1, t2, mask = np.empty_like(p), np.empty_like(p), np.empty(p.shape, bool)

        def step(size=size, t1=t1, p=p):
            np.multiply(g, prev, out=t1)
            t2.fill(1)
            np.greater(t1, 0, out=mask)
            np.copyto(t2, eta_plus, where=mask)
            np.less(t1, 0, out=mask)
            np.copyto(t2, eta_minus, where=mask)
            size *= t2
            np.clip(size, lo, hi, out=size)
            np.copyto(prev, g)
            np.copyto(prev, 0, where=mask)
            np.sign(prev, out=t1)
            t1 *= size
            p -= t1
        return step
    return naive, inplace
