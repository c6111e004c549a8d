"""The memory-traffic twin (fastopt._bench.twin.Twin) really does p += g and s += g for each of
its k state buffers, in every backend, dtype and parameter form, serially and threaded."""
import numpy as np
import pytest

import fastopt
from fastopt._bench.twin import Twin
from harness import BACKENDS, DTYPES

SHAPES = [(7,), (33, 40), (0,), (1,), (300_000,)]     # the last one runs the threaded path


def _start(dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    return params, grads


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [0, 1, 2, 3])
@pytest.mark.parametrize("form", ["list", "flat"])
def test_twin_adds_the_gradient(backend, dtype, k, form):
    params, grads = _start(dtype)
    expected_p = [p.copy() for p in params]
    expected_s = [np.zeros_like(p) for p in params]
    if form == "flat":
        flat = fastopt.flatten({f"p{i}": p for i, p in enumerate(params)})
        twin = Twin(flat, buffers=k, backend=backend)
        views = [flat[f"p{i}"] for i in range(len(params))]
    else:
        twin = Twin(params, buffers=k, backend=backend)
        views = params
    for _ in range(3):
        for e, es, g in zip(expected_p, expected_s, grads):
            e += g
            es += g
        if form == "flat":
            for i, g in enumerate(grads):
                flat.grads[f"p{i}"][...] = g
            twin.step()
        else:
            twin.step(grads)
    for i, (v, e) in enumerate(zip(views, expected_p)):
        assert v.tobytes() == e.tobytes()
        state = twin.state[f"p{i}" if form == "flat" else i]
        assert sorted(state) == ["s0", "s1", "s2"][:k]
        for s in state.values():
            assert s.tobytes() == expected_s[i].tobytes()
    assert twin.step_count == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_passes_repeat_the_kernel(backend):
    p = np.zeros(1000, np.float32)
    twin = Twin([p], buffers=2, passes=2, backend=backend)
    twin.step([np.ones(1000, np.float32)])
    assert (p == 2).all() and (twin.state[0]["s1"] == 2).all()


@pytest.mark.parametrize("bad", [dict(buffers=4), dict(buffers=-1), dict(buffers=True),
                                 dict(buffers=2.0), dict(passes=0), dict(passes=1.5)])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        Twin([np.zeros(3)], **bad)
