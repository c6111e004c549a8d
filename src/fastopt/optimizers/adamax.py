"""Adamax (docs/optimizers.md#adamax)."""
from __future__ import annotations

from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from ._docstrings import shared_parameters


@shared_parameters
class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2015, section 7.1) with torch.optim.Adamax's options, names and
    defaults: the second moment is replaced by an exponentially weighted infinity norm.

    Each step t (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        g = g + weight_decay*p
        m = lerp(m, g, 1 - beta1)
        u = max(beta2*u, |g| + eps)
        p = p - (lr/(1 - beta1**t))*m/u

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#adamax.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.002
        The learning rate.
    betas : tuple of float, default (0.9, 0.999)
        ``(beta1, beta2)``: the decay rates of the gradient's moving average and of the
        infinity norm, each in [0, 1).
    eps : float, default 1e-08
        Added to ``|g|`` inside the maximum (as torch), so that ``u >= eps``.  Must be
        > 0.
    weight_decay : float, default 0.0
        L2 penalty: ``weight_decay*p`` is added to the gradient.
    %(maximize)s
    %(backend)s
    %(options)s
    """

    kernel = Kernel("adamax", buffers=("exp_avg", "exp_inf"),
                    scalars=("weight_decay", "one_minus_beta1", "beta2", "eps", "clr"),
                    nonnegative=("exp_inf",))

    def __init__(self, params: Any, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, maximize: bool = False,
                 backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize), backend, **options)

    hyperparameters = dict(lr=check.non_negative, betas=check.betas, eps=check.positive,
                           weight_decay=check.non_negative)

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        beta1, beta2 = h["betas"]
        clr = h["lr"] / (1.0 - beta1 ** step)
        return self.kernel.pack(weight_decay=h["weight_decay"], one_minus_beta1=1.0 - beta1,
                                beta2=beta2, eps=h["eps"], clr=clr)
