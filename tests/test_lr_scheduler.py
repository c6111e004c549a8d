"""Tests for fastopt.lr_scheduler.

Every scheduler is stepped side by side with its torch.optim.lr_scheduler twin
(when torch is installed) and each param group's lr / momentum / betas compared
after every step. The remaining tests (state_dict round trips, refusals of bad
arguments) need no torch.
"""

import copy
import math
import warnings

import numpy as np
import pytest

import fastopt
from fastopt import lr_scheduler as S

REL = 1e-12
ABS = 1e-300


# --------------------------------------------------------------------------- #
# Optimizers
# --------------------------------------------------------------------------- #


class _ToyOptimizer:
    """The smallest object a scheduler accepts: param_groups + defaults.

    Used for momentum (fastopt has no SGD to carry a 'momentum' key) and as a
    stand-in for Adam when fastopt.Adam is not importable.
    """

    def __init__(self, lrs, **hyper):
        self.defaults = {"lr": lrs[0], **hyper}
        self.param_groups = [{"params": [np.zeros(3)], "lr": lr, **hyper} for lr in lrs]


def _adam(lrs):
    """A real fastopt.Adam with one group per lr."""
    groups = [{"params": [np.zeros(3, np.float32)], "lr": lr} for lr in lrs]
    return fastopt.Adam(groups, lr=lrs[0])


def _ours(kind, lrs):
    if kind == "sgd":
        return _ToyOptimizer(lrs, momentum=0.9)
    if kind == "adam":
        return _adam(lrs)
    if kind == "plain":
        return _ToyOptimizer(lrs)
    raise AssertionError(kind)


def _torchs(torch, kind, lrs):
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    if kind in ("sgd", "plain"):
        return torch.optim.SGD(groups, lr=lrs[0], momentum=0.9)
    return torch.optim.Adam(groups, lr=lrs[0], betas=(0.9, 0.999))


def _close(a, b):
    return math.isclose(float(a), float(b), rel_tol=REL, abs_tol=ABS)


_GROUP_KEYS = ("lr", "initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum", "momentum")


def _assert_same_groups(t_opt, o_opt, where):
    assert len(t_opt.param_groups) == len(o_opt.param_groups)
    for i, (tg, og) in enumerate(zip(t_opt.param_groups, o_opt.param_groups)):
        for key in _GROUP_KEYS:
            if key in tg and (key != "momentum" or "momentum" in og):
                assert key in og, f"{where}: group {i} lacks {key!r}"
                assert _close(tg[key], og[key]), f"{where}: group {i} {key}: {tg[key]} vs {og[key]}"
        if "betas" in tg and "betas" in og:
            assert isinstance(og["betas"], tuple)
            for a, b in zip(tg["betas"], og["betas"]):
                assert _close(a, b), f"{where}: group {i} betas: {tg['betas']} vs {og['betas']}"


def _assert_same_sched(ts, os_, where):
    assert len(ts.get_last_lr()) == len(os_.get_last_lr())
    for a, b in zip(ts.get_last_lr(), os_.get_last_lr()):
        assert _close(a, b), f"{where}: get_last_lr {ts.get_last_lr()} vs {os_.get_last_lr()}"
    if hasattr(ts, "last_epoch"):
        assert ts.last_epoch == os_.last_epoch, where


# --------------------------------------------------------------------------- #
# Cases: (id, factory(module, optimizer) -> scheduler, optimizer kind, lrs, steps)
# --------------------------------------------------------------------------- #

LRS2 = [0.1, 0.03]


class _Scale:
    """A callable object: torch saves its __dict__ in the state dict."""

    def __init__(self, k):
        self.k = k

    def __call__(self, epoch):
        return self.k**epoch


