"""AdEMAMix: optax.contrib.ademamix (Adam's step plus alpha times a slow average over the
same denominator), without warmups or weight decay."""
import numpy as np


def ademamix(lr=1e-3, betas=(0.9, 0.999, 0.9999), alpha=5.0, eps=1e-8):
    b1, b2, b3 = betas

    def naive(p, g):
        m1, m2, v, t = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), 0

        def step():
            nonlocal m1, m2, v, t
            t += 1
            m1 = b1 * m1 + (1 - b1) * g
            m2 = b3 * m2 + (1 - b3) * g
            v = b2 * v + (1 - b2) * g * g
            p[...] = p - lr * (m1 / (1 - b1 ** t) + alpha * m2) / (
                np.sqrt(v / (1 - b2 ** t)) + eps)
        return step

    def inplace(p, g):
        m1, m2, v = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
        num, den, tmp = np.empty_like(p), np.empty_like(p), np.empty_like(p)
        t = 0

        def step(m1=m1, m2=m2, v=v, num=num, den=den, tmp=tmp, p=p):
            nonlocal t
            t += 1
            for m, b in ((m1, b1), (m2, b3)):
                m *= b
                np.multiply(g, 1 - b, out=num)
                m += num
            v *= b2
            np.multiply(g, g, out=num)
            num *= 1 - b2
            v += num
            np.divide(v, 1 - b2 ** t, out=den)
            np.sqrt(den, out=den)
            den += eps
            np.multiply(m2, alpha, out=num)
            np.divide(m1, 1 - b1 ** t, out=tmp)
            num += tmp
            num /= den
            num *= lr
            p -= num
        return step
    return naive, inplace
