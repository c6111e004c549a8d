"""RAdam: what the generic tests (test_optimizers.py) do not cover: torch's agreement on
both sides of the rectification switch (rho_t > 5)."""
import numpy as np
import pytest

import fastopt
from harness import assert_close, run, run_torch


@pytest.mark.parametrize("steps", [1, 5, 6, 7])
def test_rectification_switch_matches_torch(steps):
    """Around the first rectified step (rho_t crosses 5 at t = 6 for beta2 = 0.999)."""
    torch = pytest.importorskip("torch")
    kwargs = dict(lr=0.1)
    ours = run(fastopt.RAdam, kwargs, "cython", np.float64, steps=steps)
    assert_close(ours, run_torch(torch.optim.RAdam, kwargs, np.float64, steps=steps),
                 np.float64)
