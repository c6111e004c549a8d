"""The optimizer core: parameter forms, in-place updates, param groups, state_dict,
backends, threads and every refusal of bad input (which must leave everything as it was)."""
import subprocess
import sys

import numpy as np
import pytest

import fastopt
from harness import assert_bitwise, gradient, initial, python_env, run, snapshot


def make(dtype=np.float32, **kwargs):
    params = initial([(4, 3), (5,)], dtype)
    return params, fastopt.Adam(params, lr=0.01, **kwargs)


def grads_like(params, step=0):
    rng = np.random.default_rng(step)
    return [gradient(rng, p.shape, p.dtype, step) for p in params]


# ---- parameter forms -----------------------------------------------------------------

def test_list_updates_users_arrays_in_place():
    params, opt = make()
    ids = [id(p) for p in params]
    addresses = [p.ctypes.data for p in params]
    before = [p.copy() for p in params]
    opt.step(grads_like(params))
    assert [id(p) for p in opt.param_groups[0]["params"]] == ids
    assert [p.ctypes.data for p in params] == addresses
    assert all(not np.array_equal(a, b) for a, b in zip(params, before))


def test_dict_params_keyed_by_name():
    w, b = initial([(3, 2), (2,)], np.float32)
    opt = fastopt.Adam({"w": w, "b": b})
    opt.step({"b": np.ones(2, np.float32), "w": np.ones((3, 2), np.float32)})
    assert set(opt.state) == {"w", "b"}
    assert set(opt.state_dict()["state"]) == {"w", "b"}
    assert opt.state["w"]["exp_avg"].shape == (3, 2)


def test_flat_params_views_and_buffers():
    w, b = initial([(3, 2), (5,)], np.float32)
    params = fastopt.flatten({"w": w, "b": b})
    assert np.array_equal(params["w"], w) and np.array_equal(params["b"], b)
    assert params.data.ctypes.data % 64 == 0
    assert params["b"].ctypes.data % 64 == 0          # every view starts on a line
    assert np.shares_memory(params["w"], params.data)
    assert np.shares_memory(params.grads["b"], params.grad)
    opt = fastopt.Adam(params, lr=0.1)
    params.grads["w"][...] = 1.0
    opt.step()
    assert np.allclose(params["w"], w - 0.1, atol=1e-6)
    assert np.array_equal(params["b"], b)              # zero gradient: Adam leaves it
    opt.zero_grad()
    assert not params.grad.any()


def test_flat_params_from_list_and_mixed_dtypes():
    params = fastopt.flatten([np.ones(3, np.float32), np.ones(2, np.float64)])
    assert params[1].dtype == np.float64
    with pytest.raises(TypeError, match="one buffer per dtype"):
        params.data
    opt = fastopt.Adam(params, lr=0.1)
    params.grads[0][...] = 1.0
    params.grads[1][...] = -1.0
    opt.step()
    assert np.allclose(params[0], 0.9) and np.allclose(params[1], 1.1)


def test_param_groups_with_own_hyperparameters():
    a, b = initial([(10,), (10,)], np.float32)
    a0, b0 = a.copy(), b.copy()
    opt = fastopt.Adam([{"params": [a], "lr": 0.1}, {"params": [b]}], lr=0.001)
    g = np.ones(10, np.float32)
    opt.step([g, g])
    assert np.allclose(a0 - a, 0.1, rtol=1e-5) and np.allclose(b0 - b, 0.001, rtol=1e-4)


def test_hyperparameters_change_between_steps():
    params, opt = make()
    ref_params, ref = make()
    g = grads_like(params)
    opt.step(g)
    ref.step(g)
    opt.param_groups[0]["lr"] = 3e-4
    opt.step(g)
    ref2 = fastopt.Adam(ref_params, lr=3e-4)
    ref2.load_state_dict({**ref.state_dict(), "param_groups": [
        {**ref.state_dict()["param_groups"][0], "lr": 3e-4}]})
    ref2.step(g)
    assert_bitwise(params, ref_params)


