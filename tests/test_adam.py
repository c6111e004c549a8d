"""Adam, AdamW and AMSGrad: what the generic tests (test_optimizers.py) do not cover."""
import numpy as np

import fastopt
from harness import assert_bitwise, run


def test_adamw_is_adam_with_decoupled_decay():
    a = run(fastopt.AdamW, dict(lr=0.01), "cython", np.float32)
    b = run(fastopt.Adam, dict(lr=0.01, weight_decay=1e-2, decoupled_weight_decay=True),
            "cython", np.float32)
    assert_bitwise(a, b)
    assert fastopt.AdamW([np.zeros(1, np.float32)]).defaults["weight_decay"] == 1e-2
