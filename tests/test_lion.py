"""Lion: every backend, dtype, size, parameter form and option against the NumPy
reference (bitwise) and against a NumPy transcription of optax.lion."""
import numpy as np
import pytest

import fastopt
from harness import DTYPES, SIZES, SHAPES, assert_bitwise, assert_close, gradient, initial
from optim_checks import (check_backend, check_bad_gradients_refused, check_refused,
                          check_state_dict_round_trip, run)

OPTIONS = [
    dict(),
    dict(lr=1e-3, betas=(0.95, 0.98)),
    dict(lr=1e-3, weight_decay=0.1),
    dict(maximize=True),
    dict(maximize=True, lr=3e-3, weight_decay=0.5),
    dict(betas=(0.0, 0.0)),
]
FULL = dict(lr=1e-3, betas=(0.8, 0.95), weight_decay=0.3, maximize=True)


def optax_lion(kwargs, dtype, shapes=SHAPES, steps=50):
    """optax.lion, transcribed: chain(scale_by_lion(b1, b2), add_decayed_weights(wd),
    scale_by_learning_rate(lr)), then optax.apply_updates.  optax has no maximize: a
    maximizing run is a minimizing run of -g."""
    lr, (b1, b2) = kwargs.get("lr", 1e-4), kwargs.get("betas", (0.9, 0.99))
    wd, sign = kwargs.get("weight_decay", 0.0), (-1 if kwargs.get("maximize") else 1)
    params = initial(shapes, dtype)
    mu = [np.zeros_like(p) for p in params]
    rng = np.random.default_rng(1)
    for t in range(steps):
        for i, p in enumerate(params):
            g = sign * gradient(rng, p.shape, dtype, t)
            update = np.sign((1. - b1) * g + b1 * mu[i])     # scale_by_lion
            mu[i] = (1. - b2) * g + b2 * mu[i]
            update = update + wd * p                        # add_decayed_weights
            update = -lr * update                           # scale_by_learning_rate
            params[i] = p + update                          # apply_updates
    return params


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_backends_match_reference_bitwise(backend, dtype, kwargs):
    check_backend(fastopt.Lion, kwargs, backend, dtype)


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_sizes(backend, dtype, size):
    check_backend(fastopt.Lion, FULL, backend, dtype, shapes=[(size,)])


@pytest.mark.parametrize("form", ["flat", "dict"])
@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_parameter_forms_agree(form, backend):
    check_backend(fastopt.Lion, FULL, backend, np.float32, form=form)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_matches_optax(dtype, kwargs):
    """Bitwise without weight decay (the same operations); with it, optax computes
    p - lr*(s + wd*p) and fastopt p*(1 - lr*wd) - lr*s (docs/optimizers.md#lion): equal
    to rounding."""
    ours = run(fastopt.Lion, kwargs, "cython", dtype)
    theirs = optax_lion(kwargs, dtype)
    if kwargs.get("weight_decay", 0.0) == 0.0:
        assert_bitwise(ours, theirs)
    else:
        assert_close(ours, theirs, dtype)


def test_sign_of_zero_and_nan():
    """A zero interpolation does not move p; NaN propagates (as jnp.sign)."""
    p = np.array([1.0, 2.0, 3.0], np.float32)
    opt = fastopt.Lion([p], lr=0.5)
    opt.step([np.array([0.0, -0.0, np.nan], np.float32)])
    assert p[:2].tolist() == [1.0, 2.0] and np.isnan(p[2])


def test_defaults():
    opt = fastopt.Lion([np.zeros(1, np.float32)])
    assert opt.defaults == dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-1.0), "lr"), (dict(lr=float("nan")), "lr"), (dict(betas=(1.0, 0.9)), r"betas\[0\]"),
    (dict(betas=(0.9, 1.5)), r"betas\[1\]"), (dict(betas=None), "betas"),
    (dict(weight_decay=-0.1), "weight_decay"), (dict(weight_decay=float("inf")), "weight_decay"),
    (dict(maximize=None), "maximize"),
], ids=str)
def test_invalid_hyperparameters_refused(kwargs, match):
    check_refused(fastopt.Lion, kwargs, match)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_bad_gradients_change_nothing(backend):
    check_bad_gradients_refused(fastopt.Lion, FULL, backend)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_state_dict_round_trip_resumes_bitwise(backend):
    check_state_dict_round_trip(fastopt.Lion, dict(weight_decay=0.1), backend)
