"""Gradient clipping (fastopt.clip_grad_norm_, clip_grad_value_) against torch.nn.utils, across
backends, thread counts and input forms; and the optimizers' fused max_grad_norm option,
which must equal clip_grad_norm_ followed by a plain step, bitwise."""
import math

import numpy as np
import pytest

import fastopt
from fastopt._core import threads as _threads
from fastopt.optimizers.table import OPTIMIZERS as TABLE
from harness import BACKENDS, DTYPES, gradient, initial, snapshot

# Every optimizer of the table (test_optimizers.py checks it has every exported class):
# the fused options are the base class's, so each one must accept them and behave the same.
OPTIMIZERS = [getattr(fastopt, info.cls) for info in TABLE]

SHAPES = [(70_001,), (33, 40), (0,), (7,), (5, 1, 3)]
NORM_TYPES = [2.0, 1.0, math.inf, 3.0, 0.5, "inf", 2]


def grads_for(dtype, seed=0, shapes=SHAPES, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * scale).astype(dtype) for s in shapes]


def torch_clip(grads, max_norm, norm_type):
    torch = pytest.importorskip("torch")
    params = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype))
        p.grad = torch.from_numpy(g.copy())
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    return float(total), [p.grad.numpy() for p in params]


def as_bytes(arrays):
    return b"".join(a.tobytes() for a in arrays)


@pytest.fixture
def threads_restored():
    """Lets a test force threads onto small arrays; puts everything back afterwards."""
    n, threshold = fastopt.get_num_threads(), _threads.parallel_threshold()
    yield
    fastopt.set_num_threads(None)
    _threads.set_parallel_threshold(threshold)
    assert fastopt.get_num_threads() == n


