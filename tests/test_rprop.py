"""Rprop: every backend, dtype, size, parameter form and option against the NumPy
reference (bitwise) and against torch.optim.Rprop; the sign logic with exact zeros."""
import numpy as np
import pytest

import fastopt
from harness import BACKENDS, DTYPES, SIZES, assert_bitwise, assert_close, run_fastopt, run_torch
from optim_checks import (check_backend, check_bad_gradients_refused, check_defaults_are_torchs,
                          check_refused, check_state_dict_round_trip)

OPTIONS = [
    dict(),
    dict(lr=0.05),
    dict(etas=(0.3, 1.5)),
    dict(step_sizes=(1e-3, 0.1)),
    dict(maximize=True),
    dict(lr=0.2, etas=(0.1, 3.0), step_sizes=(0.05, 0.5), maximize=True),
]
FULL = dict(lr=0.05, etas=(0.4, 1.3), step_sizes=(1e-4, 1.0), maximize=True)


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_backends_match_reference_bitwise(backend, dtype, kwargs):
    check_backend(fastopt.Rprop, kwargs, backend, dtype)


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_sizes(backend, dtype, size):
    check_backend(fastopt.Rprop, FULL, backend, dtype, shapes=[(size,)])


@pytest.mark.parametrize("form", ["flat", "dict"])
@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_parameter_forms_agree(form, backend):
    check_backend(fastopt.Rprop, FULL, backend, np.float32, form=form)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    ours = run_fastopt(fastopt.Rprop, kwargs, "cython", dtype)
    assert_close(ours, run_torch(torch.optim.Rprop, kwargs, dtype), dtype)


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


def test_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    check_defaults_are_torchs(fastopt.Rprop, torch.optim.Rprop)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-1.0), "lr"), (dict(lr=float("nan")), "lr"),
    (dict(etas=(1.0, 1.2)), "etas"), (dict(etas=(0.5, 1.0)), "etas"),
    (dict(etas=(0.0, 1.2)), "etas"),
    (dict(etas=(0.5, float("inf"))), "etas"), (dict(etas=(float("nan"), 1.2)), "etas"),
    (dict(etas=0.5), "etas"), (dict(etas=(0.5, "1.2")), r"etas\[1\]"),
    (dict(step_sizes=(0.0, 1.0)), "step_sizes"), (dict(step_sizes=(1.0, 0.5)), "step_sizes"),
    (dict(step_sizes=(float("nan"), 1.0)), "step_sizes"),
    (dict(step_sizes=(1e-6, float("nan"))), "step_sizes"),
    (dict(step_sizes=(None, 1)), r"step_sizes\[0\]"),
    (dict(step_sizes=(1e-6, 50, 3)), "step_sizes"), (dict(maximize=0.5), "maximize"),
], ids=str)
def test_invalid_hyperparameters_refused(kwargs, match):
    check_refused(fastopt.Rprop, kwargs, match)


def test_no_weight_decay():
    with pytest.raises(TypeError):
        fastopt.Rprop([np.zeros(3)], weight_decay=0.1)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_bad_gradients_change_nothing(backend):
    check_bad_gradients_refused(fastopt.Rprop, FULL, backend)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_state_dict_round_trip_resumes_bitwise(backend):
    sd = check_state_dict_round_trip(fastopt.Rprop, dict(etas=(0.3, 1.5)), backend)
    assert set(sd["state"]["a"]) == {"prev", "step_size"}
