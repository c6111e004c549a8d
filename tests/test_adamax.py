"""Adamax: what the generic tests (test_optimizers.py) do not cover: eps inside the max,
and NaN in the infinity norm as torch."""
import numpy as np
import pytest

import fastopt


def test_eps_is_inside_the_max():
    p = np.zeros(3)
    g = np.array([0.0, 1e-9, -2.0])
    opt = fastopt.Adamax([p], lr=0.1, eps=1e-8)
    opt.step([g])
    u = np.abs(g) + 1e-8
    assert opt.state[0]["exp_inf"].tobytes() == u.tobytes()
    m = 0.0 + (1 - 0.9) * (g - 0.0)
    np.testing.assert_array_equal(p, -((0.1 / (1 - 0.9)) * m) / u)


def test_nan_gradient_propagates_into_the_norm_as_torch():
    torch = pytest.importorskip("torch")
    g = np.array([np.nan, 1.0])
    for backend in ("cython", "numba", "numpy"):
        p = np.zeros(2)
        opt = fastopt.Adamax([p], backend=backend)
        opt.step([g])
        opt.step([np.ones(2)])
        assert np.isnan(opt.state[0]["exp_inf"][0]) and not np.isnan(opt.state[0]["exp_inf"][1])
    t = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.Adamax([t])
    for grad in (g, np.ones(2)):
        t.grad = torch.from_numpy(grad)
        topt.step()
    assert np.isnan(topt.state[t]["exp_inf"][0].item())
