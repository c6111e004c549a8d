"""The core checks a group's hyperparameters once and again only when one of them is
replaced (Optimizer._group_scalars).  These tests hold that cache to the uncached
behaviour: every change takes effect on the next step, every bad value is still refused,
and values that can change in place (a list of betas) are checked on every step."""
import numpy as np
import pytest

import fastopt


def _params(n=8):
    return [np.linspace(-1, 1, n).astype(np.float32)]


def _grads(n=8):
    return [np.full(n, 0.5, np.float32)]


def _fresh_scalars(step, **kwargs):
    return fastopt.Adam(_params(), **kwargs)._group_scalars(0, step)


def test_every_new_lr_takes_effect():
    opt = fastopt.Adam(_params(), lr=0.1)
    for t in range(1, 60):
        lr = float(f"{0.1 / t:.6g}")     # a new float object every step, ids get reused
        opt.param_groups[0]["lr"] = lr
        assert opt._group_scalars(0, t) == _fresh_scalars(t, lr=lr)
        opt.step(_grads())


@pytest.mark.parametrize("key, value", [("lr", -1.0), ("lr", float("nan")), ("lr", True),
                                        ("eps", 0.0), ("betas", (0.9, 1.0)),
                                        ("weight_decay", -0.1), ("maximize", 1),
                                        ("amsgrad", True)])
def test_bad_value_after_cached_steps_is_refused(key, value):
    params = _params()
    opt = fastopt.Adam(params, lr=1.0)
    for _ in range(3):
        opt.step(_grads())
    before = params[0].copy()
    opt.param_groups[0][key] = value
    with pytest.raises((ValueError, TypeError)):
        opt.step(_grads())
    assert params[0].tobytes() == before.tobytes() and opt.step_count == 3


def test_list_betas_changed_in_place_are_checked_every_step():
    params = _params()
    opt = fastopt.Adam(params, betas=[0.9, 0.999])
    opt.step(_grads())
    opt.param_groups[0]["betas"][1] = 0.5
    assert opt._group_scalars(0, 2) == _fresh_scalars(2, betas=(0.9, 0.5))
    opt.param_groups[0]["betas"][0] = 1.5
    with pytest.raises(ValueError, match=r"betas\[0\]"):
        opt.step(_grads())


def test_equal_but_different_type_is_checked():
    opt = fastopt.Adam(_params(), lr=1.0)
    opt.step(_grads())
    opt.param_groups[0]["lr"] = True         # == 1.0, but a bool is refused
    with pytest.raises(TypeError, match="lr"):
        opt.step(_grads())


def test_multi_group_error_names_the_group():
    a, b = _params(), _params()
    opt = fastopt.Adam([{"params": a}, {"params": b, "lr": 0.5}])
    opt.step(_grads() + _grads())
    opt.param_groups[1]["eps"] = -1.0
    with pytest.raises(ValueError, match="param group 1: eps"):
        opt.step(_grads() + _grads())
