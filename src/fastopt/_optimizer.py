"""The optimizer core that every optimizer class builds on.

It holds the param groups (plain dicts whose hyperparameters may change between steps,
as schedulers do), the flat state, the int64 step counter and the kernel bound to each
plan.  A subclass says only which state buffers it has, how they start, and which scalars
its kernel gets each step (computed here in Python float64 and checked as they are read).

Two options of the base class guard the step: ``max_grad_norm`` (clip the global gradient
norm) and ``nonfinite`` (what a gradient with inf/NaN does).  Either one adds a pre-pass
kernel that reads every gradient once and writes per-chunk float64 sums of squares; the
update kernels then get the clipping factor in their leading gradient scale ``s[0]``, so
no pass rewrites the gradient.  With both off (the default) the step runs no pre-pass.
"""
from __future__ import annotations

import math
from operator import is_
from typing import Any, ClassVar

import numpy as np

from . import _backend, _kernels
from ._errors import NonFiniteError
from ._params import GradsLike, Key, ParamsLike, grads_in_order, parse_params
from ._plan import GRAD, address, build_plans, fsum_partials

STATE_FORMAT = 1
NONFINITE = ("propagate", "skip", "raise")


def _check_max_grad_norm(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"max_grad_norm must be a number or None, got {type(value).__name__}")
    if not float(value) >= 0.0:
        raise ValueError(f"max_grad_norm must be >= 0 (or None: no clipping), got {value!r}")
    return float(value)


def _check_nonfinite(value: Any) -> str:
    if not isinstance(value, str) or value not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {', '.join(map(repr, NONFINITE))}, "
                         f"got {value!r}")
    return value


