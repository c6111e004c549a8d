"""NAdam: what the generic tests (test_optimizers.py) do not cover: mu_product, kept per
param group through state_dict, and NAdamW's agreement with torch in float64."""
import numpy as np
import pytest

import fastopt
from harness import run, run_torch


def test_mu_product_is_the_product_of_the_mu_t_per_group():
    params = [np.ones(5), np.ones(3)]
    opt = fastopt.NAdam([{"params": [params[0]]}, {"params": [params[1]], "lr": 3e-3}],
                        momentum_decay=0.02, weight_decay=0.01)
    for _ in range(8):
        opt.step([np.full(5, 0.5), np.full(3, -0.25)])
    beta1 = 0.9
    expected = 1.0
    for t in range(1, 9):
        expected *= beta1 * (1.0 - 0.5 * 0.96 ** (t * 0.02))
    assert [s["mu_product"] for s in opt.state_dict()["group_state"]] == [expected, expected]


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
    ours = run(fastopt.NAdam, kwargs, "numba", np.float64).params
    theirs = run_torch(torch.optim.NAdam, kwargs, np.float64).params
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-15)