# ---- clip_grad_norm_ -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=str)
@pytest.mark.parametrize("max_norm", [0.25, 1e9])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    shapes = [s for s in SHAPES if np.prod(s) > 0]   # torch refuses an inf norm of an empty grad
    grads = grads_for(dtype, shapes=shapes)
    before = [g.copy() for g in grads]
    total = fastopt.clip_grad_norm_(grads, max_norm, norm_type)
    theirs, clipped = torch_clip(before, max_norm, norm_type)
    assert type(total) is float
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert total == pytest.approx(theirs, rel=rtol)
    if max_norm > total:
        assert as_bytes(grads) == as_bytes(before)       # coefficient 1: not even rounded
    for ours, ref in zip(grads, clipped):
        np.testing.assert_allclose(ours, ref, rtol=4 * rtol, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
def test_backends_agree_bitwise(dtype, norm_type):
    results = []
    for backend in BACKENDS:
        grads = grads_for(dtype)
        total = fastopt.clip_grad_norm_(grads, 0.5, norm_type, backend=backend)
        results.append((total, as_bytes(grads)))
    assert results[0] == results[1] == results[2]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
def test_norm_independent_of_thread_count(backend, norm_type, threads_restored):
    _threads.set_parallel_threshold(0)
    results = []
    for n in (1, 2):
        fastopt.set_num_threads(n)
        grads = grads_for(np.float32, shapes=[(200_003,), (40_000,)])
        total = fastopt.clip_grad_norm_(grads, 0.5, norm_type, backend=backend)
        results.append((total, as_bytes(grads)))
    assert results[0] == results[1]


def test_norm_independent_of_array_order():
    """Partials are combined with an exactly rounded sum: the order does not matter."""
    grads = grads_for(np.float64, shapes=[(100_000,), (3,), (40_000,)], scale=1e3)
    a = fastopt.get_total_norm(grads)
    b = fastopt.get_total_norm(grads[::-1])
    assert a == b


@pytest.mark.parametrize("backend", BACKENDS)
def test_forms(backend):
    names = [f"g{i}" for i in range(len(SHAPES))]
    ref = grads_for(np.float32)
    expected = fastopt.clip_grad_norm_([g.copy() for g in ref], 0.5, backend=backend)

    flat = fastopt.flatten({n: np.zeros_like(g) for n, g in zip(names, ref)})
    for n, g in zip(names, ref):
        flat.grads[n][...] = g
    assert fastopt.clip_grad_norm_(flat, 0.5, backend=backend) == expected
    clipped_list = [g.copy() for g in ref]
    fastopt.clip_grad_norm_(clipped_list, 0.5, backend=backend)
    assert as_bytes([flat.grads[n] for n in names]) == as_bytes(clipped_list)
    padding = np.ones(flat.grad.size, bool)
    for n in names:
        off = flat.offsets[n]
        padding[off:off + flat.grads[n].size] = False
    assert not flat.grad[padding].any()

    for form in (lambda gs: dict(zip(names, gs)), tuple, lambda gs: (g for g in gs)):
        gs = [g.copy() for g in ref]
        assert fastopt.clip_grad_norm_(form(gs), 0.5, backend=backend) == expected
        assert as_bytes(gs) == as_bytes(clipped_list)
    flat2 = fastopt.flatten({n: np.zeros_like(g) for n, g in zip(names, ref)})
    for n, g in zip(names, ref):
        flat2.grads[n][...] = g
    assert fastopt.clip_grad_norm_(flat2.grads, 0.5, backend=backend) == expected

    single = ref[0].copy()
    total = fastopt.clip_grad_norm_(single, 0.5, backend=backend)
    assert total == fastopt.get_total_norm([ref[0]], backend=backend)


def test_mixed_dtypes_and_empty():
    grads = grads_for(np.float32, shapes=[(1000,)]) + grads_for(np.float64, shapes=[(500,)])
    ref = [g.astype(np.float64) for g in grads]
    total = fastopt.clip_grad_norm_(grads, 1.0)
    assert total == pytest.approx(math.sqrt(sum(float((r * r).sum()) for r in ref)), rel=1e-12)
    assert grads[0].dtype == np.float32 and grads[1].dtype == np.float64
    assert fastopt.clip_grad_norm_([], 1.0) == 0.0
    assert fastopt.clip_grad_norm_([np.zeros(0, np.float32)], 1.0) == 0.0
    zeros = [np.zeros(10, np.float32)]
    assert fastopt.clip_grad_norm_(zeros, 1.0) == 0.0 and not zeros[0].any()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
def test_error_if_nonfinite(backend, bad, norm_type):
    grads = grads_for(np.float32, shapes=[(100,), (50_000,), (7,)])
    grads[1][40_000] = bad
    names = {"a": grads[0], "b": grads[1], "c": grads[2]}
    before = as_bytes(grads)
    with pytest.raises(fastopt.NonFiniteError, match="non-finite.*gradient 'b'") as info:
        fastopt.clip_grad_norm_(names, 1.0, norm_type, error_if_nonfinite=True, backend=backend)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, FloatingPointError)
    assert as_bytes(grads) == before
    with pytest.raises(RuntimeError, match="error_if_nonfinite=False"):
        fastopt.get_total_norm(names, norm_type, error_if_nonfinite=True, backend=backend)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_norm_scales_like_torch(bad):
    grads = grads_for(np.float32, shapes=[(100,), (30,)])
    grads[1][3] = bad
    before = [g.copy() for g in grads]
    total = fastopt.clip_grad_norm_(grads, 1.0)
    theirs, clipped = torch_clip(before, 1.0, 2.0)
    assert math.isnan(total) if math.isnan(theirs) else total == theirs
    for ours, ref in zip(grads, clipped):
        np.testing.assert_array_equal(ours, ref)          # 0 * finite, NaN for the rest


def test_float64_overflow_is_inf_not_error_free():
    """Finite float64 gradients whose squares overflow: the 2-norm is inf (as torch's)."""
    grads = [np.full(4, 1e200)]
    assert fastopt.get_total_norm(grads) == math.inf
    with pytest.raises(fastopt.NonFiniteError):
        fastopt.clip_grad_norm_(grads, 1.0, error_if_nonfinite=True)
    assert (grads[0] == 1e200).all()


