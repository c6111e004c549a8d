"""Muon, held to torch.optim.Muon.  Muon takes 2-D parameters only, so it is not a row of
the generic tests (table.OWN_TESTS): this file checks what they check for it, with
matrices.

The oracle is torch's algorithm with the bfloat16 cast of the Newton-Schulz iterate
removed (tests/oracles.py), run in float32 and float64.  Tolerance: the element-wise
passes are the same operations in the same order as torch's, so the difference is the
matmuls' rounding (BLAS blocking orders the sums differently) carried through
ns_steps iterations and the steps: measured at a few ulp of the parameters.  The bounds
below (float32: 2e-6 of the parameters' scale, float64: 1e-14) are ~10x what was
measured; the bfloat16 rounding that torch ships differs by ~1e-3 relative per step, so
any real departure from the rule shows up far above them."""
import numpy as np
import pytest

import fastopt
from harness import BACKENDS, DTYPES
from oracles import torch_muon

torch = pytest.importorskip("torch")

SHAPES = [(7, 5), (4, 9), (16, 16), (1, 6), (33, 40)]
STEPS = 8
OPTIONS = [
    dict(),
    dict(lr=0.02),
    dict(lr=0.02, nesterov=False),
    dict(lr=0.01, momentum=0.5, weight_decay=0.0),
    dict(lr=0.01, adjust_lr_fn="original"),
    dict(lr=0.01, adjust_lr_fn="match_rms_adamw", weight_decay=0.05),
    dict(lr=0.01, ns_steps=3, ns_coefficients=(2.0, -1.5, 0.5), eps=1e-3),
    dict(lr=0.01, ns_steps=0),
    dict(lr=0.01, momentum=0.0, nesterov=False),
]
TOL = {np.float32: 2e-6, np.float64: 1e-14}


def _start(dtype, shapes=SHAPES, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _grads(dtype, shapes=SHAPES, steps=STEPS, seed=1):
    rng = np.random.default_rng(seed)
    return [[(rng.standard_normal(s) * 10.0 ** rng.integers(-3, 2)).astype(dtype)
             for s in shapes] for _ in range(steps)]


def _scaled_diff(ours, theirs):
    """Largest difference, relative to the largest magnitude of each parameter."""
    return max(float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))
               for a, b in zip(ours, theirs) if b.size)


def _run(kwargs, backend, dtype, form="list", shapes=SHAPES, grads=None):
    params = _start(dtype, shapes)
    grads = _grads(dtype, shapes) if grads is None else grads
    if form == "list":
        opt = fastopt.Muon(params, backend=backend, **kwargs)
        for gs in grads:
            opt.step(gs)
        return params, opt
    if form == "dict":
        named = {f"w{i}": p for i, p in enumerate(params)}
        opt = fastopt.Muon(named, backend=backend, **kwargs)
        for gs in grads:
            opt.step({f"w{i}": g for i, g in enumerate(gs)})
        return params, opt
    flat = fastopt.flatten({f"w{i}": p for i, p in enumerate(params)})
    opt = fastopt.Muon(flat, backend=backend, **kwargs)
    for gs in grads:
        for i, g in enumerate(gs):
            flat.grads[f"w{i}"][...] = g
        opt.step()
    return [flat[f"w{i}"] for i in range(len(shapes))], opt


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_matches_torch_without_the_bfloat16_cast(kwargs, dtype):
    ours, opt = _run(kwargs, "numpy", dtype)
    ref = torch_muon(kwargs, _start(dtype), _grads(dtype))
    assert _scaled_diff(ours, ref.params) <= TOL[dtype]
    state = [opt.state[i]["momentum_buffer"] for i in range(len(SHAPES))]
    assert _scaled_diff(state, [ref.state[i]["momentum_buffer"]
                                for i in range(len(SHAPES))]) <= TOL[dtype]


