"""ADOPT: the reference rule (docs/optimizers.md#adopt; optax.contrib.adopt)."""
import numpy as np


def adopt(p, g, exp_avg, exp_avg_sq, gscale, decay, weight_decay, eps, clip,
          one_minus_beta1, beta1, one_minus_beta2, beta2, lr, nesterov):
    g = g * gscale                               # -1 for maximize
    if weight_decay != 0:
        g = g + weight_decay * p                 # L2 weight decay
    p *= decay                                   # decoupled weight decay (decay = 1 - lr*wd)
    # normalised by the second moment of the steps before this one, then clipped (two
    # selects, as the compiled kernels: NaN stays NaN)
    n = g / np.maximum(np.sqrt(exp_avg_sq), eps)
    n = np.where(n < -clip, -clip, np.where(n > clip, clip, n))
    exp_avg[...] = one_minus_beta1 * n + beta1 * exp_avg
    exp_avg_sq[...] = one_minus_beta2 * (g * g) + beta2 * exp_avg_sq
    u = one_minus_beta1 * n + beta1 * exp_avg if nesterov != 0 else exp_avg
    p -= lr * u
