"""Schedule-Free AdamW and SGD beyond the table: both points (y, and x after eval()) of
every option set against the schedulefree package and its Reference forms, lr changes and
schedulers, steps refused in eval mode, the mode in state_dict and checkpoints (with an
EMA), switches before the first step, and the per-step scalars bit for bit."""
import numpy as np
import pytest

import fastopt
from fastopt.optimizers.table import OPTIMIZERS
from harness import BACKENDS, assert_bitwise


def _grads(n, shape=(40,), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(n)]


PACKAGE = {"ScheduleFreeAdamW": "AdamWScheduleFree", "ScheduleFreeSGD": "SGDScheduleFree"}
ROWS = {info.cls: info for info in OPTIMIZERS if info.cls in PACKAGE}
RUN_SHAPES = [(7,), (6, 5), (1,)]


def _start(dtype):
    rng = np.random.default_rng(7)
    return [rng.uniform(-1, 1, s).astype(dtype) for s in RUN_SHAPES]


def _grad_steps(dtype, n, seed=3):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in RUN_SHAPES] for _ in range(n)]


def _package_run(cls_name, kwargs, dtype, grads, lrs=None, eval_every=None):
    """The package's ``cls_name`` over ``grads``: the parameters after every step (y) and,
    every ``eval_every`` steps, after eval() (x), train() again after.  ``lrs`` sets the
    group's lr before each step, as a scheduler does.  The package has no maximize: a
    maximizing run is its run on -g."""
    schedulefree = pytest.importorskip("schedulefree")
    import torch
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    try:
        ps = [torch.tensor(p) for p in _start(dtype)]
        opt = getattr(schedulefree, cls_name)(
            ps, **{k: v for k, v in kwargs.items() if k != "maximize"})
        opt.train()
        ys, xs = [], []
        for t, gs in enumerate(grads):
            if lrs is not None:
                opt.param_groups[0]["lr"] = lrs[t]
            for p, g in zip(ps, gs):
                p.grad = torch.tensor(-g if kwargs.get("maximize") else g)
            opt.step()
            ys.append([p.numpy().copy() for p in ps])
            if eval_every and t % eval_every == eval_every - 1:
                opt.eval()
                xs.append([p.numpy().copy() for p in ps])
                opt.train()
        return ys, xs
    finally:
        torch.set_default_dtype(previous)


def _our_run(name, kwargs, backend, dtype, grads, lrs=None, eval_every=None):
    ps = _start(dtype)
    opt = getattr(fastopt, name)(ps, backend=backend, **kwargs)
    ys, xs = [], []
    for t, gs in enumerate(grads):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[t]
        opt.step(gs)
        ys.append([p.copy() for p in ps])
        if eval_every and t % eval_every == eval_every - 1:
            opt.eval()
            assert not opt.training
            xs.append([p.copy() for p in ps])
            opt.train()
    return ys, xs, opt


def _assert_close_runs(ours, theirs, dtype, what):
    rtol, atol = (2e-5, 1e-6) if dtype == np.float32 else (1e-11, 1e-13)
    for t, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol,
                                       err_msg=f"{what}: point {t}, param {i}")


def _option_sets():
    return [pytest.param(name, kw, id=f"{name}-{kw}") for name, info in ROWS.items()
            for kw in (*info.option_sets, info.full)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, kwargs", _option_sets())
def test_train_and_eval_points_match_the_package(name, kwargs, backend, dtype):
    """Every option set of the table: y after every step, and x after eval() every five
    steps (train() again after it), as the package's."""
    grads = _grad_steps(dtype, 15)
    ys, xs, _ = _our_run(name, kwargs, backend, dtype, grads, eval_every=5)
    their_ys, their_xs = _package_run(PACKAGE[name], kwargs, dtype, grads, eval_every=5)
    _assert_close_runs(ys, their_ys, dtype, "train point y")
    _assert_close_runs(xs, their_xs, dtype, "eval point x")


@pytest.mark.parametrize("name, kwargs", _option_sets())
def test_every_option_set_matches_the_reference_form(name, kwargs, capsys):
    """The package's *Reference classes keep x, y and z as three buffers (and decay at y,
    their default): the same rule, so they agree to rounding."""
    grads = _grad_steps(np.float64, 15)
    ys, xs, _ = _our_run(name, kwargs, "numpy", np.float64, grads, eval_every=5)
    their_ys, their_xs = _package_run(PACKAGE[name] + "Reference", kwargs, np.float64,
                                      grads, eval_every=5)
    _assert_close_runs(ys, their_ys, np.float64, "train point y")
    _assert_close_runs(xs, their_xs, np.float64, "eval point x")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(PACKAGE))
