"""Element rules shared by the reference optimizers."""
import numpy as np


def lerp(a, b, w):
    """a + w*(b - a) as torch.lerp computes it: from the nearer end, so w = 1 gives b."""
    if w < 0.5:
        return a + w * (b - a)
    return b - (b - a) * (w.dtype.type(1) - w)


def sign(x):
    """torch.sign: 1, -1, or +0 for a zero of either sign and for NaN."""
    return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


def sign_nan(x):
    """np.sign / jnp.sign: 1, -1, +0 for a zero of either sign, NaN for NaN."""
    return np.sign(x)
