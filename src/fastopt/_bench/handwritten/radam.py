"""RAdam: torch.optim.RAdam (bias-corrected momentum SGD while rho_t <= 5, then the
rectified Adam step with eps added to the uncorrected sqrt(v))."""
import math

import numpy as np

from .moments import moments_inplace


def radam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    rho_inf = 2 / (1 - b2) - 1

    def scalars(t):
        """Step t's bias corrections and rectification (None while rho_t <= 5)."""
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        rho_t = rho_inf - 2 * t * b2 ** t / bc2
        rect = None
        if rho_t > 5:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return bc1, bc2, rect

    def naive(p, g):
        m, v, t = np.zeros_like(p), np.zeros_like(p), 0

        def step():
            nonlocal m, v, t
            t += 1
            bc1, bc2, rect = scalars(t)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            m_hat = m / bc1
            if rect is None:
                p[...] = p - lr * m_hat
            else:
                p[...] = p - lr * m_hat * rect * math.sqrt(bc2) / (np.sqrt(v) + eps)
        return step

    def inplace(p, g):
        m, v, tmp, t = np.zeros_like(p), np.zeros_like(p), np.empty_like(p), 0

        def step(m=m, v=v, tmp=tmp, p=p):
            nonlocal t
            t += 1
            bc1, bc2, rect = scalars(t)
            moments_inplace(m, v, g, b1, b2, tmp)
            if rect is None:
                np.multiply(m, lr / bc1, out=tmp)
            else:
                np.sqrt(v, out=tmp)
                tmp += eps
                np.divide(m, tmp, out=tmp)
                tmp *= lr / bc1 * rect * math.sqrt(bc2)
            p -= tmp
        return step
    return naive, inplace