CASES = [
    ("LambdaLR", lambda M, o: M.LambdaLR(o, lambda e: 0.95**e), "adam", LRS2, 40),
    ("LambdaLR-list", lambda M, o: M.LambdaLR(o, [lambda e: 1 / (e + 1), _Scale(0.9)]), "adam", LRS2, 40),
    ("MultiplicativeLR", lambda M, o: M.MultiplicativeLR(o, lambda e: 0.97), "adam", LRS2, 40),
    ("MultiplicativeLR-list", lambda M, o: M.MultiplicativeLR(o, [lambda e: 0.9, lambda e: 1.01]), "adam", LRS2, 40),
    ("StepLR", lambda M, o: M.StepLR(o, step_size=7, gamma=0.5), "adam", LRS2, 50),
    ("StepLR-default", lambda M, o: M.StepLR(o, 3), "adam", [0.2], 20),
    ("MultiStepLR", lambda M, o: M.MultiStepLR(o, [5, 12, 12, 30], gamma=0.3), "adam", LRS2, 40),
    ("ConstantLR", lambda M, o: M.ConstantLR(o), "adam", LRS2, 12),
    ("ConstantLR-opts", lambda M, o: M.ConstantLR(o, factor=0.5, total_iters=10), "adam", LRS2, 20),
    ("LinearLR", lambda M, o: M.LinearLR(o), "adam", LRS2, 12),
    ("LinearLR-opts", lambda M, o: M.LinearLR(o, 0.1, 0.9, total_iters=20), "adam", LRS2, 30),
    ("LinearLR-decay", lambda M, o: M.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=10), "adam", LRS2, 15),
    ("ExponentialLR", lambda M, o: M.ExponentialLR(o, gamma=0.9), "adam", LRS2, 60),
    ("PolynomialLR", lambda M, o: M.PolynomialLR(o), "adam", LRS2, 10),
    ("PolynomialLR-opts", lambda M, o: M.PolynomialLR(o, total_iters=20, power=2.0), "adam", LRS2, 30),
    ("PolynomialLR-sqrt", lambda M, o: M.PolynomialLR(o, total_iters=13, power=0.5), "adam", LRS2, 20),
    ("CosineAnnealingLR", lambda M, o: M.CosineAnnealingLR(o, T_max=10, eta_min=1e-3), "adam", LRS2, 65),
    ("CosineAnnealingLR-7", lambda M, o: M.CosineAnnealingLR(o, T_max=7), "adam", [0.5], 50),
    ("CAWR", lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=5), "adam", LRS2, 40),
    ("CAWR-mult", lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-4), "adam", LRS2, 60),
    ("CyclicLR-triangular", lambda M, o: M.CyclicLR(o, 0.01, 0.1, step_size_up=5), "sgd", LRS2, 40),
    ("CyclicLR-triangular2", lambda M, o: M.CyclicLR(o, [0.01, 0.02], [0.1, 0.05], step_size_up=4, step_size_down=6, mode="triangular2"), "sgd", LRS2, 60),
    ("CyclicLR-exp_range", lambda M, o: M.CyclicLR(o, 0.001, 0.01, step_size_up=3, mode="exp_range", gamma=0.97, base_momentum=0.7, max_momentum=[0.95, 0.9]), "sgd", LRS2, 50),
    ("CyclicLR-scale_fn", lambda M, o: M.CyclicLR(o, 0.001, 0.01, step_size_up=4, scale_fn=lambda x: 0.5 ** (x / 8), scale_mode="iterations"), "sgd", LRS2, 40),
    ("CyclicLR-scale_fn-cycle", lambda M, o: M.CyclicLR(o, 0.001, 0.01, step_size_up=2, step_size_down=5, scale_fn=lambda x: 1.0 / x), "sgd", LRS2, 40),
    ("CyclicLR-betas", lambda M, o: M.CyclicLR(o, 0.001, 0.01, step_size_up=5, base_momentum=0.8, max_momentum=0.9), "adam", LRS2, 40),
    ("CyclicLR-no-momentum", lambda M, o: M.CyclicLR(o, 0.001, 0.01, step_size_up=5, cycle_momentum=False), "adam", LRS2, 30),
    ("OneCycleLR-cos", lambda M, o: M.OneCycleLR(o, max_lr=0.1, total_steps=50), "sgd", LRS2, 50),
    ("OneCycleLR-linear", lambda M, o: M.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=40, anneal_strategy="linear", pct_start=0.25), "sgd", LRS2, 40),
    ("OneCycleLR-three_phase", lambda M, o: M.OneCycleLR(o, max_lr=0.1, epochs=6, steps_per_epoch=7, three_phase=True, div_factor=10.0, final_div_factor=100.0), "sgd", LRS2, 42),
    ("OneCycleLR-betas", lambda M, o: M.OneCycleLR(o, max_lr=0.01, total_steps=30, base_momentum=0.8, max_momentum=0.92), "adam", LRS2, 30),
    ("OneCycleLR-no-momentum", lambda M, o: M.OneCycleLR(o, max_lr=0.01, total_steps=30, cycle_momentum=False), "adam", LRS2, 30),
    ("SequentialLR-warmup-cosine", lambda M, o: M.SequentialLR(o, [M.LinearLR(o, 0.1, total_iters=5), M.CosineAnnealingLR(o, T_max=20)], milestones=[5]), "adam", LRS2, 40),
    ("SequentialLR-three", lambda M, o: M.SequentialLR(o, [M.ConstantLR(o, 0.5, total_iters=4), M.ExponentialLR(o, 0.9), M.StepLR(o, 3, 0.5)], milestones=[3, 10]), "adam", LRS2, 30),
    ("SequentialLR-lambda-multiplicative", lambda M, o: M.SequentialLR(o, [M.LambdaLR(o, lambda e: (e + 1) / 4), M.MultiplicativeLR(o, lambda e: 0.95)], milestones=[4]), "adam", LRS2, 25),
    ("ChainedScheduler", lambda M, o: M.ChainedScheduler([M.ConstantLR(o, 0.1, total_iters=2), M.ExponentialLR(o, 0.9)]), "adam", LRS2, 30),
    ("ChainedScheduler-three", lambda M, o: M.ChainedScheduler([M.LinearLR(o, 0.2, total_iters=6), M.StepLR(o, 4, 0.5), M.MultiplicativeLR(o, lambda e: 0.99)], optimizer=o), "adam", LRS2, 30),
]
CASE_IDS = [c[0] for c in CASES]


