"""LAMB: every backend, dtype, size, parameter form and option against the NumPy
reference (bitwise, norms included), against a NumPy transcription of optax.lamb, and
the per-tensor norms bitwise the same on 1 and 2 threads."""
import numpy as np
import pytest

import fastopt
from fastopt._core import threads as _threads
from harness import (DTYPES, SIZES, SHAPES, assert_bitwise, assert_close, gradient, initial,
                     run_fastopt)
from optim_checks import (check_backend, check_bad_gradients_refused, check_refused,
                          check_state_dict_round_trip, run)

OPTIONS = [
    dict(),
    dict(weight_decay=0.01),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-8),
    dict(maximize=True),
    dict(maximize=True, weight_decay=0.1, lr=3e-3),
    dict(betas=(0.0, 0.0)),
]
FULL = dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.05, maximize=True)


def optax_lamb(kwargs, dtype, shapes=SHAPES, steps=50, params=None, grads=None):
    """optax.lamb, transcribed: chain(scale_by_adam(b1, b2, eps, eps_root=0),
    add_decayed_weights(wd), scale_by_trust_ratio(), scale_by_learning_rate(lr)), then
    optax.apply_updates; every array in the parameters' dtype, as in JAX.  A maximizing
    run is a minimizing run of -g."""
    lr, (b1, b2) = kwargs.get("lr", 1e-3), kwargs.get("betas", (0.9, 0.999))
    eps, wd = kwargs.get("eps", 1e-6), kwargs.get("weight_decay", 0.0)
    sign = -1 if kwargs.get("maximize") else 1
    params = initial(shapes, dtype) if params is None else [p.copy() for p in params]
    mu = [np.zeros_like(p) for p in params]
    nu = [np.zeros_like(p) for p in params]
    rng = np.random.default_rng(1)
    for t in range(steps):
        count = t + 1
        for i, p in enumerate(params):
            g = sign * (gradient(rng, p.shape, dtype, t) if grads is None else grads[t][i])
            mu[i] = (1 - b1) * g + b1 * mu[i]                 # update_moment
            nu[i] = (1 - b2) * g ** 2 + b2 * nu[i]            # update_moment_per_elem_norm
            mu_hat = mu[i] / dtype(1 - b1 ** count)           # bias_correction
            nu_hat = nu[i] / dtype(1 - b2 ** count)
            u = mu_hat / (np.sqrt(nu_hat + 0.0) + eps)
            u = u + wd * p                                    # add_decayed_weights
            p_norm, u_norm = np.linalg.norm(p), np.linalg.norm(u)    # scale_by_trust_ratio
            ratio = dtype(1.0) if p_norm == 0 or u_norm == 0 else p_norm / u_norm
            u = u * ratio
            params[i] = p + -lr * u                           # scale_by_learning_rate
    return params


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_backends_match_reference_bitwise(backend, dtype, kwargs):
    check_backend(fastopt.Lamb, kwargs, backend, dtype)


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_sizes(backend, dtype, size):
    check_backend(fastopt.Lamb, FULL, backend, dtype, shapes=[(size,)])


@pytest.mark.parametrize("form", ["flat", "dict"])
@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_parameter_forms_agree(form, backend):
    """The trust ratio is per parameter array, also inside one flat buffer."""
    check_backend(fastopt.Lamb, FULL, backend, np.float32, form=form)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_matches_optax(dtype, kwargs):
    """To rounding: optax takes the norms in the parameters' dtype and multiplies by the
    ratio and by -lr in turn; fastopt sums squares in float64 and applies lr*r at once."""
    ours = run(fastopt.Lamb, kwargs, "cython", dtype)
    assert_close(ours, optax_lamb(kwargs, dtype), dtype)


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
    theirs = optax_lamb(dict(lr=0.1), np.float64, steps=3, params=params, grads=grads)
    for i in range(4):
        np.testing.assert_allclose(flat[f"p{i}"], theirs[i], rtol=1e-13, atol=1e-15)
    assert flat["p3"].tolist() == [1.0, 1.0, 1.0]       # zero gradient: u = 0, no move


@pytest.fixture
def threaded():
    """Force the threaded path on small plans; restore the defaults afterwards."""
    threshold = _threads.parallel_threshold()
    _threads.set_parallel_threshold(0)
    yield
    _threads.set_parallel_threshold(threshold)
    fastopt.set_num_threads(None)


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
            partials.append(opt._runs[0][2].copy())       # per-chunk sums of p*p and u*u
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
    partial = opt._runs[0][2]
    chunks = opt._plans[0].chunks
    p_sq = partial[chunks[:, 0] == 0, 0].sum()
    np.testing.assert_allclose(np.sqrt(p_sq), np.linalg.norm(before), rtol=1e-14)
    assert partial[chunks[:, 0] == 1, 0].sum() == 5.0


def test_defaults():
    opt = fastopt.Lamb([np.zeros(1, np.float32)])
    assert opt.defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0,
                                maximize=False)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-1.0), "lr"), (dict(lr=float("nan")), "lr"), (dict(betas=(1.0, 0.9)), r"betas\[0\]"),
    (dict(betas=(0.9, -1.0)), r"betas\[1\]"), (dict(betas="ab"), r"betas must be a pair"),
    (dict(eps=0.0), "eps"), (dict(weight_decay=-0.1), "weight_decay"),
    (dict(maximize="no"), "maximize"),
], ids=str)
def test_invalid_hyperparameters_refused(kwargs, match):
    check_refused(fastopt.Lamb, kwargs, match)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_bad_gradients_change_nothing(backend):
    check_bad_gradients_refused(fastopt.Lamb, FULL, backend)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_state_dict_round_trip_resumes_bitwise(backend):
    check_state_dict_round_trip(fastopt.Lamb, dict(weight_decay=0.1), backend)


def _cpu_run_bits(backend):
    """Every parameter's bytes after 20 steps of each of this branch's optimizers."""
    runs = [(fastopt.Lamb, dict(weight_decay=0.1)), (fastopt.NAdam, dict(weight_decay=0.1)),
            (fastopt.RAdam, dict(lr=0.1)), (fastopt.Rprop, dict(maximize=True)),
            (fastopt.Lion, dict(weight_decay=0.1))]
    return b"".join(p.tobytes() for cls, kw in runs for dt in (np.float32, np.float64)
                    for p in run_fastopt(cls, kw, backend, dt, shapes=[(1003,), (17,)], steps=20))


@pytest.mark.parametrize("cpu", ["base", "v3", "v4"])
def test_every_cpu_level_gives_the_same_bits(cpu):
    """The math compiled for each CPU level (picked at import) agrees bitwise with the
    reference, for LAMB (its float64 lanes) and, in the same run, NAdam, RAdam, Rprop and
    Lion."""
    import os
    import subprocess
    import sys
    code = ("import numpy as np, fastopt, sys; sys.path.insert(0, 'tests'); "
            "from fastopt._core import _native; from test_lamb import _cpu_run_bits; "
            "print(_native.CPU_LEVEL); sys.stdout.write(_cpu_run_bits('cython').hex())")
    env = dict(os.environ, FASTOPT_CPU=cpu)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    if out.returncode != 0:
        if "No module named" in out.stderr or "Illegal instruction" in out.stderr \
                or out.returncode < 0:
            pytest.skip(f"CPU level {cpu} is not built or not runnable here")
        raise AssertionError(out.stderr)
    level, bits = out.stdout.split("\n", 1)
    assert level == cpu
    assert bits == _cpu_run_bits("numpy").hex()
