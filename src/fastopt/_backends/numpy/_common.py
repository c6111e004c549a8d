"""Rules shared by the reference optimizers: element rules, and the order of the float64
sums that the compiled kernels make."""
import numpy as np

#: Lanes of a float64 sum, as the compiled kernels keep them (../cython/math.pxi).
LANES = 16


def lane_sums(terms):
    """Sum float64 ``terms`` over the last axis as the compiled kernels do: element i into
    lane i % 16, each lane in element order, then the lanes folded pairwise (lane k +=
    lane k+8, k+4, k+2, k+1).  Zeros pad the last block: +0.0 changes no lane (a lane
    starts at +0.0).  One sum per leading index (0.0 for an empty last axis)."""
    lead, n = terms.shape[:-1], terms.shape[-1]
    if n == 0:
        return np.zeros(lead)
    pad = -n % LANES
    if pad:
        terms = np.concatenate([terms, np.zeros(lead + (pad,))], axis=-1)
    # accumulate adds strictly in order (a reduce may pair the terms up)
    acc = np.add.accumulate(terms.reshape(lead + (-1, LANES)), axis=-2)[..., -1, :]
    w = LANES // 2
    while w:
        acc = acc[..., :w] + acc[..., w:2 * w]
        w //= 2
    return acc[..., 0]


def ordered_sum(terms, axis=-1):
    """The float64 sum of ``terms`` along ``axis`` added one after the other, in order
    (non-empty axis)."""
    return np.take(np.add.accumulate(terms, axis=axis), -1, axis=axis)


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
