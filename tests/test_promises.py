"""The promises users meet first: a refused call changes nothing, nothing is silently
ignored or read from freed memory, a step is never taken in part (Ctrl-C), a forked child
works, and torch's habits work as in torch."""
import copy
import gc
import multiprocessing
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastopt
from fastopt._core import _native, threads as _threads
from harness import groups_snapshot, python_env, snapshot

BACKENDS = ["cython", "numba", "numpy"]


def _everything(opt, params, grads=()):
    """What a refused call must leave as it was."""
    return (snapshot(opt, params), groups_snapshot(opt), opt.skipped_steps,
            b"".join(g.tobytes() for g in grads))


# ---- the source tree -------------------------------------------------------------------

def test_unbuilt_source_tree_says_what_to_run(tmp_path):
    """Importing fastopt from sources whose extension is not built names the problem and
    what to run, not a circular import."""
    package = os.path.dirname(fastopt.__file__)
    shutil.copytree(package, tmp_path / "fastopt",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    out = subprocess.run([sys.executable, "-c", "import fastopt"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert out.returncode != 0
    assert "not built" in out.stderr and "pip install" in out.stderr
    assert "circular" not in out.stderr


# ---- refused calls change nothing ------------------------------------------------------

def test_load_state_dict_with_bad_group_state_changes_nothing():
    w = np.ones(5, np.float32)
    opt = fastopt.NAdam([w], lr=0.1)
    opt.step([np.ones(5, np.float32)])
    before = _everything(opt, [w])
    for bad in ([5], [{"mu_product": "x"}], [{}], [{"mu_product": 0.9, "other": 1.0}], 5,
                [{"mu_product": float("nan")}]):
        sd = opt.state_dict()
        sd["param_groups"][0]["lr"] = 0.5
        sd["group_state"] = bad
        with pytest.raises((TypeError, ValueError), match="group state|group_state"):
            opt.load_state_dict(sd)
        assert _everything(opt, [w]) == before


@pytest.mark.parametrize("bad", [{"step": 2 ** 1024}, {"step": -1}, {"step": 1.5},
                                 {"param_groups": "x"}, {"state": [1]},
                                 {"param_groups": [{"params": [0], "lr": 2 ** 1024}]}])
def test_load_state_dict_bad_values_change_nothing(bad):
    w = np.ones(5)
    opt = fastopt.Adam([w], lr=0.1)
    opt.step([np.ones(5)])
    before = _everything(opt, [w])
    sd = {**opt.state_dict(), **bad}
    if "param_groups" in bad and isinstance(bad["param_groups"], list):
        sd["param_groups"] = [{**opt.state_dict()["param_groups"][0], **bad["param_groups"][0]}]
    with pytest.raises((TypeError, ValueError)):
        opt.load_state_dict(sd)
    assert _everything(opt, [w]) == before


def test_appended_param_group_is_refused_before_anything_changes():
    w, extra = np.ones(5, np.float32), np.ones(3, np.float32)
    opt = fastopt.NAdam([w], lr=0.1)
    opt.step([np.ones(5, np.float32)])
    opt.param_groups.append({**opt.param_groups[0], "params": [extra]})
    before = _everything(opt, [w, extra])
    with pytest.raises(ValueError, match="add_param_group"):
        opt.step([np.ones(5, np.float32)])
    assert _everything(opt, [w, extra]) == before


@pytest.mark.parametrize("change", ["append", "swap", "replace"])
def test_changed_params_list_is_refused(change):
    w, other = np.ones(5), np.ones(5)
    opt = fastopt.SGD([w], lr=0.1)
    if change == "append":
        opt.param_groups[0]["params"].append(other)
    elif change == "swap":
        opt.param_groups[0]["params"][0] = other
    else:
        opt.param_groups[0]["params"] = [other]
    with pytest.raises(ValueError, match="params"):
        opt.step([np.ones(5)])
    assert w.tobytes() == np.ones(5).tobytes() and other.tobytes() == np.ones(5).tobytes()


@pytest.mark.parametrize("form", ["list", "dict", "flat_array"])
def test_big_endian_gradient_is_refused(form):
    w = np.full(4, 1.0, np.float32)
    opt = fastopt.SGD({"w": w} if form == "dict" else [w], lr=1.0)
    g = np.full(4, 0.5, ">f4")
    before = _everything(opt, [w])
    with pytest.raises(TypeError, match=">f4"):
        opt.step({"w": g} if form == "dict" else (g if form == "flat_array" else [g]))
    assert _everything(opt, [w]) == before
    opt.step([g.astype(np.float32)])
    assert w.tolist() == [0.5] * 4


def test_gradients_that_are_other_parameters_or_state_are_refused():
    w1, w2 = np.ones(6), np.full(6, 2.0)
    opt = fastopt.Adam([w1, w2], lr=0.1)
    before = _everything(opt, [w1, w2])
    with pytest.raises(ValueError, match="#1"):
        opt.step([w2, w1])
    with pytest.raises(ValueError, match="#0"):
        opt.step([np.ones(6), w1])
    opt.step([np.ones(6), np.ones(6)])
    before = _everything(opt, [w1, w2])
    state = opt.state[0]["exp_avg"]
    with pytest.raises(ValueError, match="state"):
        opt.step([state, np.ones(6)])
    assert _everything(opt, [w1, w2]) == before


def test_flat_gradient_aliasing_parameters_is_refused():
    params = fastopt.flatten({"a": np.ones(3), "b": np.ones(4)})
    opt = fastopt.SGD([params["a"], params["b"]], lr=1.0)
    with pytest.raises(ValueError, match="shares memory"):
        opt.step(params.data[:7])


def test_thread_counts_out_of_range_are_refused_and_numpy_ints_accepted():
    with pytest.raises(ValueError, match="set_num_threads"):
        fastopt.set_num_threads(10 ** 6)
    with pytest.raises(TypeError, match="set_num_threads"):
        fastopt.set_num_threads(2.0)
    try:
        fastopt.set_num_threads(np.int64(2))
        assert fastopt.get_num_threads() == 2 or _native.serial_only()
    finally:
        fastopt.set_num_threads(None)


def test_many_threads_step_safely():
    w = np.zeros(1 << 18, np.float32)
    opt = fastopt.SGD([w], lr=1.0)
    try:
        fastopt.set_num_threads(64)
        opt.step([np.ones_like(w)])
    finally:
        fastopt.set_num_threads(None)
    assert np.all(w == -1.0)


def test_parameter_resized_after_build_is_refused():
    w = np.ones(1000)
    opt = fastopt.SGD([w], lr=1.0)
    w.resize(2000, refcheck=False)
    with pytest.raises(ValueError, match="resized or reallocated"):
        opt.step([np.ones(2000)])
    with pytest.raises(ValueError, match="resized or reallocated"):
        opt.step(np.ones(1000))


def test_parameter_made_read_only_after_build_is_refused():
    w = np.ones(10)
    opt = fastopt.SGD([w], lr=1.0)
    w.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        opt.step([np.ones(10)])
    assert np.all(w == 1.0)


def test_reordered_group_keys_cannot_slip_a_bad_value_past_the_cache():
    w = np.ones(4)
    opt = fastopt.Adam([w], lr=0.1, eps=1e-8, weight_decay=0.0)
    opt.step([np.ones(4)])
    group = opt.param_groups[0]
    # the same dict and the same value objects in the same positions, under other keys:
    # eps now holds weight_decay's 0.0
    keys, values = list(group), list(group.values())
    i, j = keys.index("eps"), keys.index("weight_decay")
    keys[i], keys[j] = keys[j], keys[i]
    group.clear()
    group.update(zip(keys, values))
    assert group["eps"] == 0.0
    before = _everything(opt, [w])
    with pytest.raises(ValueError, match="eps"):
        opt.step([np.ones(4)])
    assert _everything(opt, [w]) == before


def test_two_threads_stepping_one_optimizer_take_turns():
    w = np.zeros(1 << 16)
    opt = fastopt.SGD([w], lr=1.0)
    g = np.ones_like(w)

    def work():
        for _ in range(100):
            opt.step([g])

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert opt.step_count == 200 and np.all(w == -200.0)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="needs the main thread")
def test_ctrl_c_while_waiting_for_the_step_lock_changes_nothing():
    """A step that waits (without the GIL) for another thread's step or load still sees a
    Ctrl-C, and is refused whole: nothing of it is taken."""
    import _thread
    import time
    w = np.zeros(8)
    opt = fastopt.SGD([w], lr=1.0)
    held, release = threading.Event(), threading.Event()

    def hold():
        with opt._path:                 # what add_param_group / load_state_dict hold
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    started = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            opt.step([np.ones(8)])
        assert time.perf_counter() - started < 5        # seen while waiting, not after
        assert opt.step_count == 0 and not w.any()
    finally:
        release.set()
        holder.join()
        timer.cancel()
    opt.step([np.ones(8)])              # the lock was not left taken
    assert opt.step_count == 1 and np.all(w == -1.0)


def test_flat_gradient_views_cannot_be_replaced_or_dropped():
    params = fastopt.flatten({"w": np.ones(4, np.float32)})
    opt = fastopt.SGD(params, lr=1.0)
    with pytest.raises(TypeError, match=r"params.grads\['w'\]\[...\]"):
        params.grads["w"] = np.ones(4, np.float32)
    params.grads["w"][...] = 1.0
    params.grads["w"] *= 2.0            # in place, assigned back: fine
    for mapping in (params.grads, params.buffers):
        with pytest.raises((TypeError, AttributeError)):
            mapping.clear()             # type: ignore[attr-defined]
    opt.step()
    assert params["w"].tolist() == [-1.0] * 4


def test_optimizer_keeps_the_flat_buffers_alive():
    params = fastopt.flatten({"w": np.ones(1 << 16, np.float32)})
    opt = fastopt.SGD(params, lr=1.0)
    view = params["w"]
    params.grads["w"][...] = 1.0
    del params
    gc.collect()
    junk = [np.full(1 << 16, 7.0, np.float32) for _ in range(8)]   # reuse freed memory
    opt.step()
    assert np.all(view == 0.0) and all(np.all(j == 7.0) for j in junk)


@pytest.mark.parametrize("arrays", [{"a": np.ones(3, np.float32), "b": np.ones(3, np.int32)},
                                    {"a": np.ones(3, np.float32), "b": np.ones(3, ">f4")},
                                    {"a": np.ones(3, np.float16)}])
def test_flat_params_refuse_arrays_they_cannot_update(arrays):
    with pytest.raises(TypeError, match="dtype"):
        fastopt.FlatParams(arrays)
    with pytest.raises(TypeError, match="dtype"):
        fastopt.flatten(arrays)


@pytest.mark.parametrize("cls, key, value", [
    (fastopt.NAdam, "betas", {0.9, 0.999}), (fastopt.Adam, "betas", {0.9: 1, 0.999: 2}),
    (fastopt.Rprop, "etas", {0.5, 1.2}), (fastopt.Adam, "lr", 2 ** 1024),
    (fastopt.SGD, "momentum", 2 ** 1024), (fastopt.NAdam, "momentum_decay", 10 ** 400)])
def test_unordered_or_overflowing_hyperparameters_are_refused(cls, key, value):
    with pytest.raises((TypeError, ValueError), match=key):
        cls([np.ones(3)], **{key: value})
    w = np.ones(3)
    opt = cls([w])
    opt.step([np.ones(3)])
    opt.param_groups[0][key] = value
    before = _everything(opt, [w])
    with pytest.raises((TypeError, ValueError), match=key):
        opt.step([np.ones(3)])
    assert _everything(opt, [w]) == before


# ---- schedulers that switch momentum on ------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda opt: fastopt.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=20),
    lambda opt: fastopt.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4)])
