"""ADOPT: what the generic tests (test_optimizers.py, against tests/oracles.py's
optax.contrib.adopt) do not cover: the first step that only sets the second moment, the
clip schedule, the weight decay of the authors' implementation, and optax's defaults."""
import inspect

import numpy as np
import pytest

import fastopt
from harness import BACKENDS


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kwargs", [dict(), dict(nesterov=True, clip_exponent=None),
                                    dict(weight_decay=0.5, decoupled_weight_decay=True)])
def test_first_step_only_sets_the_second_moment(kwargs, backend):
    p = np.array([1.0, -2.0, 3.0, 0.0])
    g = np.array([0.5, 4.0, -1e-3, 2.0])
    opt = fastopt.ADOPT([p], lr=0.1, backend=backend, **kwargs)
    opt.step([g])
    assert p.tolist() == [1.0, -2.0, 3.0, 0.0]
    assert opt.state[0]["exp_avg"].tolist() == [0.0] * 4
    assert opt.state[0]["exp_avg_sq"].tolist() == (g * g).tolist()


@pytest.mark.parametrize("backend", BACKENDS)
def test_l2_weight_decay_enters_the_first_second_moment(backend):
    """L2 decay is part of the gradient, so the first step's v is (g + wd*p)**2 (the
    authors' implementation and optax.add_decayed_weights agree)."""
    p = np.array([2.0, -1.0])
    opt = fastopt.ADOPT([p], weight_decay=0.25, backend=backend)
    opt.step([np.array([1.0, 1.0])])
    assert opt.state[0]["exp_avg_sq"].tolist() == [1.5 ** 2, 0.75 ** 2]


@pytest.mark.parametrize("backend", BACKENDS)
def test_clip_grows_as_the_step_count_to_the_exponent(backend):
    """The normalised gradient of step t is clipped to (t - 1)**clip_exponent: with
    beta1 = 0, m is the clipped value itself, and p moves by lr*m."""
    p = np.zeros(1)
    opt = fastopt.ADOPT([p], lr=1.0, betas=(0.0, 0.0), eps=1e-6, clip_exponent=0.5,
                        backend=backend)
    g = np.array([1.0])
    opt.step([g])                       # v = 1
    state = opt.state[0]
    ms = []
    for t in range(2, 6):
        opt.step([g * 1e3])                 # n = 1e3/sqrt(1) before the clip
        state["exp_avg_sq"][...] = 1.0      # v = 1 again for the next step
        ms.append(float(state["exp_avg"][0]))
    assert ms == [(t - 1) ** 0.5 for t in range(2, 6)]
    assert p[0] == -sum(ms)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_clip_without_an_exponent(backend):
    p = np.zeros(1)
    opt = fastopt.ADOPT([p], lr=1.0, betas=(0.0, 0.0), clip_exponent=None, backend=backend)
    opt.step([np.array([1.0])])
    opt.step([np.array([1e3])])
    assert p.tolist() == [-1e3]


def _authors_adopt(p, grads, lr, betas, eps, weight_decay, decouple, exponent):
    """A float64 transcription of the authors' reference implementation's single-tensor
    step (step counted from 0; L2 decay into the gradient before the first step; the
    decoupled decay p + (-lr*wd)*p from the second step on; the clip exponent of
    clip_lambda = step**exponent)."""
    beta1, beta2 = betas
    m, v = np.zeros_like(p), np.zeros_like(p)
    for step, g in enumerate(grads):
        if weight_decay and not decouple:
            g = g + weight_decay * p
        if step == 0:
            v += g * g
            continue
        if weight_decay and decouple:
            p = p + (-lr * weight_decay) * p
        n = g / np.maximum(np.sqrt(v), eps)
        if exponent is not None:
            n = np.clip(n, -step ** exponent, step ** exponent)
        m = m + (1 - beta1) * (n - m)
        p = p - lr * m
        v = v * beta2 + (1 - beta2) * g * g
    return p


@pytest.mark.parametrize("decouple", [False, True])
@pytest.mark.parametrize("exponent", [0.25, None])
def test_weight_decay_matches_the_authors_implementation(decouple, exponent):
    rng = np.random.default_rng(3)
    p0 = rng.normal(size=50)
    grads = [rng.normal(size=50) for _ in range(30)]
    kwargs = dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)
    p = p0.copy()
    opt = fastopt.ADOPT([p], decoupled_weight_decay=decouple, clip_exponent=exponent,
                        **kwargs)
    for g in grads:
        opt.step([g])
    theirs = _authors_adopt(p0.copy(), grads, decouple=decouple, exponent=exponent,
                            **kwargs)
    np.testing.assert_allclose(p, theirs, rtol=1e-13, atol=1e-15)


def test_defaults_are_optaxs():
    ours = fastopt.ADOPT([np.zeros(1, np.float32)]).defaults
    # (optax has no default lr and no weight decay: these are the authors')
    assert ours == dict(lr=1e-3, betas=(0.9, 0.9999), eps=1e-6, weight_decay=0.0,
                        decoupled_weight_decay=False, nesterov=False, clip_exponent=0.25,
                        maximize=False)
    optax = pytest.importorskip("optax")
    theirs = inspect.signature(optax.contrib.adopt).parameters
    assert ours["betas"] == (theirs["b1"].default, theirs["b2"].default)
    assert ours["eps"] == theirs["eps"].default
    assert ours["nesterov"] == theirs["nesterov"].default
    assert theirs["use_clipping"].default and ours["clip_exponent"] == 0.25
    assert theirs["clip_value_fn"].default(16.0) == 16.0 ** ours["clip_exponent"]
