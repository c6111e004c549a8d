"""Gradient clipping with ``torch.nn.utils``' semantics, on NumPy gradients.

    >>> total = fastopt.clip_grad_norm_(grads, max_norm=1.0)     # grads scaled in place
    >>> fastopt.clip_grad_value_(grads, clip_value=0.5)          # grads clamped in place

``grads`` is what torch's ``parameters`` argument would hold gradients for, in any of
these forms: a list (or any iterable) of arrays, a dict of arrays (e.g.
``FlatParams.grads``), a single array, or a :class:`~fastopt.FlatParams` itself (its
gradient views, which live in its flat gradient buffer).  The arrays must be float32 or
float64, C-contiguous and writeable, and must not share memory; they are changed in
place.  A refused call changes nothing.

Norms are computed by kernels (every backend): per chunk of a fixed number of elements
a float64 partial sum, then an exactly rounded sum (``math.fsum``) of the partials.  The
result is bitwise the same for any thread count and any order of the arrays, and is
the same norm an optimizer's ``max_grad_norm=`` option measures.  It is also more
accurate than torch's (torch accumulates float32 gradients in float32), so the two agree
to rounding, not bitwise.

Differences from torch, all deliberate:

- the total norm is returned as a Python ``float`` (computed in float64), not a 0-d
  tensor;
- ``error_if_nonfinite=True`` raises :class:`fastopt.NonFiniteError`, which is both a
  ``RuntimeError`` (what torch raises, with the same message) and a
  ``FloatingPointError``, and names the first gradient with a non-finite partial;
- ``max_norm`` and ``clip_value`` must be >= 0 and not NaN (torch accepts negative
  values and flips or pins the gradients), ``norm_type`` must be > 0 (``inf``/``"inf"``
  for the max norm);
- ``foreach`` is accepted for torch compatibility and ignored; ``backend=`` picks the
  kernels ("cython", "numba", "numpy"; default: :func:`fastopt.get_backend`).
"""
from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._core import backend as _backend
from ._core import checks as check
from ._core.errors import NonFiniteError
from ._core.kernel import ABS_MAX, ABS_SUM, CLAMP, POW_SUM, SCALE, SUMSQ, Kernel
from ._core.params import DTYPES, FlatParams, Tensor, label_of
from ._core.plan import GRAD, address, build_plans, fsum_partials

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


# ---- the gradients -------------------------------------------------------------------

def _gradients(grads: Any) -> tuple[list[np.ndarray], list[str]]:
    """The gradient arrays and their labels, checked."""
    items: list[tuple[Any, np.ndarray]]
    if isinstance(grads, np.ndarray):
        items = [(0, grads)]
    elif isinstance(grads, FlatParams):
        items = list(grads.grads.items())
    elif isinstance(grads, Mapping):
        items = list(grads.items())
    else:
        try:
            items = list(enumerate(grads))
        except TypeError:
            raise TypeError(f"gradients must be an array, a list or dict of arrays, or "
                            f"FlatParams, got {type(grads).__name__}") from None
    arrays, labels = [], []
    for key, g in items:
        label = label_of(key)
        if not isinstance(g, np.ndarray):
            raise TypeError(f"gradient {label} must be a NumPy array, got {type(g).__name__}")
        if g.dtype not in DTYPES:
            raise TypeError(f"gradient {label} has dtype {g.dtype}; fastopt clips float32 "
                            f"and float64 arrays")
        if not g.flags.c_contiguous:
            raise ValueError(f"gradient {label} is not C-contiguous")
        if not g.flags.writeable:
            raise ValueError(f"gradient {label} is read-only (it is clipped in place)")
        arrays.append(g)
        labels.append(label)
    spans = sorted((address(g), g.nbytes, label) for g, label in zip(arrays, labels) if g.nbytes)
    for (a0, an, alabel), (b0, _, blabel) in zip(spans, spans[1:]):
        if b0 < a0 + an:
            raise ValueError(f"gradients {alabel} and {blabel} share memory")
    return arrays, labels