def _build_both(torch, factory, kind, lrs):
    t_opt, o_opt = _torchs(torch, kind, lrs), _ours(kind, lrs)
    return t_opt, factory(torch.optim.lr_scheduler, t_opt), o_opt, factory(S, o_opt)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_torch_step_by_step(case):
    torch = pytest.importorskip("torch")
    name, factory, kind, lrs, steps = case
    t_opt, ts, o_opt, os_ = _build_both(torch, factory, kind, lrs)
    _assert_same_groups(t_opt, o_opt, f"{name} after construction")
    _assert_same_sched(ts, os_, f"{name} after construction")
    for k in range(steps):
        t_opt.step()
        ts.step()
        os_.step()
        _assert_same_groups(t_opt, o_opt, f"{name} step {k + 1}")
        _assert_same_sched(ts, os_, f"{name} step {k + 1}")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_state_dict_round_trip_resumes_identically(case):
    name, factory, kind, lrs, steps = case
    opt = _ours(kind, lrs)
    sched = factory(S, opt)
    half = steps // 2
    for _ in range(half):
        sched.step()
    state = sched.state_dict()
    _assert_plain(state)
    saved_groups = [{k: copy.deepcopy(v) for k, v in g.items() if k != "params"} for g in opt.param_groups]
    snapshot = copy.deepcopy(state)

    # Resume torch's way: build a fresh scheduler, restore the optimizer's
    # groups, then the scheduler's state.
    opt2 = _ours(kind, lrs)
    sched2 = factory(S, opt2)
    for g, saved in zip(opt2.param_groups, saved_groups):
        g.update(saved)
    sched2.load_state_dict(state)
    assert state == snapshot, "load_state_dict must not modify its argument"
    assert sched2.last_epoch == sched.last_epoch
    assert sched2.get_last_lr() == sched.get_last_lr()
    for _ in range(steps - half):
        sched.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
        for g1, g2 in zip(opt.param_groups, opt2.param_groups):
            for key in ("lr", "momentum", "betas"):
                assert g1.get(key) == g2.get(key), (name, key)


def _assert_plain(obj, path="state"):
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _assert_plain(v, f"{path}[{i}]")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert isinstance(k, (str, int, float)), f"{path} key {k!r}"
            _assert_plain(v, f"{path}[{k!r}]")
        return
    raise AssertionError(f"{path} holds a {type(obj).__name__}: {obj!r}")


def test_state_dict_saves_callable_objects_but_not_functions():
    opt = _adam(LRS2)
    fn = _Scale(0.9)
    sched = S.LambdaLR(opt, [lambda e: 1.0, fn])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"k": 0.9}]
    assert "optimizer" not in state
    fn.k = 0.5
    sched.load_state_dict(state)
    assert fn.k == 0.9

    opt = _ToyOptimizer([0.1], momentum=0.9)
    sched = S.CyclicLR(opt, 0.01, 0.1, scale_fn=lambda x: 1.0)
    assert sched.state_dict()["_scale_fn_custom"] is None
    sched.load_state_dict(sched.state_dict())
    assert sched._scale_fn_custom is not None  # the function itself is kept


