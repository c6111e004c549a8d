"""Learning-rate schedulers with ``torch.optim.lr_scheduler`` semantics.

Every scheduler here mirrors the torch class of the same name: same constructor
arguments and defaults, same ``step()`` / ``get_last_lr()`` / ``last_epoch`` /
``state_dict()`` / ``load_state_dict()`` interface, and the same arithmetic, so a
schedule computed here agrees with torch's to the last bit in ordinary use.
Where torch updates the learning rate recursively (``lr_t = lr_{t-1} * k_t``) we
do too, and where it uses a closed form (``step(epoch)``, ``LambdaLR``,
``CosineAnnealingWarmRestarts``) so do we; the two are not interchangeable at
the level of rounding, which is why the distinction is kept.

A scheduler works with any optimizer object that has

* ``param_groups``: a list of dicts, each with at least ``"lr"`` and optionally
  ``"momentum"`` or ``"betas"`` (a tuple), and
* ``defaults``: a dict (consulted only by the momentum-cycling schedulers),

which is what every ``fastopt`` optimizer provides. Like torch, schedulers write
``group["lr"]`` (and ``momentum``/``betas`` where torch's do) and store
``group["initial_lr"]`` (plus ``max_lr``/``min_lr``/``max_momentum``/
``base_momentum`` for the cyclic schedulers) in the param groups.

Typical use::

    opt = fastopt.Adam(params, lr=1e-3)
    sched = fastopt.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    for epoch in range(100):
        train_one_epoch(opt)
        sched.step()

Bad arguments raise ``ValueError``/``TypeError`` naming the argument, before the
optimizer is touched. ``state_dict()`` returns plain Python values only
(numbers, strings, lists, dicts); functions and lambdas (``lr_lambda``,
``scale_fn``) are not saved, only the ``__dict__`` of callable objects, exactly
as torch does. The key names match torch's, so a torch scheduler's state dict
can be loaded here.
"""

from __future__ import annotations

import copy
import math
import types
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping, MutableMapping
from typing import Any

from ._core import checks as check

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "OneCycleLR",
    "SequentialLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
]

# Attributes torch keeps in a scheduler's __dict__ that carry no state; they are
# dropped when a torch state dict is loaded here.
_TORCH_TRANSIENT_KEYS = ("_get_lr_called_within_step", "_is_initial", "_scale_fn_ref")


# --------------------------------------------------------------------------- #
# Argument checks
# --------------------------------------------------------------------------- #


def _check_optimizer(optimizer) -> list:
    """Check the duck-typed optimizer interface and return its param groups."""
    groups = getattr(optimizer, "param_groups", None)
    if groups is None:
        raise TypeError(
            f"optimizer must have a 'param_groups' attribute (a list of dicts), "
            f"got {type(optimizer).__name__}"
        )
    if not isinstance(groups, list):
        raise TypeError(
            f"optimizer.param_groups must be a list of dicts, got {type(groups).__name__}"
        )
    for i, group in enumerate(groups):
        if not isinstance(group, MutableMapping):
            raise TypeError(
                f"optimizer.param_groups[{i}] must be a dict, got {type(group).__name__}"
            )
        if "lr" not in group:
            raise ValueError(f"optimizer.param_groups[{i}] has no 'lr' entry")
        if not check.is_real(group["lr"]):
            raise TypeError(
                f"optimizer.param_groups[{i}]['lr'] must be a real number, "
                f"got {type(group['lr']).__name__}"
            )
    return groups


def _check_last_epoch(optimizer, last_epoch) -> None:
    check.integer("last_epoch", last_epoch, lo=-1)
    if last_epoch != -1:
        for i, group in enumerate(optimizer.param_groups):
            if "initial_lr" not in group:
                raise ValueError(
                    f"last_epoch={last_epoch} resumes a schedule, but "
                    f"optimizer.param_groups[{i}] has no 'initial_lr' entry; load the "
                    "optimizer state (which holds it) first, or use last_epoch=-1 for a "
                    "fresh schedule"
                )


def _check_common(optimizer, last_epoch) -> None:
    _check_optimizer(optimizer)
    _check_last_epoch(optimizer, last_epoch)


