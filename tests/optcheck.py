"""Checks every optimizer test file runs the same way: the three backends stepped in
lockstep on the same gradients (compared bitwise, parameters and state), the same run on
torch.optim (compared to rounding, parameters and state), refusals that change nothing,
and state_dict resumes.

Builds on harness.py (its gradients, starting points and tolerances)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import fastopt
from harness import BACKENDS, SHAPES, gradient, initial, snapshot

BIG = 100_000     # above this many elements, gradients come from a small pool (speed)
# Steps of runs above BIG (they exercise the threaded path; on a busy 2-core box each
# threaded step may wait a scheduler slice for its second thread).
BIG_STEPS = 10


class Gradients:
    """The gradient of every parameter at every step: harness.gradient's, times
    ``scale``.  For big parameters a pool of five is drawn once and cycled with changing
    scale and sign, so that long runs stay cheap."""

    def __init__(self, shapes, dtype, seed: int = 0, scale: float = 1.0):
        self.shapes, self.dtype, self.scale = shapes, dtype, scale
        self.rng = np.random.default_rng(seed + 1)
        self.pool = None
        if sum(int(np.prod(s)) for s in shapes) > BIG:
            self.pool = [[gradient(self.rng, s, dtype, t) for s in shapes] for t in range(5)]

    def at(self, t: int) -> list[np.ndarray]:
        if self.pool is None:
            gs = [gradient(self.rng, s, self.dtype, t) for s in self.shapes]
        else:
            f = self.dtype(10.0 ** (t % 3 - 1) * (-1 if t % 7 == 3 else 1))
            gs = [g * f for g in self.pool[t % 5]]
        if self.scale != 1.0:
            gs = [(g * self.scale).astype(self.dtype) for g in gs]
        return gs


def _start(shapes, dtype, seed, param_scale):
    return [(p * param_scale).astype(dtype) for p in initial(shapes, dtype, seed)]


def _groups(spec, arrays):
    """torch-style param groups from ``spec`` (dicts whose "params" are indices)."""
    return [{**g, "params": [arrays[i] for i in g["params"]]} for g in spec]


class Run:
    """One optimizer on its own copy of the starting parameters, in one parameter form:
    "list", "dict", "flat" (fastopt.flatten, gradients written into .grads) or "groups"
    (torch-style param groups given by ``groups``)."""

    def __init__(self, cls, kwargs, backend, dtype, shapes, form, seed, param_scale,
                 groups=None):
        self.form = form
        self.params = _start(shapes, dtype, seed, param_scale)
        # the optimizer's order of tensors (gradients are given in it), by our index
        self.order = list(range(len(shapes)))
        if form == "flat":
            self.flat = fastopt.flatten({f"p{i}": p for i, p in enumerate(self.params)})
            self.params = [self.flat[f"p{i}"] for i in range(len(shapes))]
            target = self.flat
        elif form == "dict":
            target = {f"p{i}": p for i, p in enumerate(self.params)}
        elif form == "groups":
            target = _groups(groups, self.params)
            self.order = [i for g in groups for i in g["params"]]
        else:
            target = self.params
        self.opt = cls(target, backend=backend, **kwargs)

    def step(self, grads):
        if self.form == "flat":
            for i, g in enumerate(grads):
                self.flat.grads[f"p{i}"][...] = g
            self.opt.step()
        elif self.form == "dict":
            self.opt.step({f"p{i}": g for i, g in enumerate(grads)})
        else:
            self.opt.step([grads[i] for i in self.order])

    def result(self):
        """Copies of the parameters, and of the state by parameter index and name."""
        state = {}
        for key, bufs in self.opt.state.items():
            i = int(key[1:]) if isinstance(key, str) else self.order[key]
            state[i] = {name: b.copy() for name, b in bufs.items()}
        return [p.copy() for p in self.params], state


def run_backends(cls, kwargs, dtype, shapes=SHAPES, steps=50, form="list", seed=0,
                 grad_scale=1.0, param_scale=1.0, backends=BACKENDS, groups=None):
    """{backend: (parameters, state)} after ``steps`` steps taken in lockstep."""
    runs = {b: Run(cls, kwargs, b, dtype, shapes, form, seed, param_scale, groups)
            for b in backends}
    grads = Gradients(shapes, dtype, seed, grad_scale)
    for t in range(steps):
        gs = grads.at(t)
        for r in runs.values():
            r.step(gs)
    return {b: r.result() for b, r in runs.items()}


def assert_same_bits(result, ref, what=""):
    (params, state), (ref_params, ref_state) = result, ref
    for i, (x, y) in enumerate(zip(params, ref_params, strict=True)):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes(), \
            f"{what}param {i}: max abs diff {np.abs(x - y).max()}"
    assert state.keys() == ref_state.keys()
    for i in state:
        assert state[i].keys() == ref_state[i].keys()
        for name, x in state[i].items():
            y = ref_state[i][name]
            assert x.tobytes() == y.tobytes(), \
                f"{what}state {name!r} of param {i}: max abs diff {np.abs(x - y).max()}"


def check_backends(cls, kwargs, dtype, **run):
    """cython and numba give bitwise the numpy reference's parameters and state."""
    if "steps" not in run and sum(int(np.prod(s)) for s in run.get("shapes", SHAPES)) > BIG:
        run["steps"] = BIG_STEPS
    results = run_backends(cls, kwargs, dtype, **run)
    for b in ("cython", "numba"):
        assert_same_bits(results[b], results["numpy"], f"{b}: ")
    return results


