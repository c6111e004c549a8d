"""The numba backend: the same kernels as the Cython backend, as ``@njit`` functions
compiled on first use for each dtype and cached on disk.

Each optimizer module defines one Python function over the plan tables; ``kernel`` turns
it into a serial and a parallel (``prange`` over chunks) compiled version.  Small plans
run the serial one, so a step never wakes numba's thread pool below the threshold.
"""
from __future__ import annotations

import os

import numba
import numpy as np

from ..._core import _native
from ..._core._native import trust_ratios  # noqa: F401

if "NUMBA_THREADING_LAYER" not in os.environ:
    # workqueue costs >100 us per parallel call; tbb is rarely importable from a venv.
    numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]  # type: ignore[attr-defined]

# (imported after the threading layer is chosen)
from . import (adadelta, adagrad, adam, adamax, lamb, lion, nadam, radam,  # noqa: E402
               rmsprop, rprop, sgd, toolkit, twin)

KERNELS = {
    "adam": adam.KERNEL, "sgd": sgd.KERNEL, "rmsprop": rmsprop.KERNEL, "adagrad": adagrad.KERNEL,
    "adadelta": adadelta.KERNEL, "adamax": adamax.KERNEL, "nadam": nadam.KERNEL,
    "radam": radam.KERNEL, "rprop": rprop.KERNEL, "lion": lion.KERNEL,
    "lamb_moments": lamb.MOMENTS, "lamb_update": lamb.UPDATE,
    **toolkit.KERNELS,
    "twin": twin.KERNEL,      # the memory-traffic twin (fastopt._bench.twin, benches)
}


def bind(name: str, addrs: np.ndarray, chunks: np.ndarray, dtype, nelem: int,
         seg_in: np.ndarray | None = None, out: np.ndarray | None = None):
    serial, parallel = KERNELS[name]
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
