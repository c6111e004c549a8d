"""How many threads the kernels use.

By default fastopt follows OpenMP: ``OMP_NUM_THREADS`` and threadpoolctl's limits apply.
``set_num_threads(n)`` overrides that for fastopt alone.  Tensors smaller than the
parallel threshold are always updated on the calling thread: waking a sleeping thread
pool costs more than such a step.
"""
from __future__ import annotations

from . import _kernels


def set_num_threads(n: int | None) -> None:
    """Use ``n`` threads for large updates; ``None`` (or 0) goes back to OpenMP's count."""
    if n is None:
        n = 0
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"set_num_threads takes a positive int or None, got {n!r}")
    _kernels.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads a large update runs on."""
    return _kernels.get_num_threads()


def parallel_threshold() -> int:
    """Parameter groups with fewer elements than this are updated serially."""
    return _kernels.get_parallel_threshold()


def set_parallel_threshold(n: int) -> None:
    """Change the serial/parallel cut-over (elements per param group and dtype)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"the parallel threshold must be an int >= 0, got {n!r}")
    _kernels.set_parallel_threshold(n)
