"""SGD with momentum, dampening and Nesterov momentum (docs/optimizers.md#sgd)."""
from __future__ import annotations

from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from ._docstrings import shared_parameters


@shared_parameters
class SGD(Optimizer):
    """Stochastic gradient descent with torch.optim.SGD's options, names and defaults.

    Each step (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        g = g + weight_decay*p
        buf = g                                        on the buffer's first step
        buf = momentum*buf + (1 - dampening)*g         after it      (if momentum != 0)
        g = g + momentum*buf if nesterov else buf                    (if momentum != 0)
        p = p - lr*g

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#sgd.

    ``momentum`` may change between steps (schedulers cycle it).  As in torch, a group's
    momentum buffer is made by the first step that uses momentum (filled with ``g``),
    and kept, unchanged, while momentum is 0.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.001
        The learning rate.
    momentum : float, default 0.0
        The momentum factor (>= 0); 0 uses no momentum buffer (one is made by the
        first step with a non-zero momentum).
    dampening : float, default 0.0
        Dampening of the gradient's share in the momentum buffer, in [0, 1].
    weight_decay : float, default 0.0
        L2 penalty: ``weight_decay*p`` is added to the gradient.
    nesterov : bool, default False
        Nesterov momentum: step along ``g + momentum*buf``.  Needs ``momentum > 0`` and
        ``dampening == 0``.
    %(maximize)s
    %(backend)s
    %(options)s
    """

    scalars_read_step = False
    kernel = Kernel("sgd", buffers=("momentum_buffer",),
                    scalars=("weight_decay", "lr", "momentum", "one_minus_dampening",
                             "use_momentum", "first", "nesterov"))

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False, backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize), backend, **options)

    # A group built with momentum != 0 has its buffer from the start (and shows it, zero,
    # before the first step); one built with momentum == 0 allocates it when momentum
    # first turns non-zero, and shows it once a step has filled it.
    def _structure_of(self, group: dict[str, Any]) -> tuple:
        return (_nonzero(group["momentum"]),)

    def _live_buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self.kernel.buffers if _nonzero(group["momentum"]) else ()

    def _state_names(self, gi: int, gstate: dict[str, float]) -> tuple[str, ...]:
        if self._structure[gi][0] or gstate.get("momentum_buffer_set") == 1.0:
            return self.kernel.buffers
        return ()

    def _initial_group_state(self, group: dict[str, Any]) -> dict[str, float]:
        # torch fills the buffer with g on the first step that uses it (buf is None)
        return {"momentum_buffer_set": 0.0}

    hyperparameters = dict(lr=check.non_negative, momentum=check.non_negative,
                           dampening=check.closed_unit_interval,
                           weight_decay=check.non_negative, nesterov=check.flag)

    def _check(self, gi: int, group: dict[str, Any]) -> dict[str, Any]:
        h = super()._check(gi, group)
        momentum, dampening, nesterov = h["momentum"], h["dampening"], h["nesterov"]
        if nesterov and (momentum <= 0.0 or dampening != 0.0):
            raise ValueError(f"nesterov=True requires momentum > 0 and dampening == 0, got "
                             f"momentum={group['momentum']!r}, "
                             f"dampening={group['dampening']!r}")
        if momentum != 0.0:
            self._ensure_buffer(gi, "momentum_buffer")      # not shown until a step fills it
        return h

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        # momentum_buffer_set is per-group state, not a hyperparameter: it changes after
        # the first step that uses momentum and with load_state_dict, so it is read and
        # checked every step.
        filled = gstate.get("momentum_buffer_set")
        if filled != 0.0 and filled != 1.0:
            raise ValueError(f"group state momentum_buffer_set must be 0.0 or 1.0, got "
                             f"{filled!r}")
        momentum = h["momentum"]
        return self.kernel.pack(
            weight_decay=h["weight_decay"], lr=h["lr"], momentum=momentum,
            one_minus_dampening=1.0 - h["dampening"],
            use_momentum=1.0 if momentum != 0.0 else 0.0,
            first=1.0 if filled == 0.0 else 0.0, nesterov=1.0 if h["nesterov"] else 0.0)

    def _next_group_state(self, gi: int, h: dict[str, Any], step: int,
                          gstate: dict[str, float]) -> dict[str, float] | None:
        return {"momentum_buffer_set": 1.0} if h["momentum"] != 0.0 else None


def _nonzero(value: Any) -> bool:
    """Whether a hyperparameter read at build time is on (a value that is not a number is
    reported by the checks in _check, right after)."""
    try:
        return bool(value != 0)
    except (TypeError, ValueError):
        return True
