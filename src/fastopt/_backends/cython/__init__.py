"""The Cython backend: each optimizer's math in C (one ``.pxi`` per optimizer, included by
``math.pxi`` and compiled once per CPU level into ``_math_base``, ``_math_v3`` and
``_math_v4``), run over a plan's chunks by the driver in ``fastopt._core._native``."""
from typing import Any


def __getattr__(name: str) -> Any:
    # Looked up on use: _native imports the _math_* modules of this package as it loads.
    if name in ("bind", "Program", "TrustRatios", "tensor_stage"):
        from ..._core import _native
        return getattr(_native, name)
    if name == "sparse_adam_rows":        # a def of the math module, not a chunk function
        from ..._core import _native
        return _native._math.sparse_adam_rows
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
