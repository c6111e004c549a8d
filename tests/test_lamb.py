"""LAMB: what the generic tests (test_optimizers.py, against tests/oracles.py's
optax.lamb) do not cover: the trust ratio per array and at zero norms, the norms' partial
sums (bitwise the same on 1 and 2 threads), and optax's defaults."""
import numpy as np
import pytest

import fastopt
from harness import DTYPES, assert_bitwise, gradient, initial
from oracles import optax_lamb


def test_trust_ratio_is_per_tensor_and_one_at_zero_norm():
    """||p|| = 0 (a zero parameter) or ||u|| = 0 (a zero gradient, no decay): ratio 1;
    otherwise each array gets its own ||p||/||u||."""
    params = [np.zeros(10), np.arange(1.0, 6.0), 1e3 * np.arange(1.0, 5.0), np.ones(3)]
    rng = np.random.default_rng(3)
    grads = [[rng.standard_normal(10), rng.standard_normal(5), rng.standard_normal(4),
              np.zeros(3)] for _ in range(3)]
    flat = fastopt.flatten({f"p{i}": p for i, p in enumerate(params)})
    opt = fastopt.Lamb(flat, lr=0.1)
    for t in range(3):
        for i in range(4):
            flat.grads[f"p{i}"][...] = grads[t][i]
        opt.step()
        if t == 0:
            # step 1: u = m_hat/(sqrt(v_hat)+eps) = g/(|g|+eps) and ||p0|| = 0: p0 = -lr*u
            g = grads[0][0]
            np.testing.assert_allclose(flat["p0"], -0.1 * (g / (np.abs(g) + 1e-6)), rtol=1e-15)
    theirs = optax_lamb([dict(lr=0.1)] * 4, params, grads).params
    for i in range(4):
        np.testing.assert_allclose(flat[f"p{i}"], theirs[i], rtol=1e-13, atol=1e-15)
    assert flat["p3"].tolist() == [1.0, 1.0, 1.0]       # zero gradient: u = 0, no move


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", ["cython", "numba"])
def test_norms_bitwise_same_for_1_and_2_threads(threaded, backend, dtype):
    shapes = [(70_001,), (33, 40), (0,), (40_000,), (1,)]      # several chunks per tensor
    grads = [[gradient(np.random.default_rng(t), s, dtype, t) for s in shapes]
             for t in range(12)]
    results = {}
    for backend_, n in [(backend, 1), (backend, 2), ("numpy", 1)]:
        fastopt.set_num_threads(n)
        params = initial(shapes, dtype)
        opt = fastopt.Lamb(params, backend=backend_, weight_decay=0.01, lr=0.01)
        partials = []
        for g in grads:
            opt.step(g)
            partials.append(opt._runs[0].stages[1].partial.copy())       # per-chunk sums of p*p and u*u
        results[backend_, n] = params, partials
    (p1, s1), (p2, s2), (pr, sr) = results.values()
    assert_bitwise(p1, p2)
    assert_bitwise(s1, s2)
    assert_bitwise(p1, pr)          # and the same as the NumPy reference's
    assert_bitwise(s1, sr)


def test_partial_sums_are_the_norms():
    """The per-chunk sums add up to ||p||^2 (checked against np.linalg.norm)."""
    p = np.random.default_rng(0).standard_normal(100_003).astype(np.float32)
    before = p.astype(np.float64)
    opt = fastopt.Lamb([p, np.ones(5, np.float32)])
    opt.step([np.ones_like(p), np.ones(5, np.float32)])
    partial = opt._runs[0].stages[1].partial
    chunks = opt._plans[0].chunks
    p_sq = partial[chunks[:, 0] == 0, 0].sum()
    np.testing.assert_allclose(np.sqrt(p_sq), np.linalg.norm(before), rtol=1e-14)
    assert partial[chunks[:, 0] == 1, 0].sum() == 5.0


def test_defaults():
    opt = fastopt.Lamb([np.zeros(1, np.float32)])
    assert opt.defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0,
                                maximize=False)
