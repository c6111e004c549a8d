"""Adam's two moving averages, m of the gradient and v of its square: the same in Adam,
NAdam, RAdam and LAMB."""
import numpy as np


def moments(m, v, g, b1, b2):
    """The new (m, v), allocated."""
    return b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g


def moments_inplace(m, v, g, b1, b2, tmp):
    """m and v updated in place, through the scratch buffer ``tmp``."""
    m *= b1
    np.multiply(g, 1 - b1, out=tmp)
    m += tmp
    v *= b2
    np.multiply(g, g, out=tmp)
    tmp *= 1 - b2
    v += tmp