def test_momentum_cycling_schedules_on_sgd_without_momentum_are_like_torch(make):
    torch = pytest.importorskip("torch")
    w = np.linspace(-1, 1, 6)
    opt = fastopt.SGD([w], lr=0.01)
    sched = make(opt)
    tw = torch.tensor(np.linspace(-1, 1, 6), requires_grad=True)
    topt = torch.optim.SGD([tw], lr=0.01)
    torch_make = {fastopt.lr_scheduler.OneCycleLR: lambda o: torch.optim.lr_scheduler.OneCycleLR(
        o, max_lr=0.1, total_steps=20), fastopt.lr_scheduler.CyclicLR:
        lambda o: torch.optim.lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=0.1,
                                                    step_size_up=4)}[type(sched)]
    tsched = torch_make(topt)
    for t in range(15):
        g = np.cos(np.arange(6) + t)
        opt.step([g])
        tw.grad = torch.tensor(g)
        topt.step()
        sched.step()
        tsched.step()
    np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(opt.state[0]["momentum_buffer"],
                               topt.state[tw]["momentum_buffer"].numpy(), rtol=1e-12)


# ---- copies ----------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["list", "dict", "groups", "flat"])
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_optimizers_copy_and_pickle(form, how):
    a, b = np.linspace(-1, 1, 5), np.linspace(0, 2, 3)
    if form == "flat":
        target = fastopt.flatten({"a": a, "b": b})
    elif form == "dict":
        target = {"a": a, "b": b}
    elif form == "groups":
        target = [{"params": [a]}, {"params": [b], "lr": 0.05}]
    else:
        target = [a, b]
    opt = fastopt.NAdam(target, lr=0.1, nonfinite="skip")
    grads = [np.cos(np.arange(5.0)), np.sin(np.arange(3.0))]

    def step(o, t):
        if form == "flat":
            o._flat.grads["a"][...] = grads[0]
            o._flat.grads["b"][...] = grads[1]
            o.step()
        elif form == "dict":
            o.step({"a": grads[0], "b": grads[1]})
        else:
            o.step(grads)

    for t in range(3):
        step(opt, t)
    twin = copy.deepcopy(opt) if how == "deepcopy" else pickle.loads(pickle.dumps(opt))
    assert type(twin) is fastopt.NAdam and twin.step_count == 3
    assert twin.nonfinite == "skip" and twin.group_state == opt.group_state
    for t in range(3, 6):
        step(opt, t)
        step(twin, t)
    for x, y in zip(opt._arrays, twin._arrays):
        assert x.tobytes() == y.tobytes() and x is not y


