"""Shared machinery for the optimizer tests: gradients that stress the math, runs of a
fastopt optimizer in any parameter form on any backend, the same run on torch.optim, the
NumPy reference's runs (made once per process), bitwise snapshots, and the checks every
optimizer goes through (tests/test_optimizers.py runs them on every row of the table).

A run's result is a ``Result``: the parameters, and the state by parameter index and
buffer name."""
from __future__ import annotations

import copy
import inspect
from typing import NamedTuple

import numpy as np
import pytest

import fastopt

BACKENDS = ["cython", "numba", "numpy"]
DTYPES = [np.float32, np.float64]
# 0, 1, odd, small, and above the parallel threshold (so the threaded path runs)
SIZES = [0, 1, 7, 1000, 300_000]
SHAPES = [(7,), (33, 40), (0,), (1,), (5, 1, 3)]
# SHAPES in two param groups of the same hyperparameters, out of order (the "groups" form)
SPLIT = [{"params": [4, 1]}, {"params": [0, 2, 3]}]
STEPS = 50
BIG = 100_000     # above this many elements, gradients come from a small pool (speed)
# Steps of runs above BIG (they exercise the threaded path; on a busy 2-core box each
# threaded step may wait a scheduler slice for its second thread).
BIG_STEPS = 10


class Result(NamedTuple):
    params: list            # the parameters, copied
    state: dict             # {parameter index: {buffer name: array}}, copied
    start: list | None = None   # the parameters the run started from


def gradient(rng: np.random.Generator, shape, dtype, step: int) -> np.ndarray:
    """Gradients spanning many orders of magnitude, with exact zeros and sign changes."""
    g = rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 3, size=shape)
    g[rng.random(shape) < 0.1] = 0.0
    if step % 7 == 3:
        g = -g
    return g.astype(dtype)


