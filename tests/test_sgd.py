"""SGD (momentum, dampening, Nesterov): every backend, dtype and option against the NumPy
reference, and against torch.optim.SGD."""
import numpy as np
import pytest

import fastopt
from harness import DTYPES, SIZES, initial, snapshot
from optcheck import (Run, Gradients, assert_close_run, check_backends, check_defaults,
                      check_forms, check_refused, check_state_dict_resume, check_torch,
                      run_backends, run_torch, sizes_and_options)

OPTIONS = [
    dict(),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, momentum=0.9, dampening=0.5),
    dict(lr=0.01, momentum=0.9, dampening=1.0),
    dict(lr=0.01, momentum=0.9, nesterov=True),
    dict(lr=0.02, weight_decay=0.1),
    dict(lr=0.01, maximize=True),
    dict(lr=0.01, momentum=0.5, dampening=0.1, weight_decay=0.1, maximize=True),
    dict(lr=0.005, momentum=0.99, nesterov=True, weight_decay=0.01, maximize=True),
]
RICH = dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_backends_match_reference_bitwise(dtype, kwargs):
    check_backends(fastopt.SGD, kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size,kwargs", sizes_and_options(
    SIZES, RICH, [dict(lr=0.01, momentum=0.9, dampening=0.3), dict(lr=0.01)]), ids=str)
def test_sizes(dtype, size, kwargs):
    check_backends(fastopt.SGD, kwargs, dtype, shapes=[(size,)])


@pytest.mark.parametrize("form", ["dict", "flat", "groups"])
def test_parameter_forms_agree(form):
    check_forms(fastopt.SGD, dict(lr=0.01, momentum=0.9, dampening=0.2, weight_decay=0.1),
                np.float32, form, groups=[{"params": [0, 2]}, {"params": [1, 3, 4]}])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    check_torch(fastopt.SGD, torch.optim.SGD, kwargs, dtype)


GROUPS = [{"params": [0, 1], "momentum": 0.9, "nesterov": True},
          {"params": [2], "lr": 0.05},                                  # no momentum buffer
          {"params": [3, 4], "momentum": 0.5, "dampening": 0.5, "weight_decay": 0.1}]


@pytest.mark.parametrize("dtype", DTYPES)
def test_param_groups_match_torch(dtype):
    torch = pytest.importorskip("torch")
    results = check_backends(fastopt.SGD, dict(lr=0.01), dtype, form="groups", groups=GROUPS)
    assert "momentum_buffer" not in results["numpy"][1][2]
    assert_close_run(results["cython"],
                     run_torch(torch.optim.SGD, dict(lr=0.01), dtype, groups=GROUPS), dtype)


def test_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    check_defaults(fastopt.SGD, torch.optim.SGD)


def test_first_momentum_step_copies_the_gradient():
    """torch: buf = g (not (1-dampening)*g) on the first step, also with Nesterov."""
    for kwargs in (dict(momentum=0.9, dampening=0.5), dict(momentum=0.9, nesterov=True)):
        for backend in ("cython", "numba", "numpy"):
            p = np.ones(5)
            g = np.array([1.0, -2.0, 0.0, 3e-7, 5.0])
            opt = fastopt.SGD([p], lr=0.1, backend=backend, **kwargs)
            opt.step([g])
            assert opt.state[0]["momentum_buffer"].tobytes() == g.tobytes()
            step = g + 0.9 * g if kwargs.get("nesterov") else g
            np.testing.assert_array_equal(p, 1.0 - 0.1 * step)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_momentum_changes_between_steps_as_torch(backend):
    """Schedulers cycle momentum: it may change, drop to 0 (the buffer is left alone, as
    torch leaves it) and come back."""
    torch = pytest.importorskip("torch")
    schedule = {0: 0.9, 10: 0.5, 20: 0.0, 30: 0.7}

    def between(t, opt):
        if t in schedule:
            for group in opt.param_groups:
                group["momentum"] = schedule[t]

    run = Run(fastopt.SGD, dict(lr=0.01, momentum=0.9, dampening=0.1), backend, np.float64,
              [(7,), (3, 4)], "list", 0, 1.0)
    grads = Gradients([(7,), (3, 4)], np.float64)
    for t in range(40):
        between(t, run.opt)
        run.step(grads.at(t))
    theirs = run_torch(torch.optim.SGD, dict(lr=0.01, momentum=0.9, dampening=0.1), np.float64,
                       shapes=[(7,), (3, 4)], steps=40, between=between)
    assert_close_run(run.result(), theirs, np.float64)