@pytest.mark.parametrize("call, error", [
    (lambda g: fastopt.clip_grad_norm_(g, -1.0), ValueError),
    (lambda g: fastopt.clip_grad_norm_(g, float("nan")), ValueError),
    (lambda g: fastopt.clip_grad_norm_(g, "1"), TypeError),
    (lambda g: fastopt.clip_grad_norm_(g, 1.0, norm_type=0), ValueError),
    (lambda g: fastopt.clip_grad_norm_(g, 1.0, norm_type=-2.0), ValueError),
    (lambda g: fastopt.clip_grad_norm_(g, 1.0, norm_type=float("nan")), ValueError),
    (lambda g: fastopt.clip_grad_norm_(g, 1.0, norm_type="two"), TypeError),
    (lambda g: fastopt.clip_grad_norm_(g, 1.0, norm_type=True), TypeError),
    (lambda g: fastopt.clip_grad_norm_(g + [np.ones(3, np.int64)], 0.1), TypeError),
    (lambda g: fastopt.clip_grad_norm_(g + [np.ones(3, np.float16)], 0.1), TypeError),
    (lambda g: fastopt.clip_grad_norm_(g + [[1.0, 2.0]], 0.1), TypeError),
    (lambda g: fastopt.clip_grad_norm_(g + [np.ones((4, 4), np.float32)[:, 1]], 0.1), ValueError),
    (lambda g: fastopt.clip_grad_norm_(g + [g[0]], 0.1), ValueError),
    (lambda g: fastopt.clip_grad_norm_(g + [g[0][:10]], 0.1), ValueError),
    (lambda g: fastopt.clip_grad_norm_(42, 0.1), TypeError),
    (lambda g: fastopt.clip_grad_value_(g, -0.5), ValueError),
    (lambda g: fastopt.clip_grad_value_(g, float("nan")), ValueError),
    (lambda g: fastopt.clip_grad_value_(g + [np.ones(3, np.int32)], 0.1), TypeError),
], ids=lambda x: "" if callable(x) else x.__name__)
def test_refusals_change_nothing(call, error):
    grads = grads_for(np.float32, shapes=[(1000,), (7,)], scale=10.0)
    before = as_bytes(grads)
    with pytest.raises(error):
        call(grads)
    assert as_bytes(grads) == before


def test_read_only_refused():
    g = np.ones(10, np.float32)
    g.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastopt.clip_grad_norm_([g], 0.1)


