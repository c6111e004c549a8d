"""Shared machinery for the optimizer tests: gradients that stress the math, runs of a
fastopt optimizer on any backend, the same run on torch.optim, and bitwise snapshots."""
from __future__ import annotations

import numpy as np

import fastopt

BACKENDS = ["cython", "numba", "numpy"]
DTYPES = [np.float32, np.float64]
# 0, 1, odd, small, and above the parallel threshold (so the threaded path runs)
SIZES = [0, 1, 7, 1000, 300_000]
SHAPES = [(7,), (33, 40), (0,), (1,), (5, 1, 3)]


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


def run_fastopt(cls, kwargs: dict, backend: str, dtype, shapes=SHAPES, steps: int = 50,
                seed: int = 0, form: str = "list") -> list[np.ndarray]:
    """Parameters after ``steps`` steps of ``cls(**kwargs)`` from a fixed start."""
    params = initial(shapes, dtype, seed)
    rng = np.random.default_rng(seed + 1)
    if form == "flat":
        flat = fastopt.flatten({f"p{i}": p for i, p in enumerate(params)})
        opt = cls(flat, backend=backend, **kwargs)
        for t in range(steps):
            for i, p in enumerate(params):
                flat.grads[f"p{i}"][...] = gradient(rng, p.shape, dtype, t)
            opt.step()
        return [flat[f"p{i}"].copy() for i in range(len(params))]
    if form == "dict":
        named = {f"p{i}": p for i, p in enumerate(params)}
        opt = cls(named, backend=backend, **kwargs)
        for t in range(steps):
            opt.step({k: gradient(rng, p.shape, dtype, t) for k, p in named.items()})
        return params
    opt = cls(params, backend=backend, **kwargs)
    for t in range(steps):
        opt.step([gradient(rng, p.shape, dtype, t) for p in params])
    return params


def run_torch(torch_cls, kwargs: dict, dtype, shapes=SHAPES, steps: int = 50,
              seed: int = 0) -> list[np.ndarray]:
    """The same run on torch.optim (float64 runs use float64 per-step scalars)."""
    import torch
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    try:
        params = [torch.tensor(p, requires_grad=True) for p in initial(shapes, dtype, seed)]
        opt = torch_cls(params, **kwargs)
        rng = np.random.default_rng(seed + 1)
        for t in range(steps):
            for p in params:
                p.grad = torch.from_numpy(gradient(rng, tuple(p.shape), dtype, t))
            opt.step()
        return [p.detach().numpy().copy() for p in params]
    finally:
        torch.set_default_dtype(previous)


def assert_bitwise(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes(), f"max abs diff {np.abs(x - y).max()}"


def assert_close(ours: list[np.ndarray], ref: list[np.ndarray], dtype) -> None:
    """Agreement to rounding: a few ulps of the values after many steps."""
    rtol, atol = (2e-5, 1e-6) if dtype == np.float32 else (1e-10, 1e-12)
    for x, y in zip(ours, ref, strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


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


def python_env(**extra: str) -> dict:
    """Environment for a subprocess that must import the same fastopt as this process."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastopt.__file__)))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}
