"""Adagrad: the reference rule (docs/optimizers.md#adagrad)."""
import numpy as np


def adagrad(p, g, state_sum,
            gscale, weight_decay, clr, eps):
    g = g * gscale                               # -1 for maximize
    if weight_decay != 0:
        g = g + weight_decay * p                 # L2 weight decay
    state_sum += g * g
    p -= (clr * g) / (np.sqrt(state_sum) + eps)  # clr = lr/(1 + (t-1)*lr_decay)