def test_deepcopy_of_parameters_and_optimizer_together_shares_the_arrays():
    w = np.ones(4)
    model = {"w": w, "opt": fastopt.Adam([w], lr=0.1)}
    copied = copy.deepcopy(model)
    copied["opt"].step([np.ones(4)])
    assert np.all(w == 1.0) and not np.all(copied["w"] == 1.0)


# ---- torch's habits --------------------------------------------------------------------

def test_add_param_group_is_like_torch():
    torch = pytest.importorskip("torch")
    a, b = np.linspace(-1, 1, 5), np.linspace(0, 2, 3)
    opt = fastopt.Adam([a], lr=0.1)
    ta, tb = (torch.tensor(x.copy(), requires_grad=True) for x in (a, b))
    topt = torch.optim.Adam([ta], lr=0.1)
    for t in range(6):
        if t == 2:
            opt.add_param_group({"params": [b], "lr": 0.05, "amsgrad": False})
            topt.add_param_group({"params": [tb], "lr": 0.05})
        gs = [np.cos(np.arange(5.0) + t), np.sin(np.arange(3.0) + t)]
        opt.step(gs[:1] if t < 2 else gs)
        ta.grad = torch.tensor(gs[0])
        tb.grad = torch.tensor(gs[1])
        topt.step()
    np.testing.assert_allclose(a, ta.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(b, tb.detach().numpy(), rtol=1e-12)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.05]


