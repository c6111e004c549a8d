"""Adadelta (docs/optimizers.md#adadelta)."""
from __future__ import annotations

from typing import Any

from .. import _checks as check
from .._optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012) with torch.optim.Adadelta's options, names and defaults
    (eps inside both square roots; ``lr`` scales the step, 1.0 by default)."""

    kernel = "adadelta"
    buffers = ("square_avg", "acc_delta")

    def __init__(self, params: Any, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize), backend, **options)

    def _check(self, gi: int, group: dict[str, Any]) -> dict[str, Any]:
        return dict(lr=check.non_negative("lr", group["lr"]),
                    rho=check.unit_interval("rho", group["rho"], closed=True),
                    eps=check.positive("eps", group["eps"]),
                    weight_decay=check.non_negative("weight_decay", group["weight_decay"]))

    def _scalars(self, gi: int, h: dict[str, Any], step: int) -> tuple[float, ...]:
        rho = h["rho"]
        return (h["weight_decay"], rho, 1.0 - rho, h["eps"], h["lr"])
