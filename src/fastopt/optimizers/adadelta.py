"""Adadelta (docs/optimizers.md#adadelta)."""
from __future__ import annotations

from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from ._docstrings import shared_parameters


@shared_parameters
class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012) with torch.optim.Adadelta's options, names and defaults.

    Each step (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        g = g + weight_decay*p
        sq = rho*sq + (1 - rho)*g*g
        delta = sqrt(acc + eps)/sqrt(sq + eps)*g
        acc = rho*acc + (1 - rho)*delta*delta
        p = p - lr*delta

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#adadelta.

    Parameters
    ----------
    %(params)s
    lr : float, default 1.0
        Scales the delta (1.0 is Zeiler's rule).
    rho : float, default 0.9
        The decay rate of both moving averages, in [0, 1].
    eps : float, default 1e-06
        Added inside both square roots (as torch).  Must be > 0.
    weight_decay : float, default 0.0
        L2 penalty: ``weight_decay*p`` is added to the gradient.
    %(maximize)s
    %(backend)s
    %(options)s
    """

    scalars_read_step = False
    kernel = Kernel("adadelta", buffers=("square_avg", "acc_delta"),
                    scalars=("weight_decay", "rho", "one_minus_rho", "eps", "lr"),
                    nonnegative=("square_avg", "acc_delta"))

    def __init__(self, params: Any, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize), backend, **options)

    hyperparameters = dict(lr=check.non_negative, rho=check.closed_unit_interval,
                           eps=check.positive, weight_decay=check.non_negative)

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        rho = h["rho"]
        return self.kernel.pack(weight_decay=h["weight_decay"], rho=rho,
                                one_minus_rho=1.0 - rho, eps=h["eps"], lr=h["lr"])
