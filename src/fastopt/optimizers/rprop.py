"""Rprop (docs/optimizers.md#rprop)."""
from __future__ import annotations

import math
from typing import Any

from .. import _checks as check
from .._optimizer import Optimizer


def _pair(name: str, value: Any) -> tuple[float, float]:
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair of numbers, got {value!r}") from None
    return check.real(f"{name}[0]", a), check.real(f"{name}[1]", b)


class Rprop(Optimizer):
    """Resilient backpropagation (Riedmiller & Braun, 1993) with torch.optim.Rprop's
    options, names and defaults (no weight decay, as torch).

    Each element has its own step size, starting at ``lr`` when the first step runs (as
    torch, which fills it lazily: a scheduler that changes ``lr`` before the first step
    changes the starting step size), grown by ``etas[1]`` while the gradient keeps its
    sign, shrunk by ``etas[0]`` when it flips, and kept within ``step_sizes``.
    """

    kernel = "rprop"
    buffers = ("prev", "step_size")

    def __init__(self, params: Any, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, maximize: bool = False,
                 backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes,
                                      maximize=maximize), backend, **options)

    def _initial_value(self, group: dict[str, Any], name: str) -> float:
        return float(group["lr"]) if name == "step_size" else 0.0

    def _check(self, gi: int, group: dict[str, Any]) -> dict[str, Any]:
        # lr is not a kernel scalar (_run fills the step sizes from the live group's lr
        # on the first step), but it is checked with the rest.
        lr = check.non_negative("lr", group["lr"])
        eta_minus, eta_plus = _pair("etas", group["etas"])
        if not 0.0 < eta_minus < 1.0 < eta_plus < math.inf:
            raise ValueError(f"etas must be (eta_minus, eta_plus) with "
                             f"0 < eta_minus < 1 < eta_plus, got {group['etas']!r}")
        lo, hi = _pair("step_sizes", group["step_sizes"])
        if not 0.0 < lo <= hi or lo == math.inf:
            raise ValueError(f"step_sizes must be (min, max) with 0 < min <= max, "
                             f"got {group['step_sizes']!r}")
        return dict(lr=lr, etas=(eta_minus, eta_plus), step_sizes=(lo, hi))

    def _scalars(self, gi: int, h: dict[str, Any], step: int) -> tuple[float, ...]:
        return h["etas"] + h["step_sizes"]

    def _run(self, scalars: list[tuple[float, ...]], step: int) -> None:
        if step == 1:       # torch creates the step sizes on the first step, from lr then
            for plan in self._plans:
                plan.state["step_size"].fill(float(self.param_groups[plan.group]["lr"]))
        super()._run(scalars, step)
