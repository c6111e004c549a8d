"""The optimizer core that every optimizer class builds on.

It holds the param groups (plain dicts whose hyperparameters may change between steps,
as schedulers do), the flat state, the int64 step counter and the kernel bound to each
plan.  A subclass says only which state buffers it has, how they start, and which scalars
its kernel gets each step (computed here in Python float64 and checked as they are read).
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from . import _backend, _kernels
from ._params import GradsLike, Key, ParamsLike, grads_in_order, parse_params
from ._plan import GRAD, address, build_plans

STATE_FORMAT = 1


class Optimizer:
    #: The name of the kernel the step runs (the same in every backend).
    kernel: ClassVar[str]
    #: Every state buffer the optimizer can have, in the kernel's column order.
    buffers: ClassVar[tuple[str, ...]] = ()
    #: Hyperparameters that decide which state buffers exist: fixed once built.
    structural: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: ParamsLike, defaults: dict[str, Any],
                 backend: str | None = None):
        self.backend, module = _backend.load(backend)
        overrides, tensors, flat = parse_params(params)
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.group_state: list[dict[str, float]] = []
        for gi, override in enumerate(overrides):
            unknown = sorted(set(override) - set(defaults))
            if unknown:
                raise TypeError(f"param group {gi}: {type(self).__name__} has no "
                                f"hyperparameter {', '.join(map(repr, unknown))}")
            group = {"params": [t.array for t in tensors if t.group == gi],
                     **defaults, **override}
            self.param_groups.append(group)
            self.group_state.append(self._initial_group_state(group))
        self._step = 0
        self._structure = [self._structure_of(g) for g in self.param_groups]
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
        self._runs = [plan.bind(module, self.kernel)[0] for plan in self._plans]
        self._flat_grad_offsets, self._flat_grad_shape = self._flat_gradient_layout()
        self._default_grads = self._table[:, GRAD].copy() if flat is not None else None
        self._grads_are_default = flat is not None

    # ---- what a subclass defines ------------------------------------------------------

    def _scalars(self, gi: int, group: dict[str, Any], step: int) -> tuple[float, ...]:
        """The kernel's scalars for group ``gi`` at step ``step`` (after the leading
        gradient scale), checking each hyperparameter as it is read.  Must not change
        anything: a step that is refused later leaves everything as it was."""
        raise NotImplementedError

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

    # ---- the step ---------------------------------------------------------------------

    def _structure_of(self, group: dict[str, Any]) -> tuple:
        return tuple(group[k] for k in self.structural)

    def _group_scalars(self, gi: int, step: int) -> tuple[float, ...]:
        group = self.param_groups[gi]
        try:
            if self.structural and self._structure_of(group) != self._structure[gi]:
                raise ValueError(f"{', '.join(self.structural)} cannot change once the "
                                 f"optimizer is built (they decide its state)")
            maximize = group["maximize"]
            if maximize is not True and maximize is not False:
                raise TypeError(f"maximize must be True or False, got {maximize!r}")
            return (-1.0 if maximize else 1.0,) + self._scalars(gi, group, step)
        except (TypeError, ValueError) as e:
            if len(self.param_groups) > 1:
                raise type(e)(f"param group {gi}: {e}") from None
            raise

    def step(self, grads: GradsLike = None) -> None:
        """One update of every parameter.

        ``grads``: the gradients in the parameters' structure (a list in order, or a dict
        by name), or one flat array; omitted for ``FlatParams``, whose ``.grads`` buffer
        is used.  A refused call changes nothing.
        """
        self._take_grads(grads)
        t = self._step + 1
        if len(self._runs) == 1:
            self._runs[0](self._group_scalars(self._plans[0].group, t))
        else:
            scalars = [self._group_scalars(plan.group, t) for plan in self._plans]
            for run, s in zip(self._runs, scalars):
                run(s)
        for gi, group in enumerate(self.param_groups):
            self._after_step(gi, group, t)
        self._step = t

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
            "param_groups": groups,
            "group_state": [dict(s) for s in self.group_state],
            "state": {key: {name: arr.copy() for name, arr in bufs.items()}
                      for key, bufs in self.state.items()},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`state_dict`.  One of another optimizer or
        another parameter layout is refused, and nothing changes."""
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
                    if not isinstance(arr, np.ndarray) or arr.shape != t.array.shape \
                            or arr.dtype != t.array.dtype:
                        got = (f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray)
                               else type(arr).__name__)
                        raise ValueError(f"state {name!r} of parameter {t.label} must be a "
                                         f"{t.array.dtype} array of shape {t.array.shape}, "
                                         f"got {got}")
        # Check the hyperparameters as a step would, on the new groups, before committing.
        old_groups, old_gstate = self.param_groups, self.group_state
        self.param_groups = new_groups
        self.group_state = [dict(s) for s in sd["group_state"]]
        try:
            for gi in range(len(new_groups)):
                self._group_scalars(gi, int(step) + 1)
        finally:
            self.param_groups, self.group_state = old_groups, old_gstate
        for group, new in zip(self.param_groups, new_groups):
            group.update({k: v for k, v in new.items() if k != "params"})
        self.group_state[:] = [dict(s) for s in sd["group_state"]]
        for plan in self._plans:
            for row, t in enumerate(plan.tensors):
                for name in plan.state:
                    plan.state_view(name, row)[...] = sd["state"][t.key][name]
        self._step = int(step)

    def __repr__(self) -> str:
        n = sum(a.size for a in self._arrays)
        return (f"{type(self).__name__}({len(self._arrays)} parameters, {n} elements, "
                f"{len(self.param_groups)} group(s), backend={self.backend!r})")
