"""RAdam: every backend, dtype, size, parameter form and option against the NumPy
reference (bitwise) and against torch.optim.RAdam, through both sides of the
rectification switch (rho_t > 5)."""
import numpy as np
import pytest

import fastopt
from harness import DTYPES, SIZES, assert_close, run_fastopt, run_torch
from optim_checks import (check_backend, check_bad_gradients_refused, check_defaults_are_torchs,
                          check_refused, check_state_dict_round_trip)

OPTIONS = [
    dict(),                                          # rectified from step 6 on
    dict(lr=0.01, betas=(0.5, 0.9), eps=1e-6),       # rectified from step 7 on
    dict(betas=(0.9, 0.5)),                          # rho_inf = 3: never rectified
    dict(weight_decay=0.1),
    dict(weight_decay=0.1, decoupled_weight_decay=True),
    dict(maximize=True, lr=0.003),
    dict(maximize=True, weight_decay=0.05, betas=(0.8, 0.95)),
    dict(maximize=True, weight_decay=0.05, decoupled_weight_decay=True),
    dict(betas=(0.0, 0.0)),
]
FULL = dict(lr=0.01, weight_decay=0.05, betas=(0.8, 0.95), maximize=True)


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_backends_match_reference_bitwise(backend, dtype, kwargs):
    check_backend(fastopt.RAdam, kwargs, backend, dtype)


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_sizes(backend, dtype, size):
    check_backend(fastopt.RAdam, FULL, backend, dtype, shapes=[(size,)])


@pytest.mark.parametrize("form", ["flat", "dict"])
@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_parameter_forms_agree(form, backend):
    check_backend(fastopt.RAdam, FULL, backend, np.float32, form=form)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    ours = run_fastopt(fastopt.RAdam, kwargs, "cython", dtype)
    assert_close(ours, run_torch(torch.optim.RAdam, kwargs, dtype), dtype)


@pytest.mark.parametrize("steps", [1, 5, 6, 7])
def test_rectification_switch_matches_torch(steps):
    """Around the first rectified step (rho_t crosses 5 at t = 6 for beta2 = 0.999)."""
    torch = pytest.importorskip("torch")
    kwargs = dict(lr=0.1)
    ours = run_fastopt(fastopt.RAdam, kwargs, "cython", np.float64, steps=steps)
    assert_close(ours, run_torch(torch.optim.RAdam, kwargs, np.float64, steps=steps),
                 np.float64)


def test_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    check_defaults_are_torchs(fastopt.RAdam, torch.optim.RAdam)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-1.0), "lr"), (dict(lr=float("inf")), "lr"), (dict(betas=(-0.1, 0.9)), r"betas\[0\]"),
    (dict(betas=(0.9, 1.0)), r"betas\[1\]"), (dict(betas=(0.9,)), "betas"),
    (dict(eps=-1e-8), "eps"), (dict(eps=float("nan")), "eps"),
    (dict(weight_decay=-1e-3), "weight_decay"), (dict(weight_decay="0.1"), "weight_decay"),
    (dict(decoupled_weight_decay=None), "decoupled_weight_decay"), (dict(maximize=1.0), "maximize"),
], ids=str)
def test_invalid_hyperparameters_refused(kwargs, match):
    check_refused(fastopt.RAdam, kwargs, match)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_bad_gradients_change_nothing(backend):
    check_bad_gradients_refused(fastopt.RAdam, FULL, backend)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_state_dict_round_trip_resumes_bitwise(backend):
    check_state_dict_round_trip(fastopt.RAdam, dict(weight_decay=0.01, betas=(0.5, 0.9)), backend)
