"""RMSprop (alpha, centered, momentum): what the generic tests (test_optimizers.py) do
not cover: which buffers the options make, options switched off between steps as torch,
and where eps goes."""
import numpy as np
import pytest

import fastopt
from fastopt.optimizers.table import OPTIMIZERS
from harness import Run, assert_close, gradients, run_torch

RMSPROP = next(info for info in OPTIMIZERS if info.cls == "RMSprop")


@pytest.mark.parametrize("kwargs", RMSPROP.option_sets, ids=str)
def test_buffers_follow_the_options(kwargs):
    opt = fastopt.RMSprop([np.zeros(3)], **kwargs)
    opt.step([np.ones(3)])
    live = {"square_avg"} | ({"grad_avg"} if kwargs.get("centered") else set()) \
        | ({"momentum_buffer"} if kwargs.get("momentum") else set())
    assert set(opt.state[0]) == live


def test_each_group_has_its_own_buffers():
    a, b, c = np.zeros(3), np.zeros(2), np.zeros(4)
    opt = fastopt.RMSprop([{"params": [a], "centered": True}, {"params": [b], "momentum": 0.9},
                           {"params": [c]}])
    opt.step([np.ones(3), np.ones(2), np.ones(4)])
    assert [set(opt.state[i]) for i in range(3)] == [
        {"square_avg", "grad_avg"}, {"square_avg", "momentum_buffer"}, {"square_avg"}]


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
    grads = gradients(shapes, np.float64, 30)
    for t in range(30):
        between(t, run.opt)
        run.step(grads[t])
    theirs = run_torch(torch.optim.RMSprop, kwargs, np.float64, shapes=shapes, steps=30,
                       between=between)
    assert_close(run.result(), theirs, np.float64)
