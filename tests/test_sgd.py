"""SGD (momentum, dampening, Nesterov): what the generic tests (test_optimizers.py) do
not cover: the lazy momentum buffer, momentum changing between steps as torch's, and
Nesterov's conditions."""
import numpy as np
import pytest

import fastopt
from harness import Run, assert_close, gradients, initial, run_torch, snapshot

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
    grads = gradients([(7,), (3, 4)], np.float64, 40)
    for t in range(40):
        between(t, run.opt)
        run.step(grads[t])
    theirs = run_torch(torch.optim.SGD, dict(lr=0.01, momentum=0.9, dampening=0.1), np.float64,
                       shapes=[(7,), (3, 4)], steps=40, between=between)
    assert_close(run.result(), theirs, np.float64)


def test_momentum_zero_first_then_on_is_like_torch():
    """A group built with momentum on but at 0 for its first steps starts its buffer
    (buf = g) on the first step that uses it, as torch does."""
    torch = pytest.importorskip("torch")

    def between(t, opt):
        opt.param_groups[0]["momentum"] = 0.0 if t < 3 else 0.9

    run = Run(fastopt.SGD, dict(lr=0.01, momentum=0.9, dampening=0.5), "cython", np.float64,
              [(6,)], "list", 0, 1.0)
    grads = gradients([(6,)], np.float64, 10)
    for t in range(10):
        between(t, run.opt)
        run.step(grads[t])
    theirs = run_torch(torch.optim.SGD, dict(lr=0.01, momentum=0.9, dampening=0.5),
                       np.float64, shapes=[(6,)], steps=10, between=between)
    assert_close(run.result(), theirs, np.float64)


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
    grads = gradients([(6,), (2, 3)], np.float64, 10)
    for t in range(10):
        between(t, run.opt)
        if t == 3:
            assert run.opt.state[0] == {}
        run.step(grads[t])
    assert set(run.opt.state[0]) == {"momentum_buffer"}
    theirs = run_torch(torch.optim.SGD, dict(lr=0.01, dampening=0.5), np.float64,
                       shapes=[(6,), (2, 3)], steps=10, between=between)
    assert_close(run.result(), theirs, np.float64)
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
    grads = gradients(shapes, np.float64, 30)
    momenta = []
    for t in range(30):
        run.step(grads[t])
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
    assert_close(run.result(), theirs, np.float64)


@pytest.mark.parametrize("kwargs", [dict(momentum=0.9, dampening=0.1),
                                    dict(momentum=0.0, dampening=0.0)], ids=str)
def test_nesterov_needs_momentum_and_no_dampening(kwargs):
    """As torch (the table's refusals check that nothing changes)."""
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], nesterov=True, **kwargs)
    with pytest.raises(ValueError, match="nesterov"):
        fastopt.SGD(initial([(5,)], np.float32), nesterov=True, **kwargs)


def test_state_dict_from_another_structure_is_refused():
    a = fastopt.SGD(initial([(5,)], np.float32), momentum=0.9)
    params = initial([(5,)], np.float32)
    b = fastopt.SGD(params)
    before = snapshot(b, params)
    with pytest.raises(ValueError, match="momentum_buffer|state"):
        b.load_state_dict(a.state_dict())
    assert snapshot(b, params) == before


def test_a_group_without_momentum_has_no_buffer():
    a, b = initial([(5,), (3,)], np.float32)
    opt = fastopt.SGD([{"params": [a], "momentum": 0.9}, {"params": [b]}], lr=0.01)
    opt.step([np.ones(5, np.float32), np.ones(3, np.float32)])
    assert set(opt.state[0]) == {"momentum_buffer"} and opt.state[1] == {}