def sizes_and_options(sizes, rich, others):
    """(size, options) cases: every size with the richest options, the small sizes with
    the others too."""
    return [(n, rich) for n in sizes] + [(n, o) for n in sizes if n <= 1000 for o in others]


def check_forms(cls, kwargs, dtype, form, **run):
    """Every backend, in parameter form ``form``, gives bitwise the list form's result
    on the reference backend."""
    ref = run_backends(cls, kwargs, dtype, backends=["numpy"], **run)["numpy"]
    for b, result in run_backends(cls, kwargs, dtype, form=form, **run).items():
        assert_same_bits(result, ref, f"{b}, {form}: ")


# ---- torch.optim --------------------------------------------------------------------

def run_torch(torch_cls, kwargs, dtype, shapes=SHAPES, steps=50, seed=0, grad_scale=1.0,
              param_scale=1.0, groups=None, between=None):
    """The same run on torch.optim: (parameters, state by index and name).  float64 runs
    use float64 per-step scalars.  ``between(t, optimizer)`` runs before step t."""
    import torch
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    try:
        params = [torch.tensor(p, requires_grad=True)
                  for p in _start(shapes, dtype, seed, param_scale)]
        opt = torch_cls(params if groups is None else _groups(groups, params), **kwargs)
        grads = Gradients(shapes, dtype, seed, grad_scale)
        for t in range(steps):
            if between is not None:
                between(t, opt)
            for p, g in zip(params, grads.at(t)):
                p.grad = torch.from_numpy(g)
            opt.step()
        state = {i: {name: v.detach().numpy().copy()
                     for name, v in opt.state[p].items() if name != "step"}
                 for i, p in enumerate(params)}
        return [p.detach().numpy().copy() for p in params], state
    finally:
        torch.set_default_dtype(previous)


def assert_close_array(x, y, dtype, what=""):
    """Agreement to rounding after many steps: harness.assert_close's tolerances, with
    the absolute one taken relative to the array's largest value (rounding errors
    accumulate in units of the largest values an element went through, so an element
    that ends near 0 may carry a few ulps of them; this also makes tiny runs meaningful)."""
    rtol, atol = (2e-5, 1e-6) if dtype == np.float32 else (1e-10, 1e-12)
    top = float(np.abs(y).max()) if y.size else 0.0
    np.testing.assert_allclose(x, y, rtol=rtol, atol=atol * top, err_msg=what)


