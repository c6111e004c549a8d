"""Adafactor against torch.optim.Adafactor (forloop and foreach), and what state of its
own shape asks of the core: state_dict in torch's shapes and names, load checks,
checkpoint round trips, the refused state precisions and ZeroRedundancyOptimizer."""
import numpy as np
import pytest

import fastopt

torch = pytest.importorskip("torch")

SHAPES = [(7, 5), (3, 4, 6), (2, 1, 3, 4), (9,), (), (1, 8), (6, 1)]
OPTIONS = [
    dict(),
    dict(lr=0.5),                                   # rho_t = 1/sqrt(t) from the start
    dict(lr=0.3),                                   # rho_t switches at t = 12
    dict(eps=(1e-30, 1e-3)),
    dict(eps=(1e-3, 0.0)),
    dict(d=2.0),
    dict(weight_decay=0.1, lr=0.05),
    dict(beta2_decay=-0.5),
    dict(beta2_decay=0.0),
    dict(maximize=True),
    dict(lr=0.5, weight_decay=0.2, eps=(1e-20, 1e-2), d=1.5, beta2_decay=-0.6, maximize=True),
]
#: Worst difference from torch over 15 steps, relative to each tensor's largest value:
#: torch sums in the dtype (in its own order), fastopt in float64, so they agree to a few
#: units in the last place.
TOL = {np.float32: 1e-5, np.float64: 1e-13}


def _params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _grads(params, rng):
    return [rng.standard_normal(p.shape).astype(p.dtype) for p in params]


def _rel(a, b):
    """The worst difference relative to the tensor's largest magnitude (an element near 0
    carries the rounding of the whole tensor's sums)."""
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30)) if a.size else 0.0


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", OPTIONS, ids=lambda kw: ",".join(kw) or "defaults")
@pytest.mark.parametrize("form", ["list", "dict", "flat", "groups"])
def test_matches_torch(form, kw, dtype, foreach):
    params = _params(dtype)
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    if form == "list":
        opt = fastopt.Adafactor(params, **kw)
        arrays = params
    elif form == "dict":
        named = {f"w{i}": p for i, p in enumerate(params)}
        opt = fastopt.Adafactor(named, **kw)
        arrays = list(named.values())
    elif form == "flat":
        flat = fastopt.flatten({f"w{i}": p for i, p in enumerate(params)})
        opt = fastopt.Adafactor(flat, **kw)
        arrays = [flat[f"w{i}"] for i in range(len(params))]
    else:
        opt = fastopt.Adafactor([{"params": params[:3]}, {"params": params[3:], "lr": 0.02}],
                                **kw)
        arrays = params
    if form == "groups":
        topt = torch.optim.Adafactor([{"params": tparams[:3]},
                                      {"params": tparams[3:], "lr": 0.02}], **kw,
                                     foreach=foreach)
    else:
        topt = torch.optim.Adafactor(tparams, **kw, foreach=foreach)
    rng = np.random.default_rng(1)
    for _ in range(15):
        grads = _grads(arrays, rng)
        for t, g in zip(tparams, grads):
            t.grad = torch.tensor(g)
        topt.step()
        if form == "flat":
            for i, g in enumerate(grads):
                flat.grads[f"w{i}"][...] = g
            opt.step()
        elif form == "dict":
            opt.step({f"w{i}": g for i, g in enumerate(grads)})
        else:
            opt.step(grads)
    for a, t in zip(arrays, tparams):
        assert _rel(a, t.detach().numpy()) < TOL[dtype]
    for key, t in zip(opt.state, tparams):
        tstate = topt.state[t]
        mine = opt.state[key]
        assert set(mine) == set(tstate) - {"step"}
        for name, value in mine.items():
            assert value.shape == tuple(tstate[name].shape)
            assert _rel(value, tstate[name].numpy()) < TOL[dtype] * 10


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_backends_agree_bitwise(backend):
    results = {}
    for b in ("numpy", backend):
        params = _params(np.float32)
        opt = fastopt.Adafactor(params, lr=0.3, weight_decay=0.1, backend=b)
        rng = np.random.default_rng(2)
        for _ in range(5):
            opt.step(_grads(params, rng))
        results[b] = params
    for a, b in zip(results["numpy"], results[backend]):
        assert a.tobytes() == b.tobytes()