def test_gradients_as_one_flat_array():
    params, opt = make()
    ref_params, ref = make()
    g = grads_like(params)
    opt.step(np.concatenate([x.ravel() for x in g]))
    ref.step(g)
    assert_bitwise(params, ref_params)


def test_flat_params_accept_other_gradient_forms_then_their_own_again():
    w = initial([(6,)], np.float32)[0]
    p1, p2 = fastopt.flatten({"w": w}), fastopt.flatten({"w": w})
    o1, o2 = fastopt.Adam(p1), fastopt.Adam(p2)
    g = np.arange(6, dtype=np.float32)
    p1.grads["w"][...] = g
    o1.step()
    o2.step({"w": g})
    assert_bitwise([p1["w"]], [p2["w"]])
    p1.grads["w"][...] = -g
    p2.grads["w"][...] = -g
    o1.step()
    o2.step()                       # back to the flat gradient buffer
    assert_bitwise([p1["w"]], [p2["w"]])
    o1.step(p1.grad.copy())         # one flat array shaped like params.grad
    o2.step()
    assert_bitwise([p1["w"]], [p2["w"]])


# ---- backends and threads ------------------------------------------------------------

def test_backend_selection(monkeypatch):
    monkeypatch.delenv("FASTOPT_BACKEND", raising=False)
    assert fastopt.get_backend() == "cython"
    monkeypatch.setenv("FASTOPT_BACKEND", "numpy")
    assert fastopt.Adam([np.zeros(1)]).backend == "numpy"
    fastopt.set_backend("numba")
    try:
        assert fastopt.Adam([np.zeros(1)]).backend == "numba"
        assert fastopt.Adam([np.zeros(1)], backend="cython").backend == "cython"
    finally:
        fastopt._core.backend._default = None
    with pytest.raises(ValueError, match="unknown backend 'fortran'"):
        fastopt.set_backend("fortran")
    with pytest.raises(ValueError, match="unknown backend"):
        fastopt.Adam([np.zeros(1)], backend="cuda")
    monkeypatch.setenv("FASTOPT_BACKEND", "bogus")
    with pytest.raises(ValueError, match="FASTOPT_BACKEND"):
        fastopt.Adam([np.zeros(1)])


def test_import_does_not_import_numba(tmp_path):
    code = "import sys, fastopt; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=python_env(FASTOPT_BACKEND=""), cwd=tmp_path)
    assert out.stdout.strip() == "False", out.stderr


def test_thread_settings():
    fastopt.set_num_threads(3)
    assert fastopt.get_num_threads() == 3
    fastopt.set_num_threads(None)
    assert fastopt.get_num_threads() >= 1
    for bad in (-1, 1.5, "2", True, 10**6, 1025):
        with pytest.raises((ValueError, TypeError), match="set_num_threads"):
            fastopt.set_num_threads(bad)
    fastopt.set_num_threads(np.int64(2))
    assert fastopt.get_num_threads() == 2
    fastopt.set_num_threads(None)


def test_threadpoolctl_limits_are_respected():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fastopt._core import _native
    if not _native.openmp_enabled():
        pytest.skip("serial build")
    fastopt.set_num_threads(None)
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fastopt.get_num_threads() == 1


