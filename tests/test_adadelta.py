"""Adadelta (rho): every backend, dtype and option against the NumPy reference, and
against torch.optim.Adadelta."""
import numpy as np
import pytest

import fastopt
from harness import DTYPES, SIZES
from optcheck import (assert_close_run, check_backends, check_defaults, check_forms,
                      check_refused, check_state_dict_resume, check_torch, run_torch,
                      sizes_and_options)

OPTIONS = [
    dict(),
    dict(rho=0.5),
    dict(rho=0.0),
    dict(rho=1.0, lr=0.01),                      # no averaging: delta = g
    dict(eps=1e-4, lr=0.5),
    dict(weight_decay=0.1),
    dict(maximize=True),
    dict(rho=0.95, eps=1e-8, weight_decay=0.01, maximize=True, lr=0.1),
]
RICH = dict(rho=0.95, eps=1e-7, weight_decay=0.01, lr=0.5)
TINY = {np.float32: dict(grad_scale=1e-15, eps=1e-30), np.float64: dict(grad_scale=1e-150,
                                                                        eps=1e-290)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_backends_match_reference_bitwise(dtype, kwargs):
    check_backends(fastopt.Adadelta, kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size,kwargs", sizes_and_options(SIZES, RICH, [dict()]), ids=str)
def test_sizes(dtype, size, kwargs):
    check_backends(fastopt.Adadelta, kwargs, dtype, shapes=[(size,)])


@pytest.mark.parametrize("form", ["dict", "flat", "groups"])
def test_parameter_forms_agree(form):
    check_forms(fastopt.Adadelta, RICH, np.float32, form,
                groups=[{"params": [1, 2]}, {"params": [0, 3, 4]}])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    check_torch(fastopt.Adadelta, torch.optim.Adadelta, kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [dict(), dict(rho=0.5, weight_decay=0.1)], ids=str)
def test_tiny_values(dtype, kwargs):
    """Tiny gradients (squares partly subnormal), tiny eps, parameters from 0 (so that
    they stay tiny and are compared at their own scale)."""
    torch = pytest.importorskip("torch")
    tiny = TINY[dtype]
    kwargs = dict(kwargs, eps=tiny["eps"])
    run = dict(grad_scale=tiny["grad_scale"], param_scale=0.0)
    results = check_backends(fastopt.Adadelta, kwargs, dtype, **run)
    params, state = results["numpy"]
    assert 0 < np.abs(params[1]).max() < 1e-5
    assert 0 < np.abs(state[1]["square_avg"]).max() < 1e-20
    assert_close_run(results["cython"], run_torch(torch.optim.Adadelta, kwargs, dtype, **run),
                     dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_param_groups_match_torch(dtype):
    torch = pytest.importorskip("torch")
    groups = [{"params": [0, 4], "rho": 0.5}, {"params": [1, 2, 3], "lr": 0.1,
                                                "weight_decay": 0.1}]
    results = check_backends(fastopt.Adadelta, {}, dtype, form="groups", groups=groups)
    assert_close_run(results["cython"],
                     run_torch(torch.optim.Adadelta, {}, dtype, groups=groups), dtype)


def test_eps_is_inside_both_roots():
    p = np.zeros(2)
    g = np.array([0.5, -3.0])
    fastopt.Adadelta([p], lr=1.0, rho=0.9, eps=1e-6).step([g])
    sq = 0.9 * 0.0 + (1 - 0.9) * g * g
    np.testing.assert_array_equal(p, -(np.sqrt(0.0 + 1e-6) / np.sqrt(sq + 1e-6) * g))


def test_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    check_defaults(fastopt.Adadelta, torch.optim.Adadelta)


REFUSED = [
    ("lr", -1.0, ValueError), ("lr", None, TypeError), ("rho", -0.1, ValueError),
    ("rho", 1.1, ValueError), ("rho", float("nan"), ValueError), ("eps", 0.0, ValueError),
    ("eps", -1e-6, ValueError), ("weight_decay", -0.1, ValueError),
    ("maximize", "True", TypeError),
]


@pytest.mark.parametrize("name,value,exc", REFUSED, ids=str)
def test_bad_hyperparameters_are_refused(name, value, exc):
    check_refused(fastopt.Adadelta, RICH, name, value, exc)


@pytest.mark.parametrize("kwargs", [RICH, dict()], ids=str)
def test_state_dict_resumes_bitwise(kwargs):
    check_state_dict_resume(fastopt.Adadelta, kwargs)
