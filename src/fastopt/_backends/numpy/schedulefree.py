"""Schedule-Free AdamW and SGD: the reference rules (docs/optimizers.md#schedulefreeadamw; the
schedulefree package's AdamWScheduleFree and SGDScheduleFree), and the train/eval switch."""
import numpy as np

from ._common import lerp


def _average_and_base(p, z, u, ckp1, y_step, lr, first):
    if first != 0:
        np.copyto(z, p)                          # z starts at the first step's y
    p[...] = lerp(p, z, ckp1)
    p += y_step * u                              # y_step = lr*(beta1*(1 - ckp1) - 1)
    z -= lr * u


def schedulefree_adamw(p, g, z, exp_avg_sq, gscale, one_minus_beta2, beta2, bias_correction2,
                       eps, weight_decay, ckp1, y_step, lr, first):
    g = g * gscale                               # -1 for maximize
    exp_avg_sq[...] = beta2 * exp_avg_sq + one_minus_beta2 * g * g
    u = g / (np.sqrt(exp_avg_sq / bias_correction2) + eps)
    if weight_decay != 0:
        u = u + weight_decay * p                 # decay at y
    _average_and_base(p, z, u, ckp1, y_step, lr, first)


def schedulefree_sgd(p, g, z, gscale, weight_decay, ckp1, y_step, lr, first):
    u = g * gscale
    if weight_decay != 0:
        u = u + weight_decay * p
    _average_and_base(p, z, u, ckp1, y_step, lr, first)


def schedulefree_swap(p, g, z, weight):
    """train(): weight = 1 - beta1 (x to y); eval(): 1 - 1/beta1 (y to x)."""
    p[...] = lerp(p, z, weight)
