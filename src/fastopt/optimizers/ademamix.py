"""AdEMAMix (docs/optimizers.md#ademamix)."""
from __future__ import annotations

import math
from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from ._docstrings import shared_parameters


def _betas3(name: str, value: Any) -> tuple[float, float, float]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 3:
        raise TypeError(f"{name} must be a triple (beta1, beta2, beta3), got {value!r}")
    return tuple(check.unit_interval(f"{name}[{i}]", b) for i, b in enumerate(value))  # type: ignore[return-value]


def _warmup(name: str, value: Any) -> int | None:
    return None if value is None else check.integer(name, value, lo=1)


def alpha_at(alpha: float, t_alpha: int | None, step: int) -> float:
    """The paper's linear warmup of alpha: ``min(step*alpha/t_alpha, alpha)``."""
    return alpha if t_alpha is None else min(step * alpha / t_alpha, alpha)


def beta3_at(beta1: float, beta3: float, t_beta3: int | None, step: int) -> float:
    """The paper's warmup of beta3, linear in the half-life of the slow average, from
    beta1 at step 0 to beta3 at step ``t_beta3`` (bitsandbytes' formula), and beta3 after
    it.  Past ``t_beta3`` the formula alone is capped at beta3 where beta1 < beta3, but
    where beta1 > beta3 its denominator crosses zero and it drops far below beta3 for a
    step (0.13 at step 11 for betas (0.99, ., 0.9), t_beta3 = 10): beta3 is kept instead."""
    if t_beta3 is None or beta1 == beta3 or beta3 == 0.0 or step > t_beta3:
        return beta3
    scale = step / t_beta3
    if beta1 == 0.0:        # the formula's limit: a half-life from 0
        return min(beta3 ** (1.0 / scale), beta3)
    ln_beta1, ln_beta3 = math.log(beta1), math.log(beta3)
    return min(math.exp(ln_beta1 * ln_beta3 / ((1 - scale) * ln_beta3 + scale * ln_beta1)),
               beta3)


@shared_parameters
class AdEMAMix(Optimizer):
    """AdEMAMix, Adam with a mixture of a fast and a slow moving average of the gradient
    (Pagliardini et al., 2024), as ``optax.contrib.ademamix`` and bitsandbytes' AdEMAMix
    (torch.optim has none), with torch's spelling and decoupled weight decay.

    Each step t (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        p = p*(1 - lr*weight_decay)
        m1 = (1 - beta1)*g + beta1*m1                   (fast)
        m2 = (1 - beta3_t)*g + beta3_t*m2               (slow, not bias-corrected)
        v = (1 - beta2)*g*g + beta2*v
        p = p - lr*(m1/(1 - beta1**t) + alpha_t*m2)/(sqrt(v/(1 - beta2**t)) + eps)

    ``alpha_t`` and ``beta3_t`` are ``alpha`` and ``beta3``, or warm up to them over
    ``t_alpha`` and ``t_beta3`` steps (the paper's schedulers).  The rule in full:
    docs/optimizers.md#ademamix.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.001
        The learning rate.
    betas : tuple of float, default (0.9, 0.999, 0.9999)
        ``(beta1, beta2, beta3)``: the decay rates of the fast average, of the squared
        gradient's average and of the slow average, each in [0, 1).
    alpha : float, default 5.0
        The weight of the slow average in the step.
    t_alpha : int or None, default None
        Warm ``alpha`` up linearly over this many steps: ``min(t*alpha/t_alpha, alpha)``.
    t_beta3 : int or None, default None
        Warm ``beta3`` up from ``beta1`` over this many steps, linearly in the half-life
        ``-1/log(beta)`` of the slow average.
    eps : float, default 1e-08
        Added to the bias-corrected root ``sqrt(v/(1 - beta2**t))``.  Must be > 0.
    weight_decay : float, default 0.0
        Decoupled weight decay: ``p = p*(1 - lr*weight_decay)`` before each update.
    %(maximize)s
    %(backend)s
    %(options)s
    """

    kernel = Kernel("ademamix", buffers=("exp_avg_fast", "exp_avg_slow", "exp_avg_sq"),
                    scalars=("decay", "one_minus_beta1", "beta1", "one_minus_beta2", "beta2",
                             "one_minus_beta3", "beta3", "alpha", "bias_correction1",
                             "bias_correction2", "eps", "lr"),
                    nonnegative=("exp_avg_sq",))

    def __init__(self, params: Any, lr: float = 1e-3,
                 betas: tuple[float, float, float] = (0.9, 0.999, 0.9999), alpha: float = 5.0,
                 t_alpha: int | None = None, t_beta3: int | None = None, eps: float = 1e-8,
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 backend: str | None = None, **options: Any):
        super().__init__(params, dict(lr=lr, betas=betas, alpha=alpha, t_alpha=t_alpha,
                                      t_beta3=t_beta3, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize), backend, **options)

    hyperparameters = dict(lr=check.non_negative, betas=_betas3, alpha=check.non_negative,
                           t_alpha=_warmup, t_beta3=_warmup, eps=check.positive,
                           weight_decay=check.non_negative)

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        lr, (beta1, beta2, beta3) = h["lr"], h["betas"]
        beta3_t = beta3_at(beta1, beta3, h["t_beta3"], step)
        return self.kernel.pack(
            decay=1.0 - lr * h["weight_decay"], one_minus_beta1=1.0 - beta1, beta1=beta1,
            one_minus_beta2=1.0 - beta2, beta2=beta2, one_minus_beta3=1.0 - beta3_t,
            beta3=beta3_t, alpha=alpha_at(h["alpha"], h["t_alpha"], step),
            bias_correction1=1.0 - beta1 ** step, bias_correction2=1.0 - beta2 ** step,
            eps=h["eps"], lr=lr)
