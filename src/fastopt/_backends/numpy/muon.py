"""Muon's element-wise passes: the reference rule (docs/optimizers.md#muon;
torch.optim.Muon).  The Newton-Schulz orthogonalisation between them is the optimizer's
own (fastopt/optimizers/muon.py), the same for every backend."""
from ._common import lerp


def muon_momentum(p, g, momentum_buffer, orthogonal, gscale, momentum, one_minus_momentum,
                  nesterov, decay, lr, ns_a, ns_b, ns_c, eps, ns_steps, adjust_lr):
    g = g * gscale                               # -1 for maximize
    momentum_buffer[...] = lerp(momentum_buffer, g, one_minus_momentum)
    orthogonal[...] = lerp(g, momentum_buffer, momentum) if nesterov else momentum_buffer


def muon_update(p, g, momentum_buffer, orthogonal, gscale, momentum, one_minus_momentum,
                nesterov, decay, lr, ns_a, ns_b, ns_c, eps, ns_steps, adjust_lr, seg_in):
    adjusted_lr = p.dtype.type(seg_in[0])        # lr * the shape's ratio, per tensor
    p *= decay                                   # decoupled weight decay (1 - lr*wd)
    p -= adjusted_lr * orthogonal