# ---- clip_grad_value_ ----------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clip_value", [0.0, 0.3, 2.5, math.inf])
def test_clip_grad_value_matches_torch_bitwise(backend, dtype, clip_value):
    torch = pytest.importorskip("torch")
    grads = grads_for(dtype, scale=3.0)
    grads[1][0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    ref = [torch.from_numpy(g.copy()) for g in grads]
    params = []
    for r in ref:
        p = torch.nn.Parameter(torch.zeros_like(r))
        p.grad = r
        params.append(p)
    torch.nn.utils.clip_grad_value_(params, clip_value)
    assert fastopt.clip_grad_value_(grads, clip_value, backend=backend) is None
    for ours, theirs in zip(grads, ref):
        assert ours.tobytes() == theirs.numpy().tobytes()


def test_get_total_norm_and_clip_grads_with_norm():
    torch = pytest.importorskip("torch")
    grads = grads_for(np.float64)
    total = fastopt.get_total_norm(grads, 2.0)
    t_grads = [torch.from_numpy(g.copy()) for g in grads]
    assert total == pytest.approx(float(torch.nn.utils.get_total_norm(t_grads, 2.0)), rel=1e-12)
    before = [g.copy() for g in grads]
    fastopt.clip_grads_with_norm_(grads, 1.0, total)
    both = [g.copy() for g in before]
    fastopt.clip_grad_norm_(both, 1.0)
    assert as_bytes(grads) == as_bytes(both)


# ---- the fused option: max_grad_norm= ------------------------------------------------------

def _run(cls, backend, dtype, steps, *, fused, max_norm, form="list", **kwargs):
    """Parameters after ``steps`` steps, clipping fused (max_grad_norm=) or beforehand
    (clip_grad_norm_), with the gradient arrays checked to be left alone when fused."""
    params = initial(SHAPES, dtype)
    rng = np.random.default_rng(1)
    extra = dict(max_grad_norm=max_norm) if fused else {}
    if form == "flat":
        flat = fastopt.flatten({f"p{i}": p for i, p in enumerate(params)})
        opt = cls(flat, backend=backend, **extra, **kwargs)
    else:
        opt = cls(params, backend=backend, **extra, **kwargs)
    norms = []
    for t in range(steps):
        grads = [gradient(rng, p.shape, dtype, t) * dtype(40.0) for p in params]
        if form == "flat":
            for i, g in enumerate(grads):
                flat.grads[f"p{i}"][...] = g
            grads = [flat.grads[f"p{i}"] for i in range(len(params))]
        if fused:
            before = as_bytes(grads)
            opt.step(None if form == "flat" else grads)
            assert as_bytes(grads) == before           # the gradient is read, not rewritten
            norms.append(opt.grad_norm)
        else:
            norms.append(fastopt.clip_grad_norm_(grads, max_norm, backend=backend))
            opt.step(None if form == "flat" else grads)
    out = [flat[f"p{i}"].copy() for i in range(len(params))] if form == "flat" else params
    return out, norms


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_clipping_is_clip_then_step_bitwise(cls, backend, dtype):
    fused, fused_norms = _run(cls, backend, dtype, 12, fused=True, max_norm=1.0)
    plain, plain_norms = _run(cls, backend, dtype, 12, fused=False, max_norm=1.0)
    assert fused_norms == plain_norms
    assert as_bytes(fused) == as_bytes(plain)


@pytest.mark.parametrize("form", ["list", "flat"])
def test_fused_clipping_maximize_and_forms(form):
    fused, _ = _run(fastopt.Adam, "cython", np.float32, 10, fused=True, max_norm=0.3,
                    form=form, maximize=True, weight_decay=0.1)
    plain, _ = _run(fastopt.Adam, "cython", np.float32, 10, fused=False, max_norm=0.3,
                    form=form, maximize=True, weight_decay=0.1)
    assert as_bytes(fused) == as_bytes(plain)


def test_fused_norm_is_global_over_groups_and_dtypes():
    a = np.ones(50_000, np.float32)
    b = np.ones(300, np.float64)
    c = np.ones(20, np.float32)
    opt = fastopt.Adam([{"params": [a]}, {"params": [b, c], "lr": 0.1}], max_grad_norm=1.0)
    grads = grads_for(np.float32, shapes=[(50_000,)]) + grads_for(np.float64, shapes=[(300,)]) \
        + grads_for(np.float32, seed=3, shapes=[(20,)])
    opt.step(grads)
    assert opt.grad_norm == fastopt.get_total_norm(grads)


def test_fused_norm_independent_of_thread_count(threads_restored):
    _threads.set_parallel_threshold(0)
    results = []
    for n in (1, 2):
        fastopt.set_num_threads(n)
        fused, norms = _run(fastopt.Adam, "cython", np.float32, 5, fused=True, max_norm=1.0)
        results.append((norms, as_bytes(fused)))
    assert results[0] == results[1]


def test_large_max_grad_norm_is_a_plain_step():
    fused, _ = _run(fastopt.Adam, "cython", np.float32, 8, fused=True, max_norm=1e30)
    params = initial(SHAPES, np.float32)
    opt = fastopt.Adam(params)
    rng = np.random.default_rng(1)
    for t in range(8):
        opt.step([gradient(rng, p.shape, np.float32, t) * np.float32(40.0) for p in params])
    assert as_bytes(fused) == as_bytes(params)


def test_options_off_run_no_prepass():
    """With both options off the step is the plain one: no pre-pass kernel is even bound."""
    opt = fastopt.Adam([np.zeros(10, np.float32)])
    assert opt.max_grad_norm is None and opt.nonfinite == "propagate"
    assert opt._prepass is None and not opt._guarded
    opt.step([np.ones(10, np.float32)])
    assert opt._prepass is None and opt.grad_norm is None


def test_options_can_change_between_steps():
    p = [np.zeros(1000, np.float32)]
    opt = fastopt.Adam(p, lr=0.1)
    g = [np.full(1000, 3.0, np.float32)]
    opt.step(g)
    opt.max_grad_norm = 1.0
    opt.step(g)
    assert opt.grad_norm == pytest.approx(3.0 * math.sqrt(1000))
    opt.max_grad_norm = None
    opt.step(g)
    assert opt.grad_norm is None and opt.step_count == 3
    with pytest.raises(ValueError):
        opt.max_grad_norm = -1.0
    with pytest.raises(TypeError):
        opt.max_grad_norm = "1"
    with pytest.raises(ValueError):
        opt.nonfinite = "ignore"
    assert opt.max_grad_norm is None and opt.nonfinite == "propagate"


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_every_optimizer_takes_the_options(cls):
    p = [np.zeros(3, np.float32)]
    opt = cls(p, max_grad_norm=2.0, nonfinite="skip")
    assert opt.max_grad_norm == 2.0 and opt.nonfinite == "skip"
    with pytest.raises(ValueError, match="max_grad_norm"):
        cls(p, max_grad_norm=-1.0)
    with pytest.raises(ValueError, match="nonfinite"):
        cls(p, nonfinite="ignore")
    with pytest.raises(TypeError, match=f"{cls.__name__} got unexpected keyword.*'max_norm'"):
        cls(p, max_norm=1.0)


def test_fused_step_refusal_changes_nothing():
    params = initial([(100,), (7,)], np.float32)
    opt = fastopt.Adam(params, max_grad_norm=1.0)
    opt.step([np.ones(100, np.float32), np.ones(7, np.float32)])
    before = snapshot(opt, params)
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr"):
        opt.step([np.ones(100, np.float32), np.ones(7, np.float32)])
    assert snapshot(opt, params) == before


# ---- the reductions, property-based ---------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

from fastopt._core.plan import CHUNK  # noqa: E402


@st.composite
def gradient_lists(draw):
    dtype = draw(st.sampled_from(DTYPES))
    sizes = draw(st.lists(st.sampled_from([0, 1, 15, 16, 17, 33, 100, CHUNK - 1, CHUNK + 17]),
                          min_size=1, max_size=3))
    width = 32 if dtype == np.float32 else 64
    values = st.floats(width=width, allow_nan=True, allow_infinity=True)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    arrays = []
    for n in sizes:
        a = (rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)).astype(dtype)
        for i in draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=3)) if n else []:
            a[i] = draw(values)
        arrays.append(a)
    return arrays