def test_add_param_group_refusals_change_nothing():
    a = np.ones(3)
    opt = fastopt.Adam([a], lr=0.1)
    opt.step([np.ones(3)])
    before = _everything(opt, [a])
    for bad in ({"params": [a]}, {"params": [np.ones(2)], "lr": -1.0},
                {"params": [np.ones(2)], "bogus": 1}, {"params": [np.ones(2, np.int32)]},
                [np.ones(2)], {"lr": 0.1}):
        with pytest.raises((TypeError, ValueError)):
            opt.add_param_group(bad)
        assert _everything(opt, [a]) == before and len(opt.param_groups) == 1
    flat = fastopt.flatten({"w": np.ones(3)})
    with pytest.raises(TypeError, match="FlatParams"):
        fastopt.SGD(flat).add_param_group({"params": [np.ones(2)]})


def test_zero_grad_takes_set_to_none():
    params = fastopt.flatten({"w": np.ones(3)})
    opt = fastopt.SGD(params)
    params.grads["w"][...] = 5
    opt.zero_grad(set_to_none=True)
    assert np.all(params.grad == 0)
    fastopt.SGD([np.ones(3)]).zero_grad(set_to_none=False)


@pytest.mark.parametrize("form", ["generator", "values", "named_pairs", "group_generator"])
def test_params_as_torch_code_passes_them(form):
    a, b = np.ones(3), np.ones(2)
    if form == "generator":
        params = (x for x in (a, b))
    elif form == "values":
        params = {"a": a, "b": b}.values()
    elif form == "named_pairs":
        params = iter([("a", a), ("b", b)])
    else:
        params = [{"params": (x for x in (a, b)), "lr": 0.5}]
    opt = fastopt.SGD(params, lr=0.5)
    grads = {"a": np.ones(3), "b": np.ones(2)} if form == "named_pairs" else \
        [np.ones(3), np.ones(2)]
    opt.step(grads)
    assert np.all(a == 0.5) and np.all(b == 0.5)
    if form == "named_pairs":
        assert set(opt.state_dict()["state"]) == {"a", "b"}


