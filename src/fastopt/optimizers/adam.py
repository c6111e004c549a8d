"""Adam, AdamW and AMSGrad (docs/optimizers.md#adam)."""
from __future__ import annotations

from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from .._core.params import ParamsLike
from ._docstrings import shared_parameters


@shared_parameters
class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with torch.optim.Adam's options, names and defaults.

    ``decoupled_weight_decay=True`` gives AdamW (see :class:`AdamW`, whose default
    weight decay is 1e-2); ``amsgrad=True`` keeps the running maximum of the second moment.

    Each step t (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        p = p*(1 - lr*weight_decay)        if decoupled_weight_decay
        g = g + weight_decay*p             otherwise (L2)
        m = lerp(m, g, 1 - beta1)
        v = beta2*v + (1 - beta2)*g*g
        vmax = max(vmax, v)                if amsgrad, and vmax replaces v below
        p = p - lr/(1 - beta1**t) * (m/(sqrt(v)/sqrt(1 - beta2**t) + eps))

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#adam.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.001
        The learning rate.
    betas : tuple of float, default (0.9, 0.999)
        ``(beta1, beta2)``: the decay rates of the moving averages of the gradient and of
        its square, each in [0, 1).
    eps : float, default 1e-08
        Added to the bias-corrected root ``sqrt(v)/sqrt(1 - beta2**t)`` (as torch; Keras
        adds it to the uncorrected one), so that the step stays bounded where ``v`` is
        about 0.  Must be > 0.
    weight_decay : float, default 0.0
        Weight decay: L2 (``weight_decay*p`` added to the gradient), or decoupled with
        ``decoupled_weight_decay=True``.
    amsgrad : bool, default False
        AMSGrad: divide by the running maximum of the (uncorrected) second moment, kept
        in one more state buffer.  Fixed once the optimizer is built.
    %(maximize)s
    decoupled_weight_decay : bool, default False
        Decay the parameters directly, ``p = p*(1 - lr*weight_decay)`` before the update,
        instead of adding ``weight_decay*p`` to the gradient (L2).
    %(backend)s
    %(options)s
    """

    kernel = Kernel("adam", buffers=("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
                    scalars=("decay", "weight_decay", "one_minus_beta1", "beta2",
                             "one_minus_beta2", "bias_correction2_sqrt", "eps", "step_size",
                             "amsgrad"),
                    nonnegative=("exp_avg_sq", "max_exp_avg_sq"))
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
        buffers = self.kernel.buffers
        return buffers if group["amsgrad"] else buffers[:2]

    hyperparameters = dict(lr=check.non_negative, betas=check.betas, eps=check.positive,
                           weight_decay=check.non_negative, amsgrad=check.flag,
                           decoupled_weight_decay=check.flag)

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        lr, (beta1, beta2), eps, wd = h["lr"], h["betas"], h["eps"], h["weight_decay"]
        decoupled = h["decoupled_weight_decay"]
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2 = 1.0 - beta2 ** step
        return self.kernel.pack(
            decay=1.0 - lr * wd if decoupled else 1.0,
            weight_decay=0.0 if decoupled else wd,
            one_minus_beta1=1.0 - beta1, beta2=beta2, one_minus_beta2=1.0 - beta2,
            bias_correction2_sqrt=bias_correction2 ** 0.5, eps=eps,
            step_size=lr / bias_correction1, amsgrad=1.0 if h["amsgrad"] else 0.0)


@shared_parameters
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as torch.optim.AdamW.

    The parameters decay before the Adam step, and the gradient gets no L2 term.  The
    same as ``Adam(..., weight_decay=1e-2, decoupled_weight_decay=True)``.

    Each step t (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        p = p*(1 - lr*weight_decay)
        m = lerp(m, g, 1 - beta1)
        v = beta2*v + (1 - beta2)*g*g
        vmax = max(vmax, v)                if amsgrad, and vmax replaces v below
        p = p - lr/(1 - beta1**t) * (m/(sqrt(v)/sqrt(1 - beta2**t) + eps))

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#adamw.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.001
        The learning rate.
    betas : tuple of float, default (0.9, 0.999)
        ``(beta1, beta2)``: the decay rates of the moving averages of the gradient and of
        its square, each in [0, 1).
    eps : float, default 1e-08
        Added to the bias-corrected root ``sqrt(v)/sqrt(1 - beta2**t)`` (as torch; Keras
        adds it to the uncorrected one), so that the step stays bounded where ``v`` is
        about 0.  Must be > 0.
    weight_decay : float, default 0.01
        Decoupled weight decay: ``p = p*(1 - lr*weight_decay)`` each step (L2 instead
        with ``decoupled_weight_decay=False``).
    amsgrad : bool, default False
        AMSGrad: divide by the running maximum of the (uncorrected) second moment, kept
        in one more state buffer.  Fixed once the optimizer is built.
    %(maximize)s
    decoupled_weight_decay : bool, default True
        Decay the parameters directly (AdamW); False adds ``weight_decay*p`` to the
        gradient instead (L2, plain Adam).
    %(backend)s
    %(options)s
    """

    def __init__(self, params: ParamsLike, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = True,
                 backend: str | None = None, **options: Any) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=decoupled_weight_decay, backend=backend,
                         **options)
