"""Kernel backends: ``cython`` (default), ``numba`` (imported on first use) and ``numpy``
(the readable reference).  Each is a module with ``bind(kernel, addrs, chunks, dtype,
nelem, seg_in, out)`` returning a callable that runs one step from a tuple of scalars."""
from __future__ import annotations

import importlib
import os
from types import ModuleType

BACKENDS = {"cython": "fastopt._kernels", "numba": "fastopt._numba", "numpy": "fastopt._reference"}

_default: str | None = None


def _check(name: object) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return name  # type: ignore[return-value]


def set_backend(name: str) -> None:
    """Set the backend that optimizers use when none is given."""
    global _default
    _default = _check(name)


def get_backend() -> str:
    """The default backend: set_backend's, else $FASTOPT_BACKEND, else "cython"."""
    if _default is not None:
        return _default
    env = os.environ.get("FASTOPT_BACKEND")
    if env:
        if env not in BACKENDS:
            raise ValueError(f"FASTOPT_BACKEND={env!r} is not a backend; choose one of "
                             f"{', '.join(BACKENDS)}")
        return env
    return "cython"


def load(name: str | None) -> tuple[str, ModuleType]:
    """The backend's name and module (``None``: the default backend)."""
    name = get_backend() if name is None else _check(name)
    return name, importlib.import_module(BACKENDS[name])
