"""Rprop: what the generic tests (test_optimizers.py) do not cover: the sign logic with
exact zeros, tiny products and NaN, the step size clamps and its start, as torch's."""
import numpy as np
import pytest

import fastopt
from harness import BACKENDS, DTYPES, assert_bitwise


def _signs_run(backend_or_torch, dtype, grads, **kwargs):
    """Parameters and step sizes after each step of the given gradients."""
    p = np.zeros(len(grads[0]), dtype)
    history = []
    if backend_or_torch == "torch":
        import torch
        tp = torch.zeros(len(grads[0]), dtype=torch.float32 if dtype == np.float32
                         else torch.float64, requires_grad=True)
        opt = torch.optim.Rprop([tp], **kwargs)
        for g in grads:
            tp.grad = torch.from_numpy(np.array(g, dtype))
            opt.step()
            history.append((tp.detach().numpy().copy(),
                            opt.state[tp]["step_size"].numpy().copy(),
                            opt.state[tp]["prev"].numpy().copy()))
        return history
    opt = fastopt.Rprop([p], backend=backend_or_torch, **kwargs)
    for g in grads:
        opt.step([np.array(g, dtype)])
        st = opt.state[0]
        history.append((p.copy(), st["step_size"].copy(), st["prev"].copy()))
    return history


TINY = {np.float32: 1e-30, np.float64: 1e-200}     # tiny*tiny underflows to 0


def _sign_grads(dtype):
    t = TINY[dtype]
    return [
        [1.0, -1.0, 0.0, 2.0, 0.0, 1.0, -0.0, 3.0, t],
        [1.0, 1.0, 1.0, -2.0, 0.0, 0.0, 5.0, 3.0, t],
        [1.0, -1.0, 1.0, 1.0, 1.0, 0.0, 5.0, 3.0, -t],
        [1.0, 1.0, -1.0, 1.0, -1.0, -0.0, -5.0, 3.0, t],
        [1.0, -1.0, -1.0, 1.0, -1.0, 0.0, -5.0, 3.0, t],
        [1.0, 1.0, 1.0, 1.0, 1.0, 7.0, 5.0, 3.0, t],
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_sign_logic_with_exact_zeros(dtype):
    kwargs = dict(lr=0.1, etas=(0.5, 2.0), step_sizes=(0.01, 0.3))
    runs = {b: _signs_run(b, dtype, _sign_grads(dtype), **kwargs) for b in BACKENDS}
    (p1, s1, prev1), (p2, s2, prev2) = runs["numpy"][:2]
    f = dtype
    # Step 1: prev = 0, so every product is 0: factor 1, every step size stays lr.
    assert_bitwise([s1], [np.full(9, f(0.1))])
    assert_bitwise([p1], [f(0) - np.sign(np.array(_sign_grads(dtype)[0], f)) * f(0.1)])
    # Step 2: same sign -> *2, flipped -> *0.5 and no move (prev = 0), a zero on either
    # side -> *1, and tiny*tiny, which underflows to 0, counts as 0 (as torch), not as +.
    assert_bitwise([s2], [np.array([0.2, 0.05, 0.1, 0.05, 0.1, 0.1, 0.1, 0.2, 0.1], f)])
    assert_bitwise([prev2], [np.array([1, 0, 1, 0, 0, 0, 5, 3, TINY[dtype]], f)])
    np.testing.assert_allclose(p2, [-0.3, 0.1, -0.1, -0.1, 0, -0.1, -0.1, -0.3, -0.2], rtol=1e-6)
    assert_bitwise([p2], [p1 - np.sign(prev2) * s2])
    # Every backend gives the same bits at every step, and so does torch: Rprop's
    # arithmetic is one rounded multiply per step (step*factor), so it is exact.
    pytest.importorskip("torch")
    torch_run = _signs_run("torch", dtype, _sign_grads(dtype), **kwargs)
    for other in ("cython", "numba"):
        for a, b in zip(runs[other], runs["numpy"]):
            assert_bitwise(list(a), list(b))
    for a, b in zip(torch_run, runs["numpy"]):
        assert_bitwise(list(a), list(b))


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_gradient_as_torch(backend):
    """torch.sign(NaN) is 0: a NaN gradient leaves p and the step size alone (factor 1)."""
    pytest.importorskip("torch")
    nan = float("nan")
    grads = [[1.0, nan, 2.0], [nan, 1.0, 2.0], [1.0, 1.0, nan], [1.0, -1.0, 2.0]]
    ours = _signs_run(backend, np.float64, grads, lr=0.1)
    theirs = _signs_run("torch", np.float64, grads, lr=0.1)
    for a, b in zip(ours, theirs):
        assert_bitwise(list(a), list(b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_steps_clamped_to_step_sizes(dtype):
    """Flipping signs shrink the step to step_sizes[0]; a steady sign grows it to [1]."""
    grads = [[(-1.0) ** t, 1.0] for t in range(40)]
    hist = _signs_run("cython", dtype, grads, lr=0.1, etas=(0.5, 1.2), step_sizes=(0.01, 0.3))
    assert hist[-1][1][0] == dtype(0.01)
    assert hist[-1][1][1] == dtype(0.3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_step_size_starts_at_lr_of_first_step(backend):
    """As torch, which fills the step sizes on the first step: an lr changed between
    construction and the first step (a warm-up scheduler) is the one used."""
    torch = pytest.importorskip("torch")
    g = np.array([1.0, -2.0, 0.5], np.float64)
    p = np.zeros(3)
    opt = fastopt.Rprop([p], lr=0.01, backend=backend)
    opt.param_groups[0]["lr"] = 0.05
    opt.step([g])
    opt.step([g])
    tp = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.Rprop([tp], lr=0.01)
    topt.param_groups[0]["lr"] = 0.05
    for _ in range(2):
        tp.grad = torch.from_numpy(g.copy())
        topt.step()
    assert_bitwise([p, opt.state[0]["step_size"]],
                   [tp.detach().numpy(), topt.state[tp]["step_size"].numpy()])
    # lr changes after the first step do not touch the step sizes (as torch)
    opt.param_groups[0]["lr"] = 1.0
    opt.step([g])
    assert opt.state[0]["step_size"].max() < 0.1


def test_no_weight_decay():
    with pytest.raises(TypeError):
        fastopt.Rprop([np.zeros(3)], weight_decay=0.1)
