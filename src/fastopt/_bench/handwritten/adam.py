"""Adam, AMSGrad (``amsgrad=True``) and AdamW (decoupled weight decay): torch.optim.Adam."""
import functools
import math

import numpy as np

from .moments import moments_inplace


def adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
         decoupled_weight_decay=False):
    b1, b2 = betas
    wd, decoupled = weight_decay, decoupled_weight_decay

    def naive(p, g):
        m, v, vmax, t = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), 0

        def step():
            nonlocal m, v, vmax, t
            t += 1
            grad = g
            if wd and decoupled:
                p[...] = p - lr * wd * p
            elif wd:
                grad = g + wd * p
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad * grad
            if amsgrad:
                vmax = np.maximum(vmax, v)
            m_hat = m / (1 - b1 ** t)
            v_hat = (vmax if amsgrad else v) / (1 - b2 ** t)
            p[...] = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        return step

    def inplace(p, g):
        m, v, tmp = np.zeros_like(p), np.zeros_like(p), np.empty_like(p)
        vmax = np.zeros_like(p) if amsgrad else None
        gw = np.empty_like(p) if wd and not decoupled else None
        t = 0

        def step(p=p, gw=gw, m=m, v=v, tmp=tmp):
            nonlocal t
            t += 1
            grad = g
            if wd and decoupled:
                p *= 1 - lr * wd
            elif wd:
                np.multiply(p, wd, out=gw)
                gw += g
                grad = gw
            moments_inplace(m, v, grad, b1, b2, tmp)
            d = v
            if amsgrad:
                np.maximum(vmax, v, out=vmax)
                d = vmax
            np.sqrt(d, out=tmp)
            tmp /= math.sqrt(1 - b2 ** t)
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= lr / (1 - b1 ** t)
            p -= tmp
        return step
    return naive, inplace


adamw = functools.partial(adam, weight_decay=1e-2, decoupled_weight_decay=True)
