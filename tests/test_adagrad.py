"""Adagrad (lr_decay, initial_accumulator_value): what the generic tests
(test_optimizers.py) do not cover: tiny values, the accumulator's start and torch's decay."""
import numpy as np
import pytest

import fastopt
from harness import DTYPES, assert_close, check_backend, initial, reference, run_torch

# Tiny gradients (their squares partly subnormal) and a tiny eps.
TINY = {np.float32: dict(grad_scale=1e-15, eps=1e-30), np.float64: dict(grad_scale=1e-150,
                                                                        eps=1e-290)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [dict(), dict(lr_decay=0.1, weight_decay=0.1)], ids=str)
def test_tiny_values(dtype, kwargs):
    """Everything tiny: gradients (squares partly subnormal), parameters, lr and eps."""
    torch = pytest.importorskip("torch")
    tiny = TINY[dtype]
    scale = tiny["grad_scale"]
    kwargs = dict(kwargs, eps=tiny["eps"], lr=scale)
    run = dict(grad_scale=scale, param_scale=scale)
    for backend in ("cython", "numba"):
        check_backend(fastopt.Adagrad, kwargs, backend, dtype, **run)
    ref = reference(fastopt.Adagrad, kwargs, dtype, **run)
    params, state = ref.params, ref.state
    assert 0 < np.abs(state[1]["sum"]).max() < scale
    assert 0 < np.abs(params[1]).max() < 1e-6          # (where g*g underflows, eps rules)
    assert_close(ref, run_torch(torch.optim.Adagrad, kwargs, dtype, **run), dtype)


def test_initial_accumulator_value_fills_the_sum():
    a, b = np.zeros(3, np.float32), np.zeros(2, np.float32)
    opt = fastopt.Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 2.5}],
                          initial_accumulator_value=0.25)
    assert (opt.state[0]["sum"] == np.float32(0.25)).all()
    # a group's own value is used (torch.optim.Adagrad reads only the constructor's)
    assert (opt.state[1]["sum"] == np.float32(2.5)).all()


def test_lr_decay_step_size_is_torchs():
    """clr = lr/(1 + (t-1)*lr_decay): the first step is not decayed."""
    p = np.zeros(1)
    opt = fastopt.Adagrad([p], lr=0.5, lr_decay=1.0, eps=1e-300)
    opt.step([np.array([4.0])])
    assert p[0] == -0.5
    opt.step([np.array([3.0])])
    assert p[0] == -0.5 - (0.25 * 3.0) / (np.sqrt(25.0) + 1e-300)


def test_fresh_optimizer_starts_from_the_loaded_sum():
    params = initial([(4,)], np.float64)
    opt = fastopt.Adagrad(params, initial_accumulator_value=0.5)
    sd = opt.state_dict()
    sd["state"][0]["sum"][...] = 7.0
    opt.load_state_dict(sd)
    assert (opt.state[0]["sum"] == 7.0).all()
