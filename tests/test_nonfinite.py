"""The optimizers' nonfinite= option: "propagate" (torch's behaviour, the default), "skip"
(the step is not taken and counted) and "raise" (an error naming the parameters), for
every optimizer and backend; detection in the pre-pass kernel."""
import math

import numpy as np
import pytest

import fastopt
from fastopt._core import threads as _threads
from harness import BACKENDS, gradient, initial, snapshot
from test_clip import OPTIMIZERS, SHAPES, as_bytes, threads_restored  # noqa: F401

NAMES = [f"p{i}" for i in range(len(SHAPES))]


def poisoned(grads, step, value):
    """Put ``value`` into one gradient on the steps where ``step % 4 == 2``."""
    if step % 4 == 2:
        g = grads[step % 3 if grads[step % 3].size else 0]
        g.reshape(-1)[g.size // 2] = value
    return grads


def run(cls, backend, dtype, steps, *, bad=None, form="list", **options):
    """Parameters and optimizer after ``steps`` steps; with ``bad``, some gradients hold
    it (see poisoned); without, those steps are left out (so a run that skips them must
    end bitwise where this one does)."""
    params = initial(SHAPES, dtype)
    rng = np.random.default_rng(1)
    if form == "flat":
        flat = fastopt.flatten(dict(zip(NAMES, params)))
        opt = cls(flat, backend=backend, **options)
    elif form == "dict":
        opt = cls(dict(zip(NAMES, params)), backend=backend, **options)
    else:
        opt = cls(params, backend=backend, **options)
    for t in range(steps):
        grads = [gradient(rng, p.shape, dtype, t) for p in params]
        if t % 4 == 2 and bad is None:
            continue
        if bad is not None:
            poisoned(grads, t, bad)
        if form == "flat":
            for n, g in zip(NAMES, grads):
                flat.grads[n][...] = g
            opt.step()
        elif form == "dict":
            opt.step(dict(zip(NAMES, grads)))
        else:
            opt.step(grads)
    out = [flat[n].copy() for n in NAMES] if form == "flat" else params
    return out, opt


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype, bad", [(np.float32, np.nan), (np.float64, np.inf),
                                        (np.float32, -np.inf)], ids=["f32-nan", "f64-inf",
                                                                      "f32-neginf"])
def test_skip_is_as_if_the_step_never_happened(cls, backend, dtype, bad):
    skipped, opt = run(cls, backend, dtype, 11, bad=bad, nonfinite="skip")
    clean, ref = run(cls, backend, dtype, 11)
    assert as_bytes(skipped) == as_bytes(clean)
    assert opt.skipped_steps == 3 and opt.step_count == ref.step_count == 8
    assert snapshot(opt, skipped) == snapshot(ref, clean)
    assert opt.group_state == ref.group_state


@pytest.mark.parametrize("form", ["list", "dict", "flat"])
def test_skip_with_clipping_and_forms(form):
    skipped, opt = run(fastopt.AdamW, "cython", np.float32, 11, bad=np.nan, form=form,
                       nonfinite="skip", max_grad_norm=0.5)
    clean, _ = run(fastopt.AdamW, "cython", np.float32, 11, form=form, max_grad_norm=0.5)
    assert as_bytes(skipped) == as_bytes(clean) and opt.skipped_steps == 3


class CountingAdam(fastopt.Adam):
    """Adam with per-group scalar state advanced after each step (as NAdam's mu_product)."""

    def _initial_group_state(self, group):
        return {"count": 0.0}

    def _next_group_state(self, gi, group, step, gstate):
        return {"count": gstate["count"] + 1.0}


@pytest.mark.parametrize("mode", ["skip", "raise"])
def test_group_scalar_state_does_not_advance(mode):
    params = initial([(50,), (3,)], np.float32)
    opt = CountingAdam([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.1}],
                       nonfinite=mode)
    opt.step([np.ones(50, np.float32), np.ones(3, np.float32)])
    assert opt.group_state == [{"count": 1.0}, {"count": 1.0}]
    before = snapshot(opt, params)
    g = [np.ones(50, np.float32), np.array([1.0, np.inf, 0.0], np.float32)]
    if mode == "raise":
        with pytest.raises(FloatingPointError):
            opt.step(g)
    else:
        opt.step(g)
    assert opt.group_state == [{"count": 1.0}, {"count": 1.0}]
    assert snapshot(opt, params) == before and opt.step_count == 1


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("form", ["list", "dict", "flat"])
def test_raise_names_the_parameters_and_changes_nothing(backend, form):
    params = initial(SHAPES, np.float32)
    named = dict(zip(NAMES, params))
    if form == "flat":
        flat = fastopt.flatten(named)
        opt = fastopt.Adam(flat, nonfinite="raise", backend=backend)
        params = [flat[n] for n in NAMES]
    else:
        opt = fastopt.Adam(named if form == "dict" else params, nonfinite="raise",
                           backend=backend)
    rng = np.random.default_rng(0)

    def step(grads):
        if form == "flat":
            for n, g in zip(NAMES, grads):
                flat.grads[n][...] = g
            opt.step()
        else:
            opt.step(dict(zip(NAMES, grads)) if form == "dict" else grads)

    step([gradient(rng, p.shape, np.float32, 0) for p in params])
    before = snapshot(opt, params)
    grads = [gradient(rng, p.shape, np.float32, 1) for p in params]
    grads[0][60_000] = np.nan
    grads[3][2] = -np.inf
    label = ("'p0', 'p3'" if form != "list" else "#0, #3")
    with pytest.raises(fastopt.NonFiniteError, match=f"parameters {label}: step 2 was not "
                                                     f"taken") as info:
        step(grads)
    assert isinstance(info.value, FloatingPointError)
    assert snapshot(opt, params) == before and opt.step_count == 1 and opt.skipped_steps == 0
    grads[0][60_000] = 0.0
    with pytest.raises(FloatingPointError, match=r"parameter (#3|'p3'):"):
        step(grads)
    grads[3][2] = 0.0
    step(grads)
    assert opt.step_count == 2


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_propagate_is_the_default_and_the_plain_step(cls):
    """The default runs no pre-pass and lets NaN through, as torch does."""
    a, opt = run(cls, "cython", np.float32, 7, bad=np.nan)
    b, opt_b = run(cls, "cython", np.float32, 7, bad=np.nan, nonfinite="propagate")
    assert opt.nonfinite == "propagate" and opt._prepass is None
    assert as_bytes(a) == as_bytes(b)
    assert opt.step_count == 7 and opt.skipped_steps == 0
    if cls in (fastopt.Adam, fastopt.AdamW):
        assert any(np.isnan(p).any() for p in a)


