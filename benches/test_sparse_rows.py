"""Row-sparse steps: SparseAdam updating k touched rows of an embedding table, beside a
dense ``fastopt.Adam`` step on the same table (its peer: what a user without row-sparse
gradients runs), measured in the same run.  The table is (rows, 64) float32; 4096 random
rows per step (duplicates as they fall).  rows=1e6 is marked large (``--large``): the
dense peer then moves about 1 GB per step."""
import numpy as np
import pytest

import fastopt
from _common import run, size_param

COLS = 64
TOUCHED = 4096
IMPLS = ["SparseAdam-cython", "SparseAdam-numba", "SparseAdam-numpy", "Adam-cython-dense"]


def _step(impl: str, n_rows: int):
    rng = np.random.default_rng(0)
    table = rng.standard_normal((n_rows, COLS)).astype(np.float32)
    if impl == "Adam-cython-dense":
        opt = fastopt.Adam([table], backend="cython")
        grad = np.zeros_like(table)
        grad[rng.integers(0, n_rows, TOUCHED)] = 1e-3
        return lambda: opt.step([grad])
    if impl == "SparseAdam-numba":
        pytest.importorskip("numba")
    opt = fastopt.SparseAdam([table], backend=impl.split("-")[1])
    batches = [(rng.integers(0, n_rows, TOUCHED),
                rng.standard_normal((TOUCHED, COLS)).astype(np.float32) * 1e-3)
               for _ in range(8)]
    state = {"i": 0}

    def step():
        state["i"] = (state["i"] + 1) % len(batches)
        opt.step([batches[state["i"]]])
    return step


@pytest.mark.parametrize("n_rows", [size_param(10**5), size_param(10**6)])
@pytest.mark.parametrize("impl", IMPLS)
def test_sparse_rows(benchmark, impl, n_rows):
    step = _step(impl, n_rows)
    benchmark.group = f"embedding {n_rows}x{COLS} float32, {TOUCHED} rows touched"
    benchmark.extra_info.update(impl=impl, rows=n_rows, cols=COLS, touched=TOUCHED)
    run(benchmark, step)
