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

import importlib.util
import os

from . import checks as check

_choose_wait = not ({"GOMP_SPINCOUNT", "OMP_WAIT_POLICY"} & set(os.environ))
if _choose_wait:
    os.environ["GOMP_SPINCOUNT"] = "0"
if importlib.util.find_spec(f"{__package__}._native") is None:
    raise ImportError(
        f"fastopt's compiled kernels are not built in {os.path.dirname(__file__)}: this is "
        f"the source tree, not an installed fastopt.  Install it (pip install . or, to work "
        f"on it, pip install -e .) and run Python from anywhere but src/")
try:
    from . import _native
finally:
    if _choose_wait:
        del os.environ["GOMP_SPINCOUNT"]

# A child forked after the kernels' thread pool started (multiprocessing's "fork", its
# Pool) would wait forever for the parent's threads: it runs the kernels serially.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_native.after_fork_in_child)

#: More threads than this is refused (OpenMP cannot start 10**6 threads; no machine
#: fastopt runs on has use for more).
MAX_THREADS = 1024


def set_num_threads(n: int | None) -> None:
    """Use ``n`` threads (1 to 1024) for large updates; ``None`` (or 0) goes back to
    OpenMP's count.  A process forked from one whose threads had started runs serially
    whatever is set here."""
    _native.set_num_threads(0 if n is None else check.integer("set_num_threads", n, lo=0, hi=MAX_THREADS))


def get_num_threads() -> int:
    """The number of threads a large update runs on (1 in a process forked after the
    thread pool started)."""
    return _native.get_num_threads()


def parallel_threshold() -> int:
    """Parameter groups with fewer elements than this are updated serially."""
    return _native.get_parallel_threshold()


def set_parallel_threshold(n: int) -> None:
    """Change the serial/parallel cut-over (elements per param group and dtype)."""
    _native.set_parallel_threshold(check.integer("set_parallel_threshold", n, lo=0))