#: Shapes around the kernels' row and lane cuts: vectors across the 16-lane tails, rows
#: and columns of one, an odd C, batches of matrices, empty ones.
BITWISE_SHAPES = [(1,), (15,), (16,), (17,), (33,), (1000,), (), (1, 31), (31, 1), (16, 16),
                  (9, 47), (40, 33), (2, 3, 17), (2, 2, 5, 16), (0,), (0, 5), (3, 0), (2, 0, 4)]


def _canonical(a):
    """The bytes of ``a`` with every NaN the same one: a NaN's sign and payload depend on
    which operand of an add the compiler puts first, not on the rule."""
    a = a.copy()
    a[np.isnan(a)] = np.nan
    return a.tobytes()


def _bitwise_run(backend, dtype, bad, kw, steps=6):
    rng = np.random.default_rng(11)
    params = [rng.standard_normal(s).astype(dtype) for s in BITWISE_SHAPES]
    opt = fastopt.Adafactor(params, backend=backend, **kw)
    for t in range(steps):
        grads = _grads(params, rng)
        if bad and t == 3:
            for g in grads:
                if g.size > 2:
                    g.flat[1], g.flat[-1] = np.nan, np.inf
        opt.step(grads)
    return params, opt


@pytest.mark.parametrize("bad", [False, True], ids=["finite", "nan-inf"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [dict(lr=0.3, weight_decay=0.1),
                                dict(eps=(1e-3, 0.5), d=1.5, maximize=True)],
                         ids=["decay", "eps-d-maximize"])
@pytest.mark.parametrize("backend", ["cython", "numba"])
def test_backends_agree_bitwise_on_every_shape(backend, kw, dtype, bad):
    ref, ref_opt = _bitwise_run("numpy", dtype, bad, kw)
    got, opt = _bitwise_run(backend, dtype, bad, kw)
    same = _canonical if bad else (lambda a: a.tobytes())
    for shape, a, b in zip(BITWISE_SHAPES, ref, got):
        assert same(a) == same(b), shape
    for key in ref_opt.state:
        for name, value in ref_opt.state[key].items():
            assert same(value) == same(opt.state[key][name]), (BITWISE_SHAPES[key], name)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_resumes_bitwise_across_backends(backend):
    """A state_dict saved on the NumPy backend resumes on any backend as if uninterrupted."""
    whole, _ = _bitwise_run("numpy", np.float32, False, dict(lr=0.3), steps=6)
    rng = np.random.default_rng(11)
    params = [rng.standard_normal(s).astype(np.float32) for s in BITWISE_SHAPES]
    first = fastopt.Adafactor(params, backend="numpy", lr=0.3)
    for _ in range(3):
        first.step(_grads(params, rng))
    copies = [p.copy() for p in params]
    second = fastopt.Adafactor(copies, backend=backend, lr=0.3)
    second.load_state_dict(first.state_dict())
    for _ in range(3):
        second.step(_grads(copies, rng))
    for a, b in zip(whole, copies):
        assert a.tobytes() == b.tobytes()


def test_state_size_is_rows_plus_cols():
    p = np.zeros((400, 300), np.float32)
    opt = fastopt.Adafactor([p])
    assert opt.state_nbytes < 4 * (400 + 300) + 256
    v = np.zeros(1000, np.float32)
    assert fastopt.Adafactor([v]).state_nbytes >= 4000


def _run(opt, params, rng, n):
    for _ in range(n):
        opt.step(_grads(params, rng))


def test_state_dict_resumes_bitwise():
    params = _params(np.float64)
    opt = fastopt.Adafactor(params, lr=0.3)
    rng = np.random.default_rng(3)
    _run(opt, params, rng, 4)
    sd = opt.state_dict()
    copies = [p.copy() for p in params]
    other = fastopt.Adafactor(copies, lr=0.3)
    other.load_state_dict(sd)
    _run(opt, params, np.random.default_rng(4), 3)
    _run(other, copies, np.random.default_rng(4), 3)
    for a, b in zip(params, copies):
        assert a.tobytes() == b.tobytes()


def test_checkpoint_round_trip(tmp_path):
    params = _params(np.float32)
    opt = fastopt.Adafactor(params, weight_decay=0.1)
    _run(opt, params, np.random.default_rng(5), 3)
    fastopt.save(tmp_path / "ck", params=params, optimizer=opt)
    copies = [np.zeros_like(p) for p in params]
    other = fastopt.Adafactor(copies, weight_decay=0.1)
    fastopt.load(tmp_path / "ck", params=copies, optimizer=other)
    _run(opt, params, np.random.default_rng(6), 3)
    _run(other, copies, np.random.default_rng(6), 3)
    for a, b in zip(params, copies):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("bad, match", [
    (lambda st: st[0].update(row_var=np.zeros((5, 1), np.float32)), r"shape \(7, 1\)"),
    (lambda st: st[0].update(col_var=np.zeros((1, 5), np.float64)), "float32"),
    (lambda st: st[3].update(row_var=np.zeros((9, 1), np.float32)), "must hold"),
    (lambda st: st[0].pop("col_var"), "must hold"),
])
def test_load_refuses_wrong_state(bad, match):
    params = _params(np.float32)
    opt = fastopt.Adafactor(params)
    _run(opt, params, np.random.default_rng(7), 2)
    sd = opt.state_dict()
    before = opt.state_dict()
    bad(sd["state"])
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    for key in before["state"]:
        for name in before["state"][key]:
            assert before["state"][key][name].tobytes() == after["state"][key][name].tobytes()


@pytest.mark.parametrize("precision", ["bfloat16", "8bit"])
def test_refuses_stored_precisions(precision):
    with pytest.raises(ValueError, match="state_precision must be 'full'"):
        fastopt.Adafactor([np.zeros((4, 4), np.float32)], state_precision=precision)


def test_zero_redundancy_refuses():
    from fastopt.distributed import ZeroRedundancyOptimizer
    pytest.importorskip("mpi4py")
    with pytest.raises(TypeError, match="shapes of its own"):
        ZeroRedundancyOptimizer([np.zeros((4, 4), np.float32)], fastopt.Adafactor)


@pytest.mark.parametrize("kw, exc, match", [
    (dict(lr=-1.0), ValueError, "lr"), (dict(beta2_decay=0.1), ValueError, "beta2_decay"),
    (dict(eps=(-1.0, 1e-3)), ValueError, r"eps\[0\]"),
    (dict(eps=(None, -1.0)), ValueError, r"eps\[1\]"), (dict(eps=1e-3), TypeError, "eps"),
    (dict(d=0.5), ValueError, "d"), (dict(weight_decay=-0.1), ValueError, "weight_decay"),
    (dict(maximize=1), TypeError, "maximize"),
])
def test_refused_hyperparameters(kw, exc, match):
    with pytest.raises(exc, match=match):
        fastopt.Adafactor([np.zeros(3, np.float32)], **kw)


def test_refused_step_changes_nothing():
    params = _params(np.float32)
    opt = fastopt.Adafactor(params)
    _run(opt, params, np.random.default_rng(8), 2)
    before = [p.copy() for p in params], opt.state_dict()
    opt.param_groups[0]["d"] = 0.0
    with pytest.raises(ValueError, match="d"):
        opt.step(_grads(params, np.random.default_rng(9)))
    assert opt.step_count == 2
    for a, b in zip(before[0], params):
        assert a.tobytes() == b.tobytes()


def test_defaults():
    opt = fastopt.Adafactor([np.zeros(1, np.float32)])
    assert opt.defaults == dict(lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                                weight_decay=0.0, maximize=False)
