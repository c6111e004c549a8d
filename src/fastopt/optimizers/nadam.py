"""NAdam (docs/optimizers.md#nadam)."""
from __future__ import annotations

from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from . import _step_scalars
from ._docstrings import shared_parameters


@shared_parameters
class NAdam(Optimizer):
    """Adam with Nesterov momentum (Dozat, 2016) with torch.optim.NAdam's options, names
    and defaults.

    Each step t (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        mu_t = beta1*(1 - 0.5*0.96**(t*momentum_decay));  mu_product *= mu_t
        p = p*(1 - lr*weight_decay)        if decoupled_weight_decay
        g = g + weight_decay*p             otherwise (L2)
        m = lerp(m, g, 1 - beta1)
        v = beta2*v + (1 - beta2)*g*g
        denom = sqrt(v/(1 - beta2**t)) + eps
        p = p - lr*(1 - mu_t)/(1 - mu_product) * g/denom
        p = p - lr*mu_t1/(1 - mu_product*mu_t1) * m/denom       (mu_t1: mu at t + 1)

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#nadam.

    The product of the momentum coefficients, ``mu_product``, is kept per param group in
    ``state_dict()["group_state"]`` (torch keeps one per parameter; within a group they
    are always equal).  ``decoupled_weight_decay=True`` gives NAdamW.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.002
        The learning rate.
    betas : tuple of float, default (0.9, 0.999)
        ``(beta1, beta2)``: the decay rates of the moving averages of the gradient and of
        its square, each in [0, 1).
    eps : float, default 1e-08
        Added to the bias-corrected root ``sqrt(v/(1 - beta2**t))``.  Must be > 0.
    weight_decay : float, default 0.0
        L2 penalty (or decoupled, see below): ``weight_decay*p`` is added to the gradient.
    momentum_decay : float, default 0.004
        The momentum schedule's decay: ``mu_t = beta1*(1 - 0.5*0.96**(t*momentum_decay))``.
    decoupled_weight_decay : bool, default False
        Decay the parameters directly, ``p = p*(1 - lr*weight_decay)`` before the update,
        instead of adding ``weight_decay*p`` to the gradient (L2).
    %(maximize)s
    %(backend)s
    %(options)s
    """

    kernel = Kernel("nadam", buffers=("exp_avg", "exp_avg_sq"),
                    scalars=_step_scalars.NADAM_SCALARS, nonnegative=("exp_avg_sq",))

    def __init__(self, params: Any, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False,
                 backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize), backend, **options)

    def _initial_group_state(self, group: dict[str, Any]) -> dict[str, float]:
        return {"mu_product": 1.0}

    hyperparameters = dict(lr=check.non_negative, betas=check.betas, eps=check.positive,
                           weight_decay=check.non_negative, momentum_decay=check.non_negative,
                           decoupled_weight_decay=check.flag)

    # mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay)), mu_product = mu_1 ... mu_t;
    # c_grad = -lr * (1 - mu_t) / (1 - mu_product),
    # c_avg = -lr * mu_(t+1) / (1 - mu_product * mu_(t+1)); the scalars and the next
    # mu_product share that arithmetic (compiled: _step_scalars, no Python on the path)
    _scalars_and_group_state = _step_scalars.nadam

    def _checked_mu_product(self, gstate: Any) -> float:
        """The group state's mu_product, checked: it is per-group state, not a
        hyperparameter (it changes every step and with load_state_dict), so it is read
        and checked every step (the compiled hook calls this where it is not a float in
        [0, 1])."""
        if not isinstance(gstate, dict) or "mu_product" not in gstate:
            raise ValueError("NAdam's group state must hold mu_product")
        return check.unit_interval("mu_product", gstate["mu_product"], closed=True)
