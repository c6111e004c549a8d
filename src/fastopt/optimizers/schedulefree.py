"""Schedule-Free AdamW and SGD (docs/optimizers.md#schedulefreeadamw)."""
from __future__ import annotations

from typing import Any

from .._core import _native
from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from . import _step_scalars
from ._docstrings import shared_parameters


def _warmup_steps(name: str, value: Any) -> int:
    return check.integer(name, value, lo=0)


class _ScheduleFree(Optimizer):
    """What Schedule-Free AdamW and SGD share: the averaging weights (``ckp1``) computed
    per step from the group's ``lr_max`` and ``weight_sum``, and the train/eval modes.

    The parameters are the point the gradient is taken at, ``y``, in train mode, and the
    averaged point ``x`` in eval mode; ``z`` (state) is the base sequence.  The mode is
    per group in ``group_state["train_mode"]`` (1.0 or 0.0), so that state_dict and
    checkpoints record it and a resumed run continues in the mode it was saved in.
    """

    #: z is a sequence of parameters, not a moving average: state stays full precision
    state_is_moments = False
    #: train(): p = lerp(p, z, 1 - beta1); eval(): p = lerp(p, z, 1 - 1/beta1)
    swap_kernel = Kernel("schedulefree_swap", ("z",), ("weight",), gscale=False)

    def _beta1(self, h: dict[str, Any]) -> float:
        raise NotImplementedError

    def _initial_group_state(self, group: dict[str, Any]) -> dict[str, float]:
        # a new optimizer is in train mode: the package starts in eval mode and asks for
        # train() first, which before the first step moves nothing
        return {"lr_max": -1.0, "weight_sum": 0.0, "train_mode": 1.0}

    def _check_group_state(self, gi: int, gstate: Any) -> None:
        super()._check_group_state(gi, gstate)
        if gstate["train_mode"] not in (0.0, 1.0) or gstate["weight_sum"] < 0.0:
            raise ValueError(f"group state {gi}: train_mode must be 1.0 or 0.0 and "
                             f"weight_sum >= 0, got {gstate!r}")

    # The scalars and the next group state (lr_max, weight_sum) of a step share the
    # averaging weight ckp1: each subclass's _scalars_and_group_state computes both at once,
    # compiled (_step_scalars), and refuses a step in eval mode, where the parameters hold
    # the average, not y (fastopt.distributed's check of the next step too, before any
    # collective).

    @property
    def training(self) -> bool:
        """True in train mode (the parameters hold y), False in eval mode (x)."""
        return all(g["train_mode"] == 1.0 for g in self.group_state)

    def train(self) -> None:
        """Put the training point y into the parameters (from eval mode; a no-op in train
        mode).  Call it before training steps after :meth:`eval`."""
        self._switch(train=True)

    def eval(self) -> None:
        """Put the averaged point x into the parameters, to evaluate, test or ship the
        model (a no-op in eval mode).  Steps are refused until :meth:`train`."""
        self._switch(train=False)

    def _switch(self, train: bool) -> None:
        runs = []
        for plan in self._plans:
            gi = plan.group
            if (self.group_state[gi]["train_mode"] == 1.0) == train:
                continue
            if self._step - self._joined[gi] == 0:
                continue            # no step yet: z is not set, the points are the same
            beta1 = self._beta1(self._check(gi, self.param_groups[gi]))
            weight = 1.0 - beta1 if train else 1.0 - 1.0 / beta1
            runs.append((plan.bind(self._module, self.swap_kernel)[0], (weight,)))
        modes = [(gs, 1.0 if train else 0.0) for gs in self.group_state]
        _native.uninterrupted(_run_switch, (runs, modes))


def _run_switch(runs: list, modes: list) -> None:
    for run, scalars in runs:
        run(scalars)
    for gstate, mode in modes:
        gstate["train_mode"] = mode


