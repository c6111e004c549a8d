"""State stored in bfloat16 and in 8-bit blocks (state_precision=): every backend bitwise
against the NumPy reference for every optimizer and option set, both dtypes, every
parameter form and thread count; resume and conversion through state_dict; refusals; the
rounding against ml_dtypes and bitsandbytes; 8-bit state tracking float32 state."""
import numpy as np
import pytest

import fastopt
from fastopt._core import storage
from fastopt.optimizers.table import OPTIMIZERS

from harness import Run, deal, gradients

STORED = ["bfloat16", "8bit"]
MOMENTS = [info for info in OPTIMIZERS if getattr(fastopt, info.cls).state_is_moments]
# Two tensors above the 8-bit threshold (one not a whole number of blocks), one below.
SHAPES = [(70, 90), (5000,), (33,)]
STEPS = 6


def stored_options(info):
    """The option sets that state in bfloat16 or 8 bits takes (centered RMSprop refuses:
    test_refused)."""
    return [o for o in info.option_sets if not (info.cls == "RMSprop" and o.get("centered"))]


def entries(opt):
    """Every state_dict entry's bytes, by parameter and buffer (8-bit: codes, absmax)."""
    out = {}
    for key, bufs in opt.state_dict()["state"].items():
        for name, e in bufs.items():
            parts = [e["codes"], e["absmax"]] if isinstance(e, dict) else [e]
            out[key, name] = b"".join(np.ascontiguousarray(x).view(np.uint8).tobytes()
                                      for x in parts)
    return out


def trained(cls, kwargs, backend, dtype, form="list", shapes=SHAPES, steps=STEPS, groups=None):
    r = Run(cls, kwargs, backend, dtype, shapes, form, groups=groups)
    for gs in gradients(shapes, dtype, steps):
        r.step(gs)
    return r


def assert_same(a, b, what):
    for x, y in zip(a.params, b.params, strict=True):
        assert x.tobytes() == y.tobytes(), f"{what}: parameters differ"
    ea, eb = entries(a.opt), entries(b.opt)
    assert ea.keys() == eb.keys(), what
    for k in ea:
        assert ea[k] == eb[k], f"{what}: state {k} differs"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("precision", STORED)
@pytest.mark.parametrize("info", MOMENTS, ids=lambda i: i.cls)
def test_backends_bitwise(info, precision, dtype):
    cls = getattr(fastopt, info.cls)
    for options in stored_options(info):
        kwargs = dict(options, state_precision=precision, min_8bit_size=1000)
        ref = trained(cls, kwargs, "numpy", dtype)
        for backend in ("cython", "numba"):
            assert_same(trained(cls, kwargs, backend, dtype), ref,
                        f"{info.cls} {options} {precision} {backend}")


@pytest.mark.parametrize("precision", STORED)
@pytest.mark.parametrize("form", ["dict", "flat", "groups"])
def test_parameter_forms(form, precision):
    groups = [{"params": [0, 2]}, {"params": [1], "lr": 0.05}]
    for info in MOMENTS:
        cls = getattr(fastopt, info.cls)
        kwargs = dict(stored_options(info)[0], state_precision=precision, min_8bit_size=1000)
        ref = trained(cls, kwargs, "numpy", np.float32, form="groups" if form == "groups"
                      else "list", groups=groups if form == "groups" else None)
        ours = trained(cls, kwargs, "cython", np.float32, form=form,
                       groups=groups if form == "groups" else None)
        for x, y in zip(ours.params, ref.params):
            assert x.tobytes() == y.tobytes(), (info.cls, form)


@pytest.mark.parametrize("precision", STORED)
def test_thread_count_independent(precision, threaded):
    shapes = [(40_000,), (5000,), (100,)]
    for name in ("Adam", "Lamb", "SGD"):
        info = next(i for i in OPTIMIZERS if i.cls == name)
        cls = getattr(fastopt, name)
        kwargs = dict(info.full, state_precision=precision, min_8bit_size=1000)
        results = []
        for n in (1, 2):
            fastopt.set_num_threads(n)
            results.append(trained(cls, kwargs, "cython", np.float32, shapes=shapes, steps=3))
        assert_same(results[0], results[1], f"{name} {precision} 1 vs 2 threads")


