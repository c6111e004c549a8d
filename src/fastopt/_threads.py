"""How many threads the kernels use, and how they wait.

By default fastopt follows OpenMP: ``OMP_NUM_THREADS`` and threadpoolctl's limits apply.
``set_num_threads(n)`` overrides that for fastopt alone.  Tensors smaller than the
parallel threshold are always updated on the calling thread: waking a sleeping thread
pool costs more than such a step.

This module loads the compiled kernels (``fastopt/__init__.py`` imports it first).  It
loads them with ``GOMP_SPINCOUNT=0`` unless the user chose a wait policy: libgomp reads it
once, when it starts, and it makes fastopt's idle OpenMP worker sleep at once instead of
spinning for milliseconds.  Between two steps of a real training loop the forward and
backward passes run, often on BLAS's own threads; a spinning worker takes a core from them
(measured on 2 cores with a 400x400 matmul between Adam steps at 300K elements: 2.1 ms per
step spinning, 0.44 ms sleeping, 0.42 ms on one thread), while back-to-back steps lose
little.  The variable is removed again at once, so libraries loaded later never see it.
"""
from __future__ import annotations

import os

_choose_wait = not ({"GOMP_SPINCOUNT", "OMP_WAIT_POLICY"} & set(os.environ))
if _choose_wait:
    os.environ["GOMP_SPINCOUNT"] = "0"
try:
    from . import _kernels
except ModuleNotFoundError as e:
    if e.name != f"{__package__}._kernels":
        raise
    raise ImportError(
        f"fastopt's compiled kernels are not built in {os.path.dirname(__file__)}: this is "
        f"the source tree, not an installed fastopt.  Install it (pip install . or, to work "
        f"on it, pip install -e .) and run Python from anywhere but src/") from None
finally:
    if _choose_wait:
        del os.environ["GOMP_SPINCOUNT"]


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