def _per_group(name: str, optimizer, value, *, lo=None, lo_open=False) -> list:
    """Expand a scalar to one value per param group, or check a list's length."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{name} must have one value per param group: got {len(value)} values "
                f"for {n} param groups"
            )
        values = list(value)
    else:
        values = [value] * n
    return [float(check.bounded(name, v, lo=lo, lo_open=lo_open)) for v in values]


def _lr_lambdas(optimizer, lr_lambda) -> list:
    n = len(optimizer.param_groups)
    if isinstance(lr_lambda, (list, tuple)):
        if len(lr_lambda) != n:
            raise ValueError(
                f"lr_lambda must be one function or one per param group: got "
                f"{len(lr_lambda)} functions for {n} param groups"
            )
        fns = list(lr_lambda)
    else:
        fns = [lr_lambda] * n
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"lr_lambda must be callable, got {type(fn).__name__}")
    return fns


def _check_momentum_support(optimizer) -> bool:
    """For cycle_momentum: return True to cycle betas[0], False for momentum."""
    defaults = getattr(optimizer, "defaults", None)
    if not isinstance(defaults, Mapping) or (
        "momentum" not in defaults and "betas" not in defaults
    ):
        raise ValueError(
            "cycle_momentum=True needs an optimizer with 'momentum' or 'betas' in its "
            "defaults; pass cycle_momentum=False for this optimizer"
        )
    use_beta1 = "betas" in defaults
    key = "betas" if use_beta1 else "momentum"
    for i, group in enumerate(optimizer.param_groups):
        if key not in group:
            raise ValueError(
                f"cycle_momentum=True but optimizer.param_groups[{i}] has no {key!r} entry"
            )
        if use_beta1 and not isinstance(group["betas"], (tuple, list)):
            raise TypeError(f"optimizer.param_groups[{i}]['betas'] must be a tuple")
    return use_beta1


def _set_momentum(group, value, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


def _callable_state(fn):
    """What torch saves for a user callable: nothing for functions, else its __dict__."""
    if isinstance(fn, (types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
        return None
    d = getattr(fn, "__dict__", None)
    return None if d is None else dict(d)


# --------------------------------------------------------------------------- #
# Base class
# --------------------------------------------------------------------------- #


class LRScheduler:
    """Base class of the epoch-indexed schedulers (``torch.optim.lr_scheduler.LRScheduler``).

    A subclass implements :meth:`get_lr`, which returns the learning rate of
    every param group at ``self.last_epoch`` (it may read the groups' current
    ``"lr"`` to update recursively), and optionally ``_get_closed_form_lr``,
    used when ``step(epoch)`` is given an explicit epoch.

    Construction records ``group["initial_lr"]`` (if absent) and ``base_lrs``,
    then takes the initial step, so ``last_epoch`` is 0 for a fresh scheduler.
    Pass ``last_epoch >= 0`` only to resume; the groups must then already hold
    ``initial_lr``.
    """

    # __dict__ entries that are not part of the state dict.
    _not_state = frozenset({"optimizer", "_is_initial"})

    def __init__(self, optimizer, last_epoch: int = -1) -> None:
        _check_common(optimizer, last_epoch)
        self._attach(optimizer, last_epoch)
        self._initial_step()

    # -- construction helpers ------------------------------------------------

    def _attach(self, optimizer, last_epoch: int) -> None:
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [float(group["initial_lr"]) for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._is_initial = False

    def _initial_step(self) -> None:
        """Reset the step count and take the step that sets the epoch-0 values."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    # -- stepping -------------------------------------------------------------

    def get_lr(self) -> list:
        """Learning rates for ``last_epoch`` (subclass hook; use :meth:`get_last_lr` to read)."""
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The learning rates the last step set, one float per param group."""
        return list(self._last_lr)

    def step(self, epoch=None) -> None:
        """Advance one epoch and update the optimizer's learning rates.

        ``epoch`` (deprecated in torch, still honoured) jumps to that epoch and
        uses the closed form where the schedule has one.
        """
        if epoch is not None and not check.is_real(epoch):
            raise TypeError(f"epoch must be a number or None, got {type(epoch).__name__}")
        self._step_count += 1
        try:
            self._update_lr(epoch)
        except BaseException:
            self._step_count -= 1
            raise

    def _update_lr(self, epoch=None) -> None:
        previous = self.last_epoch
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
            values = [float(v) for v in values]
            groups = self.optimizer.param_groups
            if len(values) != len(groups):
                raise ValueError(
                    f"the optimizer has {len(groups)} param groups but the scheduler "
                    f"was built for {len(values)}"
                )
        except BaseException:
            self.last_epoch = previous
            raise
        for group, lr in zip(groups, values):
            group["lr"] = lr
        self._last_lr = [float(group["lr"]) for group in groups]

    def _current_lrs(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]

    # -- state ----------------------------------------------------------------

    def state_dict(self) -> dict:
        """The scheduler's state as a dict of plain Python values (no optimizer)."""
        return {
            key: copy.deepcopy(value)
            for key, value in self.__dict__.items()
            if key not in self._not_state
        }

    def load_state_dict(self, state_dict) -> None:
        """Restore the state returned by :meth:`state_dict` (ours or torch's)."""
        state = self._checked_state(state_dict)
        self.__dict__.update(copy.deepcopy(state))

    def _checked_state(self, state_dict) -> dict:
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        state = {k: v for k, v in state_dict.items() if k not in _TORCH_TRANSIENT_KEYS}
        state.pop("optimizer", None)
        if "last_epoch" not in state:
            raise ValueError(
                f"state_dict has no 'last_epoch' entry; it is not a {type(self).__name__} state"
            )
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={getattr(self, 'last_epoch', None)})"