def assert_close_run(ours, theirs, dtype):
    """Parameters and state agree to rounding."""
    (params, state), (ref_params, ref_state) = ours, theirs
    for i, (x, y) in enumerate(zip(params, ref_params, strict=True)):
        assert_close_array(x, y, dtype, f"param {i}")
    for i in state:
        assert set(state[i]) <= set(ref_state[i]), (sorted(state[i]), sorted(ref_state[i]))
        for name, x in state[i].items():
            assert_close_array(x, ref_state[i][name], dtype, f"state {name!r} of param {i}")


def check_torch(cls, torch_cls, kwargs, dtype, backend="cython", **run):
    """fastopt and torch.optim agree to rounding on parameters and state."""
    ours = run_backends(cls, kwargs, dtype, backends=[backend], **run)[backend]
    assert_close_run(ours, run_torch(torch_cls, kwargs, dtype, **run), dtype)


def check_defaults(cls, torch_cls):
    """Every hyperparameter and default of ours is torch's, and positional order too."""
    import inspect
    import torch
    ours = cls([np.zeros(1, np.float32)]).defaults
    theirs = torch_cls([torch.zeros(1, requires_grad=True)]).defaults
    for key, value in ours.items():
        assert key in theirs, key
        assert theirs[key] == value, (key, value, theirs[key])
    positional = [n for n, p in inspect.signature(cls).parameters.items()
                  if p.kind is p.POSITIONAL_OR_KEYWORD]
    torch_positional = [n for n, p in inspect.signature(torch_cls).parameters.items()
                        if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert torch_positional[:len(positional)] == positional


# ---- refusals and state_dict --------------------------------------------------------

def _fresh(cls, kwargs, dtype=np.float32, backend="cython"):
    params = initial([(5,), (2, 3)], dtype, 3)
    return cls(params, backend=backend, **kwargs), params


def _grads(params, t=0):
    rng = np.random.default_rng(t)
    return [gradient(rng, p.shape, p.dtype, t) for p in params]


def check_refused(cls, kwargs, name, value, exc=ValueError, match=None):
    """``name=value`` is refused when building the optimizer, and when set on a param
    group of a working one: an error naming it, and nothing changed."""
    match = match if match is not None else name
    with pytest.raises(exc, match=match):
        cls(initial([(5,)], np.float32), **{**kwargs, name: value})
    opt, params = _fresh(cls, kwargs)
    opt.step(_grads(params))
    group_state_before = copy.deepcopy(opt.group_state)
    group_before = dict(opt.param_groups[0])
    opt.param_groups[0][name] = value
    before = snapshot(opt, params)
    with pytest.raises(exc, match=match):
        opt.step(_grads(params, 1))
    assert snapshot(opt, params) == before
    assert opt.group_state == group_state_before
    opt.param_groups[0][name] = group_before[name]
    opt.step(_grads(params, 1))           # and it works again once the value is good


def check_state_dict_resume(cls, kwargs, dtype=np.float64, load_backend="numba",
                            first=3, then=5):
    """A state_dict taken after ``first`` steps, loaded into a fresh optimizer (another
    backend) on the saved parameters, resumes bitwise as the original continues."""
    shapes = [(7,), (3, 4)]
    params = initial(shapes, dtype, 5)
    opt = cls({"a": params[0], "b": params[1]}, backend="cython", **kwargs)
    for t in range(first):
        opt.step({"a": _grads(params, t)[0], "b": _grads(params, t)[1]})
    sd = opt.state_dict()
    saved = [p.copy() for p in params]
    for t in range(first, first + then):
        g = _grads(params, t)
        opt.step({"a": g[0], "b": g[1]})
    other = [p.copy() for p in saved]
    fresh = cls({"a": other[0], "b": other[1]}, backend=load_backend, **kwargs)
    fresh.load_state_dict(copy.deepcopy(sd))
    assert fresh.step_count == first
    for t in range(first, first + then):
        g = _grads(other, t)
        fresh.step({"a": g[0], "b": g[1]})
    for x, y in zip(params, other):
        assert x.tobytes() == y.tobytes()
    assert snapshot(fresh, other) == snapshot(opt, params)
    assert fresh.group_state == opt.group_state