def test_lr_changes_between_steps_follow_the_package(name, backend):
    """A scheduler's lr changes: lr_max keeps the largest warmed-up lr, so the average's
    weights do not fall when lr does, and rise again only past the old maximum."""
    lrs = [0.05, 0.05, 0.1, 0.02, 0.02, 0.01, 0.2, 0.2, 0.0, 0.05, 0.3, 0.1]
    kwargs = dict(warmup_steps=4, r=0.5, weight_decay=0.01)
    grads = _grad_steps(np.float64, len(lrs))
    ys, xs, opt = _our_run(name, kwargs, backend, np.float64, grads, lrs=lrs, eval_every=3)
    their_ys, their_xs = _package_run(PACKAGE[name], kwargs, np.float64, grads, lrs=lrs,
                                      eval_every=3)
    _assert_close_runs(ys, their_ys, np.float64, "train point y")
    _assert_close_runs(xs, their_xs, np.float64, "eval point x")
    assert opt.group_state[0]["lr_max"] == 0.3


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(PACKAGE))
def test_lr_scheduler_drives_the_lr_as_the_package_sees_it(name, backend):
    from fastopt.lr_scheduler import StepLR
    grads = _grad_steps(np.float64, 9)
    ps = _start(np.float64)
    opt = getattr(fastopt, name)(ps, lr=0.1, warmup_steps=2, backend=backend)
    scheduler = StepLR(opt, step_size=3, gamma=0.5)
    for gs in grads:
        opt.step(gs)
        scheduler.step()
    their_ys, _ = _package_run(PACKAGE[name], dict(lr=0.1, warmup_steps=2), np.float64,
                               grads, lrs=[0.1 * 0.5 ** (t // 3) for t in range(9)])
    _assert_close_runs([ps], their_ys[-1:], np.float64, "train point y")


@pytest.mark.parametrize("name", list(PACKAGE))
def test_ema_of_the_training_point_resumes_bitwise_with_the_optimizer(name, tmp_path):
    """An EMA updated after each step averages y (the parameters in train mode); saved
    with the optimizer in eval mode, both come back and the run goes on to the bit."""
    grads = _grad_steps(np.float64, 8)

    def build():
        ps = _start(np.float64)
        return ps, getattr(fastopt, name)(ps, lr=0.05, warmup_steps=2), fastopt.EMA(ps, 0.9)

    ps, opt, ema = build()
    for gs in grads[:4]:
        opt.step(gs)
        ema.update()
    opt.eval()
    fastopt.save(tmp_path / "ckpt.npz", opt, ema=ema)
    qs, resumed, resumed_ema = build()
    fastopt.load(tmp_path / "ckpt.npz", resumed, ema=resumed_ema)
    assert not resumed.training
    for o, e in ((opt, ema), (resumed, resumed_ema)):
        o.train()
        for gs in grads[4:]:
            o.step(gs)
            e.update()
        o.eval()
    assert_bitwise(qs, ps)
    assert_bitwise(list(resumed_ema.shadow.values()), list(ema.shadow.values()))


@pytest.mark.parametrize("name", list(PACKAGE))
def test_defaults_are_the_packages(name):
    """The package's names and defaults (its foreach and the like aside), and maximize."""
    schedulefree = pytest.importorskip("schedulefree")
    import torch
    theirs = getattr(schedulefree, PACKAGE[name])([torch.zeros(1)]).defaults
    ours = getattr(fastopt, name)([np.zeros(1, np.float32)]).defaults
    assert ours.pop("maximize") is False
    assert ours == {k: theirs[k] for k in ours}


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW", "ScheduleFreeSGD"])
def test_step_in_eval_mode_is_refused_and_changes_nothing(name):
    p = np.linspace(-1, 1, 10)
    opt = getattr(fastopt, name)([p], lr=0.1)
    g = _grads(3, (10,))
    opt.step([g[0]])
    opt.eval()
    before = (p.copy(), opt.state_dict())
    with pytest.raises(RuntimeError, match="eval mode: call opt.train"):
        opt.step([g[1]])
    assert p.tobytes() == before[0].tobytes() and opt.step_count == 1
    assert repr(opt.state_dict()) == repr(before[1])
    opt.train()
    opt.step([g[1]])
    assert opt.step_count == 2


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW", "ScheduleFreeSGD"])
def test_switches_before_the_first_step_and_repeated_switches_move_nothing(name):
    p = np.linspace(-1, 1, 10)
    opt = getattr(fastopt, name)([p])
    assert opt.training
    opt.train()
    opt.eval()
    opt.eval()
    assert p.tobytes() == np.linspace(-1, 1, 10).tobytes() and not opt.training
    opt.train()
    opt.step([np.ones(10)])
    opt.eval()
    x = p.copy()
    opt.eval()                              # already in eval mode: nothing moves
    assert p.tobytes() == x.tobytes()


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW", "ScheduleFreeSGD"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_checkpoint_keeps_the_mode_and_resumes_bitwise(name, mode, tmp_path):
    grads = _grads(8, (12,))
    p = np.linspace(-1, 1, 12)
    opt = getattr(fastopt, name)({"w": p}, lr=0.05)
    for g in grads[:4]:
        opt.step({"w": g})
    getattr(opt, mode)()
    fastopt.save(tmp_path / "ckpt.npz", opt)

    q = np.zeros(12)
    resumed = getattr(fastopt, name)({"w": q}, lr=0.05)
    fastopt.load(tmp_path / "ckpt.npz", resumed)
    assert q.tobytes() == p.tobytes() and resumed.training == (mode == "train")
    for o in (opt, resumed):
        o.train()
        for g in grads[4:]:
            o.step({"w": g})
        o.eval()
    assert q.tobytes() == p.tobytes()


def test_new_group_starts_its_own_average():
    a, b = np.linspace(-1, 1, 6), np.linspace(1, 2, 4)
    opt = fastopt.ScheduleFreeAdamW([a], lr=0.01)
    for g in _grads(3, (6,)):
        opt.step([g])
    opt.add_param_group({"params": [b]})
    opt.eval()                      # the new group has not stepped: b does not move
    assert b.tobytes() == np.linspace(1, 2, 4).tobytes()
    opt.train()
    gb = _grads(2, (4,), seed=1)
    for g, h in zip(_grads(2, (6,), seed=2), gb):
        opt.step([g, h])
    solo_b = np.linspace(1, 2, 4)
    solo = fastopt.ScheduleFreeAdamW([solo_b], lr=0.01)
    for h in gb:
        solo.step([h])
    assert b.tobytes() == solo_b.tobytes()


def test_bad_group_state_is_refused():
    opt = fastopt.ScheduleFreeSGD([np.zeros(3)])
    sd = opt.state_dict()
    sd["group_state"][0]["train_mode"] = 0.5
    with pytest.raises(ValueError, match="train_mode must be 1.0 or 0.0"):
        opt.load_state_dict(sd)


def _package_step(name, h, step, gstate):
    """The kernel scalars of step ``step`` and the group state after it, in the package's
    Python arithmetic, in its order."""
    k, warmup = step - 1, h["warmup_steps"]
    lr = h["lr"] * ((k + 1) / warmup if k < warmup else 1.0)
    lr_max = max(lr, gstate["lr_max"])
    weight = ((k + 1) ** h["r"]) * (lr_max ** h["weight_lr_power"])
    weight_sum = gstate["weight_sum"] + weight
    ckp1 = weight / weight_sum if weight_sum != 0.0 else 0.0
    first = 1.0 if step == 1 else 0.0
    if name == "ScheduleFreeAdamW":
        beta1, beta2 = h["betas"]
        scalars = (1.0 - beta2, beta2, 1.0 - beta2 ** step, h["eps"], h["weight_decay"], ckp1,
                   lr * (beta1 * (1.0 - ckp1) - 1.0), lr, first)
    else:
        scalars = (h["weight_decay"], ckp1, lr * (h["momentum"] * (1.0 - ckp1) - 1.0), lr,
                   first)
    return (1.0,) + scalars, {"lr_max": lr_max, "weight_sum": weight_sum}


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW", "ScheduleFreeSGD"])
@pytest.mark.parametrize("options", [dict(warmup_steps=5, r=0.5, weight_lr_power=1.5),
                                     dict(warmup_steps=3, r=2.0, weight_lr_power=0.0),
                                     dict(warmup_steps=2 ** 60), dict(warmup_steps=2 ** 70)])
def test_compiled_scalars_are_the_packages_arithmetic(name, options):
    """Each step's scalars and group state, bit for bit, with the learning rate raised and
    lowered between steps (lr_max keeps the largest), and warmups beyond int64."""
    p = np.zeros(4)
    opt = getattr(fastopt, name)([p], lr=0.3, **options)
    for t, lr in enumerate([0.3, 0.3, 0.7, 0.1, 0.1, 0.5, 2e-3, 0.9], start=1):
        opt.param_groups[0]["lr"] = lr
        expected = _package_step(name, opt.param_groups[0], t, opt.group_state[0])
        scalars, update = opt._group_step(0, t)
        assert repr(scalars) == repr(expected[0]) and repr(update) == repr(expected[1])
        opt.step([np.ones(4)])
        assert opt.group_state[0] == {**expected[1], "train_mode": 1.0}


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW", "ScheduleFreeSGD"])
def test_an_averaging_weight_that_overflows_is_refused_naming_it(name):
    p = np.zeros(3)
    with pytest.raises(ValueError, match=r"lr_max\*\*weight_lr_power = 1e\+200\*\*2.0 overflows"):
        getattr(fastopt, name)([p], lr=1e200)
    opt = getattr(fastopt, name)([p], lr=1.0, r=200.0)
    opt.step([np.ones(3)])
    opt._step = 2 ** 40                     # step**r overflows from here
    before = (p.copy(), repr(opt.state_dict()))
    with pytest.raises(ValueError, match=r"step\*\*r = .* overflows"):
        opt.step([np.ones(3)])
    assert p.tobytes() == before[0].tobytes() and repr(opt.state_dict()) == before[1]
