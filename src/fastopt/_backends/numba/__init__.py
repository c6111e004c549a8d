"""The numba backend: the same kernels as the Cython backend, as ``@njit`` functions
compiled on first use for each dtype and cached on disk.

Each optimizer module defines the update of one chunk; ``driver.loops`` makes a serial
and a parallel (``prange`` over chunks) loop over a plan's chunks from it.  Small plans run
the serial one, so a step never wakes numba's thread pool below the threshold.
"""
from __future__ import annotations

import os
from typing import Any

import numba
import numpy as np

from ..._core.kernel import Kernel
from ..._core import _native

if "NUMBA_THREADING_LAYER" not in os.environ:
    # workqueue costs >100 us per parallel call; tbb is rarely importable from a venv.
    numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]  # type: ignore[attr-defined]

# (imported after the threading layer is chosen)
from . import (adadelta, adagrad, adam, adamax, driver, lamb, lion, nadam,  # noqa: E402
               radam, rmsprop, rprop, sgd, toolkit, twin)
from .lamb import trust_ratios  # noqa: E402
from ..numpy import Program  # noqa: E402,F401

KERNELS = {
    "adam": adam.adam, "sgd": sgd.sgd, "rmsprop": rmsprop.rmsprop, "adagrad": adagrad.adagrad,
    "adadelta": adadelta.adadelta, "adamax": adamax.adamax, "nadam": nadam.nadam,
    "radam": radam.radam, "rprop": rprop.rprop, "lion": lion.lion,
    "lamb_moments": lamb.lamb_moments, "lamb_update": lamb.lamb_update,
    **toolkit.KERNELS,
    "twin": twin.twin,        # the memory-traffic twin (fastopt._bench.twin, benches)
}

_LOOPS: dict[str, tuple[Any, Any]] = {}


def bind(kernel: Kernel, addrs: np.ndarray, chunks: np.ndarray, dtype, nelem: int,
         seg_in: np.ndarray | None = None, out: np.ndarray | None = None):
    loops = _LOOPS.get(kernel.name)
    if loops is None:
        loops = _LOOPS[kernel.name] = driver.loops(kernel.name, KERNELS[kernel.name],
                                                   len(kernel.all_scalars))
    serial, parallel = loops
    like = np.empty(0, dtype)
    seg_in = np.zeros((addrs.shape[0], 0)) if seg_in is None else seg_in
    out = np.zeros((chunks.shape[0], 0)) if out is None else out
    threads_for = _native.threads_for

    def run(scalars: tuple[float, ...]) -> None:
        nthreads = min(threads_for(nelem), numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
        if nthreads > 1:
            _native.note_threads_started()
            numba.set_num_threads(nthreads)
            parallel(addrs, chunks, like, scalars, seg_in, out)
        else:
            serial(addrs, chunks, like, scalars, seg_in, out)

    return run


class TrustRatios:
    """LAMB's step between its kernels (as fastopt._core._native.TrustRatios)."""

    def __init__(self, chunks: np.ndarray, partial: np.ndarray, out: np.ndarray):
        self.chunks, self.partial, self.out = chunks, partial, out

    def __call__(self, scalars: tuple[float, ...]) -> None:
        trust_ratios(self.chunks, self.partial, scalars[-1], self.out)