@pytest.mark.parametrize(
    "name, factory, kind",
    [
        ("StepLR", lambda M, o: M.StepLR(o, 4, 0.5), "adam"),
        ("CosineAnnealingLR", lambda M, o: M.CosineAnnealingLR(o, 9, 1e-3), "adam"),
        ("CAWR", lambda M, o: M.CosineAnnealingWarmRestarts(o, 3, 2), "adam"),
        ("MultiStepLR", lambda M, o: M.MultiStepLR(o, [3, 8, 8], 0.5), "adam"),
        ("CyclicLR", lambda M, o: M.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2"), "sgd"),
        ("OneCycleLR", lambda M, o: M.OneCycleLR(o, 0.1, total_steps=30, three_phase=True), "adam"),
        ("LambdaLR", lambda M, o: M.LambdaLR(o, lambda e: 0.9**e), "adam"),
        ("SequentialLR", lambda M, o: M.SequentialLR(o, [M.LinearLR(o), M.ExponentialLR(o, 0.9)], [5]), "adam"),
        ("ChainedScheduler", lambda M, o: M.ChainedScheduler([M.StepLR(o, 3), M.ExponentialLR(o, 0.95)]), "adam"),
    ],
)
def test_loads_torch_state_dict(name, factory, kind):
    """A torch scheduler's state_dict, loaded here, continues torch's schedule."""
    torch = pytest.importorskip("torch")
    t_opt, ts, o_opt, os_ = _build_both(torch, factory, kind, LRS2)
    for _ in range(7):
        t_opt.step()
        ts.step()
    for tg, og in zip(t_opt.param_groups, o_opt.param_groups):
        og.update({k: v for k, v in tg.items() if k in _GROUP_KEYS + ("betas",)})
    os_.load_state_dict(ts.state_dict())
    for k in range(15):
        t_opt.step()
        ts.step()
        os_.step()
        _assert_same_groups(t_opt, o_opt, f"{name} step {k}")
        _assert_same_sched(ts, os_, f"{name} step {k}")


# --------------------------------------------------------------------------- #
# step(epoch): closed forms and fractional epochs
# --------------------------------------------------------------------------- #

EPOCH_CASES = [
    ("StepLR", lambda M, o: M.StepLR(o, 3, 0.5)),
    ("MultiStepLR", lambda M, o: M.MultiStepLR(o, [2, 5, 5, 9], 0.3)),
    ("ConstantLR", lambda M, o: M.ConstantLR(o, 0.25, total_iters=4)),
    ("LinearLR", lambda M, o: M.LinearLR(o, 0.2, 0.8, total_iters=6)),
    ("ExponentialLR", lambda M, o: M.ExponentialLR(o, 0.8)),
    ("PolynomialLR", lambda M, o: M.PolynomialLR(o, total_iters=8, power=1.5)),
    ("CosineAnnealingLR", lambda M, o: M.CosineAnnealingLR(o, T_max=6, eta_min=0.01)),
    ("LambdaLR", lambda M, o: M.LambdaLR(o, lambda e: 1.0 / (1 + e))),
    ("MultiplicativeLR", lambda M, o: M.MultiplicativeLR(o, lambda e: 0.9)),
    ("CAWR", lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2)),
]


@pytest.mark.parametrize("name, factory", EPOCH_CASES, ids=[c[0] for c in EPOCH_CASES])
def test_step_with_epoch_matches_torch(name, factory):
    torch = pytest.importorskip("torch")
    t_opt, ts, o_opt, os_ = _build_both(torch, factory, "adam", LRS2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates step(epoch)
        for epoch in [1, 2, 3, 7, 4, 4, 12, 0, 9, 20, 5]:
            t_opt.step()
            ts.step(epoch)
            os_.step(epoch)
            _assert_same_groups(t_opt, o_opt, f"{name} epoch {epoch}")
            _assert_same_sched(ts, os_, f"{name} epoch {epoch}")


@pytest.mark.parametrize("T_0, T_mult, eta_min", [(5, 1, 0.0), (3, 2, 1e-3), (2, 3, 0.0)])
def test_cawr_fractional_epochs_match_torch(T_0, T_mult, eta_min):
    torch = pytest.importorskip("torch")
    factory = lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0, T_mult, eta_min)  # noqa: E731
    t_opt, ts, o_opt, os_ = _build_both(torch, factory, "adam", LRS2)
    iters = 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in range(25):
            for i in range(iters):
                t_opt.step()
                ts.step(epoch + i / iters)
                os_.step(epoch + i / iters)
                _assert_same_groups(t_opt, o_opt, f"epoch {epoch} + {i}/{iters}")
                assert ts.T_cur == pytest.approx(os_.T_cur, rel=REL, abs=1e-12)
                assert ts.T_i == os_.T_i
                _assert_same_sched(ts, os_, f"epoch {epoch} + {i}/{iters}")
    # plain steps continue from where the explicit epochs left off
    for _ in range(10):
        t_opt.step()
        ts.step()
        os_.step()
        _assert_same_groups(t_opt, o_opt, "after fractional epochs")


def test_onecycle_refuses_to_step_past_total_steps_without_changing_state():
    torch = pytest.importorskip("torch")
    factory = lambda M, o: M.OneCycleLR(o, 0.1, total_steps=10)  # noqa: E731
    t_opt, ts, o_opt, os_ = _build_both(torch, factory, "sgd", LRS2)
    for _ in range(10):
        t_opt.step()
        ts.step()
        os_.step()
    _assert_same_groups(t_opt, o_opt, "end of the cycle")
    before = copy.deepcopy([{k: v for k, v in g.items() if k != "params"} for g in o_opt.param_groups])
    with pytest.raises(ValueError):
        ts.step()
    with pytest.raises(ValueError, match="total_steps"):
        os_.step()
    assert [{k: v for k, v in g.items() if k != "params"} for g in o_opt.param_groups] == before
    assert os_.last_epoch == 10


