"""Adagrad: the reference rule (docs/optimizers.md#adagrad)."""
import numpy as np


def adagrad(p, g, sum,                           # noqa: A002 (torch's name for the state)
            gscale, weight_decay, clr, eps):
    g = g * gscale                               # -1 for maximize
    if weight_decay != 0:
        g = g + weight_decay * p                 # L2 weight decay
    sum += g * g
    p -= (clr * g) / (np.sqrt(sum) + eps)        # clr = lr/(1 + (t-1)*lr_decay)
