"""Adamax: every backend, dtype and option against the NumPy reference, and against
torch.optim.Adamax."""
import numpy as np
import pytest

import fastopt
from harness import DTYPES, SIZES
from optcheck import (assert_close_run, check_backends, check_defaults, check_forms,
                      check_refused, check_state_dict_resume, check_torch, run_torch,
                      sizes_and_options)

OPTIONS = [
    dict(),
    dict(betas=(0.5, 0.9)),
    dict(betas=(0.0, 0.0)),
    dict(betas=(0.95, 0.5), lr=0.01),
    dict(eps=1e-3, lr=0.01),
    dict(weight_decay=0.1),
    dict(maximize=True),
    dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, maximize=True, lr=0.005),
]
RICH = dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, lr=0.005)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_backends_match_reference_bitwise(dtype, kwargs):
    check_backends(fastopt.Adamax, kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size,kwargs", sizes_and_options(SIZES, RICH, [dict()]), ids=str)
def test_sizes(dtype, size, kwargs):
    check_backends(fastopt.Adamax, kwargs, dtype, shapes=[(size,)])


@pytest.mark.parametrize("form", ["dict", "flat", "groups"])
def test_parameter_forms_agree(form):
    check_forms(fastopt.Adamax, RICH, np.float32, form,
                groups=[{"params": [0]}, {"params": [4, 3, 2, 1]}])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    check_torch(fastopt.Adamax, torch.optim.Adamax, kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_param_groups_match_torch(dtype):
    torch = pytest.importorskip("torch")
    groups = [{"params": [0, 1], "betas": (0.5, 0.9)}, {"params": [2, 3, 4], "lr": 0.01,
                                                          "weight_decay": 0.1}]
    results = check_backends(fastopt.Adamax, {}, dtype, form="groups", groups=groups)
    assert_close_run(results["cython"],
                     run_torch(torch.optim.Adamax, {}, dtype, groups=groups), dtype)


def test_eps_is_inside_the_max():
    p = np.zeros(3)
    g = np.array([0.0, 1e-9, -2.0])
    opt = fastopt.Adamax([p], lr=0.1, eps=1e-8)
    opt.step([g])
    u = np.abs(g) + 1e-8
    assert opt.state[0]["exp_inf"].tobytes() == u.tobytes()
    m = 0.0 + (1 - 0.9) * (g - 0.0)
    np.testing.assert_array_equal(p, -((0.1 / (1 - 0.9)) * m) / u)


def test_nan_gradient_propagates_into_the_norm_as_torch():
    torch = pytest.importorskip("torch")
    g = np.array([np.nan, 1.0])
    for backend in ("cython", "numba", "numpy"):
        p = np.zeros(2)
        opt = fastopt.Adamax([p], backend=backend)
        opt.step([g])
        opt.step([np.ones(2)])
        assert np.isnan(opt.state[0]["exp_inf"][0]) and not np.isnan(opt.state[0]["exp_inf"][1])
    t = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.Adamax([t])
    for grad in (g, np.ones(2)):
        t.grad = torch.from_numpy(grad)
        topt.step()
    assert np.isnan(topt.state[t]["exp_inf"][0].item())


def test_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    check_defaults(fastopt.Adamax, torch.optim.Adamax)


REFUSED = [
    ("lr", -2e-3, ValueError), ("betas", (1.0, 0.9), ValueError),
    ("betas", (0.9, -0.1), ValueError), ("betas", 0.9, TypeError),
    ("eps", 0.0, ValueError), ("weight_decay", -1.0, ValueError),
    ("weight_decay", float("nan"), ValueError), ("maximize", 1.0, TypeError),
]


@pytest.mark.parametrize("name,value,exc", REFUSED, ids=str)
def test_bad_hyperparameters_are_refused(name, value, exc):
    check_refused(fastopt.Adamax, RICH, name, value, exc)


@pytest.mark.parametrize("kwargs", [RICH, dict()], ids=str)
def test_state_dict_resumes_bitwise(kwargs):
    check_state_dict_resume(fastopt.Adamax, kwargs)