def _norm_type(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"norm_type must be a number or 'inf', got {value!r}")
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"norm_type must be a number or 'inf', got {value!r}") from None
    if not p > 0.0:
        raise ValueError(f"norm_type must be > 0 (inf for the max norm), got {value!r}")
    return p


# ---- kernels over loose arrays ---------------------------------------------------------

class _Layout:
    """Plans (one per dtype) for one list of gradient sizes and dtypes, with the toolkit's
    kernels bound to them on first use; pointed at new gradient arrays on every call."""

    def __init__(self, module: Any, arrays: list[np.ndarray]):
        self.module = module
        # The plans' tensors are stand-ins of the gradients' sizes that own no memory (a
        # cached layout must not keep a caller's arrays alive): the toolkit's kernels read
        # only the gradient column, which point_at fills on every call.
        stand_ins = [Tensor(i, np.broadcast_to(np.zeros(1, g.dtype), (g.size,)), 0)
                     for i, g in enumerate(arrays)]
        self.plans, self.table, self.rows = build_plans(stand_ins, 1, (), lambda gi: (),
                                                        lambda gi, name: 0.0)
        self.bound: dict[tuple[int, str], tuple[Any, np.ndarray | None, np.ndarray | None]] = {}

    def point_at(self, arrays: list[np.ndarray]) -> None:
        self.table[self.rows, GRAD] = [address(g) for g in arrays]

    def run(self, kernel: Kernel, scalars: tuple = (),
            seg: float | None = None) -> list[np.ndarray]:
        """Run ``kernel`` on every plan; the per-chunk outputs of each."""
        outs = []
        for i, plan in enumerate(self.plans):
            if not len(plan.chunks):
                continue
            entry = self.bound.get((i, kernel.name))
            if entry is None:
                entry = self.bound[(i, kernel.name)] = plan.bind(self.module, kernel)
            run, seg_in, out = entry
            if seg_in is not None:
                seg_in[:] = seg
            run(scalars)
            if out is not None:
                outs.append(out)
        return outs

    def first_nonfinite(self, kernel: Kernel, labels: list[str]) -> str | None:
        """The first gradient (in the caller's order) with a non-finite partial in the
        outputs of the last run of reduction ``kernel``."""
        found = []
        for i, plan in enumerate(self.plans):
            entry = self.bound.get((i, kernel.name))
            if entry is not None and entry[2] is not None and len(plan.chunks):
                bad = np.flatnonzero(~np.isfinite(entry[2][:, 0]))
                found += [int(plan.tensors[int(plan.chunks[c, 0])].key) for c in bad.tolist()]
        return labels[min(found)] if found else None


_local = threading.local()          # each thread its own cache: tables are refilled per call
_CACHE_SIZE = 16


def _layout(arrays: list[np.ndarray], backend: str | None) -> _Layout:
    name, module = _backend.load(backend)
    key = (name, tuple((g.dtype.char, g.size) for g in arrays))
    cache = _local.__dict__.setdefault("layouts", {})
    layout = cache.get(key)
    if layout is None:
        if len(cache) >= _CACHE_SIZE:
            cache.pop(next(iter(cache)))
        layout = cache[key] = _Layout(module, arrays)
    layout.point_at(arrays)
    return layout


def _total_norm(layout: _Layout, p: float) -> tuple[float, Kernel]:
    """The p-norm of all the layout's arrays, and the kernel that measured it."""
    if p == 2.0:
        return math.sqrt(fsum_partials(layout.run(SUMSQ))), SUMSQ
    if p == 1.0:
        return fsum_partials(layout.run(ABS_SUM)), ABS_SUM
    if p == math.inf:
        values = np.concatenate([out[:, 0] for out in layout.run(ABS_MAX)]
                                or [np.zeros(1)])
        return float(values.max()), ABS_MAX               # np.max propagates NaN
    total = fsum_partials(layout.run(POW_SUM, seg=p))
    return total ** (1.0 / p), POW_SUM