def test_small_tensors_keep_full_state():
    p = {"big": np.ones(5000, np.float32), "small": np.ones(100, np.float32)}
    opt = fastopt.Adam(p, state_precision="8bit")
    st = opt.state_dict()["state"]
    assert isinstance(st["big"]["exp_avg"], dict)
    assert isinstance(st["small"]["exp_avg"], np.ndarray)
    assert st["small"]["exp_avg"].dtype == np.float32
    # codes (5000 bytes) and 20 float32 scales per buffer, plus the small one's floats
    assert opt.state_nbytes == 2 * (5008 + 20 * 4) + 2 * 112 * 4
    assert fastopt.Adam(p, state_precision="8bit", min_8bit_size=0).state_nbytes \
        == 2 * (5008 + 20 * 4) + 2 * (112 + 4)
    assert fastopt.Adam(p).state_nbytes == 2 * (5008 + 112) * 4
    assert fastopt.Adam(p, state_precision="bfloat16").state_nbytes == 2 * (5008 + 112) * 2


@pytest.mark.parametrize("precision", STORED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resume_bitwise(precision, dtype):
    for info in MOMENTS:
        cls = getattr(fastopt, info.cls)
        kwargs = dict(stored_options(info)[0], state_precision=precision, min_8bit_size=1000)
        whole = trained(cls, kwargs, "cython", dtype, steps=2 * STEPS)
        first = trained(cls, kwargs, "cython", dtype, steps=STEPS)
        second = Run(cls, kwargs, "cython", dtype, SHAPES)
        for p, q in zip(second.params, first.params):
            p[...] = q
        second.opt.load_state_dict(first.opt.state_dict())
        for gs in list(gradients(SHAPES, dtype, 2 * STEPS))[STEPS:]:
            second.step(gs)
        assert_same(second, whole, f"{info.cls} {precision} resumed")


def test_state_views():
    p = {"w": np.ones(5000, np.float32)}
    opt = fastopt.Adam(p, lr=0.1, state_precision="bfloat16")
    opt.step({"w": np.full(5000, 0.5, np.float32)})
    m = opt.state["w"]["exp_avg"]
    assert m.dtype.name == "bfloat16" and m.shape == (5000,)
    assert float(m[0]) == pytest.approx(0.05, rel=2 ** -8)
    m[...] = 0                                   # a live view: the next step starts from it
    opt8 = fastopt.Adam(p, lr=0.1, state_precision="8bit")
    opt8.step({"w": np.full(5000, 0.5, np.float32)})
    v = opt8.state["w"]["exp_avg"]
    assert v.dtype == np.float32 and not v.flags.writeable
    assert np.all(v == np.float32(0.05))         # the block's absmax, exactly
    with pytest.raises(ValueError):
        v[0] = 1


def test_conversion_between_precisions():
    rng = np.random.default_rng(1)
    w = rng.standard_normal(6000).astype(np.float32)
    full = fastopt.Adam({"w": w.copy()}, lr=0.01)
    for _ in range(3):
        full.step({"w": rng.standard_normal(6000).astype(np.float32)})
    sd = full.state_dict()
    for precision, tol in (("bfloat16", 2 ** -8), ("8bit", 0.02)):
        opt = fastopt.Adam({"w": w.copy()}, lr=0.01, state_precision=precision)
        opt.load_state_dict(sd)
        for name in ("exp_avg", "exp_avg_sq"):
            src = sd["state"]["w"][name]
            got = opt.state["w"][name].astype(np.float32)
            if precision == "bfloat16":
                np.testing.assert_allclose(got, src, rtol=tol)
            else:
                blocks = np.repeat(np.maximum.reduceat(np.abs(src), np.arange(0, 6000, 256)),
                                   256)[:6000]
                assert np.all(np.abs(got - src) <= tol * blocks), name
        back = fastopt.Adam({"w": w.copy()}, lr=0.01)
        back.load_state_dict(opt.state_dict())       # and back to full precision
        for name in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(back.state["w"][name],
                                          opt.state["w"][name].astype(np.float32))


def test_refused():
    p = [np.zeros(10, np.float32)]
    for bad in ("fp16", "float32", None, 8):
        with pytest.raises(ValueError, match="state_precision must be one of"):
            fastopt.Adam(p, state_precision=bad)
    for bad in (-1, 1.5, True, "4096"):
        with pytest.raises(ValueError, match="min_8bit_size"):
            fastopt.Adam(p, state_precision="8bit", min_8bit_size=bad)
    with pytest.raises(ValueError, match="Rprop's state is not moving averages"):
        fastopt.Rprop(p, state_precision="8bit")
    for precision in STORED:
        with pytest.raises(ValueError, match="centered=True needs state_precision='full'"):
            fastopt.RMSprop(p, centered=True, state_precision=precision)
        opt = fastopt.RMSprop(p, state_precision=precision)
        before = (len(opt.param_groups), opt.state_nbytes, opt.state_dict()["param_groups"])
        with pytest.raises(ValueError, match="centered=True needs"):
            opt.add_param_group({"params": [np.zeros(3, np.float32)], "centered": True})
        assert (len(opt.param_groups), opt.state_nbytes,
                opt.state_dict()["param_groups"]) == before
        opt.step([np.ones(10, np.float32)])


def test_refused_load_changes_nothing():
    rng = np.random.default_rng(2)
    w = rng.standard_normal(5000).astype(np.float32)
    opt = fastopt.Adam({"w": w}, state_precision="8bit")
    opt.step({"w": rng.standard_normal(5000).astype(np.float32)})
    before = (entries(opt), w.tobytes(), opt.step_count)
    good = opt.state_dict()
    for change, match in (
            (lambda e: e.update(codes=e["codes"][:10]), "codes must be a uint8 array"),
            (lambda e: e.update(codes=e["codes"].astype(np.int16)), "codes must be a uint8"),
            (lambda e: e.update(absmax=e["absmax"][:3]), "absmax must be a float32 array"),
            (lambda e: e.pop("absmax"), "must hold codes and absmax")):
        sd = opt.state_dict()
        sd["step"] = 7
        change(sd["state"]["w"]["exp_avg"])
        with pytest.raises(ValueError, match=match):
            opt.load_state_dict(sd)
        assert (entries(opt), w.tobytes(), opt.step_count) == before
    opt.load_state_dict(good)
    assert entries(opt) == before[0]


def test_add_param_group_keeps_stored_state():
    rng = np.random.default_rng(3)
    a = rng.standard_normal(5000).astype(np.float32)
    opt = fastopt.Adam([a], state_precision="8bit")
    opt.step([rng.standard_normal(5000).astype(np.float32)])
    before = entries(opt)
    opt.add_param_group({"params": [np.zeros(6000, np.float32)]})
    after = entries(opt)
    assert all(after[k] == v for k, v in before.items())


def test_bfloat16_rounding_matches_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(4)
    x = np.concatenate([
        rng.standard_normal(100_000).astype(np.float32),
        # exact ties at every exponent: a bfloat16 value plus half its last place
        ((np.arange(1, 1000, dtype=np.uint32) << 16) | 0x8000).view(np.float32),
        np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 3.4e38, -3.4e38, 1e-40]),
    ])
    ours = storage.to_bfloat16_bits(x)
    theirs = x.astype(ml_dtypes.bfloat16).view(np.uint16)
    assert np.array_equal(ours, theirs)


