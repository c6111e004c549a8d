"""ASGD: the reference rule (docs/optimizers.md#asgd), in torch's order of operations."""
import numpy as np


def asgd(p, g, ax, gscale, weight_decay, decay, eta, mu):
    g = g * gscale                               # -1 for maximize
    if weight_decay != 0:
        g = g + weight_decay * p                 # L2 weight decay
    p *= decay                                   # decay = 1 - lambd*eta
    p -= eta * g
    if mu != 1:
        ax += (p - ax) * mu
    else:
        np.copyto(ax, p)                         # before t0: ax is the iterate itself