# ---- the public functions --------------------------------------------------------------

def get_total_norm(grads: Any, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None, *, backend: str | None = None) -> float:
    """The ``norm_type``-norm of all ``grads`` together, as if concatenated into one vector
    (``torch.nn.utils.get_total_norm``), as a Python float; 0.0 for no gradients."""
    p = _norm_type(norm_type)
    arrays, labels = _gradients(grads)
    if not arrays:
        return 0.0
    layout = _layout(arrays, backend)
    total, kernel = _total_norm(layout, p)
    if error_if_nonfinite and not math.isfinite(total):
        _refuse_nonfinite(layout, kernel, labels, p)
    return total


def _refuse_nonfinite(layout: _Layout, kernel: Kernel, labels: list[str], p: float) -> None:
    first = layout.first_nonfinite(kernel, labels)
    raise NonFiniteError(
        f"The total norm of order {p} for gradients from `parameters` is non-finite, so it "
        f"cannot be clipped. To disable this error and scale the gradients by the "
        f"non-finite norm anyway, set `error_if_nonfinite=False`"
        + (f" (first non-finite: gradient {first})" if first is not None else ""))


def clip_grads_with_norm_(grads: Any, max_norm: float, total_norm: float,
                          foreach: bool | None = None, *, backend: str | None = None) -> None:
    """Scale ``grads`` in place by ``min(max_norm / (total_norm + 1e-6), 1)``, for a norm
    already measured (``torch.nn.utils.clip_grads_with_norm_``)."""
    max_norm = check.non_negative("max_norm", max_norm, finite=False)
    if isinstance(total_norm, (bool, np.bool_)) or not isinstance(
            total_norm, (int, float, np.integer, np.floating)):
        raise TypeError(f"total_norm must be a real number, got {type(total_norm).__name__}")
    arrays, _ = _gradients(grads)
    if arrays:
        _scale(_layout(arrays, backend), max_norm, float(total_norm))


def _scale(layout: _Layout, max_norm: float, total_norm: float) -> None:
    coef = min(max_norm / (total_norm + 1e-6), 1.0)          # NaN stays NaN, as torch.clamp
    if coef != 1.0:                                          # x * 1 is x: skip the pass
        layout.run(SCALE, (coef,))


def clip_grad_norm_(grads: Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None, *,
                    backend: str | None = None) -> float:
    """Scale ``grads`` in place so that their total ``norm_type``-norm is at most
    ``max_norm`` (``torch.nn.utils.clip_grad_norm_``): each is multiplied by
    ``min(max_norm / (total_norm + 1e-6), 1)``.

    Returns the total norm before clipping, as a Python float.  With
    ``error_if_nonfinite=True`` a non-finite total norm raises
    :class:`fastopt.NonFiniteError` (a ``RuntimeError`` with torch's message) and the
    gradients are left as they were; otherwise a non-finite norm scales by 0 (inf) or NaN,
    as torch does.
    """
    max_norm = check.non_negative("max_norm", max_norm, finite=False)
    p = _norm_type(norm_type)
    arrays, labels = _gradients(grads)
    if not arrays:
        return 0.0
    layout = _layout(arrays, backend)
    total, kernel = _total_norm(layout, p)
    if error_if_nonfinite and not math.isfinite(total):
        _refuse_nonfinite(layout, kernel, labels, p)
    _scale(layout, max_norm, total)
    return total


def clip_grad_value_(grads: Any, clip_value: float, foreach: bool | None = None, *,
                     backend: str | None = None) -> None:
    """Clamp ``grads`` in place to ``[-clip_value, clip_value]``
    (``torch.nn.utils.clip_grad_value_``); NaN stays NaN."""
    clip_value = check.non_negative("clip_value", clip_value, finite=False)
    arrays, _ = _gradients(grads)
    if arrays and clip_value != math.inf:
        _layout(arrays, backend).run(CLAMP, (clip_value,))
