"""Adagrad (docs/optimizers.md#adagrad)."""
from __future__ import annotations

from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from ._docstrings import shared_parameters


@shared_parameters
class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) with torch.optim.Adagrad's options, names and defaults.

    Each step t (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        g = g + weight_decay*p
        s = s + g*g
        p = p - (lr/(1 + (t - 1)*lr_decay))*g/(sqrt(s) + eps)

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#adagrad.

    The sum of squared gradients ``s`` starts at ``initial_accumulator_value``, read when
    the optimizer is built.  A param group's own ``initial_accumulator_value`` is used for
    its parameters (torch.optim.Adagrad fills every group's sum with the constructor's
    value and ignores the group's).

    Parameters
    ----------
    %(params)s
    lr : float, default 0.01
        The learning rate.
    lr_decay : float, default 0.0
        The step size at step t is ``lr/(1 + (t - 1)*lr_decay)``.
    weight_decay : float, default 0.0
        L2 penalty: ``weight_decay*p`` is added to the gradient.
    initial_accumulator_value : float, default 0.0
        The value the sum of squared gradients starts at (>= 0).
    eps : float, default 1e-10
        Added outside the square root (as torch).  Must be > 0.
    %(maximize)s
    %(backend)s
    %(options)s
    """

    kernel = Kernel("adagrad", buffers=("sum",), scalars=("weight_decay", "clr", "eps"),
                    nonnegative=("sum",))

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False, backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize), backend, **options)

    def _initial_value(self, group: dict[str, Any], name: str) -> float:
        return float(group["initial_accumulator_value"])

    # initial_accumulator_value is only read when the optimizer is built (_initial_value),
    # but it stays a checked hyperparameter of the group.
    hyperparameters = dict(lr=check.non_negative, lr_decay=check.non_negative,
                           weight_decay=check.non_negative,
                           initial_accumulator_value=check.non_negative, eps=check.positive)

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        clr = h["lr"] / (1 + (step - 1) * h["lr_decay"])      # torch's formula and order
        return self.kernel.pack(weight_decay=h["weight_decay"], clr=clr, eps=h["eps"])
