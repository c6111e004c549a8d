"""RAdam (docs/optimizers.md#radam)."""
from __future__ import annotations

from typing import Any

from .. import _checks as check
from .._optimizer import Optimizer


class RAdam(Optimizer):
    """Adam with the variance rectification of Liu et al. (2020), with torch.optim.RAdam's
    options, names and defaults.  While the variance is not yet tractable (rho_t <= 5)
    the step is plain momentum SGD with bias correction.  ``decoupled_weight_decay=True``
    gives RAdamW."""

    kernel = "radam"
    buffers = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False,
                 backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize), backend, **options)

    def _check(self, gi: int, group: dict[str, Any]) -> dict[str, Any]:
        return dict(lr=check.non_negative("lr", group["lr"]),
                    betas=check.betas(group["betas"]),
                    eps=check.positive("eps", group["eps"]),
                    weight_decay=check.non_negative("weight_decay", group["weight_decay"]),
                    decoupled_weight_decay=check.flag("decoupled_weight_decay",
                                                      group["decoupled_weight_decay"]))

    def _scalars(self, gi: int, h: dict[str, Any], step: int) -> tuple[float, ...]:
        lr, (beta1, beta2), eps, wd = h["lr"], h["betas"], h["eps"], h["weight_decay"]
        decoupled = h["decoupled_weight_decay"]
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2 = 1.0 - beta2 ** step
        # torch's arithmetic, in its order
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            rectified = 1.0
        else:
            rect = rectified = 0.0
        return (1.0 - lr * wd if decoupled else 1.0,
                0.0 if decoupled else wd,
                1.0 - beta1, beta2, 1.0 - beta2,
                bias_correction1, lr, bias_correction2 ** 0.5, eps, rect, rectified)