# ---- state_dict ----------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
@pytest.mark.parametrize("form", ["list", "dict", "flat"])
def test_state_dict_resume_is_bitwise(backend, form):
    kwargs = dict(lr=0.01, amsgrad=True, weight_decay=0.01)
    full = run(fastopt.Adam, kwargs, backend, np.float32, steps=40, form=form).params

    shapes = [(7,), (33, 40), (0,), (1,), (5, 1, 3)]
    params = initial(shapes, np.float32)
    rng = np.random.default_rng(1)
    named = {f"p{i}": p for i, p in enumerate(params)}
    if form == "flat":
        flat = fastopt.flatten(named)
        opt = fastopt.Adam(flat, backend=backend, **kwargs)
    else:
        opt = fastopt.Adam(named if form == "dict" else params, backend=backend, **kwargs)

    def step(o, t):
        g = [gradient(rng, p.shape, np.float32, t) for p in params]
        if form == "flat":
            for i, gi in enumerate(g):
                flat.grads[f"p{i}"][...] = gi
            o.step()
        else:
            o.step(dict(zip(named, g)) if form == "dict" else g)

    for t in range(25):
        step(opt, t)
    sd = opt.state_dict()
    assert sd["optimizer"] == "Adam" and sd["step"] == 25 and sd["format_version"] == 1
    for bufs in sd["state"].values():
        assert all(isinstance(a, np.ndarray) for a in bufs.values())
    # a new optimizer on the same (current) parameters continues the run
    fresh = fastopt.Adam(flat if form == "flat" else (named if form == "dict" else params),
                         backend=backend, **{**kwargs, "lr": 0.5})
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["lr"] == 0.01 and fresh.step_count == 25
    for t in range(25, 40):
        step(fresh, t)
    out = [flat[f"p{i}"] for i in range(len(params))] if form == "flat" else params
    assert_bitwise(out, full)


def test_state_dict_is_a_snapshot():
    params, opt = make()
    opt.step(grads_like(params))
    sd = opt.state_dict()
    before = sd["state"][0]["exp_avg"].copy()
    opt.step(grads_like(params, 1))
    assert np.array_equal(sd["state"][0]["exp_avg"], before)


def refusals_of_state(opt, params):
    sd = opt.state_dict()
    other = fastopt.AdamW(params).state_dict()
    bad_shape = {**sd, "state": {**sd["state"], 0: {**sd["state"][0],
                                                     "exp_avg": np.zeros(3, np.float32)}}}
    bad_dtype = {**sd, "state": {**sd["state"], 0: {
        k: v.astype(np.float64) for k, v in sd["state"][0].items()}}}
    return [
        ("from AdamW, not Adam", {**other, "optimizer": "AdamW"}),
        ("format", {**sd, "format_version": 99}),
        ("param groups", {**sd, "param_groups": sd["param_groups"] * 2}),
        ("holds parameters", {**sd, "param_groups": [{**sd["param_groups"][0],
                                                        "params": [0, 5]}]}),
        ("other parameters", {**sd, "state": {0: sd["state"][0]}}),
        ("must be a float32 array of shape", bad_shape),
        ("must be a float32 array of shape", bad_dtype),
        ("lr must be", {**sd, "param_groups": [{**sd["param_groups"][0], "lr": -1.0}]}),
        ("lacks hyperparameters", {**sd, "param_groups": [{"params": [0, 1]}]}),
        ("step must be", {**sd, "step": -3}),
        ("not a fastopt state_dict", {"state": {}}),
    ]


def test_load_state_dict_refusals_change_nothing():
    params, opt = make()
    opt.step(grads_like(params))
    for match, bad in refusals_of_state(opt, params):
        before = snapshot(opt, params)
        groups = [dict(g) for g in opt.param_groups]
        with pytest.raises((ValueError, TypeError), match=match):
            opt.load_state_dict(bad)
        assert snapshot(opt, params) == before
        assert opt.param_groups == groups


# ---- refusals of bad input -----------------------------------------------------------

