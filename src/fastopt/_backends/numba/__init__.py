"""The numba backend: the same kernels as the Cython backend, compiled by numba into C
chunk functions (``@cfunc``) that run in the Cython backend's driver (fastopt._core.
_native): a numba step is the same C call as a Cython step, with the same threads
(``fastopt.set_num_threads``) and the same one-call commit.

Each optimizer module defines the update of one chunk for both dtypes; ``driver.compile``
makes the cfunc of one dtype from it when a plan of that dtype first binds the kernel, and
numba caches it on disk.  numba is imported only when this backend is.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..._core import _native
from ..._core.kernel import Kernel
from ..._core._native import Program, TrustRatios  # noqa: F401 (this backend's stages)
from . import (adadelta, adafactor, adagrad, adam, adamax, ademamix, adopt, asgd, driver,
               lamb, lion, muon, nadam, radam, rmsprop, rprop, schedulefree, sgd, sparse_adam,
               toolkit, twin)

KERNELS = {
    "adam": adam.adam, "sgd": sgd.sgd, "rmsprop": rmsprop.rmsprop, "adagrad": adagrad.adagrad,
    "adadelta": adadelta.adadelta, "adamax": adamax.adamax, "nadam": nadam.nadam,
    "radam": radam.radam, "rprop": rprop.rprop, "lion": lion.lion,
    "lamb_moments": lamb.lamb_moments, "lamb_update": lamb.lamb_update,
    "adopt": adopt.adopt, "ademamix": ademamix.ademamix, "asgd": asgd.asgd,
    "schedulefree_adamw": schedulefree.schedulefree_adamw,
    "schedulefree_sgd": schedulefree.schedulefree_sgd,
    "schedulefree_swap": schedulefree.schedulefree_swap,
    "sparse_adam": sparse_adam.sparse_adam,
    "muon_momentum": muon.muon_momentum, "muon_update": muon.muon_update,
    **toolkit.KERNELS,
    "twin": twin.twin,        # the memory-traffic twin (fastopt._bench.twin, benches)
}

#: The kernels compiled so far: name -> _native.Kernel (for the dtypes compiled so far).
COMPILED: dict[str, Any] = {}
#: The cfuncs behind them: (name, dtype name) -> numba CFunc.
_CFUNCS: dict[tuple[str, str], Any] = {}


def compiled(spec: Kernel, dtype) -> Any:
    """The _native.Kernel of ``spec``, its chunk function for ``dtype`` compiled (or loaded
    from numba's cache) on first use."""
    name, dt = spec.name, np.dtype(dtype).name
    if (name, dt) not in _CFUNCS:
        if dt not in ("float32", "float64"):
            raise TypeError(f"unsupported dtype {dt}")
        _CFUNCS[name, dt] = driver.compile(name, KERNELS[name], dt)
        f32, f64 = _CFUNCS.get((name, "float32")), _CFUNCS.get((name, "float64"))
        COMPILED[name] = _native.kernel_at(
            name, f32.address if f32 is not None else 0, f64.address if f64 is not None else 0,
            len(spec.all_scalars), len(spec.seg_in), len(spec.outputs), owner=(f32, f64))
    return COMPILED[name]


def bind(kernel: Kernel, addrs: np.ndarray, chunks: np.ndarray, dtype, nelem: int,
         seg_in: np.ndarray | None = None, out: np.ndarray | None = None,
         storage: tuple[str, tuple[bool, ...], bool] | None = None):
    compiled(kernel, dtype)
    return _native.bind(kernel, addrs, chunks, dtype, nelem, seg_in, out, kernels=COMPILED,
                        storage=storage)

#: The rules run one whole tensor per call (a TensorStage), by name.
TENSOR_KERNELS = {"adafactor": adafactor.adafactor}


def tensor_stage(name: str, dtype, addrs: np.ndarray, info: np.ndarray,
                 scratch: np.ndarray) -> Any:
    """The rule ``name`` for ``dtype`` as a TensorStage on a plan's tables (its cfunc
    compiled, or loaded from numba's cache, on first use)."""
    dt = np.dtype(dtype).name
    if (name, dt) not in _CFUNCS:
        _CFUNCS[name, dt] = driver.compile(name, TENSOR_KERNELS[name], dt, per_tensor=True)
    fn = _CFUNCS[name, dt]
    return _native.TensorStage(fn.address, adafactor.SCALARS, addrs, info, scratch, owner=fn)


# SparseAdam's row kernel: called with the arrays, not run by the chunk driver.
sparse_adam_rows = sparse_adam.sparse_adam_rows
