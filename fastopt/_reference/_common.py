"""Element rules shared by the reference optimizers."""
import numpy as np


def lerp(a, b, w):
    """a + w*(b - a) as torch.lerp computes it: from the nearer end, so w = 1 gives b."""
    if w < 0.5:
        return a + w * (b - a)
    return b - (b - a) * (w.dtype.type(1) - w)