@shared_parameters
class ScheduleFreeAdamW(_ScheduleFree):
    """Schedule-Free AdamW (Defazio et al., 2024, the AlgoPerf 2024 winner) as the
    ``schedulefree`` package's ``AdamWScheduleFree``: no learning-rate schedule to pick
    (only a warmup); the iterate is an online average of a base sequence, with the
    gradient taken at an interpolation of the two.

    Each step (element-wise; ``g`` is the gradient, negated if ``maximize``;
    ``ckp1`` the averaging weight of the step, from ``lr``, ``r`` and
    ``weight_lr_power``)::

        v = beta2*v + (1 - beta2)*g*g
        u = g/(sqrt(v/(1 - beta2**t)) + eps) + weight_decay*y
        y = lerp(y, z, ckp1) + lr*(beta1*(1 - ckp1) - 1)*u
        z = z - lr*u

    The parameters hold ``y`` in train mode and the average ``x`` after :meth:`eval`:
    call ``opt.eval()`` before evaluating or saving the model and ``opt.train()`` before
    training again.  Unlike the package, a new optimizer starts in train mode.  The rule
    in full: docs/optimizers.md#schedulefreeadamw.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.0025
        The learning rate (the package's default: larger than AdamW's usual).
    betas : tuple of float, default (0.9, 0.999)
        ``(beta1, beta2)``: beta1 is the interpolation between the average and the base
        sequence (in (0, 1)), beta2 the decay of the squared gradient's average.
    eps : float, default 1e-08
        Added to the bias-corrected root.  Must be > 0.
    weight_decay : float, default 0.0
        Decoupled weight decay, taken at y: ``weight_decay*y`` is added to the
        normalised gradient.
    %(schedulefree)s
    %(maximize)s
    %(backend)s
    %(options)s
    """

    kernel = Kernel("schedulefree_adamw", buffers=("z", "exp_avg_sq"),
                    scalars=_step_scalars.SCHEDULEFREE_ADAMW_SCALARS,
                    nonnegative=("exp_avg_sq",))

    def __init__(self, params: Any, lr: float = 0.0025, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, warmup_steps: int = 0,
                 r: float = 0.0, weight_lr_power: float = 2.0, *, maximize: bool = False,
                 backend: str | None = None, **options: Any):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      warmup_steps=warmup_steps, r=r,
                                      weight_lr_power=weight_lr_power, maximize=maximize),
                         backend, **options)

    hyperparameters = dict(lr=check.non_negative, betas=check.betas, eps=check.positive,
                           weight_decay=check.non_negative, warmup_steps=_warmup_steps,
                           r=check.non_negative, weight_lr_power=check.non_negative)

    def _check(self, gi: int, group: dict[str, Any]) -> dict[str, Any]:
        h = super()._check(gi, group)
        if h["betas"][0] == 0.0:
            raise ValueError("betas[0] must be in (0, 1) (eval() divides by it), got 0.0")
        return h

    def _beta1(self, h: dict[str, Any]) -> float:
        return h["betas"][0]

    # one_minus_beta2, beta2, 1 - beta2**t, eps, weight_decay, ckp1,
    # y_step = lr*(beta1*(1 - ckp1) - 1), lr, first (step 1: z = y)
    _scalars_and_group_state = _step_scalars.schedulefree_adamw


@shared_parameters
class ScheduleFreeSGD(_ScheduleFree):
    """Schedule-Free SGD (Defazio et al., 2024) as the ``schedulefree`` package's
    ``SGDScheduleFree``: SGD with momentum's speed and no learning-rate schedule to pick.

    Each step (element-wise; ``g`` is the gradient, negated if ``maximize``)::

        u = g + weight_decay*y
        y = lerp(y, z, ckp1) + lr*(momentum*(1 - ckp1) - 1)*u
        z = z - lr*u

    The parameters hold ``y`` in train mode and the average ``x`` after :meth:`eval`, as
    for :class:`ScheduleFreeAdamW`.  The rule in full: docs/optimizers.md#schedulefreesgd.

    Parameters
    ----------
    %(params)s
    lr : float, default 1.0
        The learning rate (the package's default).
    momentum : float, default 0.9
        The interpolation between the average and the base sequence, in (0, 1).
    weight_decay : float, default 0.0
        ``weight_decay*y`` is added to the gradient.
    %(schedulefree)s
    %(maximize)s
    %(backend)s
    %(options)s
    """

    kernel = Kernel("schedulefree_sgd", buffers=("z",),
                    scalars=_step_scalars.SCHEDULEFREE_SGD_SCALARS)

    def __init__(self, params: Any, lr: float = 1.0, momentum: float = 0.9,
                 weight_decay: float = 0.0, warmup_steps: int = 0, r: float = 0.0,
                 weight_lr_power: float = 2.0, *, maximize: bool = False,
                 backend: str | None = None, **options: Any):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      warmup_steps=warmup_steps, r=r,
                                      weight_lr_power=weight_lr_power, maximize=maximize),
                         backend, **options)

    hyperparameters = dict(lr=check.non_negative, momentum=check.unit_interval,
                           weight_decay=check.non_negative, warmup_steps=_warmup_steps,
                           r=check.non_negative, weight_lr_power=check.non_negative)

    def _check(self, gi: int, group: dict[str, Any]) -> dict[str, Any]:
        h = super()._check(gi, group)
        if h["momentum"] == 0.0:
            raise ValueError("momentum must be in (0, 1) (eval() divides by it), got 0.0")
        return h

    def _beta1(self, h: dict[str, Any]) -> float:
        return h["momentum"]

    # weight_decay, ckp1, y_step = lr*(momentum*(1 - ckp1) - 1), lr, first
    _scalars_and_group_state = _step_scalars.schedulefree_sgd
