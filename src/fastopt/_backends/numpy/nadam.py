"""NAdam: the reference rule (docs/optimizers.md#nadam), in torch's order of operations."""
import numpy as np

from ._common import lerp


def nadam(p, g, exp_avg, exp_avg_sq,
          gscale, decay, weight_decay, one_minus_beta1, beta2, one_minus_beta2,
          bias_correction2, eps, c_grad, c_avg):
    p *= decay                                   # decoupled weight decay (decay = 1 - lr*wd)
    g = g * gscale                               # -1 for maximize
    if weight_decay != 0:
        g = g + weight_decay * p                 # L2 weight decay
    exp_avg[...] = lerp(exp_avg, g, one_minus_beta1)
    exp_avg_sq[...] = beta2 * exp_avg_sq + one_minus_beta2 * g * g
    denom = np.sqrt(exp_avg_sq / bias_correction2) + eps
    p += c_grad * g / denom                      # c_grad = -lr*(1-mu_t)/(1-mu_product)
    p += c_avg * exp_avg / denom                 # c_avg = -lr*mu_t1/(1-mu_product*mu_t1)
