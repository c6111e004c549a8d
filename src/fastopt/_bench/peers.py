"""The peers of a bench case, each built into a zero-argument step function
(``make_step(case, impl, dtype, shapes)``):

- ``cython``, ``numba``, ``numpy``: fastopt's backends;
- ``numpy-naive``, ``numpy-inplace``: hand-written NumPy (``handwritten``), where there
  is one for the case;
- ``torch-forloop``, ``torch-foreach``, ``torch-fused``: torch.optim with ``foreach=False``,
  ``foreach=True`` and ``fused=True``, where torch has them on CPU;
- ``twin``: the memory-traffic twin (``twin.Twin``) on the Cython backend, the physical floor.

torch and numba are imported only when a peer needs them.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import handwritten
from .cases import Case, fastopt_class
from .workloads import data

FASTOPT_BACKENDS = ("cython", "numba", "numpy")
NUMPY_IMPLS = ("numpy-naive", "numpy-inplace")
TORCH_IMPLS = ("torch-forloop", "torch-foreach", "torch-fused")
TWIN = "twin"
IMPLS = FASTOPT_BACKENDS + NUMPY_IMPLS + TORCH_IMPLS + (TWIN,)
_TORCH_FLAGS = {"torch-forloop": dict(foreach=False), "torch-foreach": dict(foreach=True),
                "torch-fused": dict(fused=True)}


class Unavailable(Exception):
    """This implementation can't run here (no torch, no such class, ...): skip it."""


def import_torch() -> Any:
    """torch, or None where it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def make_step(case: Case, impl: str, dtype, shapes, *, flat: bool = True,
              params_grads=None) -> Callable[[], None]:
    """A function that runs one step of ``impl`` on fresh parameters of ``shapes``.

    ``flat``: fastopt gets a ``FlatParams`` (else the user's own list of arrays with a
    list of gradients per step).  ``params_grads``: (params, grads) to start from (the
    params are copied; the gradients are shared, read-only).  Raises ``Unavailable``."""
    return make_peer(case, impl, dtype, shapes, flat=flat, params_grads=params_grads)[0]


def make_peer(case: Case, impl: str, dtype, shapes, *, flat: bool = True,
              params_grads=None) -> tuple[Callable[[], None], list[np.ndarray]]:
    """``make_step``'s function and the arrays that hold the parameters it updates."""
    params, grads = params_grads if params_grads is not None else data(dtype, shapes)
    params = [p.copy() for p in params]
    if impl in FASTOPT_BACKENDS or impl == TWIN:
        return _fastopt_peer(case, impl, params, grads, flat)
    if impl in NUMPY_IMPLS:
        versions = handwritten.versions(case.cls, case.kwargs)
        if versions is None:
            raise Unavailable(f"no hand-written NumPy {case.id}")
        factory = versions[NUMPY_IMPLS.index(impl)]
        steps = [factory(p, g) for p, g in zip(params, grads)]
        if len(steps) == 1:
            return steps[0], params

        def step_all():
            for s in steps:
                s()
        return step_all, params
    if impl in TORCH_IMPLS:
        torch = import_torch()
        if torch is None:
            raise Unavailable("torch is not installed")
        if case.torch is None or impl.split("-", 1)[1] not in case.torch_impls:
            raise Unavailable(f"torch has no {impl} {case.id}")
        tensors = []
        for p, g in zip(params, grads):
            t = torch.from_numpy(p).requires_grad_()     # shares p's memory
            t.grad = torch.from_numpy(g)
            tensors.append(t)
        opt = getattr(torch.optim, case.torch)(tensors, **case.kwargs, **_TORCH_FLAGS[impl])
        return opt.step, params
    raise ValueError(f"unknown implementation {impl!r}; choose from {', '.join(IMPLS)}")


def _fastopt_peer(case: Case, impl: str, params: list[np.ndarray], grads: list[np.ndarray],
                  flat: bool) -> tuple[Callable[[], None], list[np.ndarray]]:
    """A fastopt backend's (or the twin's) step and its parameter arrays."""
    import fastopt
    if impl == TWIN:
        from .twin import Twin
        make = lambda p: Twin(p, case.twin_buffers, passes=case.passes,  # noqa: E731
                              backend="cython")
    else:
        cls = fastopt_class(case)
        if cls is None:
            raise Unavailable(f"fastopt has no {case.cls}")
        make = lambda p: cls(p, backend=impl, **case.kwargs)  # noqa: E731
    if flat:
        fp = fastopt.flatten(params)
        for i, g in enumerate(grads):
            fp.grads[i][...] = g
        return make(fp).step, [fp[i] for i in range(len(params))]
    step = make(params).step
    return (lambda: step(grads)), params
