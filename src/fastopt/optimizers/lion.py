"""Lion (docs/optimizers.md#lion)."""
from __future__ import annotations

from typing import Any

from .. import _checks as check
from .._optimizer import Optimizer


class Lion(Optimizer):
    """Lion, EvoLved Sign Momentum (Chen et al., 2023), as optax.lion and keras Lion
    (torch.optim has none): the step is the sign of an interpolation of the momentum and
    the gradient, with decoupled weight decay.  Names and defaults follow optax
    (``betas=(0.9, 0.99)``), with torch's spelling (``lr``, ``betas``, ``weight_decay``,
    ``maximize``).  Lion wants a learning rate 3-10x smaller than AdamW's and a weight
    decay 3-10x larger."""

    kernel = "lion"
    buffers = ("exp_avg",)

    def __init__(self, params: Any, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay,
                                      maximize=maximize), backend, **options)

    def _check(self, gi: int, group: dict[str, Any]) -> dict[str, Any]:
        return dict(lr=check.non_negative("lr", group["lr"]),
                    betas=check.betas(group["betas"]),
                    weight_decay=check.non_negative("weight_decay", group["weight_decay"]))

    def _scalars(self, gi: int, h: dict[str, Any], step: int) -> tuple[float, ...]:
        lr, (beta1, beta2) = h["lr"], h["betas"]
        return 1.0 - lr * h["weight_decay"], beta1, 1.0 - beta1, lr, beta2, 1.0 - beta2
