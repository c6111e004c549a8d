"""SGD with optional momentum: torch.optim.SGD (no dampening, no Nesterov)."""
import numpy as np


def sgd(lr=1e-3, momentum=0.0):
    def naive(p, g):
        buf = None

        def step():
            nonlocal buf
            d = g
            if momentum:
                buf = g.copy() if buf is None else momentum * buf + g
                d = buf
            p[...] = p - lr * d
        return step

    def inplace(p, g):
        buf, tmp, started = np.empty_like(p), np.empty_like(p), False

        def step(buf=buf, p=p):
            nonlocal started
            d = g
            if momentum:
                if started:
                    buf *= momentum
                    buf += g
                else:
                    np.copyto(buf, g)
                    started = True
                d = buf
            np.multiply(d, lr, out=tmp)
            p -= tmp
        return step
    return naive, inplace