class _LambdaStateMixin:
    """state_dict handling for schedulers holding user ``lr_lambda`` callables."""

    def state_dict(self: Any) -> dict:
        state = LRScheduler.state_dict(self)
        state["lr_lambdas"] = [_callable_state(fn) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self: Any, state_dict) -> None:
        state = self._checked_state(state_dict)
        saved = state.pop("lr_lambdas", None)
        if saved is not None and len(saved) != len(self.lr_lambdas):
            raise ValueError(
                f"state_dict holds {len(saved)} lr_lambdas, the scheduler has "
                f"{len(self.lr_lambdas)}"
            )
        self.__dict__.update(copy.deepcopy(state))
        for fn, fn_state in zip(self.lr_lambdas, saved or []):
            if fn_state is not None:
                fn.__dict__.update(fn_state)


# --------------------------------------------------------------------------- #
# Epoch-indexed schedules
# --------------------------------------------------------------------------- #


class LambdaLR(_LambdaStateMixin, LRScheduler):
    """lr = initial_lr * lr_lambda(epoch) (``torch.optim.lr_scheduler.LambdaLR``).

    ``lr_lambda`` is one function of the integer epoch, or a list with one per
    param group.
    """

    _not_state = LRScheduler._not_state | {"lr_lambdas"}

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1) -> None:
        _check_common(optimizer, last_epoch)
        self.lr_lambdas = _lr_lambdas(optimizer, lr_lambda)
        self._attach(optimizer, last_epoch)
        self._initial_step()

    def get_lr(self) -> list:
        return [
            base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)
        ]


class MultiplicativeLR(_LambdaStateMixin, LRScheduler):
    """lr *= lr_lambda(epoch) at every step after the first
    (``torch.optim.lr_scheduler.MultiplicativeLR``)."""

    _not_state = LRScheduler._not_state | {"lr_lambdas"}

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1) -> None:
        _check_common(optimizer, last_epoch)
        self.lr_lambdas = _lr_lambdas(optimizer, lr_lambda)
        self._attach(optimizer, last_epoch)
        self._initial_step()

    def get_lr(self) -> list:
        if self._is_initial:
            return self._current_lrs()
        return [
            group["lr"] * fn(self.last_epoch)
            for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups)
        ]


