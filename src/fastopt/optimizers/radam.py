"""RAdam (docs/optimizers.md#radam)."""
from __future__ import annotations

from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from . import _step_scalars
from ._docstrings import shared_parameters


@shared_parameters
class RAdam(Optimizer):
    """Adam with the variance rectification of Liu et al. (2020), with torch.optim.RAdam's
    options, names and defaults.

    Each step t (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        p = p*(1 - lr*weight_decay)        if decoupled_weight_decay
        g = g + weight_decay*p             otherwise (L2)
        m = lerp(m, g, 1 - beta1)
        v = beta2*v + (1 - beta2)*g*g
        rho_inf = 2/(1 - beta2) - 1;  rho_t = rho_inf - 2*t*beta2**t/(1 - beta2**t)
        if rho_t > 5:  p = p - m/(1 - beta1**t)*lr * sqrt(1 - beta2**t)/(sqrt(v) + eps) * r
        else:          p = p - m/(1 - beta1**t)*lr
        (r = sqrt((rho_t - 4)*(rho_t - 2)*rho_inf/((rho_inf - 4)*(rho_inf - 2)*rho_t)))

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#radam.

    While the variance is not yet tractable (rho_t <= 5) the step is plain momentum SGD
    with bias correction.  ``decoupled_weight_decay=True`` gives RAdamW.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.001
        The learning rate.
    betas : tuple of float, default (0.9, 0.999)
        ``(beta1, beta2)``: the decay rates of the moving averages of the gradient and of
        its square, each in [0, 1).
    eps : float, default 1e-08
        Added to the uncorrected ``sqrt(v)`` (as torch).  Must be > 0.
    weight_decay : float, default 0.0
        L2 penalty (or decoupled, see below): ``weight_decay*p`` is added to the gradient.
    decoupled_weight_decay : bool, default False
        Decay the parameters directly, ``p = p*(1 - lr*weight_decay)`` before the update,
        instead of adding ``weight_decay*p`` to the gradient (L2).
    %(maximize)s
    %(backend)s
    %(options)s
    """

    kernel = Kernel("radam", buffers=("exp_avg", "exp_avg_sq"),
                    scalars=_step_scalars.RADAM_SCALARS, nonnegative=("exp_avg_sq",))

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False,
                 backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize), backend, **options)

    hyperparameters = dict(lr=check.non_negative, betas=check.betas, eps=check.positive,
                           weight_decay=check.non_negative, decoupled_weight_decay=check.flag)

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        # rho_inf = 2/(1 - beta2) - 1, rho_t = rho_inf - 2t beta2**t / (1 - beta2**t); where
        # rho_t > 5, rect = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))
        # (compiled: _step_scalars)
        return _step_scalars.radam(h, step)
