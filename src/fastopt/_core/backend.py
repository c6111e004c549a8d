"""Which kernel backend an optimizer uses: ``cython`` (default), ``numba`` (imported on
first use) or ``numpy`` (the readable reference); see fastopt._backends."""
from __future__ import annotations

import importlib
import os
from types import ModuleType

BACKENDS = {"cython": "fastopt._backends.cython", "numba": "fastopt._backends.numba",
            "numpy": "fastopt._backends.numpy"}

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
