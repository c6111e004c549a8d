"""Adadelta (rho): what the generic tests (test_optimizers.py) do not cover: tiny values
and where eps goes."""
import numpy as np
import pytest

import fastopt
from harness import DTYPES, assert_close, check_backend, reference, run_torch

TINY = {np.float32: dict(grad_scale=1e-15, eps=1e-30), np.float64: dict(grad_scale=1e-150,
                                                                        eps=1e-290)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [dict(), dict(rho=0.5, weight_decay=0.1)], ids=str)
def test_tiny_values(dtype, kwargs):
    """Tiny gradients (squares partly subnormal), tiny eps, parameters from 0 (so that
    they stay tiny and are compared at their own scale)."""
    torch = pytest.importorskip("torch")
    tiny = TINY[dtype]
    kwargs = dict(kwargs, eps=tiny["eps"])
    run = dict(grad_scale=tiny["grad_scale"], param_scale=0.0)
    for backend in ("cython", "numba"):
        check_backend(fastopt.Adadelta, kwargs, backend, dtype, **run)
    ref = reference(fastopt.Adadelta, kwargs, dtype, **run)
    params, state = ref.params, ref.state
    assert 0 < np.abs(params[1]).max() < 1e-5
    assert 0 < np.abs(state[1]["square_avg"]).max() < 1e-20
    assert_close(ref, run_torch(torch.optim.Adadelta, kwargs, dtype, **run), dtype)


def test_eps_is_inside_both_roots():
    p = np.zeros(2)
    g = np.array([0.5, -3.0])
    fastopt.Adadelta([p], lr=1.0, rho=0.9, eps=1e-6).step([g])
    sq = 0.9 * 0.0 + (1 - 0.9) * g * g
    np.testing.assert_array_equal(p, -(np.sqrt(0.0 + 1e-6) / np.sqrt(sq + 1e-6) * g))
