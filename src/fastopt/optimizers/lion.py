"""Lion (docs/optimizers.md#lion)."""
from __future__ import annotations

from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from ._docstrings import shared_parameters


@shared_parameters
class Lion(Optimizer):
    """Lion, EvoLved Sign Momentum (Chen et al., 2023), as optax.lion and keras Lion
    (torch.optim has none): the step is the sign of an interpolation of the momentum and
    the gradient, with decoupled weight decay.  Names and defaults follow optax
    (``betas=(0.9, 0.99)``), with torch's spelling (``lr``, ``betas``, ``weight_decay``,
    ``maximize``).  Lion wants a learning rate 3-10x smaller than AdamW's and a weight
    decay 3-10x larger.

    Each step (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        p = p*(1 - lr*weight_decay) - lr*sign(beta1*m + (1 - beta1)*g)
        m = beta2*m + (1 - beta2)*g

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#lion.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.0001
        The learning rate.
    betas : tuple of float, default (0.9, 0.99)
        ``(beta1, beta2)``: beta1 interpolates the momentum and the gradient for the
        step, beta2 updates the momentum; each in [0, 1).
    weight_decay : float, default 0.0
        Decoupled weight decay: ``p = p*(1 - lr*weight_decay)`` each step.
    %(maximize)s
    %(backend)s
    %(options)s
    """

    scalars_read_step = False
    kernel = Kernel("lion", buffers=("exp_avg",),
                    scalars=("decay", "beta1", "one_minus_beta1", "lr", "beta2",
                             "one_minus_beta2"))

    def __init__(self, params: Any, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay,
                                      maximize=maximize), backend, **options)

    hyperparameters = dict(lr=check.non_negative, betas=check.betas,
                           weight_decay=check.non_negative)

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        lr, (beta1, beta2) = h["lr"], h["betas"]
        return self.kernel.pack(decay=1.0 - lr * h["weight_decay"], beta1=beta1,
                                one_minus_beta1=1.0 - beta1, lr=lr, beta2=beta2,
                                one_minus_beta2=1.0 - beta2)