# --------------------------------------------------------------------------- #
# ReduceLROnPlateau
# --------------------------------------------------------------------------- #

_rng = np.random.default_rng(0)
_METRICS = (
    [1.0, 0.9, 0.95, 0.96, 0.97, 0.9, 0.89999, 0.85, 0.86, 0.86, 0.86, 0.86, 0.86, 0.86]
    + list(0.8 + 0.01 * _rng.standard_normal(40))
    + [0.5] * 10
)

PLATEAU_CASES = [
    {},
    {"mode": "max"},
    {"patience": 2, "factor": 0.5},
    {"patience": 1, "cooldown": 3, "factor": 0.3},
    {"patience": 0, "threshold": 0.05, "threshold_mode": "abs"},
    {"mode": "max", "patience": 1, "threshold": 0.01, "threshold_mode": "abs", "cooldown": 1},
    {"patience": 0, "factor": 0.5, "min_lr": 0.01},
    {"patience": 0, "factor": 0.5, "min_lr": [0.02, 0.001]},
    {"patience": 0, "factor": 0.9, "eps": 0.005},
]


@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=[str(k) for k in PLATEAU_CASES])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    t_opt, o_opt = _torchs(torch, "adam", LRS2), _ours("adam", LRS2)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    os_ = S.ReduceLROnPlateau(o_opt, **kwargs)
    metrics = _METRICS if kwargs.get("mode") != "max" else [-m for m in _METRICS]
    for k, m in enumerate(metrics):
        t_opt.step()
        ts.step(m)
        os_.step(np.float64(m) if k % 2 else m)
        where = f"{kwargs} step {k}"
        _assert_same_groups(t_opt, o_opt, where)
        _assert_same_sched(ts, os_, where)
        assert (ts.best, ts.num_bad_epochs, ts.cooldown_counter) == (
            os_.best,
            os_.num_bad_epochs,
            os_.cooldown_counter,
        ), where
    # it actually reduced something in every case
    assert o_opt.param_groups[0]["lr"] < LRS2[0]


def test_reduce_lr_on_plateau_state_dict_round_trip():
    opt = _adam(LRS2)
    sched = S.ReduceLROnPlateau(opt, patience=1, cooldown=2, factor=0.5)
    for m in _METRICS[:20]:
        sched.step(m)
    state = sched.state_dict()
    _assert_plain(state)
    saved = [g["lr"] for g in opt.param_groups]

    opt2 = _adam(LRS2)
    sched2 = S.ReduceLROnPlateau(opt2, mode="max")  # mode comes back from the state
    for g, lr in zip(opt2.param_groups, saved):
        g["lr"] = lr
    sched2.load_state_dict(state)
    assert sched2.mode == "min" and sched2.mode_worse == math.inf
    for m in _METRICS[20:]:
        sched.step(m)
        sched2.step(m)
        assert sched.get_last_lr() == sched2.get_last_lr()
        assert (sched.best, sched.num_bad_epochs, sched.cooldown_counter) == (
            sched2.best,
            sched2.num_bad_epochs,
            sched2.cooldown_counter,
        )


# --------------------------------------------------------------------------- #
# Behaviour of our own (no torch twin)
# --------------------------------------------------------------------------- #


def test_initial_lr_and_last_epoch_like_torch():
    opt = _adam(LRS2)
    sched = S.ExponentialLR(opt, 0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == LRS2
    assert sched.last_epoch == 0 and sched.base_lrs == LRS2
    assert sched.get_last_lr() == LRS2
    sched.step()
    assert sched.get_last_lr() == [0.05, 0.015]
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.015]
    assert [g["initial_lr"] for g in opt.param_groups] == LRS2
    # get_last_lr is a copy
    sched.get_last_lr()[0] = 123.0
    assert sched.get_last_lr()[0] == 0.05


def test_resume_with_last_epoch():
    opt = _adam(LRS2)
    S.StepLR(opt, 2, 0.5)  # records initial_lr
    resumed = S.StepLR(opt, 2, 0.5, last_epoch=3)
    assert resumed.last_epoch == 4
    resumed.step(10)
    assert resumed.get_last_lr() == [0.1 * 0.5**5, 0.03 * 0.5**5]


