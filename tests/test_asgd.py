"""ASGD: what the generic tests (test_optimizers.py, against torch.optim.ASGD) do not
cover: eta and mu per param group (their values, state_dict, refusals), the averaged
iterate, an lr changed between steps, and torch's foreach path."""
import numpy as np
import pytest

import fastopt
from harness import (BACKENDS, SHAPES, Run, assert_close, default_steps, gradients, run,
                     run_torch)


def test_eta_and_mu_are_torchs_per_group():
    """After each step, every group's eta and mu equal torch's per-parameter ones (which
    torch keeps in its default dtype: float64 here)."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        groups = [dict(lr=0.05, t0=2.0), dict(lr=0.01, lambd=0.1, alpha=0.5, t0=0.0)]
        ours = [np.ones(3), np.ones(2)]
        theirs = [torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True)]
        opt = fastopt.ASGD([dict(g, params=[p]) for g, p in zip(groups, ours)])
        topt = torch.optim.ASGD([dict(g, params=[p]) for g, p in zip(groups, theirs)])
        for t in range(1, 7):
            grads = [np.full(3, 0.5 * t), np.full(2, -0.25)]
            opt.step(grads)
            for p, g in zip(theirs, grads):
                p.grad = torch.from_numpy(g)
            topt.step()
            ours_state = opt.state_dict()["group_state"]
            for gi, p in enumerate(theirs):
                assert ours_state[gi] == {"eta": topt.state[p]["eta"].item(),
                                          "mu": topt.state[p]["mu"].item()}, (t, gi)
    finally:
        torch.set_default_dtype(previous)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ax_copies_the_parameters_until_t0_then_averages(backend):
    """ax is the iterate itself while the step's mu (set after the step before) is 1, that
    is up to step t0 + 2; then the running mean of the iterates from step t0 + 2 on."""
    p = np.zeros(2)
    opt = fastopt.ASGD([p], lr=1.0, lambd=0.0, t0=3.0, backend=backend)
    iterates = []
    for t in range(1, 9):
        opt.step([np.array([-1.0, 2.0])])
        iterates.append(p.copy())
        ax = opt.state[0]["ax"]
        if t <= 5:      # mu = 1/max(1, t - 1 - t0)
            assert ax.tobytes() == p.tobytes(), t
        else:
            np.testing.assert_allclose(ax, np.mean(iterates[4:], axis=0), rtol=1e-14)


def test_group_state_is_restored_and_checked():
    params = [np.ones(4)]
    opt = fastopt.ASGD(params, lr=0.1, t0=0.0)
    for _ in range(3):
        opt.step([np.full(4, 0.5)])
    sd = opt.state_dict()
    # a state_dict's eta is read: a doubled eta doubles the next step's move
    twin_params = [np.ones(4)]
    twin = fastopt.ASGD(twin_params, lr=0.1, t0=0.0)
    sd["group_state"][0]["eta"] *= 2
    twin.load_state_dict(sd)
    twin_params[0][...] = params[0]
    opt.step([np.full(4, 0.5)])
    twin.step([np.full(4, 0.5)])
    assert not np.array_equal(twin_params[0], params[0])
    for bad, what in (({"eta": -1.0, "mu": 1.0}, "eta"), ({"eta": 0.1, "mu": 0.0}, "mu"),
                      ({"eta": 0.1, "mu": 1.5}, "mu"), ({"eta": 0.1}, "mu")):
        sd = opt.state_dict()
        sd["group_state"][0] = bad
        before = (params[0].tobytes(), opt.state_dict()["group_state"], opt.step_count)
        with pytest.raises(ValueError, match=what):
            opt.load_state_dict(sd)
        assert (params[0].tobytes(), opt.state_dict()["group_state"], opt.step_count) == before


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lr_changed_between_steps_as_torch(dtype):
    """eta of a step is computed with the lr of the step before (torch's order), and the
    first step uses the lr it is taken with."""
    torch = pytest.importorskip("torch")
    kwargs = dict(lr=0.05, lambd=0.01, t0=2.0)
    lrs = {0: 0.02, 3: 0.08, 5: 0.01}

    def torch_between(t, opt):
        if t in lrs:
            for g in opt.param_groups:
                g["lr"] = lrs[t]
    theirs = run_torch(torch.optim.ASGD, kwargs, dtype, between=torch_between)

    r = Run(fastopt.ASGD, kwargs, "cython", dtype, SHAPES, "list", 0, 1.0, None)
    for t, gs in enumerate(gradients(SHAPES, dtype, default_steps(SHAPES))):
        if t in lrs:
            for g in r.opt.param_groups:
                g["lr"] = lrs[t]
        r.step(gs)
    assert_close(r.result(), theirs, dtype)


@pytest.mark.parametrize("kwargs", [dict(t0=2.0, weight_decay=0.1),
                                    dict(t0=0.0, lambd=0.1, alpha=0.5, maximize=True)])
def test_torch_foreach_agrees_to_rounding(kwargs):
    """torch's foreach path folds the decay into the gradient (p - eta*(g + lambd*p));
    fastopt computes the single-tensor path's p*(1 - lambd*eta) - eta*g.  Both agree to
    rounding in float64."""
    torch = pytest.importorskip("torch")
    ours = run(fastopt.ASGD, kwargs, "cython", np.float64)
    theirs = run_torch(torch.optim.ASGD, dict(kwargs, foreach=True), np.float64)
    assert_close(ours, theirs, np.float64)


def test_defaults():
    assert fastopt.ASGD([np.zeros(1, np.float32)]).defaults == dict(
        lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False)