@settings(max_examples=40, deadline=None)
@given(gradient_lists(), st.sampled_from([2.0, 1.0, math.inf, 3.0]))
def test_reductions_agree_across_backends(arrays, norm_type):
    norms = [fastopt.get_total_norm(arrays, norm_type, backend=b) for b in BACKENDS]
    assert all(n == norms[0] or (math.isnan(n) and math.isnan(norms[0])) for n in norms)
    finite = [a for a in arrays if np.isfinite(a).all()]
    if len(finite) == len(arrays) and norm_type == math.inf:
        assert norms[0] == max((float(np.abs(a).max()) for a in arrays if a.size), default=0.0)
    if len(finite) < len(arrays):
        assert not math.isfinite(norms[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_of_squares_partials_bitwise_across_backends_and_threads(dtype, threads_restored):
    """The per-chunk partial sums themselves (not only the exactly rounded total) are the
    same bits for every backend and thread count, also where the Cython driver reads four
    chunks at once (plans of 8 chunks or more, chunks of unequal lengths at the tensors'
    ends, a group of four spanning several tensors, and the chunks left over)."""
    from fastopt._core import backend as _backend
    from fastopt._core.kernel import SUMSQ
    from fastopt._core.plan import CHUNK
    from fastopt.clip import _Layout

    sizes = [3 * CHUNK + 5, 17, 5 * CHUNK - 3, 1, 2 * CHUNK, CHUNK + 16, 7]
    rng = np.random.default_rng(5)
    grads = [(rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)).astype(dtype)
             for n in sizes]
    grads[2][CHUNK + 3] = np.inf          # a non-finite chunk: its probe is NaN
    _threads.set_parallel_threshold(0)
    results = []
    for name in BACKENDS:
        for threads in (1, 2):
            fastopt.set_num_threads(threads)
            layout = _Layout(_backend.load(name)[1], grads)
            layout.point_at(grads)
            outs = layout.run(SUMSQ)
            assert sum(len(o) for o in outs) >= 12
            results.append((name, threads, [o.tobytes() for o in outs]))
    for name, threads, got in results[1:]:
        assert got == results[0][2], f"{name} with {threads} thread(s) differs from cython"
