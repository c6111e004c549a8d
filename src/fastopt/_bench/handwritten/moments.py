"""Adam's two moving averages updated in place, m of the gradient and v of its square: the
same in Adam, NAdam, RAdam and LAMB."""
import numpy as np


def moments_inplace(m, v, g, b1, b2, tmp):
    """m = b1*m + (1-b1)*g and v = b2*v + (1-b2)*g*g in place, through the scratch ``tmp``."""
    m *= b1
    np.multiply(g, 1 - b1, out=tmp)
    m += tmp
    v *= b2
    np.multiply(g, g, out=tmp)
    tmp *= 1 - b2
    v += tmp
