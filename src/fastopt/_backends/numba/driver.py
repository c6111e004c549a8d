"""The chunk loop of every numba kernel, as ``_drive`` in fastopt._core._native is the
Cython kernels': an optimizer module defines the update of one chunk,
``name(addrs, chunk, like, s, seg_in, out)`` (``seg_in`` the chunk's tensor's inputs, ``out``
the chunk's outputs), and :func:`loops` makes the serial and the parallel (``prange``)
loop over a plan's chunks from it.

numba's disk cache keys a compiled function by its qualified name, its bytecode, the values
of its closure and the contents of the source file of its code object, and of no other
file: a loop compiled from this file's code would be served stale after an edit of the
chunk function that it inlines.  So each kernel's loops are copies of :func:`_template`'s
code under the kernel's own names and the chunk function's own file name, with a digest of
this file and of ``_common.py`` (whose helpers they inline too) in their closure.
"""
from __future__ import annotations

import builtins
import hashlib
import inspect
import os
import types
from typing import Any

from numba import njit, prange

from ._common import JIT


def _digest() -> str:
    folder = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for name in ("driver.py", "_common.py"):
        with open(os.path.join(folder, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _template(n_scalars: int, refusal: str, sources: str) -> Any:
    def drive(addrs, chunks, like, s, seg_in, out):
        sources              # only for the cache key: the loop is compiled from these
        if len(s) != n_scalars:      # len of a tuple is a constant: no run-time cost
            raise ValueError(refusal)
        for c in prange(chunks.shape[0]):
            chunk = chunks[c]
            kernel(addrs, chunk, like, s, seg_in[chunk[0]], out[c])  # noqa: F821 (per copy)
    return drive


_SOURCES = _digest()


def loops(name: str, kernel: Any, n_scalars: int) -> tuple[Any, Any]:
    """(serial, parallel) loops over a plan's chunks calling the chunk function ``kernel``
    (an ``@njit(inline="always")`` function), which takes ``n_scalars`` scalars."""
    template = _template(n_scalars, f"kernel {name} takes {n_scalars} scalars", _SOURCES)
    source = inspect.getfile(kernel.py_func)
    made = []
    for suffix, parallel in (("_driver", False), ("_driver_parallel", True)):
        code = template.__code__.replace(co_filename=source, co_name=name + suffix)
        fn = types.FunctionType(code, {"__builtins__": builtins, "prange": prange,
                                       "kernel": kernel}, name + suffix,
                                None, template.__closure__)
        fn.__qualname__ = name + suffix
        fn.__module__ = kernel.py_func.__module__
        made.append(njit(parallel=parallel, **JIT)(fn))
    return made[0], made[1]