def test_propagate_with_clipping_is_torchs_clip_then_step():
    """max_grad_norm with a NaN gradient: a NaN norm scales every gradient by NaN, as
    clip_grad_norm_ followed by a step does."""
    fused, _ = run(fastopt.Adam, "cython", np.float32, 4, bad=np.nan, max_grad_norm=1.0)
    params = initial(SHAPES, np.float32)
    opt = fastopt.Adam(params)
    rng = np.random.default_rng(1)
    for t in range(4):
        grads = poisoned([gradient(rng, p.shape, np.float32, t) for p in params], t, np.nan)
        fastopt.clip_grad_norm_(grads, 1.0)
        opt.step(grads)
    assert as_bytes(fused) == as_bytes(params)
    assert all(np.isnan(p).all() for p in params if p.size)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_overflow_is_not_nonfinite(backend):
    """Finite float64 gradients whose squares overflow are not skipped: the probe tells
    them from inf/NaN values.  The norm is inf, so max_grad_norm scales them by 0."""
    p = [np.ones(40_000), np.ones(3)]
    opt = fastopt.Adam(p, nonfinite="skip", backend=backend)
    g = [np.full(40_000, 1e200), np.ones(3)]
    opt.step(g)
    assert opt.skipped_steps == 0 and opt.step_count == 1 and opt.grad_norm == math.inf
    q = [np.ones(40_000), np.ones(3)]
    opt2 = fastopt.Adam(q, nonfinite="raise", max_grad_norm=1.0, backend=backend)
    opt2.step(g)
    assert (q[0] == 1.0).all() and (q[1] == 1.0).all()       # zero gradient, zero moments
    g[0][123] = np.inf
    with pytest.raises(FloatingPointError, match="#0"):
        opt2.step(g)


def test_skip_over_groups_and_dtypes():
    a = np.zeros(40_000, np.float32)
    b = np.zeros(30, np.float64)
    c = np.zeros(5, np.float32)
    opt = fastopt.Adam([{"params": {"a": a}}, {"params": {"b": b, "c": c}, "lr": 0.1}],
                       nonfinite="raise")
    with pytest.raises(FloatingPointError, match="parameter 'b'"):
        opt.step({"a": np.ones(40_000, np.float32), "b": np.full(30, np.nan),
                  "c": np.ones(5, np.float32)})
    opt.nonfinite = "skip"
    opt.step({"a": np.ones(40_000, np.float32), "b": np.ones(30),
              "c": np.array([0, 0, np.inf, 0, 0], np.float32)})
    assert opt.skipped_steps == 1 and not a.any() and not b.any() and not c.any()
    assert opt.grad_norm == math.inf


def test_skipped_steps_in_state_dict():
    _, opt = run(fastopt.Adam, "cython", np.float32, 7, bad=np.nan, nonfinite="skip")
    sd = opt.state_dict()
    assert sd["skipped_steps"] == 2
    params = initial(SHAPES, np.float32)
    fresh = fastopt.Adam(params, nonfinite="skip")
    fresh.load_state_dict(sd)
    assert fresh.skipped_steps == 2 and fresh.step_count == 5
    del sd["skipped_steps"]                       # a state_dict from before the option
    fresh.load_state_dict(sd)
    assert fresh.skipped_steps == 0
    sd["skipped_steps"] = -1
    with pytest.raises(ValueError, match="skipped_steps"):
        fresh.load_state_dict(sd)


def test_detection_independent_of_thread_count(threads_restored):
    _threads.set_parallel_threshold(0)
    results = []
    for n in (1, 2):
        fastopt.set_num_threads(n)
        out, opt = run(fastopt.Adam, "cython", np.float32, 11, bad=np.inf, nonfinite="skip",
                       max_grad_norm=2.0)
        results.append((as_bytes(out), opt.skipped_steps, opt.grad_norm))
    assert results[0] == results[1]
