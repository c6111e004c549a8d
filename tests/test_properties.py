"""Property tests: for any shapes, dtype, values and options, the compiled backends agree
bitwise with the NumPy reference, and a step changes nothing but parameters and state."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastopt
from harness import assert_bitwise

dtypes = st.sampled_from([np.float32, np.float64])
shapes = st.lists(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=9),
                  min_size=1, max_size=4)
options = st.fixed_dictionaries({
    "lr": st.floats(0.0, 1.0),
    "betas": st.tuples(st.floats(0.0, 0.999), st.floats(0.0, 0.9999)),
    "eps": st.floats(1e-12, 1.0),
    "weight_decay": st.floats(0.0, 1.0),
    "amsgrad": st.booleans(),
    "maximize": st.booleans(),
    "decoupled_weight_decay": st.booleans(),
})


@st.composite
def problems(draw):
    dtype = draw(dtypes)
    shp = draw(shapes)
    finite = dict(allow_nan=False, allow_infinity=False, width=32 if dtype == np.float32 else 64,
                  min_value=-1e6, max_value=1e6)
    params = [draw(hnp.arrays(dtype, s, elements=st.floats(**finite))) for s in shp]
    grads = [[draw(hnp.arrays(dtype, s, elements=st.floats(**finite))) for s in shp]
             for _ in range(3)]
    return params, grads, draw(options)


@pytest.mark.parametrize("backend", ["cython", "numba"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems())
def test_backends_agree_with_reference(backend, problem):
    params, grads, kwargs = problem
    results = []
    for be in ("numpy", backend):
        ps = [p.copy() for p in params]
        opt = fastopt.Adam(ps, backend=be, **kwargs)
        gs = [[g.copy() for g in step] for step in grads]
        for step in gs:
            opt.step(step)
        assert_bitwise([g for step in gs for g in step], [g for step in grads for g in step])
        results.append(ps + [b for bufs in opt.state.values() for b in bufs.values()])
    assert_bitwise(*results)


@settings(max_examples=30, deadline=None)
@given(problem=problems())
def test_flat_and_list_forms_agree(problem):
    params, grads, kwargs = problem
    ps = [p.copy() for p in params]
    flat = fastopt.flatten([p.copy() for p in params])
    a, b = fastopt.Adam(ps, **kwargs), fastopt.Adam(flat, **kwargs)
    for step in grads:
        a.step(step)
        for i, g in enumerate(step):
            flat.grads[i][...] = g
        b.step()
    assert_bitwise(ps, [flat[i] for i in range(len(params))])
