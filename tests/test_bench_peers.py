"""The benches' peers do the same work: hand-written NumPy (naive and in-place), torch.optim
(each implementation) and fastopt agree on every case, and the optimizer table's
claims about torch hold for the installed torch."""
import inspect

import numpy as np
import pytest

import fastopt
from fastopt._bench import cases, handwritten, peers, timing, workloads

CASES = [pytest.param(c, id=c.id) for c in cases.CASES]


def _after(case, impl, dtype, shapes, steps=20, flat=True):
    pg = workloads.data(dtype, shapes, seed=3)
    try:
        step, params = peers.make_peer(case, impl, dtype, shapes, params_grads=pg, flat=flat)
    except peers.Unavailable:
        return None, pg[0]
    for _ in range(steps):
        step()
    for p in params:
        assert p.dtype == np.dtype(dtype)
    return [p.copy() for p in params], pg[0]


@pytest.mark.parametrize("flat", [True, False], ids=["one-array", "three-arrays"])
@pytest.mark.parametrize("case", CASES)
def test_peers_agree(case, flat):
    shapes = [(300,)] if flat else [(7, 5), (300,), (1,)]
    results = {}
    start = None
    for impl in peers.FASTOPT_BACKENDS + peers.NUMPY_IMPLS + peers.TORCH_IMPLS:
        out, start = _after(case, impl, np.float64, shapes, flat=flat)
        if out is not None:
            results[impl] = out
    if len(results) < 2:
        pytest.skip("nothing to compare")
    ref_name = next(iter(results))
    ref = results[ref_name]
    for name, out in results.items():
        for r, o, s in zip(ref, out, start):
            moved = np.abs(r - s).max()
            assert moved > 0
            assert np.abs(o - r).max() <= 1e-8 * moved, (name, ref_name)


@pytest.mark.parametrize("case", CASES)
def test_twin_runs_for_every_case(case):
    out, start = _after(case, "twin", np.float32, [(100,)], steps=3)
    g = workloads.data(np.float32, [(100,)], seed=3)[1][0]
    expect = start[0].copy()
    for _ in range(3 * case.passes):
        expect += g
    assert out[0].tobytes() == expect.tobytes()


@pytest.mark.parametrize("case", [c for c in CASES if c.values[0].torch is not None])
def test_table_matches_torch(case):
    torch = pytest.importorskip("torch")
    cls = getattr(torch.optim, case.torch)
    for impl, flags in (("forloop", dict(foreach=False)), ("foreach", dict(foreach=True)),
                        ("fused", dict(fused=True))):
        p = torch.zeros(4, requires_grad=True)
        p.grad = torch.ones(4)
        try:
            cls([p], **case.kwargs, **flags).step()
            works = True
        except (TypeError, RuntimeError, ValueError):
            works = False
        assert works == (impl in case.torch_impls), (case.id, impl)


def test_mlp_shapes():
    shapes = workloads.mlp_shapes(200, 1_000_000)
    assert len(shapes) == 200
    assert 0.9e6 < sum(int(np.prod(s)) for s in shapes) < 1.1e6
    assert all(len(s) == 2 for s in shapes[::2]) and all(len(s) == 1 for s in shapes[1::2])


def test_measure_medians():
    calls = {"a": 0, "b": 0}

    def a():
        calls["a"] += 1

    def b():
        calls["b"] += 1
    t = timing.measure({"a": a, "b": b}, budget=0.001, min_rounds=3)
    assert set(t) == {"a", "b"} and all(0 < v < 1e-3 for v in t.values())
    assert calls["a"] > 3 and calls["b"] > 3
