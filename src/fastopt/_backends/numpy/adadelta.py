"""Adadelta: the reference rule (docs/optimizers.md#adadelta)."""
import numpy as np


def adadelta(p, g, square_avg, acc_delta,
             gscale, weight_decay, rho, one_minus_rho, eps, lr):
    g = g * gscale                               # -1 for maximize
    if weight_decay != 0:
        g = g + weight_decay * p                 # L2 weight decay
    square_avg[...] = rho * square_avg + one_minus_rho * g * g
    delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * g   # eps inside both
    acc_delta[...] = rho * acc_delta + one_minus_rho * delta * delta
    p -= lr * delta
