"""Adam, AdamW and AMSGrad: the reference rule (docs/optimizers.md#adam)."""
import numpy as np

from ._common import lerp


def adam(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq,
         gscale, decay, weight_decay, one_minus_beta1, beta2, one_minus_beta2,
         bias_correction2_sqrt, eps, step_size, amsgrad):
    p *= decay                                   # decoupled weight decay (decay = 1 - lr*wd)
    g = g * gscale                               # -1 for maximize
    if weight_decay != 0:
        g = g + weight_decay * p                 # L2 weight decay
    exp_avg[...] = lerp(exp_avg, g, one_minus_beta1)
    exp_avg_sq[...] = beta2 * exp_avg_sq + one_minus_beta2 * g * g
    d = exp_avg_sq
    if amsgrad:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        d = max_exp_avg_sq
    p -= step_size * (exp_avg / (np.sqrt(d) / bias_correction2_sqrt + eps))
