"""Each numba kernel compiled into the chunk functions of fastopt._core._native's driver,
the ``chunk_f32`` / ``chunk_f64`` C functions that run the Cython kernels: a step of this
backend is the same C call as a Cython step (the same OpenMP driver, the same one-call
commit), with numba's machine code for each chunk.

An optimizer module defines the generic update of one chunk,
``name(b, n, s, seg_in, out)`` (see _common.py), as an ``@njit(inline="always")``
function; :func:`compile` makes the ``@cfunc`` of one dtype from it.

numba's disk cache keys a compiled function by its qualified name, its bytecode, the values
of its closure and the stamp of the source file of its code object, and of no other file:
a cfunc compiled from this file's code would be served stale after an edit of the chunk
function that it inlines.  So each kernel's cfunc is a copy of :func:`_template`'s code
under the kernel's own name and the chunk function's own file name, with a digest of that
file, of this file and of ``_common.py`` (whose helpers it inlines too) in its closure:
an edit of any of them is a new cache entry.
"""
from __future__ import annotations

import builtins
import hashlib
import inspect
import os
import types
from typing import Any

import numpy as np
from numba import cfunc
from numba import types as nt

from ._common import JIT

FOLDER = os.path.dirname(os.path.abspath(__file__))
#: What every kernel inlines besides its own module.
SHARED = ("driver.py", "_common.py")
#: The cfuncs' options: the kernels' own, less those of a dispatcher.
OPTIONS = {k: v for k, v in JIT.items() if k not in ("cache", "nogil")}


def digest(source: str) -> str:
    """A digest of the kernel file ``source`` and of the files all kernels inline."""
    h = hashlib.sha256()
    for path in (source, *(os.path.join(FOLDER, name) for name in SHARED)):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def signature(dtype: Any) -> Any:
    """``chunk_f32`` / ``chunk_f64`` of fastopt._core._native as a numba signature:
    void(dtype** b, intp n, const dtype* s, const double* seg_in, double* out)."""
    t = nt.float32 if np.dtype(dtype) == np.float32 else nt.float64
    return nt.void(nt.CPointer(nt.CPointer(t)), nt.intp, nt.CPointer(t),
                   nt.CPointer(nt.float64), nt.CPointer(nt.float64))


def tensor_signature(dtype: Any) -> Any:
    """``tensor_fn`` of fastopt._core._native (a rule run one tensor per call):
    void(dtype** b, const int64* info, double* scratch, const double* s)."""
    t = nt.float32 if np.dtype(dtype) == np.float32 else nt.float64
    return nt.void(nt.CPointer(nt.CPointer(t)), nt.CPointer(nt.int64),
                   nt.CPointer(nt.float64), nt.CPointer(nt.float64))


def _template(sources: str) -> Any:
    def chunk(b, n, s, seg_in, out):
        sources              # only for the cache key: the cfunc is compiled from these
        kernel(b, n, s, seg_in, out)  # noqa: F821 (a global of each copy)
    return chunk


def _tensor_template(sources: str) -> Any:
    def tensor(b, info, scratch, s):
        sources              # only for the cache key, as in _template
        kernel(b, info, scratch, s)  # noqa: F821 (a global of each copy)
    return tensor


def compile(name: str, kernel: Any, dtype: Any, cache: bool = True,
            per_tensor: bool = False) -> Any:
    """The cfunc of the chunk function ``kernel`` (an ``@njit(inline="always")``
    function) for ``dtype`` (float32 or float64), loaded from numba's cache when it holds
    it (and ``cache``); ``.address`` is the C function.  ``per_tensor``: ``kernel`` is a
    rule run one tensor per call (tensor_signature) instead."""
    source = inspect.getfile(kernel.py_func)
    template = (_tensor_template if per_tensor else _template)(digest(source))
    fname = f"{name}_{np.dtype(dtype).name}"
    code = template.__code__.replace(co_filename=source, co_name=fname, co_qualname=fname)
    fn = types.FunctionType(code, {"__builtins__": builtins, "kernel": kernel}, fname,
                            None, template.__closure__)
    fn.__qualname__ = fname
    fn.__module__ = kernel.py_func.__module__
    sig = tensor_signature(dtype) if per_tensor else signature(dtype)
    return cfunc(sig, cache=cache, **OPTIONS)(fn)