def test_bfloat16_rounds_float64_once():
    """From float64, one rounding to nearest even: checked against the two bfloat16
    neighbours in exact arithmetic (ml_dtypes rounds through float32, twice)."""
    from fractions import Fraction
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.standard_normal(2000) * 10.0 ** rng.integers(-30, 30, 2000),
                        [1 + 2 ** -8 + 2 ** -30, -(1 + 2 ** -8 + 2 ** -30), 1 + 2 ** -8,
                         1 + 3 * 2 ** -8]])
    bits = storage.to_bfloat16_bits(x)
    for xi, b in zip(x.tolist(), bits.tolist()):
        lo = int(np.float32(xi).view(np.uint32)) >> 16
        cands = [c for c in (lo - 1, lo, lo + 1)]
        vals = [Fraction(float(np.uint32(c << 16).view(np.float32))) for c in cands]
        dist = [abs(v - Fraction(xi)) for v in vals]
        best = min(dist)
        winners = [c for c, d in zip(cands, dist) if d == best]
        want = winners[0] if len(winners) == 1 else next(c for c in winners if c % 2 == 0)
        assert b == want, xi


def test_map_matches_bitsandbytes():
    F = pytest.importorskip("bitsandbytes.functional")
    for signed in (True, False):
        theirs = F.create_dynamic_map(signed=signed).numpy()
        assert np.array_equal(storage.dynamic_map(signed), theirs)