def test_step_with_closure_returns_the_loss():
    params = fastopt.flatten({"x": np.array([3.0])})
    opt = fastopt.SGD(params, lr=0.25)
    calls = []

    def closure():
        x = params["x"]
        params.grads["x"][...] = 2 * x
        calls.append(1)
        return float(x[0] ** 2)

    assert opt.step(closure) == 9.0
    assert opt.step(closure=closure) == 2.25
    assert len(calls) == 2 and params["x"].tolist() == [0.75]
    # list parameters: the closure writes into the gradient arrays passed beside it
    w, gw = np.array([1.0]), np.zeros(1)

    def fill():
        gw[...] = 1.0
        return "loss"

    lopt = fastopt.SGD([w], lr=1.0)
    assert lopt.step([gw], fill) == "loss" and w.tolist() == [0.0]
    with pytest.raises(TypeError, match="closure"):
        lopt.step(fill)


def test_repr_shows_the_hyperparameters():
    text = repr(fastopt.Adam([np.ones(3)], lr=0.01, betas=(0.8, 0.9)))
    assert text.startswith("Adam (") and "Parameter Group 0" in text
    assert "lr: 0.01" in text and "betas: (0.8, 0.9)" in text and "eps: 1e-08" in text


# ---- fork ------------------------------------------------------------------------------