@pytest.mark.parametrize("form", ["list", "dict", "flat"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kwargs", [OPTIONS[1], OPTIONS[2], OPTIONS[5]], ids=str)
def test_backends_and_forms_equal_the_reference_bitwise(kwargs, backend, dtype, form):
    ref, _ = _run(kwargs, "numpy", dtype)
    ours, _ = _run(kwargs, backend, dtype, form)
    for a, b in zip(ours, ref):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("backend", BACKENDS)
def test_param_groups_match_torch(backend):
    dtype = np.float64
    groups = [([0, 3], {"lr": 0.05, "adjust_lr_fn": "match_rms_adamw"}),
              ([1, 2, 4], {"momentum": 0.8, "nesterov": False, "weight_decay": 0.0})]
    params = _start(dtype)
    opt = fastopt.Muon([{"params": [params[i] for i in idx], **over} for idx, over in groups],
                       lr=0.01, backend=backend)
    grads = _grads(dtype)
    for gs in grads:
        opt.step([gs[i] for idx, _ in groups for i in idx])
    ref = torch_muon(dict(lr=0.01), _start(dtype), grads, groups=groups)
    assert _scaled_diff(params, ref.params) <= TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_distance_to_torch_as_shipped(dtype):
    """torch rounds the Newton-Schulz iterate to bfloat16 (8 significant bits): fastopt,
    which keeps the parameters' precision, differs from it by that rounding, a few
    hundredths of the update (docs/optimizers.md#muon gives the measured figures)."""
    kwargs = dict(lr=0.02)
    ours, _ = _run(kwargs, "numpy", dtype)
    start = _start(dtype)
    shipped = torch_muon(kwargs, start, _grads(dtype), cast=True).params
    # relative to how far the parameters moved: the bfloat16 rounding, not a wrong rule
    moved = max(float(np.max(np.abs(b - s))) for b, s in zip(shipped, start))
    dist = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, shipped))
    assert 1e-4 * moved < dist < 0.1 * moved


def test_refuses_parameters_that_are_not_matrices():
    w, b = np.zeros((3, 4), np.float32), np.zeros(4, np.float32)
    with pytest.raises(ValueError, match=r"2-D parameters only.*\(4,\).*AdamW"):
        fastopt.Muon([w, b])
    with pytest.raises(ValueError, match=r"2-D parameters only.*fastopt.AdamW"):
        fastopt.Muon({"w": w, "conv": np.zeros((2, 3, 4), np.float32)})
    opt = fastopt.Muon([w])
    with pytest.raises(ValueError, match="2-D parameters only"):
        opt.add_param_group({"params": [b]})
    assert len(opt.param_groups) == 1


def test_recipe_muon_for_matrices_adamw_for_the_rest():
    """The recipe of docs/optimizers.md#muon, against torch's same recipe."""
    rng = np.random.default_rng(3)
    params = {"w1": rng.standard_normal((8, 5)), "b1": rng.standard_normal(8),
              "w2": rng.standard_normal((3, 8)), "b2": rng.standard_normal(3)}
    matrices = {k: v for k, v in params.items() if v.ndim == 2}
    others = {k: v for k, v in params.items() if v.ndim != 2}
    muon = fastopt.Muon(matrices, lr=0.02)
    adamw = fastopt.AdamW(others, lr=3e-4, weight_decay=0.01)
    tp = {k: torch.tensor(v.copy()) for k, v in params.items()}
    tmuon = torch.optim.Muon([tp["w1"], tp["w2"]], lr=0.02)
    tadamw = torch.optim.AdamW([tp["b1"], tp["b2"]], lr=3e-4, weight_decay=0.01)
    from oracles import newton_schulz_without_cast
    import torch.optim._muon as tm
    shipped, tm._zeropower_via_newtonschulz = tm._zeropower_via_newtonschulz, \
        newton_schulz_without_cast
    try:
        for _ in range(5):
            g = {k: rng.standard_normal(v.shape) for k, v in params.items()}
            muon.step({k: g[k] for k in matrices})
            adamw.step({k: g[k] for k in others})
            for k, t in tp.items():
                t.grad = torch.tensor(g[k])
            tmuon.step()
            tadamw.step()
    finally:
        tm._zeropower_via_newtonschulz = shipped
    for k, v in params.items():
        np.testing.assert_allclose(v, tp[k].numpy(), rtol=1e-13, atol=1e-14)


