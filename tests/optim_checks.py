"""Checks that every optimizer family's tests run the same way: the fast backends bitwise
against the NumPy reference (for options, sizes and parameter forms), refused
hyperparameters and gradients changing nothing, and state_dict round trips.

The reference runs are cached per process: cython and numba are both held to one
reference run, which keeps the large (threaded) sizes affordable."""
from __future__ import annotations

import numpy as np
import pytest

import fastopt
from harness import SHAPES, assert_bitwise, gradient, initial, snapshot

_GRADIENTS: dict = {}
_REFERENCE: dict = {}


def _gradients(shapes, steps: int, seed: int) -> list[list[np.ndarray]]:
    """harness.gradient's sequence for a run, in float64 (its draws do not depend on the
    dtype, which it casts to last), made once per process."""
    key = (repr(shapes), steps, seed)
    if key not in _GRADIENTS:
        rng = np.random.default_rng(seed + 1)
        _GRADIENTS[key] = [[gradient(rng, s, np.float64, t) for s in shapes]
                           for t in range(steps)]
    return _GRADIENTS[key]


def run(cls, kwargs: dict, backend: str, dtype, shapes=SHAPES, steps: int = 50, seed: int = 0,
        form: str = "list") -> list[np.ndarray]:
    """harness.run_fastopt (the same parameters and gradients), with the gradients made
    once per process."""
    grads = _gradients(shapes, steps, seed)
    params = initial(shapes, dtype, seed)
    if form == "flat":
        flat = fastopt.flatten({f"p{i}": p for i, p in enumerate(params)})
        opt = cls(flat, backend=backend, **kwargs)
        for t in range(steps):
            for i, g in enumerate(grads[t]):
                flat.grads[f"p{i}"][...] = g.astype(dtype)
            opt.step()
        return [flat[f"p{i}"].copy() for i in range(len(params))]
    if form == "dict":
        opt = cls({f"p{i}": p for i, p in enumerate(params)}, backend=backend, **kwargs)
        for t in range(steps):
            opt.step({f"p{i}": g.astype(dtype) for i, g in enumerate(grads[t])})
        return params
    opt = cls(params, backend=backend, **kwargs)
    for t in range(steps):
        opt.step([g.astype(dtype) for g in grads[t]])
    return params


def reference(cls, kwargs: dict, dtype, shapes=SHAPES, steps: int = 50) -> list[np.ndarray]:
    """The NumPy backend's run, made once per process."""
    key = (cls.__name__, repr(sorted(kwargs.items())), np.dtype(dtype).name, repr(shapes), steps)
    if key not in _REFERENCE:
        _REFERENCE[key] = run(cls, kwargs, "numpy", dtype, shapes=shapes, steps=steps)
    return [a.copy() for a in _REFERENCE[key]]


def check_backend(cls, kwargs: dict, backend: str, dtype, shapes=SHAPES, steps: int = 50,
                  form: str = "list") -> None:
    """``backend`` gives bitwise the reference's parameters after ``steps`` steps."""
    ref = reference(cls, kwargs, dtype, shapes, steps)
    assert_bitwise(run(cls, kwargs, backend, dtype, shapes=shapes, steps=steps, form=form), ref)


def check_refused(cls, kwargs: dict, match: str, exc=(ValueError, TypeError)) -> None:
    """A bad hyperparameter is refused, naming it, when the optimizer is built, and when
    it is set in a param group later, where the refused step changes nothing."""
    params = initial([(3, 4), (5,)], np.float32)
    with pytest.raises(exc, match=match):
        cls([p.copy() for p in params], **kwargs)
    opt = cls(params, lr=1e-2)
    rng = np.random.default_rng(0)
    for t in range(3):
        opt.step([gradient(rng, p.shape, np.float32, t) for p in params])
    before = snapshot(opt, params)
    saved = dict(opt.param_groups[0])
    opt.param_groups[0].update(kwargs)
    with pytest.raises(exc, match=match):
        opt.step([gradient(rng, p.shape, np.float32, 3) for p in params])
    assert snapshot(opt, params) == before
    opt.param_groups[0].update(saved)
    opt.step([gradient(rng, p.shape, np.float32, 3) for p in params])
    assert snapshot(opt, params) != before


def check_bad_gradients_refused(cls, kwargs: dict, backend: str) -> None:
    """Gradients of the wrong shape, dtype or identity change nothing."""
    params = initial([(3, 4), (5,)], np.float32)
    opt = cls(params, backend=backend, **kwargs)
    rng = np.random.default_rng(0)
    for t in range(3):
        opt.step([gradient(rng, p.shape, np.float32, t) for p in params])
    before = snapshot(opt, params)
    good = [gradient(rng, p.shape, np.float32, 3) for p in params]
    for bad in ([good[0], np.zeros(4, np.float32)], [good[0], good[1].astype(np.float64)],
                [good[0], params[1]], [good[0]]):
        with pytest.raises((ValueError, TypeError)):
            opt.step(bad)
        assert snapshot(opt, params) == before


def check_state_dict_round_trip(cls, kwargs: dict, backend: str, dtype=np.float32,
                                groups: bool = True) -> dict:
    """state_dict after some steps, loaded into a fresh optimizer, resumes bitwise; with
    two param groups (the second with its own lr).  Returns the state_dict."""
    shapes = [(4, 5), (7,), (0,), (3,)]

    def build(params):
        if groups:
            spec = [{"params": {"a": params[0], "b": params[1]}},
                    {"params": {"c": params[2], "d": params[3]}, "lr": 3e-3}]
        else:
            spec = {k: p for k, p in zip("abcd", params)}
        return cls(spec, backend=backend, **kwargs)

    params = initial(shapes, dtype)
    opt = build(params)
    rng = np.random.default_rng(5)
    grads = [[gradient(rng, s, dtype, t) for s in shapes] for t in range(20)]
    for t in range(8):
        opt.step(grads[t])
    sd = opt.state_dict()
    at_save = [p.copy() for p in params]
    for t in range(8, 20):
        opt.step(grads[t])
    resumed_params = [p.copy() for p in at_save]
    resumed = build(resumed_params)
    resumed.load_state_dict(sd)
    assert resumed.step_count == 8
    for t in range(8, 20):
        resumed.step(grads[t])
    assert_bitwise(resumed_params, params)
    assert snapshot(resumed, resumed_params) == snapshot(opt, params)
    # One from another optimizer is refused, and changes nothing.
    other = fastopt.Adam if cls is not fastopt.Adam else fastopt.NAdam
    alien = other(list(initial(shapes, dtype)))
    before = snapshot(resumed, resumed_params)
    with pytest.raises(ValueError):
        resumed.load_state_dict(alien.state_dict())
    assert snapshot(resumed, resumed_params) == before
    return sd


def check_defaults_are_torchs(cls, torch_cls) -> None:
    import inspect

    import torch
    ours = cls([np.zeros(1, np.float32)]).defaults
    theirs = torch_cls([torch.zeros(1, requires_grad=True)]).defaults
    for key, value in ours.items():
        assert key in theirs, key
        assert theirs[key] == value, key
    ours_sig = inspect.signature(cls).parameters
    theirs_sig = inspect.signature(torch_cls).parameters
    for name, p in ours_sig.items():
        if name in ("params", "backend", "options"):
            continue
        assert theirs_sig[name].default == p.default, name
        assert theirs_sig[name].kind == p.kind, name      # maximize is keyword-only in both