BAD_HYPERPARAMETERS = [
    (dict(lr=-1e-3), ValueError, "lr must be"),
    (dict(lr=float("nan")), ValueError, "lr must be"),
    (dict(lr="fast"), TypeError, "lr must be a real number"),
    (dict(betas=(1.0, 0.999)), ValueError, r"betas\[0\] must be in \[0, 1\)"),
    (dict(betas=(0.9, -0.1)), ValueError, r"betas\[1\] must be in"),
    (dict(betas=0.9), TypeError, "betas must be a pair"),
    (dict(eps=0.0), ValueError, "eps must be a finite number > 0"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay must be"),
    (dict(amsgrad="yes"), TypeError, "amsgrad must be True or False"),
    (dict(maximize=None), TypeError, "maximize must be True or False"),
]


@pytest.mark.parametrize("kwargs,error,match", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_refused_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastopt.Adam([np.zeros(3, np.float32)], **kwargs)


@pytest.mark.parametrize("kwargs,error,match",
                         [case for case in BAD_HYPERPARAMETERS if "amsgrad" not in case[0]])
def test_bad_hyperparameters_refused_at_step_change_nothing(kwargs, error, match):
    params, opt = make()
    opt.step(grads_like(params))
    before = snapshot(opt, params)
    opt.param_groups[0].update(kwargs)
    g = grads_like(params, 1)
    g_before = [x.copy() for x in g]
    with pytest.raises(error, match=match):
        opt.step(g)
    assert snapshot(opt, params) == before
    assert_bitwise(g, g_before)


def test_structural_option_cannot_change():
    params, opt = make()
    before = snapshot(opt, params)
    opt.param_groups[0]["amsgrad"] = True
    with pytest.raises(ValueError, match="amsgrad cannot change"):
        opt.step(grads_like(params))
    assert snapshot(opt, params) == before


def test_bad_group_in_second_group_refused_before_first_is_touched():
    a, b = initial([(5,), (5,)], np.float32)
    opt = fastopt.Adam([{"params": [a]}, {"params": [b]}])
    before = snapshot(opt, [a, b])
    opt.param_groups[1]["eps"] = -1.0
    with pytest.raises(ValueError, match="param group 1: eps"):
        opt.step([np.ones(5, np.float32)] * 2)
    assert snapshot(opt, [a, b]) == before


def bad_gradients(params):
    g = grads_like(params)
    return [
        ([g[0]], ValueError, "expected 2 gradients"),
        ([g[0], g[1].astype(np.float64)], TypeError, "#1 has dtype float64"),
        ([g[0], g[1][:-1]], ValueError, r"#1 has shape \(4,\)"),
        ([g[0].T.copy(), g[1]], ValueError, r"#0 has shape \(3, 4\)"),
        ([np.asfortranarray(np.ones((4, 3), np.float32)), g[1]], ValueError,
         "#0 is not C-contiguous"),
        ([g[0], params[1]], ValueError, "#1 shares memory with the parameter"),
        ([g[0], params[1][:]], ValueError, "#1 shares memory"),
        ([g[0], [1.0] * 5], TypeError, "#1 must be a NumPy array"),
        (np.zeros(7, np.float32), ValueError, "flat gradient has shape"),
        (np.zeros(17, np.float64), TypeError, "flat gradient has dtype"),
        ({"w": g[0]}, TypeError, "pass the gradients as a list"),
        ("grads", TypeError, "gradients must be a list"),
    ]


def test_bad_gradients_refused_and_nothing_changes():
    params, opt = make()
    opt.step(grads_like(params))
    for bad, error, match in bad_gradients(params):
        before = snapshot(opt, params)
        with pytest.raises(error, match=match):
            opt.step(bad)
        assert snapshot(opt, params) == before


def test_bad_named_gradients():
    w, b = initial([(3,), (2,)], np.float32)
    opt = fastopt.Adam({"w": w, "b": b})
    before = snapshot(opt, [w, b])
    with pytest.raises(ValueError, match="missing 'b'; unknown 'c'"):
        opt.step({"w": np.ones(3, np.float32), "c": np.ones(2, np.float32)})
    assert snapshot(opt, [w, b]) == before


def test_list_params_need_gradients():
    params, opt = make()
    with pytest.raises(TypeError, match="step\\(\\) needs the gradients"):
        opt.step()


BAD_PARAMS = [
    ([np.zeros(3, np.int64)], TypeError, "#0 has dtype int64"),
    ([np.zeros(3, np.float16)], TypeError, "#0 has dtype float16"),
    ([np.zeros((3, 4), np.float32).T], ValueError, "#0 is not C-contiguous"),
    ([np.zeros(3, np.float32)[::2]], ValueError, "not C-contiguous"),
    ([[1.0, 2.0]], TypeError, "must be a NumPy array"),
    (np.zeros(3, np.float32), TypeError, "not a single array"),
    ("w", TypeError, "params must be"),
    ([{"lr": 0.1}], ValueError, "param group 0 has no 'params'"),
    ([{"params": [np.zeros(2)], "momentum": 0.9}], TypeError, "no hyperparameter 'momentum'"),
    ({1: np.zeros(2)}, TypeError, "names must be strings"),
]


@pytest.mark.parametrize("params,error,match", BAD_PARAMS)
def test_bad_parameters_refused(params, error, match):
    with pytest.raises(error, match=match):
        fastopt.Adam(params)


def test_read_only_and_shared_parameters_refused():
    ro = np.zeros(3, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="#0 is read-only"):
        fastopt.Adam([ro])
    a = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="share memory"):
        fastopt.Adam([a, a])
    with pytest.raises(ValueError, match="share memory"):
        fastopt.Adam([a[:6], a[4:]])
    fastopt.Adam([a[:5], a[5:]])                       # adjacent, not overlapping


def test_flatten_refusals():
    with pytest.raises(TypeError, match="'w' has dtype int32"):
        fastopt.flatten({"w": np.zeros(2, np.int32)})
    with pytest.raises(TypeError, match="already flat"):
        fastopt.flatten(fastopt.flatten([np.zeros(2)]))
    with pytest.raises(TypeError, match="names must be strings"):
        fastopt.flatten({0: np.zeros(2)})


def test_prepare_load_state_dict_checks_first_and_loads_only_when_called():
    """prepare_load_state_dict refuses a bad state_dict changing nothing; a good one is
    loaded by the returned function, and not before."""
    params = initial([(5,), (2, 3)], np.float32)
    opt = fastopt.Adam(params, lr=0.01)
    rng = np.random.default_rng(3)
    for t in range(3):
        opt.step([gradient(rng, p.shape, np.float32, t) for p in params])
    saved = opt.state_dict()
    opt.step([gradient(rng, p.shape, np.float32, 3) for p in params])
    before = snapshot(opt, params)
    bad = {**saved, "step": -1}
    with pytest.raises(ValueError, match="step"):
        opt.prepare_load_state_dict(bad)
    assert snapshot(opt, params) == before
    load = opt.prepare_load_state_dict(saved)
    assert snapshot(opt, params) == before and opt.step_count == 4
    load()
    assert opt.step_count == 3
    assert [k for k, _ in opt.named_parameters()] == [0, 1]
    assert all(a is p for (_, a), p in zip(opt.named_parameters(), params))


def test_ema_prepare_load_and_swapped():
    params = initial([(4,)], np.float32)
    ema = fastopt.EMA(params, decay=0.5)
    saved = ema.state_dict()
    params[0] += 1.0
    ema.update()
    before = ema.shadow[0].copy()
    with pytest.raises(ValueError):
        ema.prepare_load_state_dict({**saved, "num_updates": -1})
    load = ema.prepare_load_state_dict(saved)
    assert np.array_equal(ema.shadow[0], before) and ema.num_updates == 1
    load()
    assert ema.num_updates == 0
    assert not ema.swapped
    with ema.average_parameters():
        assert ema.swapped
    assert not ema.swapped


def test_flat_params_indexed_like_an_array_says_where_the_buffers_are():
    params = fastopt.flatten({"w": np.zeros(3, np.float32)})
    with pytest.raises(TypeError, match=r"params\.grad\b"):
        params.grads[:] = 1.0
    with pytest.raises(TypeError, match=r"params\.grad\b"):
        params.grads[...]
    with pytest.raises(TypeError, match=r"params\.data"):
        params[:]
    assert not params.grad.any()


def test_param_groups_replaced_by_a_tuple_are_refused_by_name():
    w = np.zeros(3)
    opt = fastopt.NAdam([w], lr=1.0)
    opt.step([np.ones(3)])
    before = (w.copy(), opt.step_count, dict(opt.group_state[0]))
    opt.param_groups = tuple(opt.param_groups)
    with pytest.raises(ValueError, match="param_groups must be a list"):
        opt.step([np.ones(3)])
    assert (w.tobytes(), opt.step_count) == (before[0].tobytes(), before[1])
    assert dict(opt.group_state[0]) == before[2]
