"""ASGD (docs/optimizers.md#asgd)."""
from __future__ import annotations

from typing import Any

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from ._docstrings import shared_parameters


@shared_parameters
class ASGD(Optimizer):
    """Averaged stochastic gradient descent (Polyak and Juditsky, 1992) with
    torch.optim.ASGD's options, names and defaults: SGD with a decaying step size that
    also keeps ``ax``, a running average of the parameters, which averages from step
    ``t0`` on.  The parameters are the SGD iterate; ``ax`` (in ``opt.state``) is the
    averaged one to evaluate.

    Each step t (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        g = g + weight_decay*p
        p = p*(1 - lambd*eta) - eta*g
        ax = ax + (p - ax)*mu            (ax = p while mu == 1)
        eta = lr/(1 + lambd*lr*t)**alpha;  mu = 1/max(1, t - t0)     (for the next step)

    ``eta`` and ``mu`` start at the first step's ``lr`` and 1 and are kept per param group in
    ``state_dict()["group_state"]`` (torch keeps one per parameter, in its default dtype;
    within a group they are always equal).  The rule in full: docs/optimizers.md#asgd.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.01
        The learning rate.
    lambd : float, default 0.0001
        The decay term: the step size decays as ``(1 + lambd*lr*t)**-alpha``, and the
        parameters shrink by ``1 - lambd*eta`` each step.
    alpha : float, default 0.75
        The power of the step size's decay.
    t0 : float, default 1000000.0
        The step from which ``ax`` averages (before it, ``ax`` is a copy of the parameters).
    weight_decay : float, default 0.0
        L2 penalty: ``weight_decay*p`` is added to the gradient.
    %(maximize)s
    %(backend)s
    %(options)s
    """

    #: ax is an average of the parameters, not of gradients: it keeps the parameters' dtype
    state_is_moments = False
    kernel = Kernel("asgd", buffers=("ax",),
                    scalars=("weight_decay", "decay", "eta", "mu"))

    def __init__(self, params: Any, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0.0, *, maximize: bool = False,
                 backend: str | None = None, **options: Any):
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, maximize=maximize),
                         backend, **options)

    hyperparameters = dict(lr=check.non_negative, lambd=check.non_negative,
                           alpha=check.non_negative, t0=check.non_negative,
                           weight_decay=check.non_negative)

    def _initial_group_state(self, group: dict[str, Any]) -> dict[str, float]:
        return {"eta": float(group["lr"]), "mu": 1.0}

    def _check_group_state(self, gi: int, gstate: Any) -> None:
        super()._check_group_state(gi, gstate)
        if gstate["eta"] < 0.0 or not 0.0 < gstate["mu"] <= 1.0:
            raise ValueError(f"group state {gi}: eta must be >= 0 and mu in (0, 1], got "
                             f"eta={gstate['eta']!r}, mu={gstate['mu']!r}")

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        # torch sets eta to the lr of the first step (after any scheduler's first change)
        eta, mu = (h["lr"], 1.0) if step == 1 else (gstate["eta"], gstate["mu"])
        return self.kernel.pack(weight_decay=h["weight_decay"], decay=1.0 - h["lambd"] * eta,
                                eta=eta, mu=mu)

    def _next_group_state(self, gi: int, h: dict[str, Any], step: int,
                          gstate: dict[str, float]) -> dict[str, float]:
        lr = h["lr"]
        return {"eta": lr / ((1.0 + h["lambd"] * lr * step) ** h["alpha"]),
                "mu": 1.0 / max(1.0, step - h["t0"])}