REFUSED = [
    (dict(lr=-1.0), ValueError, "lr"), (dict(lr=float("nan")), ValueError, "lr"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay"),
    (dict(momentum=-0.5), ValueError, "momentum"),
    (dict(nesterov="yes"), TypeError, "nesterov"),
    (dict(ns_coefficients=(1.0, 2.0)), TypeError, "ns_coefficients"),
    (dict(ns_coefficients=(1.0, "b", 2.0)), TypeError, r"ns_coefficients\[1\]"),
    (dict(eps=-1e-7), ValueError, "eps"),
    (dict(ns_steps=100), ValueError, "ns_steps"), (dict(ns_steps=2.5), TypeError, "ns_steps"),
    (dict(adjust_lr_fn="rms"), ValueError, "adjust_lr_fn"),
    (dict(maximize=None), TypeError, "maximize"),
]


@pytest.mark.parametrize("bad,exc,match", REFUSED, ids=str)
def test_refused_hyperparameters_change_nothing(bad, exc, match):
    with pytest.raises(exc, match=match):
        fastopt.Muon(_start(np.float32), **bad)
    params = _start(np.float32)
    opt = fastopt.Muon(params, lr=0.02)
    grads = _grads(np.float32)
    opt.step(grads[0])
    before = ([p.copy() for p in params], opt.state_dict(), opt.step_count)
    opt.param_groups[0].update(bad)
    with pytest.raises(exc, match=match):
        opt.step(grads[1])
    after = opt.state_dict()
    assert all(np.array_equal(a, b) for a, b in zip(before[0], params))
    assert opt.step_count == before[2]
    for key, entry in before[1]["state"].items():
        for name, arr in entry.items():
            assert np.array_equal(arr, after["state"][key][name])


def test_refuses_bad_gradients_and_state_precision():
    params = _start(np.float32)
    opt = fastopt.Muon(params)
    before = [p.copy() for p in params]
    with pytest.raises(ValueError):
        opt.step([np.zeros((2, 2), np.float32)] * len(params))
    with pytest.raises((TypeError, ValueError)):
        opt.step([g.astype(np.float64) for g in _grads(np.float32)[0]])
    assert all(np.array_equal(a, b) for a, b in zip(before, params))
    with pytest.raises(ValueError, match="state_precision must be 'full'"):
        fastopt.Muon(params, state_precision="bfloat16")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_state_dict_and_checkpoint_resume_bitwise(backend, dtype, tmp_path):
    grads = _grads(dtype)
    full, _ = _run(dict(lr=0.02), backend, dtype, grads=grads)
    params = _start(dtype)
    opt = fastopt.Muon(params, lr=0.02, backend=backend)
    for gs in grads[:4]:
        opt.step(gs)
    sd = opt.state_dict()
    assert set(sd["state"][0]) == {"momentum_buffer"}       # the iterate is scratch
    fastopt.save(tmp_path / "ckpt", opt, params=params)
    resumed_params = [p.copy() for p in params]
    resumed = fastopt.Muon(resumed_params, lr=0.02, backend=backend)
    resumed.load_state_dict(sd)
    loaded_params = [np.zeros_like(p) for p in params]
    loaded = fastopt.Muon(loaded_params, lr=0.02, backend=backend)
    fastopt.load(tmp_path / "ckpt", loaded, params=loaded_params)
    for gs in grads[4:]:
        resumed.step(gs)
        loaded.step(gs)
    for a, b, c in zip(full, resumed_params, loaded_params):
        assert a.tobytes() == b.tobytes() == c.tobytes()


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_grad_norm_clips_inside_the_step(backend):
    dtype = np.float64
    grads = _grads(dtype)
    params = _start(dtype)
    opt = fastopt.Muon(params, lr=0.02, max_grad_norm=0.5, backend=backend)
    clipped = []
    for gs in grads:
        opt.step(gs)
        total = np.sqrt(sum(float(np.sum(g * g)) for g in gs))
        clipped.append([g * min(1.0, 0.5 / (total + 1e-6)) for g in gs])
    ref = torch_muon(dict(lr=0.02), _start(dtype), clipped)
    assert _scaled_diff(params, ref.params) <= 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
def test_nonfinite_skip_leaves_everything(backend):
    params = _start(np.float32)
    opt = fastopt.Muon(params, nonfinite="skip", backend=backend)
    grads = _grads(np.float32)
    opt.step(grads[0])
    before = [p.copy() for p in params]
    bad = [g.copy() for g in grads[1]]
    bad[2][1, 1] = np.nan
    opt.step(bad)
    assert opt.skipped_steps == 1
    assert all(np.array_equal(a, b) for a, b in zip(before, params))


def test_no_allocation_per_step():
    import tracemalloc
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s, dtype=np.float32) for s in [(300, 200), (64, 512)]]
    grads = [rng.standard_normal(p.shape, dtype=np.float32) for p in params]
    opt = fastopt.Muon(params, lr=0.02)
    for _ in range(3):
        opt.step(grads)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(10):
            opt.step(grads)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 4096 and peak - before < 64 * 200 * 4


def test_defaults_are_torchs():
    import inspect
    ours = inspect.signature(fastopt.Muon).parameters
    theirs = inspect.signature(torch.optim.Muon).parameters
    for name, p in theirs.items():
        if name != "params":
            assert ours[name].default == p.default, name
