"""RMSprop (docs/optimizers.md#rmsprop)."""
from __future__ import annotations

from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from ._docstrings import shared_parameters
from .sgd import _nonzero


@shared_parameters
class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012) with torch.optim.RMSprop's options, names and defaults.

    Each step (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        g = g + weight_decay*p
        v = alpha*v + (1 - alpha)*g*g
        a = sqrt(v - gavg*gavg) + eps,  gavg = lerp(gavg, g, 1 - alpha)   if centered
        a = sqrt(v) + eps                                                otherwise
        buf = momentum*buf + g/a;  p = p - lr*buf                        if momentum != 0
        p = p - lr*g/a                                                   otherwise

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#rmsprop.

    eps is added outside the square root and there is no bias correction, as in torch.
    ``centered=True`` divides by an estimate of the gradient's variance instead of its
    second moment; ``momentum > 0`` keeps a momentum buffer of the scaled steps.

    Which buffers a group has is decided when the optimizer is built: ``momentum`` may
    change afterwards and drop to 0, ``centered`` may be switched off (the unused buffer
    is left as it is, as torch does), but neither can be switched on later.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.01
        The learning rate.
    alpha : float, default 0.99
        The decay rate of the moving average of the squared gradient, in [0, 1].
    eps : float, default 1e-08
        Added outside the square root (as torch).  Must be > 0.
    weight_decay : float, default 0.0
        L2 penalty: ``weight_decay*p`` is added to the gradient.
    momentum : float, default 0.0
        The momentum factor (>= 0); 0 keeps no momentum buffer.
    centered : bool, default False
        Divide by ``sqrt(v - gavg**2)``, an estimate of the gradient's variance, keeping
        the gradient's moving average ``gavg`` in one more buffer.
    %(maximize)s
    %(backend)s
    %(options)s
    """

    scalars_read_step = False
    kernel = Kernel("rmsprop", buffers=("square_avg", "grad_avg", "momentum_buffer"),
                    scalars=("weight_decay", "alpha", "one_minus_alpha", "eps", "lr",
                             "momentum", "centered", "use_momentum"),
                    nonnegative=("square_avg",))

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False, backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered,
                                      maximize=maximize), backend, **options)

    # Which optional buffers exist is recorded here at build time (the base calls this
    # once) and enforced in _check: an option may be switched off later, not on.
    def _structure_of(self, group: dict[str, Any]) -> tuple:
        return (_nonzero(group["centered"]), _nonzero(group["momentum"]))

    def _live_buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return (("square_avg",) + (("grad_avg",) if _nonzero(group["centered"]) else ())
                + (("momentum_buffer",) if _nonzero(group["momentum"]) else ()))

    hyperparameters = dict(lr=check.non_negative, alpha=check.closed_unit_interval,
                           eps=check.positive, weight_decay=check.non_negative,
                           momentum=check.non_negative, centered=check.flag)

    def _check(self, gi: int, group: dict[str, Any]) -> dict[str, Any]:
        h = super()._check(gi, group)
        centered, momentum = h["centered"], h["momentum"]
        had_centered, had_momentum = self._structure[gi]
        if centered and self.state_precision != "full":
            raise ValueError(f"centered=True needs state_precision='full', not "
                             f"{self.state_precision!r}: the variance it divides by is the "
                             f"difference of two moments, which their rounding in fewer bits "
                             f"can make negative (NaN)")
        if centered and not had_centered:
            raise ValueError("centered=True, but this optimizer was built with "
                             "centered=False and has no grad_avg buffer; build it with "
                             "centered=True to use it")
        if momentum != 0.0 and not had_momentum:
            raise ValueError(f"momentum={group['momentum']!r}, but this optimizer was built "
                             f"with momentum=0 and has no momentum buffer; build it with a "
                             f"non-zero momentum to use one")
        return h

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        alpha, momentum = h["alpha"], h["momentum"]
        return self.kernel.pack(
            weight_decay=h["weight_decay"], alpha=alpha, one_minus_alpha=1.0 - alpha,
            eps=h["eps"], lr=h["lr"], momentum=momentum,
            centered=1.0 if h["centered"] else 0.0,
            use_momentum=1.0 if momentum != 0.0 else 0.0)
