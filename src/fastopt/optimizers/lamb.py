"""LAMB (docs/optimizers.md#lamb)."""
from __future__ import annotations

from typing import Any

from .. import _checks as check
from .. import _kernels
from .._optimizer import Optimizer


class Lamb(Optimizer):
    """LAMB, layer-wise adaptive moments (You et al., 2019), as optax.lamb (torch.optim
    has none): an Adam direction plus decoupled weight decay, scaled per parameter array
    by the trust ratio ||p|| / ||u|| (1 where either norm is 0).  "Per parameter array"
    means each array as the user gave it, also inside a ``FlatParams`` buffer.

    The norms are summed in float64 over fixed chunks, so they are bitwise the same for
    any thread count.  Each step makes two passes over memory: the moments and the
    norms' partial sums, then the update.  Defaults: optax's, except ``weight_decay=0``.
    """

    kernel = "lamb_moments"      # and "lamb_update": a step is two kernel calls (_bind)
    buffers = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.0, *, maximize: bool = False,
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
        return (1.0 - beta1, beta1, 1.0 - beta2, beta2, 1.0 - beta1 ** step,
                1.0 - beta2 ** step, h["eps"], h["weight_decay"], h["lr"])

    def _bind(self, module: Any, plan: Any) -> Any:
        moments, _, partial = plan.bind(module, "lamb_moments", 0, 2)
        update, lr_ratio, _ = plan.bind(module, "lamb_update", 1, 0)
        return moments, update, partial, lr_ratio, plan.chunks

    def _run(self, scalars: list[tuple[float, ...]], step: int) -> None:
        for (moments, update, partial, lr_ratio, chunks), s in zip(self._runs, scalars):
            moments(s)
            # Per tensor: the norms from its chunks' partial sums (in chunk order, float64),
            # and lr * ||p|| / ||u|| (lr where either norm is 0) for the update pass.
            _kernels.trust_ratios(chunks, partial, s[-1], lr_ratio)
            update(s)