def test_momentum_zero_first_then_on_is_like_torch():
    """A group built with momentum on but at 0 for its first steps starts its buffer
    (buf = g) on the first step that uses it, as torch does."""
    torch = pytest.importorskip("torch")

    def between(t, opt):
        opt.param_groups[0]["momentum"] = 0.0 if t < 3 else 0.9

    run = Run(fastopt.SGD, dict(lr=0.01, momentum=0.9, dampening=0.5), "cython", np.float64,
              [(6,)], "list", 0, 1.0)
    grads = Gradients([(6,)], np.float64)
    for t in range(10):
        between(t, run.opt)
        run.step(grads.at(t))
    theirs = run_torch(torch.optim.SGD, dict(lr=0.01, momentum=0.9, dampening=0.5),
                       np.float64, shapes=[(6,)], steps=10, between=between)
    assert_close_run(run.result(), theirs, np.float64)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_momentum_switched_on_later_is_like_torch(backend):
    """A group built with momentum=0 gets its buffer (buf = g) on the first step that
    uses momentum, as torch does; it shows in state and state_dict from then on, and a
    state_dict taken then resumes into a fresh optimizer built with momentum=0."""
    torch = pytest.importorskip("torch")

    def between(t, opt):
        opt.param_groups[0]["momentum"] = 0.0 if t < 3 else 0.9

    run = Run(fastopt.SGD, dict(lr=0.01, dampening=0.5), backend, np.float64,
              [(6,), (2, 3)], "list", 0, 1.0)
    grads = Gradients([(6,), (2, 3)], np.float64)
    for t in range(10):
        between(t, run.opt)
        if t == 3:
            assert run.opt.state[0] == {}
        run.step(grads.at(t))
    assert set(run.opt.state[0]) == {"momentum_buffer"}
    theirs = run_torch(torch.optim.SGD, dict(lr=0.01, dampening=0.5), np.float64,
                       shapes=[(6,), (2, 3)], steps=10, between=between)
    assert_close_run(run.result(), theirs, np.float64)
    fresh_params = [p.copy() for p in run.params]
    fresh = fastopt.SGD(fresh_params, lr=0.01, backend=backend)
    fresh.load_state_dict(run.opt.state_dict())
    g = [np.full(6, 0.5), np.full((2, 3), -0.25)]
    run.opt.step(g)
    fresh.step(g)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(run.params, fresh_params))


def test_momentum_switched_on_by_a_refused_step_changes_nothing():
    params = initial([(5,)], np.float32)
    opt = fastopt.SGD(params, lr=0.1)
    opt.step([np.ones(5, np.float32)])
    before = snapshot(opt, params)
    opt.param_groups[0]["momentum"] = 0.9
    with pytest.raises(TypeError):
        opt.step([np.ones(5, np.float64)])
    assert snapshot(opt, params) == before and opt.state[0] == {}


def test_one_cycle_schedule_with_momentum_matches_torch():
    torch = pytest.importorskip("torch")
    shapes = [(7,), (3, 4)]
    run = Run(fastopt.SGD, dict(lr=0.01, momentum=0.9), "cython", np.float64, shapes,
              "list", 0, 1.0)
    sched = fastopt.lr_scheduler.OneCycleLR(run.opt, max_lr=0.1, total_steps=30)
    grads = Gradients(shapes, np.float64)
    momenta = []
    for t in range(30):
        run.step(grads.at(t))
        sched.step()
        momenta.append(run.opt.param_groups[0]["momentum"])
    holder = {}

    def between(t, opt):
        if t == 0:
            holder["s"] = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=30)
        else:
            holder["s"].step()

    theirs = run_torch(torch.optim.SGD, dict(lr=0.01, momentum=0.9), np.float64, shapes,
                       steps=30, between=between)
    assert len(set(momenta)) > 10
    assert_close_run(run.result(), theirs, np.float64)


REFUSED = [
    ("lr", -0.1, ValueError), ("lr", float("nan"), ValueError), ("lr", "0.1", TypeError),
    ("momentum", -0.5, ValueError), ("momentum", float("inf"), ValueError),
    ("dampening", -0.1, ValueError), ("dampening", 1.5, ValueError),
    ("weight_decay", -1e-4, ValueError), ("nesterov", "yes", TypeError),
    ("maximize", None, TypeError),
]


@pytest.mark.parametrize("name,value,exc", REFUSED, ids=str)
def test_bad_hyperparameters_are_refused(name, value, exc):
    check_refused(fastopt.SGD, dict(lr=0.01, momentum=0.9), name, value, exc)


@pytest.mark.parametrize("kwargs", [dict(momentum=0.9, dampening=0.1),
                                    dict(momentum=0.0, dampening=0.0)], ids=str)
def test_nesterov_needs_momentum_and_no_dampening(kwargs):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], nesterov=True, **kwargs)
    with pytest.raises(ValueError, match="nesterov"):
        fastopt.SGD(initial([(5,)], np.float32), nesterov=True, **kwargs)
    params = initial([(5,)], np.float32)
    opt = fastopt.SGD(params, lr=0.1, momentum=0.9)
    opt.step([np.ones(5, np.float32)])
    before = snapshot(opt, params)
    opt.param_groups[0].update(nesterov=True, **kwargs)
    with pytest.raises(ValueError, match="nesterov"):
        opt.step([np.ones(5, np.float32)])
    assert snapshot(opt, params) == before


@pytest.mark.parametrize("kwargs", [RICH, dict(lr=0.1), dict(momentum=0.9, dampening=0.5)],
                         ids=str)
def test_state_dict_resumes_bitwise(kwargs):
    check_state_dict_resume(fastopt.SGD, kwargs)


def test_state_dict_from_another_structure_is_refused():
    a = fastopt.SGD(initial([(5,)], np.float32), momentum=0.9)
    params = initial([(5,)], np.float32)
    b = fastopt.SGD(params)
    before = snapshot(b, params)
    with pytest.raises(ValueError, match="momentum_buffer|state"):
        b.load_state_dict(a.state_dict())
    assert snapshot(b, params) == before


def test_run_backends_covers_the_threaded_path():
    assert max(SIZES) >= fastopt._core._native.get_parallel_threshold()
    assert len(run_backends(fastopt.SGD, {}, np.float32, shapes=[(3,)], steps=1)) == 3
