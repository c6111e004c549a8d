"""Lion: what the generic tests (test_optimizers.py, against tests/oracles.py's optax.lion)
do not cover: the sign of zero and NaN, and optax's defaults."""
import numpy as np

import fastopt


def test_sign_of_zero_and_nan():
    """A zero interpolation does not move p; NaN propagates (as jnp.sign)."""
    p = np.array([1.0, 2.0, 3.0], np.float32)
    opt = fastopt.Lion([p], lr=0.5)
    opt.step([np.array([0.0, -0.0, np.nan], np.float32)])
    assert p[:2].tolist() == [1.0, 2.0] and np.isnan(p[2])


def test_defaults():
    opt = fastopt.Lion([np.zeros(1, np.float32)])
    assert opt.defaults == dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False)