def test_chained_scheduler_inside_sequential():
    def chain(o):
        return S.ChainedScheduler([S.ConstantLR(o, 0.5, total_iters=3), S.ExponentialLR(o, 0.9)])

    ref_opt = _adam(LRS2)
    ref = chain(ref_opt)
    opt = _adam(LRS2)
    seq = S.SequentialLR(opt, [chain(opt), S.StepLR(opt, 2, 0.1)], milestones=[6])
    assert seq.get_last_lr() == ref.get_last_lr()
    for _ in range(5):
        seq.step()
        ref.step()
        assert seq.get_last_lr() == ref.get_last_lr()
    seq.step()  # milestone: StepLR starts at its epoch 0 from initial_lr
    assert seq.get_last_lr() == LRS2
    seq.step()
    seq.step()
    assert seq.get_last_lr() == pytest.approx([0.01, 0.003], rel=REL)


def test_custom_subclass_like_torch():
    """A user schedule written the torch way: subclass and implement get_lr."""

    class Halving(S.LRScheduler):
        def __init__(self, optimizer, every, last_epoch=-1):
            self.every = every
            super().__init__(optimizer, last_epoch)

        def get_lr(self):
            return [b * 0.5 ** (self.last_epoch // self.every) for b in self.base_lrs]

    opt = _adam(LRS2)
    sched = Halving(opt, 2)
    seen = [sched.get_last_lr()]
    for _ in range(4):
        sched.step()
        seen.append(sched.get_last_lr())
    assert seen == [LRS2, LRS2, [0.05, 0.015], [0.05, 0.015], [0.025, 0.0075]]
    assert sched.state_dict()["every"] == 2


def test_chained_last_epoch_follows_last_scheduler():
    opt = _adam(LRS2)
    ch = S.ChainedScheduler([S.StepLR(opt, 3), S.ExponentialLR(opt, 0.9)])
    assert ch.last_epoch == 0
    ch.step()
    ch.step()
    assert ch.last_epoch == 2


def test_all_classes_exported_and_documented():
    for name in S.__all__:
        cls = getattr(S, name)
        assert cls.__doc__ and "torch" in cls.__doc__, name
        assert issubclass(cls, S.LRScheduler)
    assert S.__doc__


def test_fastopt_adam_trains_under_onecycle_like_torch():
    """End to end: fastopt.Adam driven by OneCycleLR (lr and betas[0] cycling)
    follows torch.optim.Adam driven by torch's OneCycleLR."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    w = rng.standard_normal(8)
    ours_w = w.copy()
    tw = torch.tensor(w, requires_grad=True)
    opt = fastopt.Adam([ours_w], lr=0.01)
    t_opt = torch.optim.Adam([tw], lr=0.01)
    sched = S.OneCycleLR(opt, max_lr=0.05, total_steps=25)
    ts = torch.optim.lr_scheduler.OneCycleLR(t_opt, max_lr=0.05, total_steps=25)
    for _ in range(25):
        g = np.sin(ours_w) + 0.1 * ours_w
        tw.grad = torch.tensor(g)
        opt.step([g])
        t_opt.step()
        sched.step()
        ts.step()
        assert _close(opt.param_groups[0]["lr"], t_opt.param_groups[0]["lr"])
        assert _close(opt.param_groups[0]["betas"][0], t_opt.param_groups[0]["betas"][0])
        np.testing.assert_allclose(ours_w, tw.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_fastopt_checkpoint_with_scheduler_resumes_identically():
    """torch's resume recipe: build optimizer + scheduler, then load both states."""

    def build(w):
        opt = fastopt.Adam([w], lr=0.01)
        return opt, S.OneCycleLR(opt, max_lr=0.05, total_steps=20)

    w = np.linspace(-1.0, 1.0, 6)
    opt, sched = build(w)
    for _ in range(8):
        opt.step([np.cos(w)])
        sched.step()
    w2 = w.copy()
    opt2, sched2 = build(w2)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    for _ in range(12):
        opt.step([np.cos(w)])
        sched.step()
        opt2.step([np.cos(w2)])
        sched2.step()
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
        assert opt2.param_groups[0]["betas"] == opt.param_groups[0]["betas"]
        np.testing.assert_array_equal(w2, w)


# --------------------------------------------------------------------------- #
# Refusals
# --------------------------------------------------------------------------- #


def _two_groups():
    return _ToyOptimizer(LRS2, momentum=0.9)


def _no_momentum():
    return _ToyOptimizer(LRS2)


BAD = [
    # (id, build(opt), optimizer factory, exception, message fragment)
    ("gamma<=0", lambda o: S.StepLR(o, 3, gamma=0.0), _two_groups, ValueError, "gamma"),
    ("gamma<0-exp", lambda o: S.ExponentialLR(o, -0.5), _two_groups, ValueError, "gamma"),
    ("gamma-nan", lambda o: S.ExponentialLR(o, float("nan")), _two_groups, ValueError, "gamma"),
    ("gamma-str", lambda o: S.MultiStepLR(o, [2], gamma="0.1"), _two_groups, TypeError, "gamma"),
    ("step_size=0", lambda o: S.StepLR(o, 0), _two_groups, ValueError, "step_size"),
    ("step_size-float", lambda o: S.StepLR(o, 2.5), _two_groups, TypeError, "step_size"),
    ("milestones-float", lambda o: S.MultiStepLR(o, [1.5]), _two_groups, TypeError, "milestones"),
    ("milestones-int", lambda o: S.MultiStepLR(o, 5), _two_groups, TypeError, "milestones"),
    ("lambda-not-callable", lambda o: S.LambdaLR(o, 0.5), _two_groups, TypeError, "lr_lambda"),
    ("lambda-count", lambda o: S.MultiplicativeLR(o, [lambda e: 1.0]), _two_groups, ValueError, "lr_lambda"),
    ("constant-factor>1", lambda o: S.ConstantLR(o, factor=1.5), _two_groups, ValueError, "factor"),
    ("constant-factor=0", lambda o: S.ConstantLR(o, factor=0.0), _two_groups, ValueError, "factor"),
    ("constant-total_iters", lambda o: S.ConstantLR(o, total_iters=0), _two_groups, ValueError, "total_iters"),
    ("linear-start=0", lambda o: S.LinearLR(o, start_factor=0.0), _two_groups, ValueError, "start_factor"),
    ("linear-end>1", lambda o: S.LinearLR(o, end_factor=1.5), _two_groups, ValueError, "end_factor"),
    ("linear-total_iters", lambda o: S.LinearLR(o, total_iters=-1), _two_groups, ValueError, "total_iters"),
    ("poly-power", lambda o: S.PolynomialLR(o, power=-1.0), _two_groups, ValueError, "power"),
    ("poly-total_iters", lambda o: S.PolynomialLR(o, total_iters=0), _two_groups, ValueError, "total_iters"),
    ("cosine-T_max", lambda o: S.CosineAnnealingLR(o, T_max=0), _two_groups, ValueError, "T_max"),
    ("cosine-eta_min", lambda o: S.CosineAnnealingLR(o, 10, eta_min=None), _two_groups, TypeError, "eta_min"),
    ("cawr-T_0=0", lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), _two_groups, ValueError, "T_0"),
    ("cawr-T_0-float", lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2.5), _two_groups, TypeError, "T_0"),
    ("cawr-T_mult", lambda o: S.CosineAnnealingWarmRestarts(o, 5, T_mult=0), _two_groups, ValueError, "T_mult"),
    ("cawr-eta_min", lambda o: S.CosineAnnealingWarmRestarts(o, 5, eta_min="0"), _two_groups, TypeError, "eta_min"),
    ("cyclic-mode", lambda o: S.CyclicLR(o, 0.01, 0.1, mode="sine"), _two_groups, ValueError, "mode"),
    ("cyclic-scale_mode", lambda o: S.CyclicLR(o, 0.01, 0.1, scale_fn=abs, scale_mode="epoch"), _two_groups, ValueError, "scale_mode"),
    ("cyclic-scale_fn", lambda o: S.CyclicLR(o, 0.01, 0.1, scale_fn=3), _two_groups, TypeError, "scale_fn"),
    ("cyclic-base_lr-len", lambda o: S.CyclicLR(o, [0.01], 0.1), _two_groups, ValueError, "base_lr"),
    ("cyclic-max_lr-neg", lambda o: S.CyclicLR(o, 0.01, -0.1), _two_groups, ValueError, "max_lr"),
    ("cyclic-step_size_up", lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=0), _two_groups, ValueError, "step_size_up"),
    ("cyclic-gamma", lambda o: S.CyclicLR(o, 0.01, 0.1, mode="exp_range", gamma=0), _two_groups, ValueError, "gamma"),
    ("cyclic-momentum-len", lambda o: S.CyclicLR(o, 0.01, 0.1, max_momentum=[0.9]), _two_groups, ValueError, "max_momentum"),
    ("cyclic-no-momentum", lambda o: S.CyclicLR(o, 0.01, 0.1), _no_momentum, ValueError, "cycle_momentum"),
    ("onecycle-no-steps", lambda o: S.OneCycleLR(o, 0.1), _two_groups, ValueError, "total_steps"),
    ("onecycle-total_steps", lambda o: S.OneCycleLR(o, 0.1, total_steps=0), _two_groups, ValueError, "total_steps"),
    ("onecycle-epochs", lambda o: S.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=3), _two_groups, ValueError, "epochs"),
    ("onecycle-pct_start", lambda o: S.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), _two_groups, ValueError, "pct_start"),
    ("onecycle-anneal", lambda o: S.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"), _two_groups, ValueError, "anneal_strategy"),
    ("onecycle-div_factor", lambda o: S.OneCycleLR(o, 0.1, total_steps=10, div_factor=0), _two_groups, ValueError, "div_factor"),
    ("onecycle-max_lr-len", lambda o: S.OneCycleLR(o, [0.1, 0.2, 0.3], total_steps=10), _two_groups, ValueError, "max_lr"),
    ("onecycle-no-momentum", lambda o: S.OneCycleLR(o, 0.1, total_steps=10), _no_momentum, ValueError, "cycle_momentum"),
    ("plateau-mode", lambda o: S.ReduceLROnPlateau(o, mode="lowest"), _two_groups, ValueError, "mode"),
    ("plateau-threshold_mode", lambda o: S.ReduceLROnPlateau(o, threshold_mode="pct"), _two_groups, ValueError, "threshold_mode"),
    ("plateau-factor", lambda o: S.ReduceLROnPlateau(o, factor=1.0), _two_groups, ValueError, "factor"),
    ("plateau-patience", lambda o: S.ReduceLROnPlateau(o, patience=-1), _two_groups, ValueError, "patience"),
    ("plateau-cooldown", lambda o: S.ReduceLROnPlateau(o, cooldown=0.5), _two_groups, TypeError, "cooldown"),
    ("plateau-min_lr-len", lambda o: S.ReduceLROnPlateau(o, min_lr=[0.0]), _two_groups, ValueError, "min_lr"),
    ("plateau-min_lr-neg", lambda o: S.ReduceLROnPlateau(o, min_lr=-1.0), _two_groups, ValueError, "min_lr"),
    ("plateau-eps", lambda o: S.ReduceLROnPlateau(o, eps=-1.0), _two_groups, ValueError, "eps"),
    ("last_epoch-without-initial_lr", lambda o: S.StepLR(o, 3, last_epoch=4), _two_groups, ValueError, "initial_lr"),
    ("last_epoch<-1", lambda o: S.ExponentialLR(o, 0.9, last_epoch=-2), _two_groups, ValueError, "last_epoch"),
    ("sequential-empty", lambda o: S.SequentialLR(o, [], []), _two_groups, ValueError, "schedulers"),
    ("chained-empty", lambda o: S.ChainedScheduler([]), _two_groups, ValueError, "schedulers"),
    ("chained-not-scheduler", lambda o: S.ChainedScheduler([o]), _two_groups, TypeError, r"schedulers\[0\]"),
]


