"""RMSprop (alpha, centered, momentum): every backend, dtype and option against the NumPy
reference, and against torch.optim.RMSprop."""
import numpy as np
import pytest

import fastopt
from harness import DTYPES, SIZES, initial, snapshot
from optcheck import (Gradients, Run, assert_close_run, check_backends, check_defaults,
                      check_forms, check_refused, check_state_dict_resume, check_torch,
                      run_torch, sizes_and_options)

OPTIONS = [
    dict(),
    dict(lr=0.001, alpha=0.9, eps=1e-6),
    dict(centered=True),
    dict(momentum=0.9, lr=0.001),
    dict(centered=True, momentum=0.5),
    dict(weight_decay=0.1),
    dict(maximize=True),
    dict(centered=True, momentum=0.9, weight_decay=0.05, maximize=True, lr=0.003),
    dict(alpha=0.0, lr=0.001),                   # v = g*g: a sign-like step
    dict(alpha=0.5, eps=1e-3, momentum=0.2),
]
RICH = dict(centered=True, momentum=0.9, weight_decay=0.05, lr=0.001)
BUFFERS = {"square_avg", "grad_avg", "momentum_buffer"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS + [dict(alpha=1.0, lr=1e-9)], ids=str)
def test_backends_match_reference_bitwise(dtype, kwargs):
    results = check_backends(fastopt.RMSprop, kwargs, dtype)
    live = {"square_avg"} | ({"grad_avg"} if kwargs.get("centered") else set()) \
        | ({"momentum_buffer"} if kwargs.get("momentum") else set())
    assert set(results["numpy"][1][0]) == live


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size,kwargs", sizes_and_options(
    SIZES, RICH, [dict(), dict(centered=True), dict(momentum=0.9, lr=0.001)]), ids=str)
def test_sizes(dtype, size, kwargs):
    check_backends(fastopt.RMSprop, kwargs, dtype, shapes=[(size,)])


@pytest.mark.parametrize("form", ["dict", "flat", "groups"])
def test_parameter_forms_agree(form):
    check_forms(fastopt.RMSprop, RICH, np.float32, form,
                groups=[{"params": [4, 1]}, {"params": [0, 2, 3]}])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    check_torch(fastopt.RMSprop, torch.optim.RMSprop, kwargs, dtype)


GROUPS = [{"params": [0, 1], "centered": True},
          {"params": [2], "momentum": 0.9, "lr": 0.001},
          {"params": [3, 4], "alpha": 0.9, "weight_decay": 0.1}]


@pytest.mark.parametrize("dtype", DTYPES)
def test_param_groups_match_torch(dtype):
    torch = pytest.importorskip("torch")
    results = check_backends(fastopt.RMSprop, {}, dtype, form="groups", groups=GROUPS)
    assert set(results["numpy"][1][2]) == {"square_avg", "momentum_buffer"}
    assert_close_run(results["cython"],
                     run_torch(torch.optim.RMSprop, {}, dtype, groups=GROUPS), dtype)


def test_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    check_defaults(fastopt.RMSprop, torch.optim.RMSprop)


def test_eps_is_outside_the_root_and_there_is_no_bias_correction():
    p = np.zeros(3)
    g = np.array([1e-3, -2.0, 0.0])
    fastopt.RMSprop([p], lr=0.1, alpha=0.99, eps=1e-8).step([g])
    np.testing.assert_array_equal(p, -(0.1 * g) / (np.sqrt((1 - 0.99) * g * g) + 1e-8))


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_options_switched_off_later_as_torch(backend):
    """momentum may change and drop to 0, centered may be switched off: torch then leaves
    the unused buffers as they are, and so do we."""
    torch = pytest.importorskip("torch")

    def between(t, opt):
        group = opt.param_groups[0]
        group["momentum"] = {0: 0.9, 8: 0.5, 16: 0.0, 24: 0.3}.get(t, group["momentum"])
        group["centered"] = t < 20

    kwargs = dict(lr=0.001, momentum=0.9, centered=True)
    shapes = [(7,), (3, 4)]
    run = Run(fastopt.RMSprop, kwargs, backend, np.float64, shapes, "list", 0, 1.0)
    grads = Gradients(shapes, np.float64)
    for t in range(30):
        between(t, run.opt)
        run.step(grads.at(t))
    theirs = run_torch(torch.optim.RMSprop, kwargs, np.float64, shapes=shapes, steps=30,
                       between=between)
    assert_close_run(run.result(), theirs, np.float64)


@pytest.mark.parametrize("name,value,match", [("momentum", 0.9, "built with momentum=0"),
                                              ("centered", True, "built with centered=False")])
def test_buffers_cannot_be_switched_on_later(name, value, match):
    params = initial([(5,)], np.float32)
    opt = fastopt.RMSprop(params)
    opt.step([np.ones(5, np.float32)])
    before = snapshot(opt, params)
    opt.param_groups[0][name] = value
    with pytest.raises(ValueError, match=match):
        opt.step([np.ones(5, np.float32)])
    assert snapshot(opt, params) == before


REFUSED = [
    ("lr", -1e-3, ValueError), ("lr", float("inf"), ValueError),
    ("alpha", -0.1, ValueError), ("alpha", 1.01, ValueError), ("alpha", None, TypeError),
    ("eps", 0.0, ValueError), ("eps", -1e-8, ValueError),
    ("weight_decay", -0.1, ValueError), ("momentum", -0.9, ValueError),
    ("momentum", float("nan"), ValueError), ("centered", 2, TypeError),
    ("maximize", "no", TypeError),
]


@pytest.mark.parametrize("name,value,exc", REFUSED, ids=str)
def test_bad_hyperparameters_are_refused(name, value, exc):
    check_refused(fastopt.RMSprop, RICH, name, value, exc)


@pytest.mark.parametrize("kwargs", [RICH, dict(), dict(momentum=0.5)], ids=str)
def test_state_dict_resumes_bitwise(kwargs):
    check_state_dict_resume(fastopt.RMSprop, kwargs)