class Optimizer:
    """The base of every optimizer.

    A subclass's constructor takes ``params``, its hyperparameters (torch's names and
    defaults), ``backend=None`` and ``**options``, and passes them on as
    ``super().__init__(params, defaults, backend, **options)``.  The options, keyword-only
    and the same for every optimizer:

    ``max_grad_norm=None``
        Clip the gradient as ``fastopt.clip_grad_norm_(grads, max_norm=max_grad_norm)``
        would, fused into the step: a pre-pass measures the 2-norm of all gradients of all
        param groups together, and the update scales each gradient by
        ``min(max_grad_norm / (norm + 1e-6), 1)`` as it reads it (the gradient arrays are
        not changed).  The norm is kept in :attr:`grad_norm`.
    ``nonfinite="propagate"``
        What a step does when a gradient holds inf or NaN.  ``"propagate"``: what torch
        does, the update runs and the values spread into parameters and state.
        ``"skip"``: the step is not taken -- parameters, state, per-group scalar state and
        the step count stay as they were -- and :attr:`skipped_steps` counts it (for
        loss scaling and flaky batches).  ``"raise"``: :class:`fastopt.NonFiniteError` (a
        ``FloatingPointError``) naming the parameters, and nothing changes.  Detection
        is done by the same pre-pass kernel (a sum of squares is finite iff every value
        is; where one is not, a probe tells inf/NaN values from float64 overflow).

    Both can be changed between steps (``opt.max_grad_norm = 1.0``).  With both off the
    step costs what it always did: no pre-pass runs.
    """
    #: The name of the kernel the step runs (the same in every backend).
    kernel: ClassVar[str]
    #: Every state buffer the optimizer can have, in the kernel's column order.
    buffers: ClassVar[tuple[str, ...]] = ()
    #: Hyperparameters that decide which state buffers exist: fixed once built.
    structural: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: ParamsLike, defaults: dict[str, Any], backend: str | None = None, *,
                 max_grad_norm: float | None = None, nonfinite: str = "propagate",
                 **unknown: Any):
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) "
                            f"{', '.join(map(repr, unknown))}")
        max_grad_norm = _check_max_grad_norm(max_grad_norm)
        nonfinite = _check_nonfinite(nonfinite)
        self.backend, module = _backend.load(backend)
        self._module = module
        overrides, tensors, flat = parse_params(params)
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.group_state: list[dict[str, float]] = []
        for gi, override in enumerate(overrides):
            extra = sorted(set(override) - set(defaults))
            if extra:
                raise TypeError(f"param group {gi}: {type(self).__name__} has no "
                                f"hyperparameter {', '.join(map(repr, extra))}")
            group = {"params": [t.array for t in tensors if t.group == gi],
                     **defaults, **override}
            self.param_groups.append(group)
            self.group_state.append(self._initial_group_state(group))
        self._step = 0
        self._structure = [self._structure_of(g) for g in self.param_groups]
        self._checked: list[tuple | None] = [None] * len(self.param_groups)
        self._has_after_step = type(self)._after_step is not Optimizer._after_step
        for gi in range(len(self.param_groups)):
            self._group_scalars(gi, 1)          # checks every hyperparameter
        self._tensors = tensors
        self._flat = flat
        self._arrays = [t.array for t in tensors]
        self._labels = [t.label for t in tensors]
        self._plans, self._table, self._rows = build_plans(
            tensors, len(self.param_groups), self.buffers,
            lambda gi: self._live_buffers(self.param_groups[gi]),
            lambda gi, name: self._initial_value(self.param_groups[gi], name))
        self._runs = [self._bind(module, plan) for plan in self._plans]
        self._flat_grad_offsets, self._flat_grad_shape = self._flat_gradient_layout()
        self._default_grads = self._table[:, GRAD].copy() if flat is not None else None
        self._grads_are_default = flat is not None
        self._max_grad_norm = max_grad_norm
        self._nonfinite = nonfinite
        self._skipped = 0
        #: The global gradient 2-norm the last guarded step measured (None without a
        #: pre-pass; NaN/inf where the gradients were not finite).
        self.grad_norm: float | None = None
        self._prepass: list | None = None       # the pre-pass kernel per plan, bound on use
        self._prepass_outs: list[np.ndarray] = []   # and its per-chunk outputs
        self._guarded = False
        self._update_guard()

    # ---- what a subclass defines ------------------------------------------------------

    def _scalars(self, gi: int, group: dict[str, Any], step: int) -> tuple[float, ...]:
        """The kernel's scalars for group ``gi`` at step ``step`` (after the leading
        gradient scale), checking each hyperparameter as it is read.  Must not change
        anything: a step that is refused later leaves everything as it was."""
        raise NotImplementedError

    #: Optional: ``_check(gi, group) -> dict`` checks every hyperparameter of the group
    #: (raising as _scalars would) and returns them checked and converted, as _scalars
    #: should read them.  A subclass that defines it keeps its checks out of _scalars: the
    #: core calls _check only when a value in the group changed (see _group_scalars) and
    #: hands its dict to _scalars as ``group``.  Without it, _scalars gets the live group
    #: every step and checks what it reads.
    _check: Any = None

    def _live_buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        """The state buffers this group uses (default: all of them)."""
        return self.buffers

    def _initial_value(self, group: dict[str, Any], name: str) -> float:
        """What state buffer ``name`` starts filled with (default 0)."""
        return 0.0

    def _initial_group_state(self, group: dict[str, Any]) -> dict[str, float]:
        """Per-group scalar state, kept in state_dict (default: none)."""
        return {}

    def _after_step(self, gi: int, group: dict[str, Any], step: int) -> None:
        """Advance per-group scalar state once a step has run."""

    def _bind(self, module: Any, plan: Any) -> Any:
        """What :meth:`_run` calls for ``plan`` (default: the optimizer's one kernel bound
        to the plan).  An optimizer whose step is more than one kernel call (LAMB: two
        passes with a per-tensor reduction between them) binds several here."""
        return plan.bind(module, self.kernel)[0]

    def _run(self, scalars: list[tuple[float, ...]], step: int) -> None:
        """Run step ``step`` on every plan, given each plan's scalars (``self._runs[i]``
        is what :meth:`_bind` returned for ``self._plans[i]``).  Everything has been
        checked by the time this is called, so it must not raise (default: one kernel
        call per plan)."""
        for run, s in zip(self._runs, scalars):
            run(s)

    # ---- the step ---------------------------------------------------------------------

    def _structure_of(self, group: dict[str, Any]) -> tuple:
        return tuple(group[k] for k in self.structural)

    def _group_scalars(self, gi: int, step: int) -> tuple[float, ...]:
        group = self.param_groups[gi]
        # The group's values are checked once and then only when one of them is replaced
        # (compared by identity, so 1 == 1.0 == True and -0.0 == 0.0 don't hide a
        # change) or the group dict itself is replaced (a new dict may hold the same
        # objects under other keys); the cache is kept only when every value is immutable
        # (no list or array that could change in place).  Checking costs more than the
        # rest of a small step.
        try:
            checked = self._checked[gi]
            if checked is None or group is not checked[3] or len(group) != len(checked[0]) \
                    or not all(map(is_, group.values(), checked[0])):
                checked = self._check_group(gi, group)
            return checked[1] + self._scalars(gi, checked[2], step)
        except (TypeError, ValueError) as e:
            if len(self.param_groups) > 1:
                raise type(e)(f"param group {gi}: {e}") from None
            raise

    def _check_group(self, gi: int, group: dict[str, Any]) -> tuple:
        """Check the group's structural options, maximize and (where the subclass has
        _check) its hyperparameters; cache the outcome while the values stay the same."""
        if self.structural and self._structure_of(group) != self._structure[gi]:
            raise ValueError(f"{', '.join(self.structural)} cannot change once the "
                             f"optimizer is built (they decide its state)")
        maximize = group["maximize"]
        if maximize is not True and maximize is not False:
            raise TypeError(f"maximize must be True or False, got {maximize!r}")
        hyper = group if self._check is None else self._check(gi, group)
        entry = (tuple(group.values()), (-1.0 if maximize else 1.0,), hyper, group)
        cacheable = all(_immutable(v) for k, v in group.items() if k != "params")
        self._checked[gi] = entry if cacheable else None
        return entry

    def step(self, grads: GradsLike = None) -> None:
        """One update of every parameter.

        ``grads``: the gradients in the parameters' structure (a list in order, or a dict
        by name), or one flat array; omitted for ``FlatParams``, whose ``.grads`` buffer
        is used.  A refused call changes nothing.
        """
        self._take_grads(grads)
        t = self._step + 1
        if self._guarded:
            scalars = self._guarded_scalars(t)
            if scalars is None:
                return
            self._run(scalars, t)
        elif type(self)._run is Optimizer._run and len(self._runs) == 1:   # the common case
            self._runs[0](self._group_scalars(self._plans[0].group, t))
        else:
            self._run([self._group_scalars(plan.group, t) for plan in self._plans], t)
        if self._has_after_step:
            for gi, group in enumerate(self.param_groups):
                self._after_step(gi, group, t)
        self._step = t

    # ---- the guarded step: max_grad_norm and nonfinite --------------------------------

    @property
    def max_grad_norm(self) -> float | None:
        """Clip the global gradient 2-norm to this inside the step (None: no clipping)."""
        return self._max_grad_norm

    @max_grad_norm.setter
    def max_grad_norm(self, value: float | None) -> None:
        self._max_grad_norm = _check_max_grad_norm(value)
        self._update_guard()

    @property
    def nonfinite(self) -> str:
        """What a gradient with inf/NaN does: "propagate", "skip" or "raise"."""
        return self._nonfinite

    @nonfinite.setter
    def nonfinite(self, value: str) -> None:
        self._nonfinite = _check_nonfinite(value)
        self._update_guard()

    @property
    def skipped_steps(self) -> int:
        """Steps not taken because of non-finite gradients (``nonfinite="skip"``)."""
        return self._skipped

    def _update_guard(self) -> None:
        self._guarded = self._max_grad_norm is not None or self._nonfinite != "propagate"
        if self._guarded and self._prepass is None:
            bound = [plan.bind(self._module, "sumsq", n_out=2) for plan in self._plans]
            self._prepass = [run for run, _, _ in bound]
            self._prepass_outs = [out for _, _, out in bound]
        if not self._guarded:
            self.grad_norm = None

    def _guarded_scalars(self, t: int) -> list[tuple[float, ...]] | None:
        """Every plan's scalars for step ``t`` after the pre-pass: with the clipping
        factor folded into the gradient scale, or None where the step is skipped.
        (For a subclass that overrides step(): call this once the gradients are taken.)"""
        scalars = [self._group_scalars(plan.group, t) for plan in self._plans]
        for run in self._prepass or ():
            run(())
        total = fsum_partials(self._prepass_outs)
        if self._nonfinite != "propagate" and not math.isfinite(total):
            bad = self._nonfinite_labels()      # inf/NaN values, or a float64 overflow?
            if bad:
                if self._nonfinite == "skip":
                    self._skipped += 1
                    self.grad_norm = total ** 0.5
                    return None
                raise NonFiniteError(
                    f"non-finite gradient (inf or NaN) for parameter"
                    f"{'s' if len(bad) > 1 else ''} {', '.join(bad)}: step {t} was not "
                    f"taken, nothing changed")
        norm = total ** 0.5
        self.grad_norm = norm
        if self._max_grad_norm is not None:
            coef = min(self._max_grad_norm / (norm + 1e-6), 1.0)     # NaN stays NaN
            if coef != 1.0:
                scalars = [(s[0] * coef,) + s[1:] for s in scalars]
        return scalars

    def _nonfinite_labels(self) -> list[str]:
        """The parameters whose gradient the last pre-pass found inf/NaN in, in order."""
        rows = set()
        for plan, out in zip(self._plans, self._prepass_outs):
            for c in np.flatnonzero(np.isnan(out[:, 1])).tolist():
                rows.add(plan.first_row + int(plan.chunks[c, 0]))
        return [label for label, row in zip(self._labels, self._rows.tolist()) if row in rows]

    def _take_grads(self, grads: GradsLike) -> None:
        """Point the address table's gradient column at this step's gradients."""
        if grads is None:
            if self._default_grads is None:
                raise TypeError("step() needs the gradients: pass them in the parameters' "
                                "structure, or build the optimizer on fastopt.flatten(...) "
                                "and write them into params.grads")
            if not self._grads_are_default:
                self._table[:, GRAD] = self._default_grads
                self._grads_are_default = True
            return
        if isinstance(grads, np.ndarray):
            self._take_flat_grad(grads)
        else:
            _kernels.gather_addresses(grads_in_order(grads, self._tensors), self._arrays,
                                      self._labels, self._table, self._rows, GRAD)
        self._grads_are_default = False

    def _flat_gradient_layout(self) -> tuple[np.ndarray | None, tuple[int, ...] | None]:
        """Byte offsets of each tensor's gradient inside one flat gradient array, and that
        array's shape; (None, None) where parameters have several dtypes."""
        if len({a.dtype for a in self._arrays}) != 1:
            return None, None
        if self._flat is not None:
            grad = self._flat.grad
            return self._table[self._rows, GRAD] - address(grad), grad.shape
        itemsize = self._arrays[0].itemsize
        sizes = np.array([a.size for a in self._arrays], np.int64)
        return (np.cumsum(sizes) - sizes) * itemsize, (int(sizes.sum()),)

    def _take_flat_grad(self, grad: np.ndarray) -> None:
        if self._flat_grad_offsets is None:
            raise TypeError("one flat gradient array needs parameters of a single dtype; "
                            "pass a list or dict of gradients")
        dtype = self._arrays[0].dtype
        if grad.dtype != dtype:
            raise TypeError(f"the flat gradient has dtype {grad.dtype}, the parameters {dtype}")
        if grad.shape != self._flat_grad_shape:
            raise ValueError(f"the flat gradient has shape {grad.shape}, expected "
                             f"{self._flat_grad_shape}")
        if not grad.flags.c_contiguous:
            raise ValueError("the flat gradient is not C-contiguous")
        if any(np.shares_memory(grad, a) for a in self._arrays):
            raise ValueError("the flat gradient shares memory with the parameters")
        self._table[self._rows, GRAD] = address(grad) + self._flat_grad_offsets

    def zero_grad(self) -> None:
        """Clear the gradient buffer of ``FlatParams`` (other forms keep no gradients)."""
        if self._flat is not None:
            self._flat.zero_grad()

    # ---- inspection and state ---------------------------------------------------------

    @property
    def step_count(self) -> int:
        """Steps taken so far."""
        return self._step

    @property
    def state(self) -> dict[Key, dict[str, np.ndarray]]:
        """Live views of every parameter's state buffers, keyed like the parameters."""
        return {t.key: {name: plan.state_view(name, row) for name in plan.state}
                for plan in self._plans for row, t in enumerate(plan.tensors)}

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer made of NumPy arrays and plain Python values."""
        groups = []
        for gi, group in enumerate(self.param_groups):
            hyper = {k: v for k, v in group.items() if k != "params"}
            hyper["params"] = [t.key for t in self._tensors if t.group == gi]
            groups.append(hyper)
        return {
            "optimizer": type(self).__name__,
            "format_version": STATE_FORMAT,
            "step": int(self._step),
            "skipped_steps": int(self._skipped),
            "param_groups": groups,
            "group_state": [dict(s) for s in self.group_state],
            "state": {key: {name: arr.copy() for name, arr in bufs.items()}
                      for key, bufs in self.state.items()},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`state_dict`.  One of another optimizer or
        another parameter layout is refused, and nothing changes."""
        self._apply_state_dict(self._check_state_dict(state_dict))

    def _check_state_dict(self, state_dict: dict[str, Any]) -> dict[str, Any]:
        """Validate a state_dict for :meth:`load_state_dict` without changing anything;
        returns what :meth:`_apply_state_dict` commits."""
        sd = state_dict
        if not isinstance(sd, dict):
            raise TypeError(f"state_dict must be a dict, got {type(sd).__name__}")
        missing = {"optimizer", "format_version", "step", "param_groups", "group_state",
                   "state"} - set(sd)
        if missing:
            raise ValueError(f"not a fastopt state_dict: no {', '.join(sorted(missing))}")
        if sd["optimizer"] != type(self).__name__:
            raise ValueError(f"this state_dict is from {sd['optimizer']}, not "
                             f"{type(self).__name__}")
        if sd["format_version"] != STATE_FORMAT:
            raise ValueError(f"state_dict format {sd['format_version']!r} is not supported "
                             f"(this fastopt reads format {STATE_FORMAT})")
        step = sd["step"]
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"state_dict step must be an int >= 0, got {step!r}")
        skipped = sd.get("skipped_steps", 0)        # absent from older state_dicts
        if isinstance(skipped, bool) or not isinstance(skipped, (int, np.integer)) \
                or skipped < 0:
            raise ValueError(f"state_dict skipped_steps must be an int >= 0, got {skipped!r}")
        if len(sd["param_groups"]) != len(self.param_groups) \
                or len(sd["group_state"]) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(sd['param_groups'])} param groups, this "
                             f"optimizer {len(self.param_groups)}")
        new_groups = []
        for gi, (saved, group) in enumerate(zip(sd["param_groups"], self.param_groups)):
            keys = [t.key for t in self._tensors if t.group == gi]
            if list(saved.get("params", ())) != keys:
                raise ValueError(f"param group {gi} of the state_dict holds parameters "
                                 f"{list(saved.get('params', ()))}, this optimizer's holds "
                                 f"{keys}")
            hyper = {k: v for k, v in saved.items() if k != "params"}
            absent = sorted(set(self.defaults) - set(hyper))
            if absent:      # extra keys (a scheduler's initial_lr, ...) are kept, as torch does
                raise ValueError(f"param group {gi} of the state_dict lacks hyperparameters "
                                 f"{', '.join(absent)}")
            new_groups.append({"params": group["params"], **hyper})
        if set(sd["state"]) != {t.key for t in self._tensors}:
            raise ValueError("the state_dict's state is for other parameters")
        for plan in self._plans:
            for row, t in enumerate(plan.tensors):
                saved = sd["state"].get(t.key)
                if not isinstance(saved, dict) or set(saved) != set(plan.state):
                    raise ValueError(f"state of parameter {t.label} must hold "
                                     f"{sorted(plan.state)}")
                for name, arr in saved.items():
                    t.check_like(arr, f"state {name!r} of parameter {t.label}")
        # Check the hyperparameters as a step would, on the new groups, before committing;
        # in full, not from the cache: a loaded group can hold the very objects the cache
        # checked under other keys (its keys in another order), which the cache's
        # comparison by position and identity would take for the checked group.
        old_groups, old_gstate, old_checked = self.param_groups, self.group_state, self._checked
        self.param_groups = new_groups
        self.group_state = [dict(s) for s in sd["group_state"]]
        self._checked = [None] * len(new_groups)
        try:
            for gi in range(len(new_groups)):
                self._group_scalars(gi, int(step) + 1)
        finally:
            self.param_groups, self.group_state = old_groups, old_gstate
            self._checked = old_checked
        return {"groups": new_groups, "group_state": sd["group_state"], "state": sd["state"],
                "step": int(step), "skipped_steps": int(skipped)}

    def _apply_state_dict(self, checked: dict[str, Any]) -> None:
        for group, new in zip(self.param_groups, checked["groups"]):
            group.update({k: v for k, v in new.items() if k != "params"})
        self.group_state[:] = [dict(s) for s in checked["group_state"]]
        for plan in self._plans:
            for row, t in enumerate(plan.tensors):
                for name in plan.state:
                    plan.state_view(name, row)[...] = checked["state"][t.key][name]
        self._step = checked["step"]
        self._skipped = checked["skipped_steps"]

    def __repr__(self) -> str:
        n = sum(a.size for a in self._arrays)
        return (f"{type(self).__name__}({len(self._arrays)} parameters, {n} elements, "
                f"{len(self.param_groups)} group(s), backend={self.backend!r})")


def _immutable(value: Any) -> bool:
    """Whether ``value`` cannot change in place (so a cached check of it stays valid)."""
    if value is None or type(value) in (float, int, bool, str) or isinstance(value, np.generic):
        return True
    return type(value) is tuple and all(_immutable(v) for v in value)
