"""Rprop (docs/optimizers.md#rprop)."""
from __future__ import annotations

import math
from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from ._docstrings import shared_parameters


def _pair(name: str, value: Any) -> tuple[float, float]:
    a, b = check.pair(name, value)
    return check.real(f"{name}[0]", a), check.real(f"{name}[1]", b)


def _etas(name: str, value: Any) -> tuple[float, float]:
    eta_minus, eta_plus = _pair(name, value)
    if not 0.0 < eta_minus < 1.0 < eta_plus < math.inf:
        raise ValueError(f"{name} must be (eta_minus, eta_plus) with "
                         f"0 < eta_minus < 1 < eta_plus, got {value!r}")
    return eta_minus, eta_plus


def _step_sizes(name: str, value: Any) -> tuple[float, float]:
    lo, hi = _pair(name, value)
    if not 0.0 < lo <= hi or lo == math.inf:
        raise ValueError(f"{name} must be (min, max) with 0 < min <= max, got {value!r}")
    return lo, hi


@shared_parameters
class Rprop(Optimizer):
    """Resilient backpropagation (Riedmiller & Braun, 1993) with torch.optim.Rprop's
    options, names and defaults (no weight decay, as torch).

    Each step (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        f = etas[1] if g*prev > 0 else etas[0] if g*prev < 0 else 1
        step = clip(step*f, step_sizes[0], step_sizes[1])
        g = 0 where g*prev < 0
        p = p - sign(g)*step;  prev = g

    The rule in full, with its order of operations and per-step scalars:
    docs/optimizers.md#rprop.

    Each element has its own step size, starting at ``lr`` when the first step runs (as
    torch, which fills it lazily: a scheduler that changes ``lr`` before the first step
    changes the starting step size), grown by ``etas[1]`` while the gradient keeps its
    sign, shrunk by ``etas[0]`` when it flips, and kept within ``step_sizes``.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.01
        The initial step size of every element (read on the first step only).
    etas : tuple of float, default (0.5, 1.2)
        ``(eta_minus, eta_plus)``, with ``0 < eta_minus < 1 < eta_plus``: the factors that
        shrink and grow the step sizes.
    step_sizes : tuple of float, default (1e-06, 50)
        ``(min, max)``, with ``0 < min <= max``: the bounds of the step sizes.
    %(maximize)s
    %(backend)s
    %(options)s
    """

    state_is_moments = False        # step sizes and the previous gradient
    kernel = Kernel("rprop", buffers=("prev", "step_size"),
                    scalars=("eta_minus", "eta_plus", "step_size_min", "step_size_max",
                             "first", "initial_step_size"))

    def __init__(self, params: Any, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, maximize: bool = False,
                 backend: str | None = None,
                 **options: Any):
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes,
                                      maximize=maximize), backend, **options)

    def _initial_value(self, group: dict[str, Any], name: str) -> float:
        return float(group["lr"]) if name == "step_size" else 0.0

    # torch fills the step sizes with lr on a group's first step (kernel scalar
    # initial_step_size, used where first is 1).
    hyperparameters = dict(lr=check.non_negative, etas=_etas, step_sizes=_step_sizes)

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        (eta_minus, eta_plus), (step_size_min, step_size_max) = h["etas"], h["step_sizes"]
        return self.kernel.pack(eta_minus=eta_minus, eta_plus=eta_plus,
                                step_size_min=step_size_min, step_size_max=step_size_max,
                                first=1.0 if step == 1 else 0.0, initial_step_size=h["lr"])
