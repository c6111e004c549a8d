"""The kernel backends, three sibling packages of the same shape.

Each of ``cython``, ``numba`` and ``numpy`` has one file per optimizer (its kernels, which
read the buffers and scalars of the optimizer's ``Kernel`` in its order into variables of
its names), the training toolkit's kernels and the memory-traffic twin's.  Its
``__init__`` holds the registry of kernels by name (the Cython one is ``kernels()`` in
``cython/math.pxi``) and exposes ``bind(name, addrs, chunks, dtype, nelem, seg_in, out)``:
a callable that runs the kernel over a plan's chunks from a tuple of scalars.  ``numpy``
is the readable reference the compiled two are held to, bitwise;
``tests/test_kernel_interfaces.py`` holds every backend to the ``Kernel`` definitions.
"""
from __future__ import annotations

from typing import Any

_DEFINITIONS: dict[str, Any] = {}


def definition(name: str) -> Any:
    """The :class:`~fastopt._core.kernel.Kernel` named ``name``: one of the toolkit's or an
    attribute of an optimizer class (looked up when first asked for, as a backend binds
    it)."""
    if name not in _DEFINITIONS:
        from .._core.kernel import TOOLKIT, Kernel
        from .._core.optimizer import Optimizer
        found = {k.name: k for k in TOOLKIT}
        todo = [Optimizer]
        while todo:
            cls = todo.pop()
            todo.extend(cls.__subclasses__())
            found.update((k.name, k) for k in vars(cls).values() if isinstance(k, Kernel))
        _DEFINITIONS.update(found)
        if name not in _DEFINITIONS:
            raise KeyError(f"no kernel named {name!r} is defined")
    return _DEFINITIONS[name]
