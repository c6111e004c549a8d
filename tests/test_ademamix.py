"""AdEMAMix: what the generic tests (test_optimizers.py, against tests/oracles.py's
optax.contrib.ademamix) do not cover: the warmups' shapes, a first step worked by hand,
that alpha = 0 is AdamW, and optax's defaults."""
import inspect
import math

import numpy as np
import pytest

import fastopt
from fastopt.optimizers.ademamix import alpha_at, beta3_at
from harness import BACKENDS, gradients, start


@pytest.mark.parametrize("beta1, beta3", [(0.9, 0.9999), (0.5, 0.999), (0.99, 0.9)])
def test_beta3_warmup_is_linear_in_the_half_life(beta1, beta3):
    """The paper's scheduler: the half-life -ln(2)/ln(beta3_t) of the slow average moves
    linearly from beta1's at step 0 to beta3's at step t_beta3, and stays there (never
    above beta3)."""
    t_beta3 = 40

    def half_life(b):
        return -math.log(2) / math.log(b)
    for t in range(0, 60):
        s = min(t / t_beta3, 1.0)
        expected = (1 - s) * half_life(beta1) + s * half_life(beta3)
        got = beta3_at(beta1, beta3, t_beta3, t)
        if beta1 > beta3:          # the formula is capped at beta3 up to t_beta3, and
            assert got == beta3    # beta3 is kept after it
        else:
            assert half_life(got) == pytest.approx(expected, rel=1e-12), t
            assert got <= beta3
    assert beta3_at(beta1, beta3, None, 7) == beta3


def test_beta3_warmup_with_beta1_above_beta3_keeps_beta3():
    """Past t_beta3 the formula's denominator crosses zero where beta1 > beta3 (it gives
    0.13 at step 11 here): fastopt keeps beta3."""
    p = np.ones(3)
    opt = fastopt.AdEMAMix([p], betas=(0.99, 0.999, 0.9), t_beta3=10)
    for _ in range(30):
        opt.step([np.full(3, 0.1)])
    assert [beta3_at(0.99, 0.9, 10, t) for t in range(1, 30)] == [0.9] * 29
    assert np.isfinite(p).all()


def test_beta3_warmup_from_a_zero_beta1_is_the_limit():
    t_beta3 = 10
    for t in range(1, 15):
        got = beta3_at(0.0, 0.99, t_beta3, t)
        near = beta3_at(1e-300, 0.99, t_beta3, t)
        assert got == pytest.approx(near, rel=1e-2, abs=1e-300), t
        assert got <= 0.99


def test_alpha_warmup_is_linear():
    assert [alpha_at(5.0, 4, t) for t in range(1, 7)] == [1.25, 2.5, 3.75, 5.0, 5.0, 5.0]
    assert alpha_at(5.0, None, 1) == 5.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_first_step_by_hand(backend):
    """At step 1 the bias-corrected fast average is g and v_hat is g*g; the slow average,
    not bias-corrected, is (1 - beta3)*g."""
    g = np.array([0.5, -2.0, 0.0])
    p = np.array([1.0, 1.0, 1.0])
    lr, alpha, (beta1, beta2, beta3), eps = 0.1, 4.0, (0.9, 0.99, 0.5), 1e-8
    opt = fastopt.AdEMAMix([p], lr=lr, betas=(beta1, beta2, beta3), alpha=alpha, eps=eps,
                           backend=backend)
    opt.step([g])
    expected = 1.0 - lr * (g + alpha * (1 - beta3) * g) / (np.abs(g) + eps)
    np.testing.assert_allclose(p, expected, rtol=1e-15)
    np.testing.assert_allclose(opt.state[0]["exp_avg_slow"], (1 - beta3) * g, rtol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_alpha_zero_is_adamw(backend):
    """The slow average only enters through alpha: without it the step is AdamW's (to
    rounding: AdEMAMix divides by sqrt(v/bc2) + eps, AdamW by sqrt(v)/sqrt(bc2) + eps)."""
    shapes = [(7,), (3, 5)]
    a, b = start(shapes, np.float64), start(shapes, np.float64)
    kw = dict(lr=0.01, eps=1e-8, weight_decay=0.1, backend=backend)
    mix = fastopt.AdEMAMix(a, betas=(0.8, 0.99, 0.999), alpha=0.0, t_beta3=3, **kw)
    adamw = fastopt.AdamW(b, betas=(0.8, 0.99), **kw)
    for gs in gradients(shapes, np.float64, 20):
        mix.step(gs)
        adamw.step(gs)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15)


def test_defaults_are_optaxs():
    ours = fastopt.AdEMAMix([np.zeros(1, np.float32)]).defaults
    assert ours == dict(lr=1e-3, betas=(0.9, 0.999, 0.9999), alpha=5.0, t_alpha=None,
                        t_beta3=None, eps=1e-8, weight_decay=0.0, maximize=False)
    optax = pytest.importorskip("optax")
    theirs = inspect.signature(optax.contrib.ademamix).parameters
    assert ours["betas"] == tuple(theirs[b].default for b in ("b1", "b2", "b3"))
    assert ours["alpha"] == theirs["alpha"].default
    assert ours["eps"] == theirs["eps"].default
    assert ours["weight_decay"] == theirs["weight_decay"].default
    assert ours["t_alpha"] is None and ours["t_beta3"] is None
