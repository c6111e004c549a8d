"""SGD with momentum, dampening and Nesterov: the reference rule (docs/optimizers.md#sgd)."""


def sgd(p, g, momentum_buffer,
        gscale, weight_decay, lr, momentum, one_minus_dampening, use_momentum, first,
        nesterov):
    g = g * gscale                               # -1 for maximize
    if weight_decay != 0:
        g = g + weight_decay * p                 # L2 weight decay
    if use_momentum:
        if first:                                # torch: buf = g.clone() on the first step
            momentum_buffer[...] = g
        else:
            momentum_buffer[...] = momentum * momentum_buffer + one_minus_dampening * g
        if nesterov:
            g = g + momentum * momentum_buffer
        else:
            g = momentum_buffer
    p -= lr * g
