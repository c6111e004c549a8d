"""The NumPy backend: the readable reference the compiled kernels are held to.

Each optimizer's rule is a plain function over NumPy arrays, written straight from
docs/optimizers.md, with the same scalars (cast to the buffer's dtype) and in the same order
of operations as the compiled kernels.  The driver below walks the same chunks as theirs,
so per-chunk outputs line up too.
"""
from __future__ import annotations

import ctypes
import inspect
from typing import Any, Callable

import numpy as np

from ..._core import storage
from ..._core.kernel import Kernel
from . import (adadelta, adagrad, adam, adamax, ademamix, adopt, asgd, lamb, lion, muon, nadam,
               radam, rmsprop, rprop, schedulefree, sgd, sparse_adam, toolkit, twin)
from .lamb import TrustRatios  # noqa: F401

KERNELS: dict[str, Callable[..., Any]] = {
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
    "twin": twin.twin,       # the memory-traffic twin (fastopt._bench.twin, benches)
}

#: Kernels that move bfloat16 or 8-bit state as stored (Kernel.decodes_state False).
STORED_RAW: dict[str, Callable[..., Any]] = {"twin": twin.twin_stored}

_CTYPES: dict[np.dtype, Any] = {
    np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double,
    np.dtype(np.uint8): ctypes.c_uint8, np.dtype(np.uint16): ctypes.c_uint16}


def _array_at(addr: int, n: int, dtype: np.dtype) -> np.ndarray | None:
    if addr == 0:
        return None
    if n == 0:
        return np.empty(0, dtype)
    return np.ctypeslib.as_array((_CTYPES[dtype] * n).from_address(addr))


def bind(kernel: Kernel, addrs: np.ndarray, chunks: np.ndarray, dtype, nelem: int,
         seg_in: np.ndarray | None = None, out: np.ndarray | None = None,
         storage: tuple[str, tuple[bool, ...], bool] | None = None):
    fn = KERNELS[kernel.name]
    if tuple(inspect.signature(fn).parameters) != kernel.arguments:
        raise ValueError(f"kernel {kernel.name}: the NumPy function takes "
                         f"{tuple(inspect.signature(fn).parameters)}, not {kernel.arguments}")
    dtype = np.dtype(dtype)
    itemsize = dtype.itemsize
    # A toolkit kernel may run on an optimizer's plan: its table has more columns than the
    # kernel's buffers.
    ncols = 2 + len(kernel.buffers)

    def run(scalars: tuple[float, ...]) -> None:
        typed = [dtype.type(x) for x in scalars]
        for c, (row, start, n) in enumerate(chunks.tolist()):
            extra = ([seg_in[row]] if seg_in is not None else []) + ([out[c]] if out is not None else [])
            if storage is None:
                views = [_array_at(a + start * itemsize if a else 0, n, dtype)
                         for a in addrs[row, :ncols].tolist()]
                fn(*views, *typed, *extra)
            else:
                _run_stored(fn, storage, addrs[row].tolist(), start, n, dtype, typed, extra)

    return run


def _run_stored(fn: Callable[..., Any], how: tuple[str, tuple[bool, ...], bool],
                addrs: list[int], start: int, n: int, dtype: np.dtype, scalars: list[Any],
                extra: list[Any]) -> None:
    """One chunk of a kernel on state stored in bfloat16 or 8 bits: the state decoded into
    arrays of the parameters' dtype, the kernel run on them, the new values encoded back
    (as stored.pxi does)."""
    precision, unsigned, write = how
    precision, _, raw = precision.partition(" ")     # "8bit twin": moved, not decoded
    nstate = len(unsigned)
    p, g = (_array_at(a + start * dtype.itemsize if a else 0, n, dtype) for a in addrs[:2])
    code_dtype = np.dtype(np.uint8 if precision == "8bit" else np.uint16)
    stored: list[Any] = []      # per state buffer: its stored view, scales, decoded values
    absmax: list[Any] = []
    values: list[Any] = []
    for j in range(nstate):
        a = addrs[2 + j]
        codes = _array_at(a + start * code_dtype.itemsize if a else 0, n, code_dtype)
        stored.append(codes)
        scale: Any = None
        if codes is not None and precision == "8bit":
            scale = _array_at(addrs[2 + nstate + j] + start // storage.BLOCK * dtype.itemsize,
                              storage.n_blocks(n), dtype)
        absmax.append(scale)
        values.append(None if codes is None or raw
                      else storage.decode(precision, codes, scale, not unsigned[j], dtype))
    if raw:
        STORED_RAW[raw](p, g, stored, absmax)
        return
    fn(p, g, *values, *scalars, *extra)
    if not write:
        return
    for j in range(nstate):
        if stored[j] is not None:
            storage.encode(precision, values[j], stored[j], absmax[j], not unsigned[j])


class Program:
    """Stages run in order with the same scalars (as fastopt._core._native.Program)."""

    def __init__(self, *stages: Callable[[tuple[float, ...]], None]):
        self.stages = stages

    def __call__(self, scalars: tuple[float, ...]) -> None:
        for stage in self.stages:
            stage(scalars)

# SparseAdam's row kernel: called with the arrays, not run by the chunk driver.
from .sparse_adam import sparse_adam_rows  # noqa: E402,F401