@pytest.mark.parametrize("build, make_opt, exc, fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_arguments_are_refused_before_touching_the_optimizer(build, make_opt, exc, fragment):
    opt = make_opt()
    before = copy.deepcopy([{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups])
    with pytest.raises(exc, match=fragment):
        build(opt)
    after = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    assert after == before


def test_bad_optimizer_is_refused():
    with pytest.raises(TypeError, match="param_groups"):
        S.ExponentialLR(object(), 0.9)
    with pytest.raises(TypeError, match="param_groups"):
        S.ReduceLROnPlateau(object())
    bad = _ToyOptimizer([0.1])
    del bad.param_groups[0]["lr"]
    with pytest.raises(ValueError, match="'lr'"):
        S.StepLR(bad, 3)


def test_compositions_refuse_bad_children():
    opt, other = _two_groups(), _two_groups()
    a, b = S.ExponentialLR(opt, 0.9), S.ExponentialLR(other, 0.9)
    plateau = S.ReduceLROnPlateau(opt)
    lrs = [g["lr"] for g in opt.param_groups]
    with pytest.raises(ValueError, match="different optimizer"):
        S.SequentialLR(opt, [a, b], milestones=[3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.SequentialLR(opt, [a, plateau], milestones=[3])
    with pytest.raises(ValueError, match="milestones"):
        S.SequentialLR(opt, [a, S.StepLR(opt, 2)], milestones=[3, 5])
    with pytest.raises(ValueError, match="different optimizer"):
        S.ChainedScheduler([a, b])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.ChainedScheduler([plateau])
    assert [g["lr"] for g in opt.param_groups] == lrs


def test_bad_step_arguments_change_nothing():
    opt = _two_groups()
    sched = S.CosineAnnealingWarmRestarts(opt, 5)
    sched.step()
    state, lrs = sched.state_dict(), [g["lr"] for g in opt.param_groups]
    with pytest.raises(ValueError, match="epoch"):
        sched.step(-1)
    with pytest.raises(TypeError, match="epoch"):
        sched.step("3")
    assert sched.state_dict() == state and [g["lr"] for g in opt.param_groups] == lrs

    plateau = S.ReduceLROnPlateau(opt)
    state = plateau.state_dict()
    with pytest.raises(TypeError, match="metrics"):
        plateau.step("low")
    assert plateau.state_dict() == state

    with pytest.raises(TypeError, match="state_dict"):
        sched.load_state_dict([1, 2])
    with pytest.raises(ValueError, match="last_epoch"):
        sched.load_state_dict({"T_cur": 3})
