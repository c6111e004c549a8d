"""Adamax (docs/optimizers.md#adamax)."""
from __future__ import annotations

from typing import Any

from .. import _checks as check
from .._optimizer import Optimizer


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2015, section 7.1) with torch.optim.Adamax's options, names and
    defaults: the second moment is replaced by an exponentially weighted infinity norm
    ``u = max(beta2*u, |g| + eps)`` (eps inside the max, as torch)."""

    kernel = "adamax"
    buffers = ("exp_avg", "exp_inf")

    def __init__(self, params: Any, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, maximize: bool = False,
                 backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize), backend, **options)

    def _check(self, gi: int, group: dict[str, Any]) -> dict[str, Any]:
        return dict(lr=check.non_negative("lr", group["lr"]),
                    betas=check.betas(group["betas"]),
                    eps=check.positive("eps", group["eps"]),
                    weight_decay=check.non_negative("weight_decay", group["weight_decay"]))

    def _scalars(self, gi: int, h: dict[str, Any], step: int) -> tuple[float, ...]:
        beta1, beta2 = h["betas"]
        clr = h["lr"] / (1.0 - beta1 ** step)
        return (h["weight_decay"], 1.0 - beta1, beta2, h["eps"], clr)