@pytest.mark.parametrize("backend", ["cython", "numba"])
def test_compiled_encoder_is_nearest_midpoint(backend):
    """The compiled encoder (a bucket table and one comparison, or a binary search in
    registers) against searchsorted on the midpoints: on every midpoint, its float32
    neighbours, every map value and random values.  Each block holds 255 of them and a 1 (its absmax), so that r = x; the state
    after one step is the gradient (SGD's momentum buffer) or its square (Adagrad)."""
    rng = np.random.default_rng(6)
    for signed in (True, False):
        m = storage.quantization_map(signed)
        x = np.concatenate([m.midpoints, np.nextafter(m.midpoints, np.float32(2)),
                            np.nextafter(m.midpoints, np.float32(-2)), m.values,
                            rng.uniform(-1, 1, 50_000).astype(np.float32),
                            (rng.uniform(-1, 1, 5000) * 1e-5).astype(np.float32)])
        x = np.clip(x, -1, 1) if signed else np.sqrt(np.clip(x, 0, 1)).astype(np.float32)
        per = storage.BLOCK - 1
        x = np.concatenate([x, np.zeros(-x.size % per, np.float32)]).reshape(-1, per)
        g = np.concatenate([x, np.ones((x.shape[0], 1), np.float32)], axis=1).ravel()
        if signed:
            opt = fastopt.SGD([np.zeros(g.size, np.float32)], lr=0.0, momentum=0.9,
                              state_precision="8bit", backend=backend)
            name, r = "momentum_buffer", g
        else:
            opt = fastopt.Adagrad([np.zeros(g.size, np.float32)], lr=0.0,
                                  state_precision="8bit", backend=backend)
            name, r = "sum", g * g
        opt.step([g])
        codes = opt.state_dict()["state"][0][name]["codes"]
        nearest = np.searchsorted(m.midpoints, r, side="left")
        if not signed:                  # a positive second moment never rounds to 0
            nearest = np.where(r > 0, np.maximum(nearest, 1), nearest)
        assert np.array_equal(codes, nearest), signed


@pytest.mark.parametrize("backend", ["cython", "numba"])
def test_8bit_tracks_float32(backend):
    """lr = 0, so both runs see the same gradients: the 8-bit moments follow the float32
    ones within the error the quantization allows.  Each step's encode errs by at most
    half the map's widest gap (0.9/64 signed, 0.9/128 unsigned) times the block's absmax,
    and that error then decays by beta per step: |m8 - m32| <= max_t(err_t) / (1 - beta)."""
    rng = np.random.default_rng(7)
    n, steps, betas = 4096, 1000, (0.9, 0.99)
    full = fastopt.Adam([np.zeros(n, np.float32)], lr=0.0, betas=betas, backend=backend)
    q = fastopt.Adam([np.zeros(n, np.float32)], lr=0.0, betas=betas, backend=backend,
                     state_precision="8bit")
    worst = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
    bound = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
    half_gap = {"exp_avg": 0.9 / 64 / 2, "exp_avg_sq": 0.9 / 128 / 2}
    beta = {"exp_avg": betas[0], "exp_avg_sq": betas[1]}
    for t in range(steps):
        g = (rng.standard_normal(n) * (1 + 0.5 * np.sin(t / 50))).astype(np.float32)
        full.step([g])
        q.step([g])
        for name in worst:
            e = q.state_dict()["state"][0][name]
            err = half_gap[name] * float(e["absmax"].max()) * 1.0001
            bound[name] = max(bound[name], err / (1 - beta[name]))
            diff = np.abs(q.state[0][name].astype(np.float64) - full.state[0][name])
            worst[name] = max(worst[name], float(diff.max()))
    for name in worst:
        assert worst[name] <= bound[name], (name, worst[name], bound[name])


