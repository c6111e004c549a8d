"""ADOPT (docs/optimizers.md#adopt)."""
from __future__ import annotations

import math
from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from ._docstrings import shared_parameters


def _clip_exponent(name: str, value: Any) -> float | None:
    return None if value is None else check.non_negative(name, value)


@shared_parameters
class ADOPT(Optimizer):
    """ADOPT, Adam that converges with any beta2 (Taniguchi et al., 2024), as
    ``optax.contrib.adopt`` (torch.optim has none), with torch's spelling (``lr``,
    ``betas``, ``weight_decay``, ``maximize``) and the reference implementation's weight
    decay.  The gradient is normalised by the root of the second moment of the steps
    *before* it, then clipped and averaged; the first step only sets the second moment.

    Each step t (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        t = 1:   v = g*g                              (nothing else moves)
        t > 1:   n = clip(g/max(sqrt(v), eps), (t - 1)**clip_exponent)
                 m = (1 - beta1)*n + beta1*m
                 v = (1 - beta2)*g*g + beta2*v
                 p = p - lr*m          (nesterov: lr*((1 - beta1)*n + beta1*m))

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#adopt.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.001
        The learning rate.
    betas : tuple of float, default (0.9, 0.9999)
        ``(beta1, beta2)``: the decay rates of the moving averages of the normalised
        gradient and of the squared gradient, each in [0, 1).
    eps : float, default 1e-06
        The floor of ``sqrt(v)`` in the normalisation (a max, not an add).  Must be > 0.
    weight_decay : float, default 0.0
        L2 penalty (``weight_decay*p`` added to the gradient), or decoupled, see below.
    decoupled_weight_decay : bool, default False
        Decay the parameters directly, ``p = p*(1 - lr*weight_decay)`` before each update
        (from the second step on, as the authors' implementation), instead of L2.
    nesterov : bool, default False
        Step along ``(1 - beta1)*n + beta1*m`` (optax's ``nesterov``).
    clip_exponent : float or None, default 0.25
        The normalised gradient is clipped to ``[-c, c]`` with ``c = (t - 1)**clip_exponent``
        (optax's default ``clip_value_fn``); None turns the clipping off (optax's
        ``use_clipping=False``).
    %(maximize)s
    %(backend)s
    %(options)s
    """

    kernel = Kernel("adopt", buffers=("exp_avg", "exp_avg_sq"),
                    scalars=("decay", "weight_decay", "eps", "clip", "one_minus_beta1", "beta1",
                             "one_minus_beta2", "beta2", "lr", "nesterov"),
                    nonnegative=("exp_avg_sq",))

    def __init__(self, params: Any, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.9999), eps: float = 1e-6,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 nesterov: bool = False, clip_exponent: float | None = 0.25,
                 maximize: bool = False, backend: str | None = None, **options: Any):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      nesterov=nesterov, clip_exponent=clip_exponent,
                                      maximize=maximize), backend, **options)

    hyperparameters = dict(lr=check.non_negative, betas=check.betas, eps=check.positive,
                           weight_decay=check.non_negative, decoupled_weight_decay=check.flag,
                           nesterov=check.flag, clip_exponent=_clip_exponent)

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        lr, wd, (beta1, beta2) = h["lr"], h["weight_decay"], h["betas"]
        decoupled = h["decoupled_weight_decay"]
        if step == 1:
            # optax's first step: beta2 is 0 (v = g*g), beta1 is 1 (m stays 0), so p stays
            # (the clip value 0**exponent is 0, or 1 for an exponent of 0, unused either way)
            beta1, beta2 = 1.0, 0.0
        exponent = h["clip_exponent"]
        clip = math.inf if exponent is None else float(step - 1) ** exponent
        return self.kernel.pack(
            decay=1.0 - lr * wd if decoupled and step > 1 else 1.0,
            weight_decay=0.0 if decoupled else wd, eps=h["eps"], clip=clip,
            one_minus_beta1=1.0 - beta1, beta1=beta1, one_minus_beta2=1.0 - beta2, beta2=beta2,
            lr=lr, nesterov=1.0 if h["nesterov"] else 0.0)
