"""Adagrad (docs/optimizers.md#adagrad)."""
from __future__ import annotations

from typing import Any

from .. import _checks as check
from .._optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) with torch.optim.Adagrad's options, names and defaults.

    The step size at step t is ``lr/(1 + (t-1)*lr_decay)``; the sum of squared gradients
    starts at ``initial_accumulator_value``, read when the optimizer is built.  A param
    group's own ``initial_accumulator_value`` is used for its parameters (torch.optim.Adagrad
    fills every group's sum with the constructor's value and ignores the group's).
    """

    kernel = "adagrad"
    buffers = ("sum",)

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False, backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize), backend, **options)

    def _initial_value(self, group: dict[str, Any], name: str) -> float:
        return float(group["initial_accumulator_value"])

    def _check(self, gi: int, group: dict[str, Any]) -> dict[str, Any]:
        # initial_accumulator_value is only read when the optimizer is built
        # (_initial_value), but it stays a checked hyperparameter of the group.
        return dict(lr=check.non_negative("lr", group["lr"]),
                    lr_decay=check.non_negative("lr_decay", group["lr_decay"]),
                    weight_decay=check.non_negative("weight_decay", group["weight_decay"]),
                    initial_accumulator_value=check.non_negative(
                        "initial_accumulator_value", group["initial_accumulator_value"]),
                    eps=check.positive("eps", group["eps"]))

    def _scalars(self, gi: int, h: dict[str, Any], step: int) -> tuple[float, ...]:
        clr = h["lr"] / (1 + (step - 1) * h["lr_decay"])      # torch's formula and order
        return (h["weight_decay"], clr, h["eps"])
