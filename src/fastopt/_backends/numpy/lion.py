"""Lion: the reference rule (docs/optimizers.md#lion; optax.lion)."""
from ._common import sign_nan


def lion(p, g, exp_avg, gscale, decay, beta1, one_minus_beta1, lr, beta2, one_minus_beta2):
    g = g * gscale                               # -1 for maximize
    p *= decay                                   # decoupled weight decay (decay = 1 - lr*wd)
    p -= lr * sign_nan(beta1 * exp_avg + one_minus_beta1 * g)
    exp_avg[...] = beta2 * exp_avg + one_minus_beta2 * g
