"""Adam, AdamW and AMSGrad (docs/optimizers.md#adam)."""
from __future__ import annotations

from typing import Any

from .. import _checks as check
from .._optimizer import Optimizer
from .._params import ParamsLike


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with torch.optim.Adam's options, names and defaults.

    ``decoupled_weight_decay=True`` gives AdamW; ``amsgrad=True`` keeps the running
    maximum of the second moment.  ``**options`` (``max_grad_norm``, ``nonfinite``) are
    the base class's: see :class:`fastopt.Optimizer`.
    """

    kernel = "adam"
    buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    structural = ("amsgrad",)

    def __init__(self, params: ParamsLike, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False,
                 backend: str | None = None, **options: Any) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay), backend,
                         **options)

    def _live_buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self.buffers if group["amsgrad"] else self.buffers[:2]

    def _check(self, gi: int, group: dict[str, Any]) -> dict[str, Any]:
        return dict(lr=check.non_negative("lr", group["lr"]),
                    betas=check.betas(group["betas"]),
                    eps=check.positive("eps", group["eps"]),
                    weight_decay=check.non_negative("weight_decay", group["weight_decay"]),
                    amsgrad=check.flag("amsgrad", group["amsgrad"]),
                    decoupled_weight_decay=check.flag("decoupled_weight_decay",
                                                      group["decoupled_weight_decay"]))

    def _scalars(self, gi: int, h: dict[str, Any], step: int) -> tuple[float, ...]:
        lr, (beta1, beta2), eps, wd = h["lr"], h["betas"], h["eps"], h["weight_decay"]
        decoupled = h["decoupled_weight_decay"]
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2 = 1.0 - beta2 ** step
        return (1.0 - lr * wd if decoupled else 1.0,
                0.0 if decoupled else wd,
                1.0 - beta1, beta2, 1.0 - beta2,
                bias_correction2 ** 0.5, eps, lr / bias_correction1,
                1.0 if h["amsgrad"] else 0.0)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as torch.optim.AdamW."""

    def __init__(self, params: ParamsLike, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = True,
                 backend: str | None = None, **options: Any) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=decoupled_weight_decay, backend=backend,
                         **options)
