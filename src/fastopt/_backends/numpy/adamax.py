"""Adamax: the reference rule (docs/optimizers.md#adamax)."""
import numpy as np

from ._common import lerp


def adamax(p, g, exp_avg, exp_inf,
           gscale, weight_decay, one_minus_beta1, beta2, eps, clr):
    g = g * gscale                               # -1 for maximize
    if weight_decay != 0:
        g = g + weight_decay * p                 # L2 weight decay
    exp_avg[...] = lerp(exp_avg, g, one_minus_beta1)
    np.maximum(beta2 * exp_inf, np.abs(g) + eps, out=exp_inf)   # eps inside the max
    p -= (clr * exp_avg) / exp_inf               # clr = lr/(1 - beta1**t)
