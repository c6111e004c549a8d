"""RMSprop: the reference rule (docs/optimizers.md#rmsprop)."""
import numpy as np

from ._common import lerp


def rmsprop(p, g, square_avg, grad_avg, momentum_buffer,
            gscale, weight_decay, alpha, one_minus_alpha, eps, lr, momentum, centered,
            use_momentum):
    g = g * gscale                               # -1 for maximize
    if weight_decay != 0:
        g = g + weight_decay * p                 # L2 weight decay
    square_avg[...] = alpha * square_avg + one_minus_alpha * g * g
    if centered:
        grad_avg[...] = lerp(grad_avg, g, one_minus_alpha)
        avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = np.sqrt(square_avg) + eps          # eps outside the root, no bias correction
    if use_momentum:
        momentum_buffer[...] = momentum * momentum_buffer + g / avg
        p -= lr * momentum_buffer
    else:
        p -= (lr * g) / avg
