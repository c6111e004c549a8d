"""NAdam: every backend, dtype, size, parameter form and option against the NumPy
reference (bitwise) and against torch.optim.NAdam; mu_product through state_dict."""
import numpy as np
import pytest

import fastopt
from harness import DTYPES, SIZES, assert_close, run_fastopt, run_torch
from optim_checks import (check_backend, check_bad_gradients_refused, check_defaults_are_torchs,
                          check_refused, check_state_dict_round_trip)

OPTIONS = [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    dict(weight_decay=0.1),
    dict(weight_decay=0.1, decoupled_weight_decay=True),
    dict(momentum_decay=0.05),
    dict(momentum_decay=0.0),
    dict(maximize=True, lr=0.003),
    dict(maximize=True, weight_decay=0.05, decoupled_weight_decay=True, momentum_decay=0.01),
    dict(betas=(0.0, 0.0)),
]
FULL = dict(lr=0.01, weight_decay=0.05, momentum_decay=0.01, maximize=True)


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_backends_match_reference_bitwise(backend, dtype, kwargs):
    check_backend(fastopt.NAdam, kwargs, backend, dtype)


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_sizes(backend, dtype, size):
    check_backend(fastopt.NAdam, FULL, backend, dtype, shapes=[(size,)])


@pytest.mark.parametrize("form", ["flat", "dict"])
@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_parameter_forms_agree(form, backend):
    check_backend(fastopt.NAdam, FULL, backend, np.float32, form=form)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    ours = run_fastopt(fastopt.NAdam, kwargs, "cython", dtype)
    assert_close(ours, run_torch(torch.optim.NAdam, kwargs, dtype), dtype)


def test_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    check_defaults_are_torchs(fastopt.NAdam, torch.optim.NAdam)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-1.0), "lr"), (dict(lr=float("nan")), "lr"), (dict(betas=(1.0, 0.9)), r"betas\[0\]"),
    (dict(betas=(0.9, -0.1)), r"betas\[1\]"), (dict(betas=0.9), "betas"), (dict(eps=0.0), "eps"),
    (dict(weight_decay=-1e-3), "weight_decay"), (dict(momentum_decay=-1.0), "momentum_decay"),
    (dict(momentum_decay=float("inf")), "momentum_decay"),
    (dict(decoupled_weight_decay=2), "decoupled_weight_decay"), (dict(maximize="yes"), "maximize"),
], ids=str)
def test_invalid_hyperparameters_refused(kwargs, match):
    check_refused(fastopt.NAdam, kwargs, match)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_bad_gradients_change_nothing(backend):
    check_bad_gradients_refused(fastopt.NAdam, FULL, backend)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_state_dict_round_trip_resumes_bitwise(backend):
    kwargs = dict(momentum_decay=0.02, weight_decay=0.01)
    sd = check_state_dict_round_trip(fastopt.NAdam, kwargs, backend)
    # mu_product is the product of the mu_t of the steps taken, one per group
    beta1 = 0.9
    expected = 1.0
    for t in range(1, 9):
        expected *= beta1 * (1.0 - 0.5 * 0.96 ** (t * 0.02))
    assert [s["mu_product"] for s in sd["group_state"]] == [expected, expected]


def test_mu_product_is_restored_from_state_dict():
    """A state_dict whose mu_product differs gives a different next step (it is read),
    and a bad one is refused without changing anything."""
    params = [np.ones(5, np.float32)]
    opt = fastopt.NAdam(params, lr=0.1)
    opt.step([np.full(5, 0.5, np.float32)])
    sd = opt.state_dict()
    sd["group_state"][0]["mu_product"] = 2.0
    before = (params[0].tobytes(), opt.state_dict()["group_state"])
    with pytest.raises(ValueError, match="mu_product"):
        opt.load_state_dict(sd)
    assert (params[0].tobytes(), opt.state_dict()["group_state"]) == before


def test_nadamw_matches_torch_float64():
    """Decoupled weight decay with float64 per-step scalars in torch: agreement to ~1e-15."""
    torch = pytest.importorskip("torch")
    kwargs = dict(lr=0.01, weight_decay=0.3, decoupled_weight_decay=True)
    ours = run_fastopt(fastopt.NAdam, kwargs, "numba", np.float64)
    theirs = run_torch(torch.optim.NAdam, kwargs, np.float64)
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-15)
