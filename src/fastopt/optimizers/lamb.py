"""LAMB (docs/optimizers.md#lamb)."""
from __future__ import annotations

import math
from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from . import _step_scalars
from ._docstrings import shared_parameters

# "update" keeps the moments pass's u for the update pass (scratch, not state): see
# Lamb._state_shape.
_BUFFERS = ("exp_avg", "exp_avg_sq", "update")
_SCALARS = _step_scalars.LAMB_SCALARS
#: The largest parameter whose u the moments pass keeps for the update pass.
KEEP_UPDATE_MAX = 1 << 15


@shared_parameters
class Lamb(Optimizer):
    """LAMB, layer-wise adaptive moments (You et al., 2019), as optax.lamb (torch.optim
    has none): an Adam direction plus decoupled weight decay, scaled per parameter array
    by the trust ratio ||p|| / ||u|| (1 where either norm is 0).  "Per parameter array"
    means each array as the user gave it, also inside a ``FlatParams`` buffer.

    Each step t (``g`` is the gradient, negated if ``maximize``)::

        m = beta1*m + (1 - beta1)*g
        v = beta2*v + (1 - beta2)*g*g
        u = (m/(1 - beta1**t))/(sqrt(v/(1 - beta2**t)) + eps) + weight_decay*p
        p = p - lr*(||p||/||u||)*u             (the norms per parameter array)

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#lamb.

    The norms are summed in float64 over fixed chunks, so they are bitwise the same for
    any thread count.  Each step makes two passes over memory: the moments and the
    norms' partial sums, then the update.  A parameter of at most 32768 elements with
    full-precision state keeps ``u`` between the passes (a scratch buffer of its size,
    not part of ``state``), where recomputing it would bound a small step; larger ones
    recompute it, which moves no more memory.  Defaults: optax's, except
    ``weight_decay=0``.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.001
        The learning rate.
    betas : tuple of float, default (0.9, 0.999)
        ``(beta1, beta2)``: the decay rates of the moving averages of the gradient and of
        its square, each in [0, 1).
    eps : float, default 1e-06
        Added to the bias-corrected root ``sqrt(v/(1 - beta2**t))``.  Must be > 0.
    weight_decay : float, default 0.0
        Decoupled weight decay: ``weight_decay*p`` is added to the direction ``u``
        before the trust ratio (optax's default is 1e-4).
    %(maximize)s
    %(backend)s
    %(options)s
    """

    # A step is two kernel calls with the same buffers and scalars (see _bind): the
    # moments, which write each chunk's partial sums of p*p and u*u, then the update,
    # which reads each tensor's lr * trust ratio (lr is the last scalar).
    kernel = Kernel("lamb_moments", buffers=_BUFFERS, scalars=_SCALARS,
                    outputs=("param_sumsq", "update_sumsq"), nonnegative=("exp_avg_sq",))
    update_kernel = Kernel("lamb_update", buffers=_BUFFERS, scalars=_SCALARS,
                           seg_in=("lr_trust_ratio",), nonnegative=("exp_avg_sq",),
                           writes_state=False)

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.0, *, maximize: bool = False,
                 backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize), backend, **options)

    hyperparameters = dict(lr=check.non_negative, betas=check.betas, eps=check.positive,
                           weight_decay=check.non_negative)

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        # 1 - beta1**t, 1 - beta2**t and the hyperparameters (compiled: _step_scalars)
        return _step_scalars.lamb(h, step)

    def _state_shape(self, name: str, shape: tuple[int, ...],
                     precision: str) -> tuple[int, ...] | None:
        # Recomputing u in the update pass costs two divisions and a square root per
        # element, which bound a small step; a large one is bound by memory, where
        # reading a kept u moves as many bytes as recomputing it.  So a small parameter
        # in full precision keeps u (the same bits), the others recompute it.
        if name != "update":
            return shape
        return shape if math.prod(shape) <= KEEP_UPDATE_MAX and precision == "full" else None

    def _state_names(self, gi: int, gstate: dict[str, float]) -> tuple[str, ...]:
        return tuple(n for n in super()._state_names(gi, gstate) if n != "update")

    def _bind(self, module: Any, plan: Any) -> Any:
        moments, _, partial = plan.bind(module, self.kernel)
        update, lr_ratio, _ = plan.bind(module, self.update_kernel)
        # Between the passes, per tensor: the norms from its chunks' partial sums (in chunk
        # order, float64), and lr * ||p|| / ||u|| (lr where either norm is 0).
        return module.Program(moments, module.TrustRatios(plan.chunks, partial, lr_ratio),
                              update)
