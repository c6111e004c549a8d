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
from collections.abc import Mapping
from typing import Any, Callable, ClassVar

import numpy as np

from . import _native
from . import backend as _backend
from . import checks as check
from . import storage
from .errors import NonFiniteError
from .params import (FlatParams, GradsLike, Key, ParamsLike, Tensor, grads_in_order,
                      parse_params)
from .kernel import SUMSQ, Kernel
from .plan import GRAD, Plan, address, build_plans, check_entry, fsum_partials

STATE_FORMAT = 1
NONFINITE = ("propagate", "skip", "raise")
MAX_STEP = _native.MAX_STEP


def _check_max_grad_norm(value: Any) -> float | None:
    return None if value is None else check.non_negative("max_grad_norm", value, finite=False)


def _check_nonfinite(value: Any) -> str:
    if not isinstance(value, str) or value not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {', '.join(map(repr, NONFINITE))}, "
                         f"got {value!r}")
    return value


def _on_path(name: str, doc: str) -> Any:
    """An attribute kept in the optimizer's StepPath, where the C step reads it."""
    return property(lambda self: getattr(self._path, name),
                    lambda self, value: setattr(self._path, name, value), doc=doc)


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

    ``state_precision="full"``
        How the state buffers are kept between steps: ``"full"`` in the parameters'
        dtype; ``"bfloat16"`` (half the bytes of float32); ``"8bit"``, block-wise dynamic
        quantization (a byte per value and a scale per 256 values).  The update always
        runs in the parameters' dtype (see fastopt._core.storage).  Fixed once built.
    ``min_8bit_size=4096``
        With ``"8bit"``, parameters of fewer elements keep full-precision state.
    """
    #: The kernel the step runs: its name in every backend, its state buffers (every one
    #: the optimizer can have, in column order) and its per-step scalars.
    kernel: ClassVar[Kernel]
    #: Hyperparameters that decide which state buffers exist: fixed once built.
    structural: ClassVar[tuple[str, ...]] = ()
    #: Whether :meth:`_scalars` and :meth:`_next_group_state` read the step number.  Where
    #: they do not, a step reuses their last result while the group's checked values and
    #: its group state are the same objects.
    scalars_read_step: ClassVar[bool] = True
    #: Whether the state buffers are moving averages (of the gradient or its square)
    #: shaped like the parameters, which bfloat16 and 8-bit storage suit; where they are
    #: not, only "full" is allowed.
    state_is_moments: ClassVar[bool] = True
    #: Why only "full" is allowed where state_is_moments is False (the refusal says it).
    full_state_reason: ClassVar[str] = "state is not moving averages"
    #: Whether a 2-D parameter's gradient may be row-sparse, ``(indices, rows)`` (only
    #: SparseAdam's); the others refuse it with a TypeError that names SparseAdam.
    takes_row_sparse: ClassVar[bool] = False
    #: Why the step cannot run on flat slices of the parameters, as
    #: fastopt.distributed.ZeroRedundancyOptimizer runs it on each rank (its refusal says
    #: this), or None where it can: the math is element-wise, or its reductions are
    #: gathered over the slices (LAMB's trust ratios, the guards' norms).
    unshardable: ClassVar[str | None] = None

    # The layout, built by _make_layout and set as a whole by _install_layout.
    _tensors: list[Tensor]
    _flat: FlatParams | None
    _arrays: list[np.ndarray]
    _labels: list[str]
    _plans: list[Plan]
    _table: np.ndarray
    _rows: np.ndarray
    _runs: list[Any]
    _group_arrays: list[tuple[np.ndarray, ...]]
    _nbytes: np.ndarray
    _default_grads: np.ndarray | None
    _prepass: list[Any] | None
    _prepass_outs: list[np.ndarray]
    _compiled: bool
    _plan_groups: list[int]
    _scalar_cache: list[Any] | None
    _flat_grad_offsets: np.ndarray | None
    _flat_grad_shape: tuple[int, ...] | None

    _step = _on_path("step", "Steps taken so far.")
    _grads_are_default = _on_path("grads_are_default",
                                  "Whether the table's gradient column is FlatParams' own.")
    _guarded = _on_path("guarded", "Whether a step runs the pre-pass (see _update_guard).")
    _has_group_state = _on_path("has_group_state",
                                "Whether the optimizer has per-group state to update.")
    _joint_hook = _on_path("joint_hook",
                           "Whether the optimizer defines _scalars_and_group_state.")

    def __init__(self, params: ParamsLike, defaults: dict[str, Any], backend: str | None = None, *,
                 max_grad_norm: float | None = None, nonfinite: str = "propagate",
                 state_precision: str = "full", min_8bit_size: int = storage.MIN_8BIT_SIZE,
                 **unknown: Any):
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) "
                            f"{', '.join(map(repr, unknown))}")
        max_grad_norm = _check_max_grad_norm(max_grad_norm)
        nonfinite = _check_nonfinite(nonfinite)
        self._state_precision = storage.check_precision(state_precision)
        self._min_8bit_size = storage.check_min_8bit_size(min_8bit_size)
        if state_precision != "full" and not self.state_is_moments:
            raise ValueError(f"{type(self).__name__}'s {self.full_state_reason}: "
                             f"state_precision must be 'full', got {state_precision!r}")
        if state_precision == "bfloat16":
            storage.bfloat16_dtype()        # ml_dtypes, which shows the state to NumPy
        self.backend, module = _backend.load(backend)
        self._module = module
        # What the step reads, in C fields; also the lock two threads stepping one
        # optimizer take turns on.
        self._path = _native.StepPath()
        overrides, tensors, flat = parse_params(params)
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.group_state: list[dict[str, float]] = []
        for gi, override in enumerate(overrides):
            group = self._new_group(gi, override, [t.array for t in tensors if t.group == gi])
            self.param_groups.append(group)
            self.group_state.append(self._initial_group_state(group))
        self._step = 0
        self._skipped = 0
        # The step count at which each group joined (add_param_group): a group's own step,
        # which bias corrections and schedules of per-group state read, is step - joined.
        self._joined = self._path.joined = [0] * len(self.param_groups)
        self._plans: list = []                  # (the layout, made once the groups check)
        self._structure = [self._structure_of(g) for g in self.param_groups]
        self._checked: list[tuple | None] = [None] * len(self.param_groups)
        self._path.checked = self._checked
        cls = type(self)
        self._joint_hook = \
            cls._scalars_and_group_state is not Optimizer._scalars_and_group_state
        self._has_group_state = \
            self._joint_hook or cls._next_group_state is not Optimizer._next_group_state
        for gi in range(len(self.param_groups)):
            self._checked_group_step(gi, 1, self.param_groups[gi], self.group_state[gi],
                                     True)              # checks every hyperparameter
        self._max_grad_norm = max_grad_norm
        self._nonfinite = nonfinite
        #: The global gradient 2-norm the last guarded step measured (None without a
        #: pre-pass; NaN/inf where the gradients were not finite).
        self.grad_norm: float | None = None
        self._install_layout(self._make_layout(tensors, flat, None))

    def _new_group(self, gi: int, override: dict[str, Any], arrays: list) -> dict[str, Any]:
        extra = sorted(set(override) - set(self.defaults))
        if extra:
            raise TypeError(f"param group {gi}: {type(self).__name__} has no "
                            f"hyperparameter {', '.join(map(repr, extra))}")
        return {"params": arrays, **self.defaults, **override}

    # ---- the layout: tensors, plans, tables and bound kernels --------------------------

    def _make_layout(self, tensors: list, flat: FlatParams | None,
                     keep: dict[Key, dict[str, np.ndarray]] | None) -> dict[str, Any]:
        """Everything a step reads about where the parameters and the state live, built
        without changing the optimizer (see _install_layout).  ``keep``: state to carry
        over (by parameter key) from the layout this one replaces."""
        n_groups = len(self.param_groups)
        old: dict[int, set[str]] = {}
        if keep is not None:
            for plan in self._plans:
                old.setdefault(plan.group, set()).update(plan.state)

        def live(gi: int) -> tuple[str, ...]:
            if gi in old:       # buffers an earlier layout had (SGD grows its momentum)
                return tuple(name for name in self.kernel.buffers if name in old[gi])
            return self._live_buffers(self.param_groups[gi])

        plans, table, rows = build_plans(
            tensors, n_groups, self.kernel.buffers, live,
            lambda gi, name: self._initial_value(self.param_groups[gi], name),
            self._precision_of, self.kernel.nonnegative,
            None if type(self)._state_shape is Optimizer._state_shape else self._state_shape)
        if keep is not None:
            for plan in plans:
                for row, t in enumerate(plan.tensors):
                    for name, entry in keep.get(t.key, {}).items():
                        if plan.has(name, row):
                            plan.restore(name, row, entry)
        arrays = [t.array for t in tensors]
        runs = [self._bind(self._module, plan) for plan in plans]
        layout = dict(
            _tensors=tensors, _flat=flat, _arrays=arrays, _labels=[t.label for t in tensors],
            _plans=plans, _table=table, _rows=rows,
            _runs=runs,
            _group_arrays=[tuple(t.array for t in tensors if t.group == gi)
                           for gi in range(n_groups)],
            _nbytes=np.array([a.nbytes for a in arrays], np.int64),
            _default_grads=table[:, GRAD].copy() if flat is not None else None,
            _prepass=None, _prepass_outs=[],
            # Compiled kernels committed in one C call; anything else under a held SIGINT.
            _compiled=(type(self)._run is Optimizer._run
                       and all(isinstance(run, _native.Stage) for run in runs)),
            _plan_groups=[plan.group for plan in plans],
            _scalar_cache=None if self.scalars_read_step else [None] * n_groups,
        )
        layout["_flat_grad_offsets"], layout["_flat_grad_shape"] = \
            _flat_gradient_layout(arrays, flat, table, rows)
        return layout

    def _install_layout(self, layout: dict[str, Any]) -> None:
        self.__dict__.update(layout)
        path = self._path
        for name in ("runs", "plan_groups", "scalar_cache", "group_arrays", "labels", "table",
                     "rows", "nbytes", "compiled"):
            setattr(path, name, layout["_" + name])
        path.run = self._run
        self._grads_are_default = self._flat is not None
        self._update_spans()
        self._guarded = False
        self._update_guard()

    def _precision_of(self, t: Tensor) -> str:
        """How tensor ``t``'s state is stored."""
        return self._precision_for_size(t.array.size)

    def _precision_for_size(self, size: int) -> str:
        """How the state of a parameter of ``size`` elements is stored."""
        if self._state_precision == "8bit" and size < self._min_8bit_size:
            return "full"
        return self._state_precision

    def _update_spans(self) -> None:
        """The memory a gradient may not share: every parameter and every state buffer,
        as sorted, disjoint [start, end) byte spans with a name for the error."""
        spans = [(address(t.array), address(t.array) + t.array.nbytes, t.label)
                 for t in self._tensors if t.array.nbytes]
        spans += [(address(buf), address(buf) + buf.nbytes, "the optimizer's state")
                  for plan in self._plans for buf in plan.arrays() if buf.nbytes]
        spans.sort()
        self._span_lo = np.array([a for a, _, _ in spans], np.int64)
        self._span_hi = np.array([b for _, b, _ in spans], np.int64)
        self._span_labels = [label for _, _, label in spans]

    def _ensure_buffer(self, gi: int, name: str) -> None:
        """Allocate state buffer ``name`` for group ``gi`` where it has none yet (SGD's
        momentum buffer, once momentum turns non-zero).  It stays out of ``state`` until
        the group's state says it is in use (see _state_names)."""
        grown = False
        for plan in self._plans:
            if plan.group == gi and name not in plan.state:
                plan.add_buffer(name, self._initial_value(self.param_groups[gi], name))
                grown = True
        if grown:
            self._update_spans()

    # ---- what a subclass defines ------------------------------------------------------

    def _scalars(self, gi: int, group: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        """The kernel's scalars for group ``gi`` at step ``step``, by name:
        ``self.kernel.pack(name=value, ...)`` (the core puts the gradient scale first).
        Reads the group's checked hyperparameters ``group`` and its per-group scalar state
        ``gstate`` (the optimizer's own, or one being loaded), never ``self``'s.  Must not
        change anything: a step that is refused later leaves everything as it was."""
        raise NotImplementedError

    #: Each hyperparameter's check (from fastopt._core.checks), name -> check(name,
    #: value), which returns the value converted or raises naming it.
    hyperparameters: ClassVar[dict[str, Callable[[str, Any], Any]]] = {}

    def _check(self, gi: int, group: dict[str, Any]) -> dict[str, Any]:
        """Every hyperparameter of the group, checked and converted, as ``_scalars`` reads
        them.  The core calls this only when a value in the group changed (see
        _group_step).  A subclass with constraints between hyperparameters extends it."""
        return {name: checker(name, group[name])
                for name, checker in self.hyperparameters.items()}

    def _live_buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        """The state buffers this group uses (default: all of them)."""
        return self.kernel.buffers

    def _state_names(self, gi: int, gstate: dict[str, float]) -> tuple[str, ...]:
        """The state buffers group ``gi`` shows in ``state`` and state_dict, given its
        per-group state (default: every buffer it has)."""
        for plan in self._plans:
            if plan.group == gi:
                return tuple(name for name in self.kernel.buffers if name in plan.state)
        return ()

    def _state_shape(self, name: str, shape: tuple[int, ...],
                     precision: str) -> tuple[int, ...] | None:
        """The shape of state buffer ``name`` of a parameter of ``shape`` whose state is
        stored in ``precision``, or None where such a parameter has no such buffer
        (default: every buffer shaped like the parameter).  An optimizer with state of its
        own shape (Adafactor) overrides it, as does one with a buffer only some parameters
        have (LAMB's scratch); state not shaped like its parameter is stored in full
        precision only, and shown in its own shape."""
        return shape

    #: Whether every state buffer a parameter has is shaped like it (what the distributed
    #: ZeroRedundancyOptimizer's flat shards need); False for Adafactor.
    parameter_shaped_state: ClassVar[bool] = True

    def _initial_value(self, group: dict[str, Any], name: str) -> float:
        """What state buffer ``name`` starts filled with (default 0)."""
        return 0.0

    def _initial_group_state(self, group: dict[str, Any]) -> dict[str, float]:
        """Per-group scalar state, kept in state_dict (default: none)."""
        return {}

    def _check_group_state(self, gi: int, gstate: Any) -> None:
        """Raise where a group's scalar state (from load_state_dict) is not valid."""
        if not isinstance(gstate, dict):
            raise TypeError(f"group state {gi} must be a dict, got {type(gstate).__name__}")
        expected = set(self._initial_group_state(self.param_groups[gi]))
        if set(gstate) != expected:
            raise ValueError(f"group state {gi} must hold {sorted(expected)}, got "
                             f"{sorted(map(str, gstate))}")
        for key, value in gstate.items():
            if type(value) is not float or not math.isfinite(value):
                raise ValueError(f"group state {gi}: {key} must be a finite float, got "
                                 f"{value!r}")

    def _next_group_state(self, gi: int, group: dict[str, Any], step: int,
                          gstate: dict[str, float]) -> dict[str, float] | None:
        """The per-group scalar state after step ``step`` (the changed entries, or None),
        computed before the step runs and committed with it."""
        return None

    def _scalars_and_group_state(self, gi: int, group: dict[str, Any], step: int,
                                 gstate: dict[str, float]
                                 ) -> tuple[tuple[float, ...], dict[str, float] | None]:
        """:meth:`_scalars` and :meth:`_next_group_state` in one call, for an optimizer
        whose two share their arithmetic (Schedule-Free's averaging weights): where a
        subclass defines it, the core calls it instead of those two."""
        raise NotImplementedError

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

    def _group_step(self, gi: int, step: int) -> tuple[tuple[float, ...], dict[str, float] | None]:
        """Group ``gi``'s kernel scalars for (its own) step ``step`` and its scalar state
        after it, checking everything they are made of (cached while the group's values
        stay the same: see _native.group_step)."""
        return _native.group_step(self, gi, step)

    def _checked_group_step(self, gi: int, step: int, group: dict[str, Any],
                            gstate: dict[str, float], cache: bool = False
                            ) -> tuple[tuple[float, ...], dict[str, float] | None]:
        """_group_step on ``group`` and ``gstate`` (the optimizer's own, or ones to be
        loaded), checked in full; cached where ``cache``."""
        try:
            checked = self._check_group(gi, group, cache)
            h = checked[2]
            if self._joint_hook:
                own, update = self._scalars_and_group_state(gi, h, step, gstate)
                return checked[1] + own, update
            scalars = checked[1] + self._scalars(gi, h, step, gstate)
            if self._has_group_state:
                return scalars, self._next_group_state(gi, h, step, gstate)
            return scalars, None
        except KeyError as e:
            raise _in_group(ValueError(f"no hyperparameter {e}"), gi, 2) from None
        except (TypeError, ValueError, OverflowError) as e:
            raise self._group_error(e, gi) from None

    def _group_error(self, e: Exception, gi: int) -> Exception:
        return _in_group(e, gi, len(self.param_groups))

    def _check_group(self, gi: int, group: dict[str, Any], cache: bool = True) -> tuple:
        """Check the group's structural options, maximize and (where the subclass has
        _check) its hyperparameters; cache the outcome while the values stay the same."""
        if self.structural and self._structure_of(group) != self._structure[gi]:
            raise ValueError(f"{', '.join(self.structural)} cannot change once the "
                             f"optimizer is built (they decide its state)")
        maximize = group["maximize"]
        if maximize is not True and maximize is not False:
            raise TypeError(f"maximize must be True or False, got {maximize!r}")
        hyper = self._check(gi, group)
        entry = (tuple(group.values()), (-1.0 if maximize else 1.0,), hyper, group,
                 tuple(group))
        if cache:
            cacheable = all(_immutable(v) for k, v in group.items() if k != "params")
            self._checked[gi] = entry if cacheable else None
        return entry

    def _check_next_step(self) -> None:
        """Check what the next step's scalars are made of, as step() does, changing
        nothing (fastopt.distributed checks every rank before any communicates)."""
        t = self._step + 1
        if t > MAX_STEP:
            raise ValueError(f"the step count would pass {MAX_STEP}")
        for gi in range(len(self.param_groups)):
            self._group_step(gi, t - self._joined[gi])

    # step(grads=None, closure=None): compiled, so that a small step enters no Python
    # frame of the core (its docstring is in _native.pyx).
    step = _native.step

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
            bound = [plan.bind(self._module, SUMSQ) for plan in self._plans]
            self._prepass = [run for run, _, _ in bound]
            self._prepass_outs = [out for _, _, out in bound]
        if not self._guarded:
            self.grad_norm = None

    def _guarded_scalars(self, scalars: list[tuple[float, ...]],
                         t: int) -> list[tuple[float, ...]] | None:
        """Every plan's scalars for step ``t`` after the pre-pass: with the clipping
        factor folded into the gradient scale, or None where the step is skipped."""
        for run in self._prepass or ():
            run(())
        total = self._prepass_total()
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

    def _prepass_total(self) -> float:
        """The sum of squares of every gradient, from the last pre-pass's per-chunk
        partials (fastopt.distributed adds those of the other processes)."""
        return fsum_partials(self._prepass_outs)

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
            _native.gather_addresses(grads_in_order(grads, self._tensors), self._arrays,
                                      self._labels, self._table, self._rows, GRAD,
                                      self._span_lo, self._span_hi, self._span_labels)
        self._grads_are_default = False

    def _take_flat_grad(self, grad: np.ndarray) -> None:
        if self._flat_grad_offsets is None:
            raise TypeError("one flat gradient array needs parameters of a single dtype; "
                            "pass a list or dict of gradients")
        dtype = self._arrays[0].dtype
        if grad.dtype != dtype:
            raise TypeError(f"the flat gradient has dtype {grad.dtype.str}, the parameters "
                            f"{dtype}")
        if grad.shape != self._flat_grad_shape:
            raise ValueError(f"the flat gradient has shape {grad.shape}, expected "
                             f"{self._flat_grad_shape}")
        if not grad.flags.c_contiguous:
            raise ValueError("the flat gradient is not C-contiguous")
        k = _native.overlapping(address(grad), grad.nbytes, self._span_lo, self._span_hi)
        if k >= 0:
            what = self._span_labels[k]
            raise ValueError(f"the flat gradient shares memory with "
                             + (what if what.startswith("the ") else f"parameter {what}"))
        self._table[self._rows, GRAD] = address(grad) + self._flat_grad_offsets

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradient buffer of ``FlatParams`` (other forms keep no gradients).

        ``set_to_none`` is accepted for torch's sake; a flat gradient buffer cannot be
        None, so it is zeroed either way."""
        if self._flat is not None:
            self._flat.zero_grad()

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a param group, as torch's ``add_param_group``: a dict with ``"params"``
        (a list of arrays, or a dict of named arrays where the optimizer's parameters are
        named) and optional hyperparameters; the rest come from the defaults.  Its state
        starts fresh; the existing parameters keep theirs."""
        with self._path:
            if not isinstance(param_group, Mapping):
                raise TypeError(f"a param group must be a dict, got "
                                f"{type(param_group).__name__}")
            if self._flat is not None:
                raise TypeError("this optimizer steps one FlatParams buffer; flatten every "
                                "parameter together, or build a separate optimizer")
            gi = len(self.param_groups)
            current = [{"params": self._group_params(g)} for g in range(gi)]
            overrides, tensors, _ = parse_params(current + [dict(param_group)])
            group = self._new_group(gi, overrides[gi], [t.array for t in tensors
                                                        if t.group == gi])
            gstate = self._initial_group_state(group)
            self.param_groups.append(group)
            try:
                self._structure.append(self._structure_of(group))
                self._checked.append(None)
                self._checked_group_step(gi, 1, dict(group), gstate)
                keep = {t.key: {name: plan.entry(name, row) for name in plan.state
                                if plan.has(name, row)}
                        for plan in self._plans for row, t in enumerate(plan.tensors)}
                layout = self._make_layout(tensors, None, keep)
            except BaseException:
                del self.param_groups[gi]
                del self._structure[gi:]
                del self._checked[gi:]
                raise
            _native.uninterrupted(self._add_group, (layout, gstate))

    def _add_group(self, layout: dict[str, Any], gstate: dict[str, float]) -> None:
        self.group_state.append(gstate)
        self._joined.append(self._step)
        self._install_layout(layout)

    def _group_params(self, gi: int) -> Any:
        """Group ``gi``'s parameters in the form the user gave them: a dict by name or a
        list."""
        members = [t for t in self._tensors if t.group == gi]
        if members and isinstance(members[0].key, str):
            return {t.key: t.array for t in members}
        return [t.array for t in members]

    # ---- inspection and state ---------------------------------------------------------

    @property
    def step_count(self) -> int:
        """Steps taken so far."""
        return self._step

    @property
    def state_precision(self) -> str:
        """How the state is stored: "full", "bfloat16" or "8bit"."""
        return self._state_precision

    @property
    def state_nbytes(self) -> int:
        """Bytes of memory the state buffers take (8-bit: codes and per-block scales)."""
        return sum(plan.nbytes for plan in self._plans)

    @property
    def state(self) -> dict[Key, dict[str, np.ndarray]]:
        """Every parameter's state buffers, keyed like the parameters: live views (in
        bfloat16 under ``state_precision="bfloat16"``), or for 8-bit state the decoded
        values (read-only copies)."""
        names = [self._state_names(gi, gs) for gi, gs in enumerate(self.group_state)]
        return {t.key: {name: plan.state_view(name, row) for name in names[plan.group]
                        if plan.has(name, row)}
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
            # the step count at which each group was added (add_param_group)
            "group_joined_at": list(self._joined),
            "state_precision": self._state_precision,
            # as stored: an array like the parameter (its dtype or bfloat16), or 8-bit
            # {"codes", "absmax"} (see Plan.entry)
            "state": self._state_entries(),
        }

    def _state_entries(self) -> dict[Key, dict[str, Any]]:
        names = [self._state_names(gi, gs) for gi, gs in enumerate(self.group_state)]
        return {t.key: {name: plan.entry(name, row) for name in names[plan.group]
                        if plan.has(name, row)}
                for plan in self._plans for row, t in enumerate(plan.tensors)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`state_dict`.  One of another optimizer or
        another parameter layout is refused, and nothing changes."""
        with self._path:
            checked = self._check_state_dict(state_dict)
            _native.uninterrupted(self._apply_state_dict, (checked,))

    def prepare_load_state_dict(self, state_dict: dict[str, Any]) -> Callable[[], None]:
        """Check ``state_dict`` as :meth:`load_state_dict` does, changing nothing, and
        return the function that loads it (which cannot fail).  ``fastopt.checkpoint``
        loads an optimizer with its parameters, scheduler and EMA this way, all or
        nothing."""
        checked = self._check_state_dict(state_dict)

        def load() -> None:
            with self._path:
                self._apply_state_dict(checked)
        return load

    def named_parameters(self) -> list[tuple[Key, np.ndarray]]:
        """``(key, array)`` of every parameter, in the order gradients are given in (keys
        are names, or positions for lists)."""
        return [(t.key, t.array) for t in self._tensors]

    def _check_state_dict(self, state_dict: dict[str, Any]) -> dict[str, Any]:
        """Validate a state_dict for :meth:`load_state_dict` without changing anything;
        returns what :meth:`_apply_state_dict` commits."""
        sd = state_dict
        if not isinstance(sd, Mapping):
            raise TypeError(f"state_dict must be a dict, got {type(sd).__name__}")
        missing = {"optimizer", "format_version", "step", "param_groups", "group_state",
                   "state"} - set(sd)
        if missing:
            raise ValueError(f"not a fastopt state_dict: no {', '.join(sorted(missing))}")
        if sd["optimizer"] != type(self).__name__:
            raise ValueError(f"this state_dict is from {sd['optimizer']}, not "
                             f"{type(self).__name__}")
        if sd["format_version"] != STATE_FORMAT or type(sd["format_version"]) is not int:
            raise ValueError(f"state_dict format {sd['format_version']!r} is not supported "
                             f"(this fastopt reads format {STATE_FORMAT})")
        step = _count("step", sd["step"])
        skipped = _count("skipped_steps", sd.get("skipped_steps", 0))   # absent before 0.2
        groups_in, gstates_in = sd["param_groups"], sd["group_state"]
        for what, value in (("param_groups", groups_in), ("group_state", gstates_in)):
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"state_dict {what} must be a list, got "
                                f"{type(value).__name__}")
        if len(groups_in) != len(self.param_groups) or len(gstates_in) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(groups_in)} param groups and "
                             f"{len(gstates_in)} group states, this optimizer "
                             f"{len(self.param_groups)} param groups")
        joined = sd.get("group_joined_at", [0] * len(self.param_groups))   # absent before 0.2
        if not isinstance(joined, (list, tuple)) or len(joined) != len(self.param_groups):
            raise ValueError(f"state_dict group_joined_at must be a list of "
                             f"{len(self.param_groups)} step counts, got {joined!r}")
        joined = [_count("group_joined_at", j) for j in joined]
        if any(j > step for j in joined):
            raise ValueError(f"state_dict group_joined_at {joined} is past its step {step}")
        new_groups, new_gstates = [], []
        for gi, (saved, group) in enumerate(zip(groups_in, self.param_groups)):
            if not isinstance(saved, Mapping):
                raise TypeError(f"param group {gi} of the state_dict must be a dict, got "
                                f"{type(saved).__name__}")
            keys = [t.key for t in self._tensors if t.group == gi]
            saved_keys = saved.get("params", ())
            if not isinstance(saved_keys, (list, tuple)) or list(saved_keys) != keys:
                raise ValueError(f"param group {gi} of the state_dict holds parameters "
                                 f"{saved_keys!r}, this optimizer's holds {keys}")
            hyper = {k: v for k, v in saved.items() if k != "params"}
            if not all(isinstance(k, str) for k in hyper):
                raise TypeError(f"param group {gi} of the state_dict has a key that is not "
                                f"a string")
            absent = sorted(set(self.defaults) - set(hyper))
            if absent:      # extra keys (a scheduler's initial_lr, ...) are kept, as torch does
                raise ValueError(f"param group {gi} of the state_dict lacks hyperparameters "
                                 f"{', '.join(absent)}")
            self._check_group_state(gi, gstates_in[gi])
            new_groups.append({"params": group["params"], **hyper})
            new_gstates.append(dict(gstates_in[gi]))
        # Check the hyperparameters as a step would, on the new groups, in full (not from
        # the cache: a loaded group can hold the very objects the cache checked under
        # other keys).
        for gi in range(len(new_groups)):
            self._checked_group_step(gi, step + 1 - joined[gi], new_groups[gi],
                                     new_gstates[gi])
        state = sd["state"]
        if not isinstance(state, Mapping) or set(state) != {t.key for t in self._tensors}:
            raise ValueError("the state_dict's state is for other parameters")
        names = [self._state_names(gi, gs) for gi, gs in enumerate(new_gstates)]
        for plan in self._plans:
            for row, t in enumerate(plan.tensors):
                saved = state[t.key]
                wanted = [name for name in names[plan.group] if plan.has(name, row)]
                if not isinstance(saved, Mapping) or set(saved) != set(wanted):
                    raise ValueError(f"state of parameter {t.label} must hold "
                                     f"{sorted(wanted)}")
                for name, entry in saved.items():
                    check_entry(entry, t.array, f"state {name!r} of parameter {t.label}",
                                plan.state_shape(name, row))
        return {"groups": new_groups, "group_state": new_gstates, "state": state,
                "step": step, "skipped_steps": skipped, "names": names, "joined": joined}

    def _apply_state_dict(self, checked: dict[str, Any]) -> None:
        for gi, names in enumerate(checked["names"]):
            for name in names:
                self._ensure_buffer(gi, name)
        for plan in self._plans:
            for row, t in enumerate(plan.tensors):
                for name in checked["names"][plan.group]:
                    if plan.has(name, row):
                        plan.restore(name, row, checked["state"][t.key][name])
        for gi, group in enumerate(self.param_groups):
            new = checked["groups"][gi]
            group.clear()
            group.update(new)
        self.group_state[:] = checked["group_state"]
        self._checked[:] = [None] * len(self.param_groups)
        self._step = checked["step"]
        self._joined[:] = checked["joined"]
        self._skipped = checked["skipped_steps"]

    # ---- copies -----------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """What pickle and copy.deepcopy keep: the parameters (the same objects: a deep
        copy of a model and its optimizer together shares them), how the optimizer was
        built, and its state_dict."""
        params: Any = self._flat if self._flat is not None else [
            {"params": self._group_params(gi)} for gi in range(len(self.param_groups))]
        return {"params": params, "defaults": self.defaults, "backend": self.backend,
                "options": {"max_grad_norm": self._max_grad_norm,
                            "nonfinite": self._nonfinite,
                            "state_precision": self._state_precision,
                            "min_8bit_size": self._min_8bit_size},
                "state_dict": self.state_dict()}

    def __setstate__(self, saved: dict[str, Any]) -> None:
        Optimizer.__init__(self, saved["params"], saved["defaults"], saved["backend"],
                           **saved["options"])
        self.load_state_dict(saved["state_dict"])

    def __repr__(self) -> str:
        n = sum(a.size for a in self._arrays)
        lines = [f"{type(self).__name__} ({len(self._arrays)} parameters, {n} elements, "
                 f"backend={self.backend!r}, step {self._step})"]
        for gi, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {gi}")
            lines += [f"    {key}: {group[key]!r}" for key in sorted(group) if key != "params"]
        return "\n".join(lines)


def _in_group(e: Exception, gi: int, n_groups: int) -> Exception:
    """``e`` as a ValueError or TypeError (an OverflowError is a ValueError), naming the
    param group where there are several."""
    kind = TypeError if isinstance(e, TypeError) else ValueError
    return kind(f"param group {gi}: {e}" if n_groups > 1 else str(e))


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not 0 <= value <= MAX_STEP:
        raise ValueError(f"state_dict {name} must be an int from 0 to {MAX_STEP}, got "
                         f"{value!r}")
    return int(value)


def _flat_gradient_layout(arrays: list[np.ndarray], flat: FlatParams | None, table: np.ndarray,
                          rows: np.ndarray) -> tuple[np.ndarray | None, tuple[int, ...] | None]:
    """Byte offsets of each tensor's gradient inside one flat gradient array, and that
    array's shape; (None, None) where parameters have several dtypes."""
    if len({a.dtype for a in arrays}) != 1:
        return None, None
    if flat is not None:
        grad = flat.grad
        return table[rows, GRAD] - address(grad), grad.shape
    itemsize = arrays[0].itemsize
    sizes = np.array([a.size for a in arrays], np.int64)
    return (np.cumsum(sizes) - sizes) * itemsize, (int(sizes.sum()),)


def _immutable(value: Any) -> bool:
    """Whether ``value`` cannot change in place (so a cached check of it stays valid)."""
    if value is None or type(value) in (float, int, bool, str) or isinstance(value, np.generic):
        return True
    return type(value) is tuple and all(_immutable(v) for v in value)
