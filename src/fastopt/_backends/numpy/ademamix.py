"""AdEMAMix: the reference rule (docs/optimizers.md#ademamix; optax.contrib.ademamix)."""
import numpy as np


def ademamix(p, g, exp_avg_fast, exp_avg_slow, exp_avg_sq, gscale, decay, one_minus_beta1,
             beta1, one_minus_beta2, beta2, one_minus_beta3, beta3, alpha, bias_correction1,
             bias_correction2, eps, lr):
    g = g * gscale                               # -1 for maximize
    p *= decay                                   # decoupled weight decay (decay = 1 - lr*wd)
    exp_avg_fast[...] = one_minus_beta1 * g + beta1 * exp_avg_fast
    exp_avg_slow[...] = one_minus_beta3 * g + beta3 * exp_avg_slow
    exp_avg_sq[...] = one_minus_beta2 * (g * g) + beta2 * exp_avg_sq
    u = (exp_avg_fast / bias_correction1 + alpha * exp_avg_slow) / (
        np.sqrt(exp_avg_sq / bias_correction2) + eps)
    p -= lr * u