def _child_step(n, precision="full"):
    w = np.zeros(n, np.float32)
    opt = fastopt.Adam([w], lr=0.1, state_precision=precision)
    opt.step([np.ones(n, np.float32)])
    return float(w.sum())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("backend, precision", [
    ("cython", "full"), ("numba", "full"), ("cython", "8bit"), ("numba", "bfloat16")])
def test_forked_children_step_after_a_threaded_step(backend, precision):
    if backend == "numba":
        pytest.importorskip("numba")
    n = 1 << 19
    threshold = _threads.parallel_threshold()
    try:
        fastopt.set_num_threads(2)
        w = np.zeros(n, np.float32)
        opt = fastopt.Adam([w], lr=0.1, backend=backend, state_precision=precision)
        opt.step([np.ones(n, np.float32)])          # the thread pool has started
        expected = float(w.sum())
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(2) as pool:
            result = pool.starmap_async(_child_step, [(n, precision)] * 4)
            assert result.get(timeout=120) == [expected] * 4
        proc = ctx.Process(target=_child_step, args=(n, precision))
        proc.start()
        proc.join(120)
        assert proc.exitcode == 0
    finally:
        fastopt.set_num_threads(None)
        _threads.set_parallel_threshold(threshold)


# ---- Ctrl-C ----------------------------------------------------------------------------

def _interrupt_soon(armed: threading.Event, stop: threading.Event, rng) -> None:
    while not stop.is_set():
        if armed.wait(0.05):
            armed.clear()
            time.sleep(rng.uniform(0.0005, 0.02))
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread()
                    or not hasattr(signal, "pthread_kill"), reason="needs the main thread")
@pytest.mark.parametrize("cls, kwargs, backend", [
    (fastopt.NAdam, {}, "cython"), (fastopt.Adam, {"max_grad_norm": 1.0}, "cython"),
    (fastopt.SGD, {"momentum": 0.9}, "numba"), (fastopt.Lamb, {}, "cython"),
    (fastopt.NAdam, {}, "numpy"),
    (fastopt.Adam, {"state_precision": "8bit"}, "cython"),
    (fastopt.Lamb, {"state_precision": "8bit"}, "numba"),
    (fastopt.AdamW, {"state_precision": "bfloat16", "max_grad_norm": 1.0}, "cython"),
    (fastopt.Adam, {"state_precision": "8bit"}, "numpy"),
    (fastopt.SparseAdam, {}, "cython")])     # its row kernels, one per parameter
def test_ctrl_c_never_tears_a_step(cls, kwargs, backend):
    """KeyboardInterrupts at random moments of a loop of large steps: every time, the
    parameters, state and per-group state are those of exactly step_count steps."""
    if backend == "numba":
        pytest.importorskip("numba")
    n = 1 << 20 if backend != "numpy" else 1 << 17
    shapes = [(n // 2,), (n // 4, 2)]
    params = [np.linspace(-1, 1, int(np.prod(s))).reshape(s) for s in shapes]
    grads = [np.cos(np.arange(p.size)).reshape(p.shape) for p in params]
    opt = cls(params, backend=backend, **kwargs)
    ref_params = [p.copy() for p in params]
    ref = cls(ref_params, backend=backend, **kwargs)
    armed, stop = threading.Event(), threading.Event()
    killer = threading.Thread(target=_interrupt_soon,
                              args=(armed, stop, np.random.default_rng(0)), daemon=True)
    killer.start()
    interrupted = 0
    try:
        for _ in range(12):
            try:
                armed.set()
                while True:
                    opt.step(grads)
            except KeyboardInterrupt:
                interrupted += 1
            while ref.step_count < opt.step_count:
                ref.step(grads)
            assert ref.step_count == opt.step_count
            assert snapshot(opt, params) == snapshot(ref, ref_params)
    finally:
        stop.set()
        killer.join()
    assert interrupted == 12
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
