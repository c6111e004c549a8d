"""Rprop: the reference rule (docs/optimizers.md#rprop)."""
import numpy as np

from ._common import sign


def rprop(p, g, prev, step_size, gscale, eta_minus, eta_plus, step_size_min, step_size_max,
          first, initial_step_size):
    if first:                                    # a group's first step: torch fills the
        step_size[...] = initial_step_size       # step sizes with lr then
    g = g * gscale                               # -1 for maximize
    prod = g * prev                              # its sign, not sign(g)*sign(prev): an
    factor = np.where(prod > 0, eta_plus,        # underflow to 0 counts as 0, as in torch
                      np.where(prod < 0, eta_minus, g.dtype.type(1)))
    step = step_size * factor
    step = np.where(step < step_size_min, step_size_min, step)     # torch.clamp (NaN stays)
    step = np.where(step > step_size_max, step_size_max, step)
    step_size[...] = step
    g = np.where(prod < 0, g.dtype.type(0), g)   # the sign flipped: no step, prev = 0
    p -= sign(g) * step
    prev[...] = g
