"""NAdam: torch.optim.NAdam (Nesterov momentum with momentum decay)."""
import numpy as np

from .moments import moments_inplace


def nadam(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, momentum_decay=4e-3):
    b1, b2 = betas

    def scalars(t, mu_prod):
        """Step t's (bias correction of v, coefficient of g, coefficient of m, new mu_prod)."""
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_prod *= mu
        c_grad = lr * (1 - mu) / (1 - mu_prod)
        c_avg = lr * mu_next / (1 - mu_prod * mu_next)
        return 1 - b2 ** t, c_grad, c_avg, mu_prod

    def naive(p, g):
        m, v, t, mu_prod = np.zeros_like(p), np.zeros_like(p), 0, 1.0

        def step():
            nonlocal m, v, t, mu_prod
            t += 1
            bc2, c_grad, c_avg, mu_prod = scalars(t, mu_prod)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            denom = np.sqrt(v / bc2) + eps
            p[...] = p - c_grad * g / denom - c_avg * m / denom
        return step

    def inplace(p, g):
        m, v, tmp, t2 = np.zeros_like(p), np.zeros_like(p), np.empty_like(p), np.empty_like(p)
        t, mu_prod = 0, 1.0

        def step(m=m, v=v, tmp=tmp, t2=t2, p=p):
            nonlocal t, mu_prod
            t += 1
            bc2, c_grad, c_avg, mu_prod = scalars(t, mu_prod)
            moments_inplace(m, v, g, b1, b2, tmp)
            np.divide(v, bc2, out=tmp)
            np.sqrt(tmp, out=tmp)
            tmp += eps
            np.divide(g, tmp, out=t2)
            t2 *= c_grad
            p -= t2
            np.divide(m, tmp, out=t2)
            t2 *= c_avg
            p -= t2
        return step
    return naive, inplace
