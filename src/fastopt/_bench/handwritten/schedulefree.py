"""Schedule-Free AdamW and SGD: the schedulefree package's AdamWScheduleFree and
SGDScheduleFree (train mode), without warmup or weight decay."""
import numpy as np


def _averaging(lr, r, weight_lr_power):
    """ckp1 of each step: the package's weight of the step in the average."""
    state = {"weight_sum": 0.0, "k": 0}

    def next_ckp1():
        state["k"] += 1
        weight = state["k"] ** r * lr ** weight_lr_power
        state["weight_sum"] += weight
        return weight / state["weight_sum"] if state["weight_sum"] else 0.0
    return next_ckp1


def schedulefree_adamw(lr=0.0025, betas=(0.9, 0.999), eps=1e-8, r=0.0, weight_lr_power=2.0):
    b1, b2 = betas

    def naive(p, g):
        z, v, t = p.copy(), np.zeros_like(p), 0
        ckp1_of = _averaging(lr, r, weight_lr_power)

        def step():
            nonlocal z, v, t
            t += 1
            ckp1 = ckp1_of()
            v = b2 * v + (1 - b2) * g * g
            u = g / (np.sqrt(v / (1 - b2 ** t)) + eps)
            p[...] = p + ckp1 * (z - p) + lr * (b1 * (1 - ckp1) - 1) * u
            z = z - lr * u
        return step

    def inplace(p, g):
        z, v, u, tmp, t = p.copy(), np.zeros_like(p), np.empty_like(p), np.empty_like(p), 0
        ckp1_of = _averaging(lr, r, weight_lr_power)

        def step(z=z, v=v, u=u, tmp=tmp, p=p):
            nonlocal t
            t += 1
            ckp1 = ckp1_of()
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            np.divide(v, 1 - b2 ** t, out=u)
            np.sqrt(u, out=u)
            u += eps
            np.divide(g, u, out=u)
            np.subtract(z, p, out=tmp)
            tmp *= ckp1
            p += tmp
            np.multiply(u, lr * (b1 * (1 - ckp1) - 1), out=tmp)
            p += tmp
            u *= lr
            z -= u
        return step
    return naive, inplace


def schedulefree_sgd(lr=1.0, momentum=0.9, r=0.0, weight_lr_power=2.0):

    def naive(p, g):
        z = p.copy()
        ckp1_of = _averaging(lr, r, weight_lr_power)

        def step():
            nonlocal z
            ckp1 = ckp1_of()
            p[...] = p + ckp1 * (z - p) + lr * (momentum * (1 - ckp1) - 1) * g
            z = z - lr * g
        return step

    def inplace(p, g):
        z, tmp = p.copy(), np.empty_like(p)
        ckp1_of = _averaging(lr, r, weight_lr_power)

        def step(z=z, tmp=tmp, p=p):
            ckp1 = ckp1_of()
            np.subtract(z, p, out=tmp)
            tmp *= ckp1
            p += tmp
            np.multiply(g, lr * (momentum * (1 - ckp1) - 1), out=tmp)
            p += tmp
            np.multiply(g, lr, out=tmp)
            z -= tmp
        return step
    return naive, inplace
