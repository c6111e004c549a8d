"""fastopt.EMA: the update rule on every backend (bitwise against the NumPy formula and each
other), against torch's AveragedModel EMA, the warm-up, the swap context manager, copy_to,
state_dict, and refusals that change nothing."""
import tracemalloc

import numpy as np
import pytest

import fastopt
from harness import BACKENDS, DTYPES, initial

SHAPES = [(70_001,), (33, 40), (0,), (7,), (5, 1, 3)]


def lerp(a, b, w):
    """torch.lerp's two-sided formula, in the arrays' dtype."""
    w = a.dtype.type(w)
    return a + w * (b - a) if w < 0.5 else b - (b - a) * (a.dtype.type(1) - w)


def perturb(params, rng):
    for p in params:
        p += rng.standard_normal(p.shape).astype(p.dtype)


def as_bytes(arrays):
    return b"".join(a.tobytes() for a in arrays)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decay", [0.9, 0.3, 0.999, 0.0, 1.0])
def test_update_is_the_formula_bitwise(backend, dtype, decay):
    params = initial(SHAPES, dtype)
    ema = fastopt.EMA(params, decay=decay, backend=backend)
    expected = [p.copy() for p in params]
    rng = np.random.default_rng(3)
    for _ in range(6):
        perturb(params, rng)
        ema.update()
        expected = [lerp(e, p, 1.0 - decay) for e, p in zip(expected, params)]
    assert as_bytes(ema.shadow.values()) == as_bytes(expected)
    assert ema.num_updates == 6
    if decay == 0.0:
        assert as_bytes(expected) == as_bytes(params)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_torch_averaged_model(dtype):
    torch = pytest.importorskip("torch")
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    ours = initial(SHAPES, dtype)
    theirs = [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in ours]
    module = torch.nn.ParameterList(theirs)
    averaged = AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(0.95))
    averaged.update_parameters(module)                    # its first update copies
    ema = fastopt.EMA(ours, decay=0.95)                   # ours copies when built
    rng = np.random.default_rng(3)
    for _ in range(20):
        perturb(ours, rng)
        with torch.no_grad():
            for t, p in zip(theirs, ours):
                t.copy_(torch.from_numpy(p))
        averaged.update_parameters(module)
        ema.update()
    # torch's vectorised lerp fuses a multiply-add; ours never does: agreement to rounding
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for a, t in zip(ema.shadow.values(), averaged.module.parameters()):
        np.testing.assert_allclose(a, t.detach().numpy(), **tol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_warm_up(backend):
    params = initial([(100,), (9,)], np.float64)
    ema = fastopt.EMA(params, decay=0.99, use_num_updates=True, backend=backend)
    expected = [p.copy() for p in params]
    rng = np.random.default_rng(0)
    for n in range(1, 40):
        perturb(params, rng)
        ema.update()
        decay = min(0.99, (1 + n) / (10 + n))
        expected = [lerp(e, p, 1.0 - decay) for e, p in zip(expected, params)]
    assert as_bytes(ema.shadow.values()) == as_bytes(expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("form", ["list", "dict", "flat", "groups"])
def test_average_parameters_swaps_and_restores_exact_bits(backend, form):
    params = initial([(40_000,), (7,)], np.float32) + initial([(5,)], np.float64)
    params[1][:4] = [np.nan, -0.0, np.inf, -np.inf]
    params[1].view(np.uint32)[0] |= 0x1234                # a NaN with a payload
    names = ["w", "b", "s"]
    if form == "flat":
        flat = fastopt.flatten(dict(zip(names, params)))
        live = [flat[n] for n in names]
        ema = fastopt.EMA(flat, 0.5, backend=backend)
    else:
        live = params
        arg = {"list": params, "dict": dict(zip(names, params)),
               "groups": [{"params": params[:1]}, {"params": params[1:]}]}[form]
        ema = fastopt.EMA(arg, 0.5, backend=backend)
    rng = np.random.default_rng(1)
    for p in live:
        p += rng.standard_normal(p.shape).astype(p.dtype)
    ema.update()
    trained = as_bytes(live)
    averaged = as_bytes(ema.shadow.values())
    assert trained != averaged
    with ema.average_parameters() as inside:
        assert inside is ema
        assert as_bytes(live) == averaged
        assert ema.state_dict()["shadow"] is not None
    assert as_bytes(live) == trained and as_bytes(ema.shadow.values()) == averaged
    with pytest.raises(KeyError):
        with ema.average_parameters():
            raise KeyError("evaluation failed")
    assert as_bytes(live) == trained and as_bytes(ema.shadow.values()) == averaged


def test_inside_the_context_updates_are_refused():
    params = initial([(10,)], np.float32)
    ema = fastopt.EMA(params)
    with ema.average_parameters():
        for call in (ema.update, ema.copy_to, lambda: ema.load_state_dict(ema.state_dict())):
            with pytest.raises(RuntimeError, match="swapped"):
                call()
        with pytest.raises(RuntimeError, match="already active"):
            with ema.average_parameters():
                pass
        sd = ema.state_dict()
    assert as_bytes(sd["shadow"].values()) == as_bytes(ema.shadow.values())
    ema.update()


def test_copy_to():
    params = initial([(100,), (3, 4)], np.float32)
    named = {"w": params[0], "b": params[1]}
    ema = fastopt.EMA(named, 0.5)
    rng = np.random.default_rng(0)
    perturb(params, rng)
    ema.update()
    averaged = as_bytes(ema.shadow.values())

    target = {"b": np.zeros((3, 4), np.float32), "w": np.zeros(100, np.float32)}
    ema.copy_to(target)
    assert as_bytes([target["w"], target["b"]]) == averaged
    flat = fastopt.flatten({"w": np.zeros(100, np.float32), "b": np.zeros((3, 4), np.float32)})
    ema.copy_to(flat)
    assert as_bytes([flat["w"], flat["b"]]) == averaged

    bad = {"w": np.zeros(100, np.float32), "b": np.zeros((4, 3), np.float32)}
    with pytest.raises(ValueError, match="'b'.*shape"):
        ema.copy_to(bad)
    assert not bad["w"].any()                              # nothing copied
    with pytest.raises(ValueError):
        ema.copy_to({"w": np.zeros(100, np.float32)})
    with pytest.raises(ValueError, match="dtype|float32"):
        ema.copy_to({"w": np.zeros(100), "b": np.zeros((3, 4), np.float32)})
    with pytest.raises(TypeError):
        ema.copy_to(np.zeros(100, np.float32))

    ema.copy_to()
    assert as_bytes(params) == averaged


def test_list_copy_to_and_length():
    params = initial([(10,), (4,)], np.float64)
    ema = fastopt.EMA(params)
    with pytest.raises(ValueError, match="holds 1"):
        ema.copy_to([np.zeros(10)])
    out = [np.ones(10), np.ones(4)]
    ema.copy_to(out)
    assert as_bytes(out) == as_bytes(params)


@pytest.mark.parametrize("backend", ["cython", "numba"])
def test_update_allocates_nothing(backend):
    params = initial([(1_000_000,), (1000,)], np.float32)
    ema = fastopt.EMA(params, backend=backend)
    ema.update()                                           # compile / warm up
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(20):
            ema.update()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 10_000, f"{peak} bytes allocated by 20 updates of 1M elements"


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_dict_round_trip(backend):
    params = initial([(100,), (7,)], np.float32)
    ema = fastopt.EMA({"w": params[0], "b": params[1]}, decay=0.8, use_num_updates=True,
                      backend=backend)
    rng = np.random.default_rng(0)
    for _ in range(3):
        perturb(params, rng)
        ema.update()
    sd = ema.state_dict()
    assert sd["num_updates"] == 3 and sd["decay"] == 0.8 and sd["use_num_updates"] is True
    copy = [p.copy() for p in params]
    other = fastopt.EMA({"w": copy[0], "b": copy[1]}, decay=0.1, backend=backend)
    other.load_state_dict(sd)
    assert other.decay == 0.8 and other.num_updates == 3 and other.use_num_updates
    assert as_bytes(other.shadow.values()) == as_bytes(ema.shadow.values())
    perturb(params, rng)
    np.copyto(copy[0], params[0])
    np.copyto(copy[1], params[1])
    ema.update()
    other.update()
    assert as_bytes(other.shadow.values()) == as_bytes(ema.shadow.values())
    sd["shadow"]["w"][0] = 123.0                           # a copy, not a view
    assert ema.shadow["w"][0] != 123.0


@pytest.mark.parametrize("mutate, error", [
    (lambda sd: sd.update(type="Adam"), ValueError),
    (lambda sd: sd.update(format_version=2), ValueError),
    (lambda sd: sd.update(decay=1.5), ValueError),
    (lambda sd: sd.update(num_updates=-1), ValueError),
    (lambda sd: sd.update(use_num_updates="yes"), TypeError),
    (lambda sd: sd.pop("shadow"), ValueError),
    (lambda sd: sd["shadow"].pop("b"), ValueError),
    (lambda sd: sd["shadow"].update(b=np.zeros(8, np.float32)), ValueError),
    (lambda sd: sd["shadow"].update(b=np.zeros(7, np.float64)), ValueError),
    (lambda sd: sd["shadow"].update(b=[0.0] * 7), ValueError),
], ids=range(10))
def test_load_refusals_change_nothing(mutate, error):
    params = initial([(100,), (7,)], np.float32)
    ema = fastopt.EMA({"w": params[0], "b": params[1]}, decay=0.8)
    perturb(params, np.random.default_rng(0))
    ema.update()
    sd = ema.state_dict()
    for a in sd["shadow"].values():
        a += 1
    mutate(sd)
    before = (as_bytes(ema.shadow.values()), ema.decay, ema.num_updates, ema.use_num_updates)
    with pytest.raises(error):
        ema.load_state_dict(sd)
    assert (as_bytes(ema.shadow.values()), ema.decay, ema.num_updates,
            ema.use_num_updates) == before


def test_argument_checks():
    p = [np.zeros(3, np.float32)]
    for decay in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match="decay"):
            fastopt.EMA(p, decay=decay)
    with pytest.raises(TypeError, match="decay"):
        fastopt.EMA(p, decay="0.9")
    with pytest.raises(TypeError, match="per-group"):
        fastopt.EMA([{"params": p, "lr": 0.1}])
    with pytest.raises(ValueError, match="backend"):
        fastopt.EMA(p, backend="jax")
    with pytest.raises(TypeError):
        fastopt.EMA(np.zeros(3, np.float32))
    ema = fastopt.EMA(p)
    with pytest.raises(ValueError):
        ema.decay = 2.0
    assert ema.decay == 0.999
    assert "EMA(1 parameters, 3 elements" in repr(ema)
