"""RAdam: the reference rule (docs/optimizers.md#radam), in torch's order of operations."""
import numpy as np

from ._common import lerp


def radam(p, g, exp_avg, exp_avg_sq,
          gscale, decay, weight_decay, one_minus_beta1, beta2, one_minus_beta2,
          bias_correction1, lr, bias_correction2_sqrt, eps, rect, rectified):
    p *= decay                                   # decoupled weight decay (decay = 1 - lr*wd)
    g = g * gscale                               # -1 for maximize
    if weight_decay != 0:
        g = g + weight_decay * p                 # L2 weight decay
    exp_avg[...] = lerp(exp_avg, g, one_minus_beta1)
    exp_avg_sq[...] = beta2 * exp_avg_sq + one_minus_beta2 * g * g
    m_hat_lr = exp_avg / bias_correction1 * lr
    if rectified:                                # rho_t > 5
        # torch computes sqrt(bc2)/x as reciprocal(x)*sqrt(bc2)
        adaptive = 1 / (np.sqrt(exp_avg_sq) + eps) * bias_correction2_sqrt
        p -= m_hat_lr * adaptive * rect
    else:
        p -= m_hat_lr
