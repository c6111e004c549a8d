"""Adagrad (lr_decay, initial_accumulator_value): every backend, dtype and option against
the NumPy reference, and against torch.optim.Adagrad."""
import numpy as np
import pytest

import fastopt
from harness import DTYPES, SIZES, initial
from optcheck import (assert_close_run, check_backends, check_defaults, check_forms,
                      check_refused, check_state_dict_resume, check_torch, run_torch,
                      sizes_and_options)

OPTIONS = [
    dict(),
    dict(lr_decay=0.05),
    dict(initial_accumulator_value=0.1),
    dict(weight_decay=0.1),
    dict(maximize=True),
    dict(lr=0.1, eps=1e-6),
    dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.5, weight_decay=0.05,
         maximize=True, eps=1e-8),
]
RICH = dict(lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.05)
# Tiny gradients (their squares partly subnormal) and a tiny eps.
TINY = {np.float32: dict(grad_scale=1e-15, eps=1e-30), np.float64: dict(grad_scale=1e-150,
                                                                        eps=1e-290)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_backends_match_reference_bitwise(dtype, kwargs):
    check_backends(fastopt.Adagrad, kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size,kwargs", sizes_and_options(SIZES, RICH, [dict()]), ids=str)
def test_sizes(dtype, size, kwargs):
    check_backends(fastopt.Adagrad, kwargs, dtype, shapes=[(size,)])


@pytest.mark.parametrize("form", ["dict", "flat", "groups"])
def test_parameter_forms_agree(form):
    check_forms(fastopt.Adagrad, RICH, np.float32, form,
                groups=[{"params": [3]}, {"params": [0, 1, 2, 4]}])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    check_torch(fastopt.Adagrad, torch.optim.Adagrad, kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [dict(), dict(lr_decay=0.1, weight_decay=0.1)], ids=str)
def test_tiny_values(dtype, kwargs):
    """Everything tiny: gradients (squares partly subnormal), parameters, lr and eps."""
    torch = pytest.importorskip("torch")
    tiny = TINY[dtype]
    scale = tiny["grad_scale"]
    kwargs = dict(kwargs, eps=tiny["eps"], lr=scale)
    run = dict(grad_scale=scale, param_scale=scale)
    results = check_backends(fastopt.Adagrad, kwargs, dtype, **run)
    params, state = results["numpy"]
    assert 0 < np.abs(state[1]["sum"]).max() < scale
    assert 0 < np.abs(params[1]).max() < 1e-6          # (where g*g underflows, eps rules)
    assert_close_run(results["cython"], run_torch(torch.optim.Adagrad, kwargs, dtype, **run),
                     dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_param_groups_match_torch(dtype):
    torch = pytest.importorskip("torch")
    groups = [{"params": [0, 1], "lr_decay": 0.1}, {"params": [2, 3, 4], "lr": 0.1}]
    results = check_backends(fastopt.Adagrad, dict(initial_accumulator_value=0.2), dtype,
                             form="groups", groups=groups)
    assert_close_run(results["cython"], run_torch(
        torch.optim.Adagrad, dict(initial_accumulator_value=0.2), dtype, groups=groups), dtype)


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


def test_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    check_defaults(fastopt.Adagrad, torch.optim.Adagrad)


REFUSED = [
    ("lr", -0.01, ValueError), ("lr", [0.1], TypeError), ("lr_decay", -0.1, ValueError),
    ("lr_decay", float("inf"), ValueError), ("weight_decay", -0.1, ValueError),
    ("initial_accumulator_value", -0.1, ValueError), ("eps", 0.0, ValueError),
    ("eps", float("nan"), ValueError), ("maximize", 0.5, TypeError),
]


@pytest.mark.parametrize("name,value,exc", REFUSED, ids=str)
def test_bad_hyperparameters_are_refused(name, value, exc):
    check_refused(fastopt.Adagrad, RICH, name, value, exc)


@pytest.mark.parametrize("kwargs", [RICH, dict()], ids=str)
def test_state_dict_resumes_bitwise(kwargs):
    check_state_dict_resume(fastopt.Adagrad, kwargs)


def test_fresh_optimizer_starts_from_the_loaded_sum():
    params = initial([(4,)], np.float64)
    opt = fastopt.Adagrad(params, initial_accumulator_value=0.5)
    sd = opt.state_dict()
    sd["state"][0]["sum"][...] = 7.0
    opt.load_state_dict(sd)
    assert (opt.state[0]["sum"] == 7.0).all()