class StepLR(LRScheduler):
    """Multiply lr by ``gamma`` every ``step_size`` epochs
    (``torch.optim.lr_scheduler.StepLR``)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        _check_common(optimizer, last_epoch)
        self.step_size = check.integer("step_size", step_size, lo=1)
        self.gamma = check.bounded("gamma", gamma, lo=0.0, lo_open=True)
        self._attach(optimizer, last_epoch)
        self._initial_step()

    def get_lr(self) -> list:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        return [
            base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs
        ]


class MultiStepLR(LRScheduler):
    """Multiply lr by ``gamma`` at each milestone epoch (``gamma**k`` for a milestone
    listed k times) (``torch.optim.lr_scheduler.MultiStepLR``)."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1) -> None:
        _check_common(optimizer, last_epoch)
        try:
            items = list(milestones)
        except TypeError:
            raise TypeError(
                f"milestones must be an iterable of integers, got {type(milestones).__name__}"
            ) from None
        for m in items:
            check.integer("milestones entry", m)
        self.milestones = Counter(int(m) for m in items)
        self.gamma = check.bounded("gamma", gamma, lo=0.0, lo_open=True)
        self._attach(optimizer, last_epoch)
        self._initial_step()

    def get_lr(self) -> list:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        ordered = sorted(self.milestones.elements())
        return [
            base_lr * self.gamma ** bisect_right(ordered, self.last_epoch)
            for base_lr in self.base_lrs
        ]

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["milestones"] = dict(self.milestones)
        return state

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        self.milestones = Counter(self.milestones)