def initial(shapes, dtype, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _elements(shapes) -> int:
    return sum(int(np.prod(s)) for s in shapes)


def default_steps(shapes) -> int:
    return BIG_STEPS if _elements(shapes) > BIG else STEPS


_KEEP_BIG = 2


def _cached(cache, key, big, make):
    """``make()``, made once per process; of the big ones (above BIG elements) only the
    last _KEEP_BIG are kept, which is enough: pytest runs the backends of a case in a row."""
    store = cache.setdefault(big, {})
    if key not in store:
        store[key] = make()
        if big and len(store) > _KEEP_BIG:
            del store[next(iter(store))]
    return store[key]


_GRADIENTS: dict = {}


def gradients(shapes, dtype, steps: int, seed: int = 0, scale: float = 1.0):
    """The gradient of every parameter at every step (``gradient``'s, seeded with
    ``seed + 1``, times ``scale``), made once (``_cached``): do not write into them.
    Above BIG elements a pool of five is drawn once and cycled with changing scale and
    sign."""
    def make():
        rng = np.random.default_rng(seed + 1)
        if _elements(shapes) > BIG:
            pool = [[gradient(rng, s, dtype, t) for s in shapes] for t in range(5)]
            out = [[g * dtype(10.0 ** (t % 3 - 1) * (-1 if t % 7 == 3 else 1))
                    for g in pool[t % 5]] for t in range(steps)]
        else:
            out = [[gradient(rng, s, dtype, t) for s in shapes] for t in range(steps)]
        if scale != 1.0:
            out = [[(g * scale).astype(dtype) for g in gs] for gs in out]
        return out
    key = (repr(shapes), np.dtype(dtype).str, steps, seed, scale)
    return _cached(_GRADIENTS, key, _elements(shapes) > BIG, make)


def start(shapes, dtype, seed: int = 0, param_scale: float = 1.0) -> list[np.ndarray]:
    """The parameters every run starts from."""
    return [(p * param_scale).astype(dtype) for p in initial(shapes, dtype, seed)]


def deal(n: int, groups) -> list[dict]:
    """torch-style param group specs ("params" are indices) for ``n`` parameters dealt
    in contiguous blocks to groups of the given hyperparameters."""
    blocks = np.array_split(np.arange(n), len(groups))
    return [{**g, "params": [int(i) for i in b]} for g, b in zip(groups, blocks)]


def _groups(spec, arrays):
    """torch-style param groups from ``spec`` (dicts whose "params" are indices)."""
    return [{**g, "params": [arrays[i] for i in g["params"]]} for g in spec]


class Run:
    """One optimizer on its own copy of the starting parameters, in one parameter form:
    "list", "dict", "flat" (fastopt.flatten, gradients written into .grads) or "groups"
    (torch-style param groups given by ``groups``, a spec for ``_groups``)."""

    def __init__(self, cls, kwargs, backend, dtype, shapes=SHAPES, form="list", seed=0,
                 param_scale=1.0, groups=None):
        self.form = form
        self.params = start(shapes, dtype, seed, param_scale)
        self.start = [p.copy() for p in self.params]
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
            assert form == "list", form
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

    def result(self) -> Result:
        state = {}
        for key, bufs in self.opt.state.items():
            i = int(key[1:]) if isinstance(key, str) else self.order[key]
            state[i] = {name: b.copy() for name, b in bufs.items()}
        return Result([p.copy() for p in self.params], state, self.start)


def run(cls, kwargs, backend, dtype, shapes=SHAPES, steps=None, form="list", groups=None,
        seed=0, grad_scale=1.0, param_scale=1.0) -> Result:
    """``steps`` steps (default: STEPS, BIG_STEPS above BIG elements) of ``cls(**kwargs)``
    from ``start``'s parameters on ``gradients``'."""
    steps = default_steps(shapes) if steps is None else steps
    r = Run(cls, kwargs, backend, dtype, shapes, form, seed, param_scale, groups)
    for gs in gradients(shapes, dtype, steps, seed, grad_scale):
        r.step(gs)
    return r.result()


_REFERENCE: dict = {}


def reference(cls, kwargs, dtype, groups=None, **run_args) -> Result:
    """The NumPy backend's run (in list form, or with ``groups`` in that form), made once
    (``_cached``): do not write into it."""
    key = (cls.__name__, repr(kwargs), np.dtype(dtype).str, repr(groups),
           repr(sorted(run_args.items())))
    return _cached(_REFERENCE, key, _elements(run_args.get("shapes", SHAPES)) > BIG,
                   lambda: run(cls, kwargs, "numpy", dtype, groups=groups,
                               form="list" if groups is None else "groups", **run_args))


def check_backend(cls, kwargs, backend, dtype, form="list", groups=None, **run_args):
    """``backend`` in parameter form ``form`` gives bitwise the reference's parameters and
    state (with ``groups``, param groups of their own hyperparameters, in that form)."""
    ref = reference(cls, kwargs, dtype, groups=groups, **run_args)
    if groups is not None:
        form = "groups"
    elif form == "groups":
        groups = SPLIT
    ours = run(cls, kwargs, backend, dtype, form=form, groups=groups, **run_args)
    assert_bitwise(ours, ref, f"{backend}, {form}: ")


def run_torch(torch_cls, kwargs, dtype, shapes=SHAPES, steps=None, seed=0, grad_scale=1.0,
              param_scale=1.0, groups=None, between=None) -> Result:
    """The same run on torch.optim; float64 runs use float64 per-step scalars.
    ``between(t, optimizer)`` runs before step t."""
    import torch
    steps = default_steps(shapes) if steps is None else steps
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    try:
        params = [torch.tensor(p, requires_grad=True)
                  for p in start(shapes, dtype, seed, param_scale)]
        # Empty parameters stay out: nothing to compare, and torch's Adafactor divides by
        # their size.
        spec = deal(len(params), [{}]) if groups is None else groups
        given = [{**g, "params": [i for i in g["params"] if params[i].numel()]}
                 for g in spec]
        given = [g for g in _groups(given, params) if g["params"]]
        opt = torch_cls(given[0]["params"] if groups is None else given, **kwargs)
        for t, gs in enumerate(gradients(shapes, dtype, steps, seed, grad_scale)):
            if between is not None:
                between(t, opt)
            for p, g in zip(params, gs):
                p.grad = torch.from_numpy(g.copy())
            opt.step()
        state = {i: {name: v.detach().numpy().copy()
                     for name, v in opt.state[p].items() if name != "step"}
                 for i, p in enumerate(params) if p.numel()}
        return Result([p.detach().numpy().copy() for p in params], state)
    finally:
        torch.set_default_dtype(previous)


# ---- comparisons ----------------------------------------------------------------------

def assert_bitwise(ours, ref, what="") -> None:
    """The same bits: lists of arrays, or Results (parameters and state, whose buffers
    must be the same ones)."""
    if isinstance(ours, Result):
        assert_bitwise(ours.params, ref.params, what + "param ")
        # an empty parameter's state holds nothing to compare (run_torch leaves it out)
        filled = sorted(i for i in ours.state if ours.params[i].size)
        assert filled == sorted(i for i in ref.state if ref.params[i].size)
        for i in filled:
            assert ours.state[i].keys() == ref.state[i].keys(), (i, what)
            for name, x in ours.state[i].items():
                assert_bitwise([x], [ref.state[i][name]], f"{what}state {name!r} of param {i}: ")
        return
    for i, (x, y) in enumerate(zip(ours, ref, strict=True)):
        assert x.dtype == y.dtype and x.shape == y.shape, (what, i)
        assert x.tobytes() == y.tobytes(), f"{what}{i}: max abs diff {np.abs(x - y).max()}"


def _close(x, y, dtype, what, start=None):
    """Agreement to rounding after many steps, with the absolute tolerance taken relative
    to the largest value of the array at the end or (given) at the start: rounding errors
    accumulate in units of the largest values an element went through, so an element
    that ends near 0 may carry a few ulps of them (this also keeps runs on tiny values
    meaningful)."""
    rtol, atol = (2e-5, 1e-6) if dtype == np.float32 else (1e-10, 1e-12)
    top = max([float(np.abs(a).max()) for a in (y, start) if a is not None and a.size],
              default=0.0)
    np.testing.assert_allclose(x, y, rtol=rtol, atol=atol * top, err_msg=what)


def assert_close(ours, theirs, dtype) -> None:
    """Agreement to rounding: lists of arrays, or Results (every buffer of ours is one of
    theirs, and agrees)."""
    if not isinstance(ours, Result):
        ours, theirs = Result(list(ours), {}), Result(list(theirs), {})
    starts = ours.start or [None] * len(ours.params)
    for i, (x, y, s) in enumerate(zip(ours.params, theirs.params, starts, strict=True)):
        _close(x, y, dtype, f"param {i}", s)
    for i, bufs in ours.state.items():
        if ours.params[i].size == 0:
            continue                    # (run_torch leaves empty parameters out)
        assert set(bufs) <= set(theirs.state[i]), (sorted(bufs), sorted(theirs.state[i]))
        for name, x in bufs.items():
            _close(x, theirs.state[i][name], dtype, f"state {name!r} of param {i}")


def snapshot(opt, params) -> bytes:
    """Every byte a step could change: parameters, state, per-group state and the step
    count (the param groups, which tests change themselves, are in ``groups_snapshot``)."""
    parts = [p.tobytes() for p in params]
    for key, bufs in sorted(opt.state.items(), key=lambda kv: str(kv[0])):
        parts += [str(key).encode()] + [name.encode() + bufs[name].tobytes()
                                        for name in sorted(bufs)]
    parts.append(repr(opt.group_state).encode())
    parts.append(str(opt.step_count).encode())
    return b"".join(parts)


def groups_snapshot(opt) -> str:
    """The param groups as they stand: hyperparameters by key in order, and which arrays
    each group holds."""
    return repr([([(k, v) for k, v in g.items() if k != "params"],
                   [id(p) for p in g["params"]]) for g in opt.param_groups])


# ---- the checks every optimizer goes through ------------------------------------------

_SMALL = [(3, 4), (5,)]


def check_refused(cls, kwargs, bad, exc, match) -> None:
    """``bad`` hyperparameters are refused with ``exc`` matching ``match`` when the
    optimizer is built, and when set on a param group of a working one (built with
    ``kwargs``): the refused step changes no parameter, state, group state, param group,
    step count or gradient, and steps again once the good values are back."""
    with pytest.raises(exc, match=match):
        cls(initial([(5,)], np.float32), **{**kwargs, **bad})
    params = initial(_SMALL, np.float32)
    opt = cls(params, **kwargs)
    grads = gradients(_SMALL, np.float32, 3)
    opt.step(grads[0])
    good = {k: opt.param_groups[0][k] for k in bad}
    opt.param_groups[0].update(bad)
    before, groups, group_state = snapshot(opt, params), groups_snapshot(opt), \
        copy.deepcopy(opt.group_state)
    g = [x.copy() for x in grads[1]]
    with pytest.raises(exc, match=match):
        opt.step(g)
    assert snapshot(opt, params) == before and groups_snapshot(opt) == groups
    assert opt.group_state == group_state
    assert_bitwise(g, grads[1])
    opt.param_groups[0].update(good)
    opt.step(grads[1])
    assert snapshot(opt, params) != before


def check_bad_gradients_refused(cls, kwargs, backend) -> None:
    """Gradients of the wrong shape, dtype, number or identity change nothing."""
    params = initial(_SMALL, np.float32)
    opt = cls(params, backend=backend, **kwargs)
    grads = gradients(_SMALL, np.float32, 4)
    for g in grads[:3]:
        opt.step(g)
    before, groups = snapshot(opt, params), groups_snapshot(opt)
    good = grads[3]
    for bad in ([good[0], np.zeros(4, np.float32)], [good[0], good[1].astype(np.float64)],
                [good[0], params[1]], [good[0]], [good[0], good[1].byteswap().view(">f4")],
                [good[0], np.repeat(good[1], 2)[::2]]):
        with pytest.raises((ValueError, TypeError)):
            opt.step(bad)
        assert snapshot(opt, params) == before and groups_snapshot(opt) == groups


def check_resume(cls, kwargs, backend, dtype, load_backend) -> dict:
    """A state_dict taken after some steps (two param groups, the second with its own lr;
    named parameters, one empty), loaded into a fresh optimizer on ``load_backend`` on the
    saved parameters, resumes bitwise as the original continues; one from another
    optimizer is refused and changes nothing.  Returns the state_dict."""
    shapes = [(4, 5), (7,), (0,), (3,)]

    def build(params, backend):
        spec = [{"params": {"a": params[0], "b": params[1]}},
                {"params": {"c": params[2], "d": params[3]}, "lr": 3e-3}]
        return cls(spec, backend=backend, **kwargs)

    params = initial(shapes, dtype)
    opt = build(params, backend)
    grads = gradients(shapes, dtype, 20, seed=4)
    for g in grads[:8]:
        opt.step(g)
    sd = opt.state_dict()
    resumed_params = [p.copy() for p in params]
    for g in grads[8:]:
        opt.step(g)
    resumed = build(resumed_params, load_backend)
    resumed.load_state_dict(copy.deepcopy(sd))
    assert resumed.step_count == 8
    for g in grads[8:]:
        resumed.step(g)
    assert_bitwise(resumed_params, params)
    assert snapshot(resumed, resumed_params) == snapshot(opt, params)
    other = fastopt.Adam if cls is not fastopt.Adam else fastopt.NAdam
    before = snapshot(resumed, resumed_params)
    with pytest.raises(ValueError):
        resumed.load_state_dict(other(initial(shapes, dtype)).state_dict())
    assert snapshot(resumed, resumed_params) == before
    return sd


def check_defaults(cls, torch_cls) -> None:
    """Every hyperparameter and default of ours is torch's, with the same kind of
    argument, and the positional ones in torch's order."""
    ours = cls([np.zeros(1, np.float32)]).defaults
    import torch
    theirs = torch_cls([torch.zeros(1, requires_grad=True)]).defaults
    for key, value in ours.items():
        assert key in theirs, key
        assert theirs[key] == value, (key, value, theirs[key])
    ours_sig = inspect.signature(cls).parameters
    theirs_sig = inspect.signature(torch_cls).parameters
    for name, p in ours_sig.items():
        if name in ("params", "backend", "options"):
            continue
        if name not in theirs_sig:          # torch's AdamW: fixed, in its defaults only
            assert name in theirs, name
            continue
        assert theirs_sig[name].default == p.default, name
    positional = [n for n, p in ours_sig.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [n for n, p in theirs_sig.items()
            if p.kind is p.POSITIONAL_OR_KEYWORD][:len(positional)] == positional


def python_env(**extra: str) -> dict:
    """Environment for a subprocess that must import the same fastopt as this process."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastopt.__file__)))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}