def test_against_bitsandbytes_adam8bit():
    """bitsandbytes' CPU Adam8bit on the same gradients: after one step from zero state the
    scales are equal and the codes differ only where ours is the nearer value
    (bitsandbytes' CPU quantizer looks codes up in a 65536-bin table, not the nearest);
    after 100 steps both are as far from float32 Adam as each other."""
    torch = pytest.importorskip("torch")
    bnb = pytest.importorskip("bitsandbytes")
    rng = np.random.default_rng(8)
    n = 100_000
    w0 = (rng.standard_normal(n) * 0.1).astype(np.float32)
    grads = [(rng.standard_normal(n) * 1e-2).astype(np.float32) for _ in range(100)]
    p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    theirs = bnb.optim.Adam8bit([p], lr=1e-3)
    w8, w32 = w0.copy(), w0.copy()
    ours = fastopt.Adam([w8], lr=1e-3, state_precision="8bit")
    full = fastopt.Adam([w32], lr=1e-3)
    for t, g in enumerate(grads):
        p.grad = torch.from_numpy(g.copy())
        theirs.step()
        ours.step([g])
        full.step([g])
        if t == 0:
            for name, key, signed, x in (("exp_avg", "state1", True, 0.1 * g),
                                         ("exp_avg_sq", "state2", False, 0.001 * g * g)):
                e = ours.state_dict()["state"][0][name]
                np.testing.assert_array_equal(
                    theirs.state[p]["absmax1" if signed else "absmax2"].numpy(), e["absmax"])
                values = storage.quantization_map(signed).values
                a = np.repeat(e["absmax"], storage.BLOCK)[:n]
                cb = theirs.state[p][key].numpy()
                differ = cb != e["codes"]
                assert differ.mean() < 0.05
                nearer = np.abs(values[e["codes"]] * a - x) < np.abs(values[cb] * a - x)
                assert nearer[differ].all()
    wb = p.detach().numpy()
    ours_off, theirs_off = np.abs(w8 - w32).max(), np.abs(wb - w32).max()
    assert ours_off <= 1.2 * theirs_off and theirs_off <= 1.2 * ours_off


def test_ema_beside_stored_state():
    """fastopt.EMA keeps its average in the parameters' dtype whatever the optimizer's
    state precision: the average is the same as beside a float32 optimizer that took the
    same parameter steps."""
    rng = np.random.default_rng(9)
    w = rng.standard_normal(5000).astype(np.float32)
    opt = fastopt.Adam([w], lr=0.01, state_precision="8bit")
    ema = fastopt.EMA([w], decay=0.9)
    expected = w.astype(np.float32).copy()
    for _ in range(20):
        opt.step([rng.standard_normal(5000).astype(np.float32)])
        ema.update()
        expected += np.float32(0.1) * (w - expected)
    average = ema.shadow[0]
    assert average.dtype == np.float32
    np.testing.assert_allclose(average, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("precision", STORED)
def test_memory_traffic_twin_on_stored_state(precision):
    """The benches' twin moves stored state undecoded, the same in every backend."""
    from fastopt._bench.twin import Twin
    out = {}
    for backend in ("numpy", "cython", "numba"):
        p = np.zeros(5000, np.float32)
        twin = Twin([p], 2, backend=backend, state_precision=precision)
        for _ in range(3):
            twin.step([np.ones(5000, np.float32)])
        assert np.all(p == 3)
        out[backend] = entries(twin)
    assert out["numpy"] == out["cython"] == out["numba"]
    codes = twin.state_dict()["state"][0]["s0"]
    raw = codes["codes"] if precision == "8bit" else codes.view(np.uint16)
    assert np.all(raw == raw.flat[0])


@pytest.mark.parametrize("backend", ["numpy", "cython", "numba"])
def test_second_moment_never_rounds_to_zero(backend):
    """A weight whose gradient was small beside its block's largest and then 0 (a ReLU
    that went quiet): had its second moment rounded to 0 while its first moment did not,
    Adam would divide by eps alone.  It steps as in float32, to within the rounding."""
    n = 4096
    g1 = np.zeros(n, np.float32)
    g1[0], g1[1] = 1.0, 1e-4               # v[1]/absmax = 1e-8: below the smallest code
    g2 = np.zeros(n, np.float32)
    g2[0] = 1.0
    moved = {}
    for precision in ("full", "8bit"):
        w = np.zeros(n, np.float32)
        opt = fastopt.Adam([w], lr=1e-3, state_precision=precision, backend=backend)
        opt.step([g1])
        before = w[1]
        opt.step([g2])
        moved[precision] = abs(float(w[1] - before))
        assert opt.state[0]["exp_avg_sq"][1] > 0
    assert moved["8bit"] <= 2 * moved["full"] + 1e-6
