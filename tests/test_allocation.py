"""Zero bytes allocated per step in steady state: after a few warm-up steps, N more steps
leave tracemalloc's traced memory where it was, and no step allocates anything of the
parameters' size on the way (the peak stays far below one temporary array)."""
import tracemalloc

import numpy as np
import pytest

import fastopt
from fastopt._bench.twin import Twin

N = 50
SIZES = [1000, 300_000]          # serial, and above the parallel threshold


def _flat(n):
    rng = np.random.default_rng(0)
    fp = fastopt.flatten({"w": rng.standard_normal(n, dtype=np.float32),
                          "b": rng.standard_normal(7, dtype=np.float32)})
    fp.grad[...] = rng.standard_normal(fp.grad.shape, dtype=np.float32)
    return fp


def _traced(step):
    for _ in range(5):               # warm-up: numba compiles, caches fill
        step()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(N):
            step()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return after - before, peak - before


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("form", ["flat", "list", "flat-array"])
@pytest.mark.parametrize("cls", [fastopt.Adam, fastopt.AdamW, Twin], ids=lambda c: c.__name__)
def test_no_allocation_per_step(cls, form, size, backend):
    if form == "flat":
        opt = cls(_flat(size), backend=backend)
        step = opt.step
    elif form == "flat-array":      # FlatParams, with the gradient given as one flat array
        fp = _flat(size)
        opt = cls(fp, backend=backend)
        grad = fp.grad.copy()

        def step():
            opt.step(grad)
    else:
        rng = np.random.default_rng(0)
        params = [rng.standard_normal(s, dtype=np.float32) for s in [(size,), (33, 40), (7,)]]
        grads = [rng.standard_normal(p.shape, dtype=np.float32) for p in params]
        opt = cls(params, backend=backend)

        def step():
            opt.step(grads)
    grown, peak = _traced(step)
    assert grown == 0, f"{grown} bytes still allocated after {N} steps"
    assert peak < 4096, f"a step allocated {peak} bytes on the way (temporaries?)"