class ConstantLR(LRScheduler):
    """Scale lr by ``factor`` for the first ``total_iters`` epochs, then restore it
    (``torch.optim.lr_scheduler.ConstantLR``).

    ``factor`` must be in (0, 1]; torch accepts 0 but then divides by zero when
    the factor is undone.
    """

    def __init__(
        self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1
    ) -> None:
        _check_common(optimizer, last_epoch)
        self.factor = check.bounded("factor", factor, lo=0.0, hi=1.0, lo_open=True)
        self.total_iters = check.integer("total_iters", total_iters, lo=1)
        self._attach(optimizer, last_epoch)
        self._initial_step()

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        done = self.last_epoch >= self.total_iters
        return [base_lr * (self.factor + done * (1 - self.factor)) for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale lr by a factor moving linearly from ``start_factor`` to ``end_factor``
    over ``total_iters`` epochs (``torch.optim.lr_scheduler.LinearLR``)."""

    def __init__(
        self,
        optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        _check_common(optimizer, last_epoch)
        self.start_factor = check.bounded("start_factor", start_factor, lo=0.0, hi=1.0, lo_open=True)
        self.end_factor = check.bounded("end_factor", end_factor, lo=0.0, hi=1.0)
        self.total_iters = check.integer("total_iters", total_iters, lo=1)
        self._attach(optimizer, last_epoch)
        self._initial_step()

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        delta = self.end_factor - self.start_factor
        factor = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        delta = self.end_factor - self.start_factor
        progress = min(self.total_iters, self.last_epoch)
        return [
            base_lr * (self.start_factor + delta * progress / self.total_iters)
            for base_lr in self.base_lrs
        ]


class ExponentialLR(LRScheduler):
    """Multiply lr by ``gamma`` every epoch (``torch.optim.lr_scheduler.ExponentialLR``)."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1) -> None:
        _check_common(optimizer, last_epoch)
        self.gamma = check.bounded("gamma", gamma, lo=0.0, lo_open=True)
        self._attach(optimizer, last_epoch)
        self._initial_step()

    def get_lr(self) -> list:
        if self._is_initial:
            return self._current_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr = initial_lr * (1 - epoch / total_iters) ** power, then constant
    (``torch.optim.lr_scheduler.PolynomialLR``; updated recursively like torch)."""

    def __init__(
        self, optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1
    ) -> None:
        _check_common(optimizer, last_epoch)
        self.total_iters = check.integer("total_iters", total_iters, lo=1)
        self.power = check.bounded("power", power, lo=0.0)
        self._attach(optimizer, last_epoch)
        self._initial_step()

    def get_lr(self) -> list:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        decay = (
            (1.0 - self.last_epoch / self.total_iters)
            / (1.0 - (self.last_epoch - 1) / self.total_iters)
        ) ** self.power
        return [group["lr"] * decay for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        progress = min(self.total_iters, self.last_epoch)
        return [
            base_lr * (1.0 - progress / self.total_iters) ** self.power for base_lr in self.base_lrs
        ]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from initial_lr to ``eta_min`` over ``T_max`` epochs, then
    back up (period ``2 * T_max``) (``torch.optim.lr_scheduler.CosineAnnealingLR``).

    Uses torch's recursive update, so values (and their rounding) match torch's
    step-by-step schedule rather than the closed form.
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        _check_common(optimizer, last_epoch)
        self.T_max = check.bounded("T_max", T_max, lo=0.0, lo_open=True)
        self.eta_min = check.bounded("eta_min", eta_min)
        self._attach(optimizer, last_epoch)
        self._initial_step()

    def get_lr(self) -> list:
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and e > 0:
            return [
                eta_min + (base_lr - eta_min) * (1 + math.cos(e * math.pi / T)) / 2
                for base_lr in self.base_lrs
            ]
        if (e - 1 - T) % (2 * T) == 0:
            return [
                group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for base_lr, group in zip(self.base_lrs, self.optimizer.param_groups)
            ]
        ratio = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
        return [ratio * (group["lr"] - eta_min) + eta_min for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        cos_term = 1 + math.cos(math.pi * self.last_epoch / self.T_max)
        return [
            self.eta_min + (base_lr - self.eta_min) * cos_term / 2 for base_lr in self.base_lrs
        ]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: cosine annealing restarted every ``T_i`` epochs, ``T_i`` growing by
    ``T_mult`` (``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts``).

    ``step(epoch)`` accepts fractional epochs (e.g. ``epoch + i / iters``) to
    anneal within an epoch.
    """

    def __init__(
        self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        _check_common(optimizer, last_epoch)
        self.T_0 = check.integer("T_0", T_0, lo=1)
        self.T_i = self.T_0
        self.T_mult = check.integer("T_mult", T_mult, lo=1)
        self.eta_min = check.bounded("eta_min", eta_min)
        self.T_cur = last_epoch
        self._attach(optimizer, last_epoch)
        self._initial_step()

    def get_lr(self) -> list:
        cos_term = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (base_lr - self.eta_min) * cos_term / 2 for base_lr in self.base_lrs]

    def step(self, epoch=None) -> None:
        """Advance one epoch, or jump to ``epoch`` (a non-negative, possibly
        fractional, number)."""
        if epoch is not None:
            if not check.is_real(epoch):
                raise TypeError(f"epoch must be a number or None, got {type(epoch).__name__}")
            if not epoch >= 0 or not math.isfinite(epoch):
                raise ValueError(f"epoch must be a finite number >= 0, got {epoch!r}")
        if len(self.base_lrs) != len(self.optimizer.param_groups):
            raise ValueError(
                f"the optimizer has {len(self.optimizer.param_groups)} param groups but "
                f"the scheduler was built for {len(self.base_lrs)}"
            )
        if epoch is None and self.last_epoch < 0:
            epoch = 0

        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        elif epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:
                n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult**n
        else:
            self.T_i = self.T_0
            self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        self._step_count += 1

        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = float(lr)
        self._last_lr = [float(group["lr"]) for group in self.optimizer.param_groups]


# --------------------------------------------------------------------------- #
# Cyclic schedules (iteration-indexed, may also cycle momentum)
# --------------------------------------------------------------------------- #


class CyclicLR(LRScheduler):
    """Cyclical learning rate between ``base_lr`` and ``max_lr`` (Smith, 2017)
    (``torch.optim.lr_scheduler.CyclicLR``).

    ``mode`` is ``"triangular"``, ``"triangular2"`` (amplitude halves each cycle)
    or ``"exp_range"`` (amplitude scaled by ``gamma**iteration``); a custom
    ``scale_fn`` with ``scale_mode`` ("cycle" or "iterations") overrides it.
    With ``cycle_momentum`` the optimizer's ``momentum`` (or ``betas[0]`` when
    its defaults have ``betas``) cycles inversely between ``max_momentum`` and
    ``base_momentum``. Step it after every batch.
    """

    _not_state = LRScheduler._not_state | {"_scale_fn_custom"}
    _modes = ("triangular", "triangular2", "exp_range")

    def __init__(
        self,
        optimizer,
        base_lr,
        max_lr,
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn=None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
        last_epoch: int = -1,
    ) -> None:
        # Everything is checked before the optimizer is touched.
        _check_common(optimizer, last_epoch)
        base_lrs = _per_group("base_lr", optimizer, base_lr, lo=0.0)
        max_lrs = _per_group("max_lr", optimizer, max_lr, lo=0.0)
        up = float(check.bounded("step_size_up", step_size_up, lo=0.0, lo_open=True))
        down = up if step_size_down is None else float(check.bounded("step_size_down", step_size_down, lo=0.0))
        if scale_fn is None:
            if mode not in self._modes:
                raise ValueError(
                    f"mode must be one of {', '.join(map(repr, self._modes))} "
                    f"(or pass scale_fn), got {mode!r}"
                )
        elif not callable(scale_fn):
            raise TypeError(f"scale_fn must be callable or None, got {type(scale_fn).__name__}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
        gamma = check.bounded("gamma", gamma, lo=0.0, lo_open=True)
        if cycle_momentum:
            use_beta1 = _check_momentum_support(optimizer)
            base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            max_momentums = _per_group("max_momentum", optimizer, max_momentum)

        self.optimizer = optimizer
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = max_lrs
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_mode()

        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            self.use_beta1 = use_beta1
            self.base_momentums = base_momentums
            self.max_momentums = max_momentums
            if last_epoch == -1:
                for m_max, m_base, group in zip(max_momentums, base_momentums, optimizer.param_groups):
                    _set_momentum(group, m_max, use_beta1)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base

        self._attach(optimizer, last_epoch)
        # The cycle runs between base_lr and max_lr, whatever initial_lr says.
        self.base_lrs = base_lrs
        self._initial_step()

    def _init_scale_mode(self) -> None:
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x) -> float:
        """The amplitude scale at cycle number / iteration ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)

        lrs = [
            base_lr + (max_lr - base_lr) * scale_factor * scale
            for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)
        ]
        if self.cycle_momentum:
            momentums = [
                max_m - (max_m - base_m) * scale_factor * scale
                for base_m, max_m in zip(self.base_momentums, self.max_momentums)
            ]
            for group, momentum in zip(self.optimizer.param_groups, momentums):
                _set_momentum(group, momentum, self.use_beta1)
        return lrs

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["_scale_fn_custom"] = (
            None if self._scale_fn_custom is None else _callable_state(self._scale_fn_custom)
        )
        return state

    def load_state_dict(self, state_dict) -> None:
        state = self._checked_state(state_dict)
        fn_state = state.pop("_scale_fn_custom", None)
        self.__dict__.update(copy.deepcopy(state))
        if fn_state is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(fn_state)
        self._init_scale_mode()


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018) (``torch.optim.lr_scheduler.OneCycleLR``).

    lr warms up from ``max_lr / div_factor`` to ``max_lr`` over ``pct_start`` of
    ``total_steps``, then anneals (``anneal_strategy`` "cos" or "linear") to
    ``initial_lr / final_div_factor``; ``three_phase`` makes the descent
    symmetric before the final annealing. With ``cycle_momentum`` the
    optimizer's ``momentum`` (or ``betas[0]``) moves inversely between
    ``max_momentum`` and ``base_momentum``. Step it after every batch; stepping
    past ``total_steps`` raises ``ValueError``.
    """

    def __init__(
        self,
        optimizer,
        max_lr,
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum=0.85,
        max_momentum=0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        # Everything is checked before the optimizer is touched.
        _check_common(optimizer, last_epoch)
        if total_steps is not None:
            total_steps = check.integer("total_steps", total_steps, lo=1)
        elif epochs is not None and steps_per_epoch is not None:
            total_steps = check.integer("epochs", epochs, lo=1) * check.integer("steps_per_epoch", steps_per_epoch, lo=1)
        else:
            raise ValueError("pass either total_steps or both epochs and steps_per_epoch")
        pct_start = check.bounded("pct_start", pct_start, lo=0.0, hi=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        max_lrs = _per_group("max_lr", optimizer, max_lr, lo=0.0)
        div_factor = check.bounded("div_factor", div_factor, lo=0.0, lo_open=True)
        final_div_factor = check.bounded("final_div_factor", final_div_factor, lo=0.0, lo_open=True)
        if cycle_momentum:
            use_beta1 = _check_momentum_support(optimizer)
            max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            base_momentums = _per_group("base_momentum", optimizer, base_momentum)
        if last_epoch != -1:
            needed = ["max_lr", "min_lr"] + (["max_momentum", "base_momentum"] if cycle_momentum else [])
            for i, group in enumerate(optimizer.param_groups):
                missing = [k for k in needed if k not in group]
                if missing:
                    raise ValueError(
                        f"last_epoch={last_epoch} resumes a schedule, but "
                        f"optimizer.param_groups[{i}] lacks {missing}; load the optimizer "
                        "state first"
                    )

        self.optimizer = optimizer
        self.total_steps = total_steps
        phase1_end = float(pct_start * total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                _phase(phase1_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr",
                       "base_momentum", "max_momentum"),
                _phase(total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._schedule_phases = [
                _phase(phase1_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        self._anneal_func_type = anneal_strategy

        if last_epoch == -1:
            for m, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            self.use_beta1 = use_beta1
            if last_epoch == -1:
                for m_max, m_base, group in zip(max_momentums, base_momentums, optimizer.param_groups):
                    _set_momentum(group, m_max, use_beta1)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base

        self._attach(optimizer, last_epoch)
        self._initial_step()

    def _anneal(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list:
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"OneCycleLR stepped {step_num} times, but total_steps is {self.total_steps}"
            )
        lrs, momentums = [], []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == last:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentums.append(
                            self._anneal(
                                group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                            )
                        )
                    break
                start_step = phase["end_step"]
        if self.cycle_momentum:
            for group, momentum in zip(self.optimizer.param_groups, momentums):
                _set_momentum(group, momentum, self.use_beta1)
        return lrs


def _phase(end_step, start_lr, end_lr, start_momentum, end_momentum) -> dict:
    return {
        "end_step": end_step,
        "start_lr": start_lr,
        "end_lr": end_lr,
        "start_momentum": start_momentum,
        "end_momentum": end_momentum,
    }


# --------------------------------------------------------------------------- #
# Compositions
# --------------------------------------------------------------------------- #


def _check_children(owner: str, optimizer, schedulers) -> list:
    if isinstance(schedulers, (str, bytes)) or not hasattr(schedulers, "__len__"):
        raise TypeError(f"schedulers must be a list of schedulers, got {type(schedulers).__name__}")
    schedulers = list(schedulers)
    if not schedulers:
        raise ValueError(f"{owner} needs at least one scheduler in schedulers, got none")
    if optimizer is None:
        optimizer = getattr(schedulers[0], "optimizer", None)
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"schedulers[{i}] must be a scheduler, got {type(s).__name__}")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(
                f"{owner} cannot hold a ReduceLROnPlateau (schedulers[{i}]): its step() "
                "needs a metric"
            )
        if s.optimizer is not optimizer:
            raise ValueError(
                f"schedulers[{i}] ({type(s).__name__}) is attached to a different optimizer "
                f"than the one given to {owner}"
            )
    return schedulers


class _CompositeStateMixin:
    """state_dict handling for schedulers that own child schedulers."""

    def state_dict(self: Any) -> dict:
        state = LRScheduler.state_dict(self)
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self: Any, state_dict) -> None:
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        state = {k: v for k, v in state_dict.items() if k not in _TORCH_TRANSIENT_KEYS}
        state.pop("optimizer", None)
        children = state.pop("_schedulers", None)
        if not isinstance(children, (list, tuple)) or len(children) != len(self._schedulers):
            raise ValueError(
                f"state_dict must hold {len(self._schedulers)} child scheduler states in "
                f"'_schedulers'"
            )
        self.__dict__.update(copy.deepcopy(state))
        for s, s_state in zip(self._schedulers, children):
            s.load_state_dict(s_state)


class SequentialLR(_CompositeStateMixin, LRScheduler):
    """Run ``schedulers`` one after another, switching at the ``milestones`` epochs
    (``torch.optim.lr_scheduler.SequentialLR``).

    At a milestone the next scheduler starts from its epoch 0 (from the
    learning rates the previous one left, for recursive schedules).
    """

    _not_state = LRScheduler._not_state | {"_schedulers"}

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        check.integer("last_epoch", last_epoch, lo=-1)
        schedulers = _check_children("SequentialLR", optimizer, schedulers)
        try:
            milestones = list(milestones)
        except TypeError:
            raise TypeError(
                f"milestones must be a list of integers, got {type(milestones).__name__}"
            ) from None
        for m in milestones:
            check.integer("milestones entry", m)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"milestones must have one entry fewer than schedulers: got "
                f"{len(milestones)} milestones for {len(schedulers)} schedulers"
            )
        for i, group in enumerate(optimizer.param_groups):
            if "initial_lr" not in group:
                raise ValueError(f"optimizer.param_groups[{i}] has no 'initial_lr' entry")

        self._schedulers = schedulers
        self._milestones = [int(m) for m in milestones]
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        self._is_initial = False

        # Undo the initial steps the children took when they were built, then
        # take only the one belonging to the scheduler active at epoch 0.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def recursive_undo(self, sched=None) -> None:
        """Step every (nested) child back by one epoch."""
        target = self if sched is None else sched
        if hasattr(target, "_schedulers"):
            for s in target._schedulers:
                self.recursive_undo(s)
        elif hasattr(target, "last_epoch"):
            target.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]  # torch's signature
        """Advance one epoch, handing over to the next scheduler at a milestone."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_CompositeStateMixin, LRScheduler):
    """Step several schedulers together, each applying its change on top of the
    others' (``torch.optim.lr_scheduler.ChainedScheduler``).

    ``last_epoch`` is that of the last scheduler in the chain.
    """

    _not_state = LRScheduler._not_state | {"_schedulers"}

    def __init__(self, schedulers, optimizer=None) -> None:
        if optimizer is not None:
            _check_optimizer(optimizer)
        schedulers = _check_children("ChainedScheduler", optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = schedulers[0].optimizer if optimizer is None else optimizer
        self._is_initial = False
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    @property
    def last_epoch(self):
        return self._schedulers[-1].last_epoch

    def step(self) -> None:  # type: ignore[override]  # torch's signature
        """Step every scheduler in the chain, in order."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    # Used when a chain sits inside a SequentialLR.
    def _initial_step(self) -> None:
        for scheduler in self._schedulers:
            scheduler._initial_step()
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    def _update_lr(self, epoch=None) -> None:
        for scheduler in self._schedulers:
            scheduler._update_lr(epoch)
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]


# --------------------------------------------------------------------------- #
# Metric-driven schedule
# --------------------------------------------------------------------------- #


class ReduceLROnPlateau(LRScheduler):
    """Multiply lr by ``factor`` when a metric has stopped improving for more than
    ``patience`` epochs (``torch.optim.lr_scheduler.ReduceLROnPlateau``).

    ``step(metric)`` takes the monitored value. ``mode`` "min"/"max" says which
    way is better; an improvement must beat the best value by ``threshold``
    (relative or absolute per ``threshold_mode``). After a reduction, ``cooldown``
    epochs pass before bad epochs count again. lr never goes below ``min_lr``
    (scalar or one per group), and changes smaller than ``eps`` are skipped.
    """

    def __init__(
        self,
        optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr=0,
        eps: float = 1e-8,
    ) -> None:
        _check_optimizer(optimizer)
        self.factor = check.bounded("factor", factor, lo=0.0, hi=1.0, hi_open=True)
        if isinstance(min_lr, (list, tuple)):
            self.min_lrs = _per_group("min_lr", optimizer, min_lr, lo=0.0)
            self.default_min_lr = None
        else:
            self.default_min_lr = check.bounded("min_lr", min_lr, lo=0.0)
            self.min_lrs = [self.default_min_lr] * len(optimizer.param_groups)
        self.patience = check.integer("patience", patience, lo=0)
        self.cooldown = check.integer("cooldown", cooldown, lo=0)
        self.eps = check.bounded("eps", eps, lo=0.0)
        threshold = check.bounded("threshold", threshold, lo=0.0)
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self.optimizer = optimizer
        self.last_epoch = 0
        self._last_lr = [float(g["lr"]) for g in optimizer.param_groups]
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _init_is_better(self, mode, threshold, threshold_mode) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a, best) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics, epoch=None) -> None:  # type: ignore[override]  # torch's signature
        """Record one epoch's metric and reduce lr if it has plateaued."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(
                f"metrics must be a number (the monitored value), got {type(metrics).__name__}"
            ) from None
        if epoch is not None and not check.is_real(epoch):
            raise TypeError(f"epoch must be a number or None, got {type(epoch).__name__}")
        if len(self.optimizer.param_groups) != len(self.min_lrs) and self.default_min_lr is None:
            raise ValueError(
                f"the optimizer has {len(self.optimizer.param_groups)} param groups but "
                f"min_lr holds {len(self.min_lrs)} values; set min_lrs to match"
            )
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch

        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1

        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count

        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):  # a group was added; scalar min_lr applies
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = float(new_lr)

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(
            mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode
        )
