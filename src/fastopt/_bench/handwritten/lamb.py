"""LAMB: optax.lamb (Adam's update plus decoupled weight decay, scaled by the trust ratio
‖p‖/‖update‖ of each parameter array)."""
import math

import numpy as np

from .moments import moments_inplace


def trust(w_norm, r_norm):
    """The trust ratio, 1 where either norm is 0."""
    return w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0


def lamb(lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0):
    b1, b2 = betas
    wd = weight_decay

    def naive(p, g):
        m, v, t = np.zeros_like(p), np.zeros_like(p), 0

        def step():
            nonlocal m, v, t
            t += 1
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            r = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps) + wd * p
            p[...] = p - lr * trust(np.linalg.norm(p), np.linalg.norm(r)) * r
        return step

    def inplace(p, g):
        m, v, tmp, t = np.zeros_like(p), np.zeros_like(p), np.empty_like(p), 0
        flat_p, flat_tmp = p.reshape(-1), tmp.reshape(-1)

        def step(m=m, v=v, tmp=tmp, p=p):
            nonlocal t
            t += 1
            moments_inplace(m, v, g, b1, b2, tmp)
            np.sqrt(v, out=tmp)
            tmp /= math.sqrt(1 - b2 ** t)
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= 1 / (1 - b1 ** t)
            if wd:
                tmp += wd * p
            w_norm = math.sqrt(float(np.dot(flat_p, flat_p)))
            r_norm = math.sqrt(float(np.dot(flat_tmp, flat_tmp)))
            tmp *= lr * trust(w_norm, r_norm)
            p -= tmp
        return step
    return naive, inplace
